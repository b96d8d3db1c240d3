// Test plumbing, not part of the engine's public surface: an engine together with the insides that
// white-box tests read (key names, the run store, a run's task services) to check what is stored.
// api/, workers/ and bin/ never import it (.dependency-cruiser.cjs).
import { assembleEngine, type EngineInternals, type EngineOptions } from './create-engine.ts';
import type { Engine } from './engine.ts';

export type { EngineInternals } from './create-engine.ts';

/** An Engine with its insides in reach, for tests. */
export type EngineInstance = Engine & EngineInternals;

/**
 * `createEngine` for white-box tests: the same engine, with `keys`, `runs` and `taskServices` on it.
 * @example
 * import { createEngineInstance as createEngine, type EngineInstance as Engine } from '../../engine/testing.ts';
 */
export function createEngineInstance(opts: EngineOptions): EngineInstance {
  const { engine, internals } = assembleEngine(opts);
  return Object.assign(engine, internals);
}
