// The built-in task handlers every installation has, with their adapters.
import type { TaskDefinition } from '../../engine/index.ts';
import type { AdapterConfig } from '../adapters/index.ts';
import { noop } from './noop.ts';
import { sleep } from './sleep.ts';
import { notifyTask } from './notify.ts';
import { startRun } from './start-run.ts';
import { notifyParent, sendEvent } from './send-event.ts';
import { cancelChild } from './cancel-child.ts';
import { sharedEffectTasks } from './effect.ts';
import { incidentTasks } from './incident-tasks.ts';
import { deliveryTasks } from './delivery-tasks.ts';
import { planningTasks } from './planning-tasks.ts';
import { changeTasks } from './change-tasks.ts';

export function createBuiltInTasks(adapters: AdapterConfig = {}): TaskDefinition<any, any>[] {
  return [
    noop, sleep, notifyTask(adapters), startRun, notifyParent, sendEvent, cancelChild,
    ...sharedEffectTasks(adapters),
    ...incidentTasks(adapters),
    ...deliveryTasks(adapters),
    ...planningTasks(adapters),
    ...changeTasks(adapters),
  ];
}

/** The built-in tasks with every adapter recording to history (the default on a fresh machine). */
export const builtInTasks: TaskDefinition<any, any>[] = createBuiltInTasks();
