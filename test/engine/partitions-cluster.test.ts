// The partitioned layout on a real Redis Cluster of 3 masters (started here on free ports, torn down
// always): the same suite as partitions.test.ts runs on one node.
import { connectRedis, parseHostList } from '../../engine/connection.ts';
import { startCluster } from '../cluster/harness.ts';
import { partitionSuite } from './partitions-suite.ts';

const cluster = await startCluster({ masters: 3, replicasPerMaster: 0 });
partitionSuite({
  name: 'Redis Cluster, 3 masters',
  cluster: true,
  connect: () => connectRedis({ topology: 'cluster', nodes: parseHostList(cluster.seeds, 'seeds') }),
  env: () => ({ REDIS_CLUSTER_NODES: cluster.seeds }),
  stop: async () => {
    await cluster.stop();
  },
}).run();
