// The definition API, the one entry `workflows/` imports: how a process model declares itself to the engine.
export { defineWorkflow, taskActors, runRef, namesIn, type WorkflowDefinition, type KpiDefinition } from './define.ts';
export { nowOf, timeOf, iso } from './time.ts';
export type { Enqueue, EmittedEvent } from './enqueue.ts';
export type { CiDoc, RegistrySnapshot, ServiceDoc, TimeWindow, Windows, OncallLevel } from './cmdb-types.ts';
export { windowsFor, allWindows, overlaps, windowCovers, type WindowSchedule } from './windows.ts';
