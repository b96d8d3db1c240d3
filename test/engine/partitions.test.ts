// The partitioned layout on one Redis node with 4 partitions (the same suite runs on a real cluster in
// partitions-cluster.test.ts).
import { Redis } from 'ioredis';
import { redisUrl } from '../helpers.ts';
import { partitionSuite } from './partitions-suite.ts';

const url = await redisUrl();
partitionSuite({
  name: 'one node',
  cluster: false,
  connect: async () => new Redis(url, { maxRetriesPerRequest: 3 }),
  env: () => ({ REDIS_URL: url }),
}).run();
