// The registry of built-in workflows, by name and version.
import type { WorkflowDefinition } from './lib/define.ts';
import { demo } from './demo.ts';

export const builtInWorkflows: WorkflowDefinition[] = [demo];
