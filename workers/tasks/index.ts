// The built-in task handlers every installation has.
import type { TaskDefinition } from '../../engine/index.ts';
import { noop } from './noop.ts';
import { sleep } from './sleep.ts';

export const builtInTasks: TaskDefinition<any, any>[] = [noop, sleep];
