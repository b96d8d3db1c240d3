// The registry of built-in workflows, by name and version.
import type { WorkflowDefinition } from '../engine/definition/index.ts';
import { demo } from './demo.ts';
import { incident } from './incident.ts';
import { change } from './change.ts';
import { delivery } from './delivery.ts';
import { planning } from './planning.ts';

export const builtInWorkflows: WorkflowDefinition[] = [demo, incident, change, delivery, planning];
