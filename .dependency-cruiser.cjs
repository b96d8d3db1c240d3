// The layering rules of the repository, checked by test/architecture/dependencies.test.ts (depcruise).
// engine/ is the runtime and the definition API; workflows/ the process models, written against that API
// only; api/, workers/ and bin/ use the engine through its public surface (engine/index.ts: the Engine
// interface of engine/engine.ts and the types it names); bin/ wires everything together.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'An import cycle means a module owns too much.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'engine-stays-inside',
      comment: 'The engine knows nothing of the process models, the HTTP layer, the task workers or the command.',
      severity: 'error',
      from: { path: '^engine/' },
      to: { path: '^(workflows|api|workers|bin)/' },
    },
    {
      name: 'workflows-use-only-the-definition-api',
      comment: 'A process model imports xstate, the engine\'s definition API (engine/definition/index.ts) and its own files; nothing that does I/O.',
      severity: 'error',
      from: { path: '^workflows/' },
      to: { pathNot: '^(workflows/|engine/definition/index\\.ts$|node_modules/xstate/)' },
    },
    {
      name: 'api-and-workers-use-the-engine-surface',
      comment: 'api/, workers/ and bin/ reach the engine only through engine/index.ts (never its insides, nor the test plumbing of engine/testing.ts).',
      severity: 'error',
      from: { path: '^(api|workers|bin)/' },
      to: { path: '^engine/', pathNot: '^engine/index\\.ts$' },
    },
    {
      name: 'api-and-workers-stay-apart',
      comment:
        'The HTTP layer and the task workers do not import each other, nor the command, nor the process models. ' +
        'workers/package.ts is exempt: it is an entry point (the worker package), which like bin/ builds an engine that knows the built-in workflows.',
      severity: 'error',
      from: { path: '^(api|workers)/', pathNot: '^workers/package\\.ts$' },
      to: { path: '^(api|workers|bin|workflows)/', pathNot: '^$1/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports count: a layer that needs another's types depends on it.
    tsPreCompilationDeps: true,
  },
};
