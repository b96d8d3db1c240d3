// JSON workflows: compileJsonWorkflow's checks, and the behaviour of the machines it builds, driven with
// XState's pure initialTransition/transition the way the engine steps them.
import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { initialTransition, transition, type AnyMachineSnapshot, type AnyStateMachine } from 'xstate';
import { compileJsonWorkflow, jsonWorkflowSchema, builtInActions, builtInGuards } from '../../engine/json-workflow/compile.ts';
import type { Problem } from '../../engine/errors.ts';

const ctx = { isTask: (n: string) => ['noop', 'sleep'].includes(n) };

type Action = { type: string; params?: Record<string, any> };
type Step = [AnyMachineSnapshot, Action[]];

function compile(definition: unknown, extra: { inputSchema?: unknown; name?: string } = {}) {
  return compileJsonWorkflow({ name: extra.name ?? 'test-flow', version: 1, definition, inputSchema: extra.inputSchema }, ctx);
}

function start(machine: AnyStateMachine, input: Record<string, unknown> = {}, at = 1_000): Step {
  return initialTransition(machine, { ...input, $at: at }) as unknown as Step;
}

function send(machine: AnyStateMachine, snapshot: AnyMachineSnapshot, event: Record<string, unknown>, at = 2_000): Step {
  return transition(machine, snapshot, { ...event, $at: at } as never) as unknown as Step;
}

/** The problems a refused definition is reported with; fails when it compiles. */
function problemsOf(definition: unknown, extra: { inputSchema?: unknown; name?: string } = {}): Problem[] {
  try {
    compile(definition, extra);
  } catch (err) {
    const e = err as { code?: string; details?: Problem[] };
    assert.is(e.code, 'VALIDATION_FAILED');
    assert.ok(Array.isArray(e.details) && e.details.length > 0);
    return e.details!;
  }
  assert.unreachable('the definition compiled');
  return [];
}

function hasProblem(problems: Problem[], path: string, message?: RegExp): void {
  const found = problems.some((p) => p.path === path && (!message || message.test(p.message)));
  assert.ok(found, `expected a problem at ${path}${message ? ` matching ${message}` : ''}; got ${JSON.stringify(problems, null, 1)}`);
}

const timersOf = (actions: Action[]) => actions.filter((a) => a.type === 'xstate.raise' && typeof a.params?.delay === 'number');
const spawnsOf = (actions: Action[]) => actions.filter((a) => a.type === 'xstate.spawnChild');

const behaviour = suite('json workflow behaviour');

behaviour('assign sets context from event fields and the engine time; increment, append and clear update it', () => {
  const { machine } = compile({
    initial: 'open',
    context: { assignee: null, count: 0 },
    states: {
      open: {
        on: {
          ASSIGN: {
            actions: [
              { type: 'assign', params: { set: { assignee: { $event: 'who' }, 'audit.at': { $now: true }, 'audit.by': { $event: 'who' } } } },
              { type: 'increment', params: { path: 'count', by: { $event: 'n', default: 1 } } },
              { type: 'append', params: { path: 'log', value: { who: { $event: 'who' }, tag: 'assign' } } },
            ],
          },
          FORGET: { actions: { type: 'clear', params: { path: 'audit.by' } } },
        },
      },
    },
  });
  let [s] = start(machine);
  [s] = send(machine, s, { type: 'ASSIGN', who: 'ana', n: 2 }, 5_000);
  [s] = send(machine, s, { type: 'ASSIGN', who: 'bo' }, 6_000);
  assert.equal(s.context, {
    assignee: 'bo', count: 3, audit: { at: 6_000, by: 'bo' }, log: [{ who: 'ana', tag: 'assign' }, { who: 'bo', tag: 'assign' }],
  });
  [s] = send(machine, s, { type: 'FORGET' });
  assert.equal(s.context.audit, { at: 6_000 });
});

behaviour('without a context declaration the context is the run input, without $at', () => {
  const { machine } = compile({ initial: 'a', states: { a: {} } });
  const [s] = start(machine, { ticket: 'INC-1', tags: ['db'] });
  assert.equal(s.context, { ticket: 'INC-1', tags: ['db'] });
});

behaviour('a declared context takes only what it names from the input, with defaults and the start time', () => {
  const { machine } = compile({
    initial: 'a',
    context: { ticket: { $input: 'ticket' }, severity: { $input: 'severity', default: 'low' }, openedAt: { $now: true }, notes: [] },
    states: { a: {} },
  });
  const [s] = start(machine, { ticket: 'INC-7', secret: 'not copied' }, 42);
  assert.equal(s.context, { ticket: 'INC-7', severity: 'low', openedAt: 42, notes: [] });
});

behaviour('guards choose the branch: the first transition whose guard holds is taken', () => {
  const { machine } = compile({
    initial: 'triage',
    states: {
      triage: {
        on: {
          SCORE: [
            { target: 'high', guard: { type: 'greaterThan', params: { left: { $event: 'score' }, right: 80 } } },
            {
              target: 'mid',
              guard: {
                and: [
                  { type: 'greaterThan', params: { left: { $event: 'score' }, right: 50 } },
                  { not: { type: 'in', params: { value: { $event: 'team' }, list: ['sre', 'dba'] } } },
                ],
              },
            },
            { target: 'flagged', guard: { or: [{ type: 'isTruthy', params: { value: { $event: 'flag' } } }, { type: 'equals', params: { left: { $event: 'score' }, right: 0 } }] } },
            'low',
          ],
        },
      },
      high: {}, mid: {}, low: {}, flagged: {},
    },
  });
  const [s0] = start(machine);
  const after = (event: Record<string, unknown>) => send(machine, s0, { type: 'SCORE', ...event })[0].value;
  assert.is(after({ score: 90 }), 'high');
  assert.is(after({ score: 80, team: 'app' }), 'mid');
  assert.is(after({ score: 60, team: 'app' }), 'mid');
  assert.is(after({ score: 60, team: 'sre' }), 'low');
  assert.is(after({ score: 10, flag: true }), 'flagged');
  assert.is(after({ score: 0 }), 'flagged');
  assert.is(after({ score: 10 }), 'low');
});

const delayed = {
  initial: 'waiting',
  delays: { slaDelay: { $context: 'slaMs', default: 60_000 }, reminder: 5_000 },
  states: {
    waiting: { after: { slaDelay: 'breached', reminder: { actions: { type: 'emit', params: { type: 'sla.reminded' } } }, 250: { actions: { type: 'increment', params: { path: 'ticks' } } } } },
    breached: {},
  },
};

behaviour('a named delay resolves from the context, falls back to its default, and the raw ms key is kept', () => {
  const { machine } = compile(delayed);
  const delays = (input: Record<string, unknown>) => timersOf(start(machine, input)[1]).map((a) => a.params!.delay).sort((a, b) => a - b);
  assert.equal(delays({ slaMs: 1_500 }), [250, 1_500, 5_000]);
  assert.equal(delays({}), [250, 5_000, 60_000]);
  assert.equal(delays({ slaMs: 'soon' }), [250, 5_000, 60_000]);
});

behaviour('delaysMs in the run input overrides a named delay, even when the context is declared', () => {
  const plain = compile(delayed).machine;
  const timers = timersOf(start(plain, { slaMs: 1_500, delaysMs: { slaDelay: 10 } })[1]);
  const sla = timers.find((a) => String(a.params!.id).startsWith('xstate.after.slaDelay.'));
  assert.is(sla?.params!.delay, 10);

  const declared = compile({ ...delayed, context: { slaMs: { $input: 'slaMs' } } }).machine;
  const [s, actions] = start(declared, { slaMs: 1_500, delaysMs: { slaDelay: 20, reminder: 30 } });
  assert.equal(timersOf(actions).map((a) => a.params!.delay).sort((a, b) => a - b), [20, 30, 250]);
  // The timer's event, delivered back, takes the transition.
  const event = timersOf(actions).find((a) => a.params!.delay === 20)!.params!.event;
  assert.is(send(declared, s, event)[0].value, 'breached');
});

behaviour('invoke resolves its input from context and literals, and onDone reads the task output', () => {
  const { machine } = compile({
    initial: 'napping',
    context: { sleepMs: { $input: 'sleepMs', default: 100 } },
    states: {
      napping: {
        invoke: {
          id: 'nap', src: 'sleep',
          input: { ms: { $context: 'sleepMs' }, to: 'ops', nested: { at: { $now: true }, by: { $event: 'input.who' } } },
          onDone: { target: 'rested', actions: { type: 'assign', params: { set: { slept: { $event: 'output.sleptMs' } } } } },
          onError: { target: 'tired', actions: { type: 'assign', params: { set: { why: { $event: 'error.message' } } } } },
        },
      },
      rested: { type: 'final', output: { slept: { $context: 'slept' }, planned: { $context: 'sleepMs' } } },
      tired: { type: 'final', output: { why: { $context: 'why' } } },
    },
  });
  const [s, actions] = start(machine, { sleepMs: 250, who: 'ana' }, 7);
  const spawns = spawnsOf(actions);
  assert.is(spawns.length, 1);
  assert.is(spawns[0].params!.src, 'sleep');
  assert.is(spawns[0].params!.id, 'nap');
  assert.equal(spawns[0].params!.input, { ms: 250, to: 'ops', nested: { at: 7, by: 'ana' } });

  const [done] = send(machine, s, { type: 'xstate.done.actor.nap', actorId: 'nap', output: { sleptMs: 251 } });
  assert.is(done.status, 'done');
  assert.equal(done.output, { slept: 251, planned: 250 });

  const [failed] = send(machine, s, { type: 'xstate.error.actor.nap', actorId: 'nap', error: { code: 'TASK_TIMEOUT', message: 'too slow' } });
  assert.is(failed.value, 'tired');
  assert.equal(failed.output, { why: 'too slow' });
});

behaviour('a root output replaces the final state output and can read it through $event', () => {
  const { machine } = compile({
    initial: 'a',
    output: { result: { $event: 'output.r' }, total: { $context: 'n' } },
    states: { a: { on: { END: 'end' } }, end: { type: 'final', output: { r: 'ok' } } },
  });
  const [s] = start(machine, { n: 3 });
  assert.equal(send(machine, s, { type: 'END' })[0].output, { result: 'ok', total: 3 });
});

behaviour('emit produces an xstate.emit action with the dotted type and resolved fields; raise feeds the run', () => {
  const { machine } = compile({
    initial: 'a',
    states: {
      a: {
        on: {
          BREACH: {
            actions: [
              { type: 'emit', params: { type: 'sla.breached', fields: { severity: { $event: 'sev' }, at: { $now: true } } } },
              { type: 'raise', params: { event: { type: 'ESCALATE', level: { $event: 'sev' } } } },
            ],
          },
          ESCALATE: { target: 'escalated', actions: { type: 'assign', params: { set: { level: { $event: 'level' } } } } },
        },
      },
      escalated: {},
    },
  });
  const [s0] = start(machine);
  const [s, actions] = send(machine, s0, { type: 'BREACH', sev: 'high' }, 9_000);
  const emitted = actions.find((a) => a.type === 'xstate.emit');
  assert.equal(emitted?.params!.event, { type: 'sla.breached', severity: 'high', at: 9_000 });
  assert.is(s.value, 'escalated');
  assert.is(s.context.level, 'high');
});

behaviour('nested, parallel and history states, with ".child", sibling and "#id" targets, behave as in XState', () => {
  const { machine } = compile({
    id: 'flow',
    initial: 'work',
    on: { RESET: '.work' },
    states: {
      work: {
        type: 'parallel',
        states: {
          left: { initial: 'l1', states: { l1: { on: { NEXT: 'l2' } }, l2: { type: 'final' } } },
          right: { initial: 'r1', states: { r1: { on: { NEXT: 'r2' } }, r2: { type: 'final' } } },
        },
        onDone: '#paused.hist',
        on: { PAUSE: 'paused' },
      },
      paused: {
        id: 'paused',
        initial: 'p1',
        states: { p1: { on: { NEXT: 'p2' } }, p2: { on: { BACK: '#flow.work' } }, hist: { type: 'history', history: 'shallow', target: 'p1' } },
      },
    },
  });
  let [s] = start(machine);
  assert.equal(s.value, { work: { left: 'l1', right: 'r1' } });
  [s] = send(machine, s, { type: 'NEXT' });
  assert.equal(s.value, { paused: 'p1' }, 'both regions final: onDone enters the history state, which has no history yet');
  [s] = send(machine, s, { type: 'NEXT' });
  [s] = send(machine, s, { type: 'BACK' });
  assert.equal(s.value, { work: { left: 'l1', right: 'r1' } });
  [s] = send(machine, s, { type: 'NEXT' });
  assert.equal(s.value, { paused: 'p2' }, 'the history state restores p2');
  [s] = send(machine, s, { type: 'RESET' });
  [s] = send(machine, s, { type: 'PAUSE' });
  assert.equal(s.value, { paused: 'p1' });
});

behaviour('a state with meta.humanTask keeps its meta on the machine for the engine to read', () => {
  const humanTask = { role: 'approver', title: 'Approve', outcomes: { APPROVE: 'APPROVED' } };
  const { machine } = compile({ initial: 'ask', states: { ask: { meta: { humanTask }, on: { APPROVED: 'ok' } }, ok: { type: 'final' } } });
  const [s] = start(machine);
  const node = s._nodes.find((n: { path: string[] }) => n.path.join('.') === 'ask');
  assert.equal((node?.meta as { humanTask: unknown }).humanTask, humanTask);
});

behaviour('an event payload carrying __proto__ is stored as data and never reaches a prototype', () => {
  const { machine } = compile({ initial: 'a', context: {}, states: { a: { on: { SET: { actions: { type: 'assign', params: { set: { 'data.copy': { $event: 'payload' } } } } } } } } });
  const [s0] = start(machine);
  const payload = JSON.parse('{"__proto__": {"polluted": true}, "ok": 1}');
  const [s] = send(machine, s0, { type: 'SET', payload });
  assert.is(({} as Record<string, unknown>).polluted, undefined);
  assert.is((s.context.data.copy as Record<string, unknown>).ok, 1);
});

behaviour('the documented example compiles, validates against jsonWorkflowSchema and runs to its output', () => {
  const md = readFileSync(new URL('../../docs/json-workflows.md', import.meta.url), 'utf8');
  const block = [...md.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]).find((b) => b.includes('"humanTask"') && b.includes('"delays"'));
  assert.ok(block, 'the docs carry the complete example');
  const definition = JSON.parse(block!);
  const { machine, definition: stored, builtIn } = compile(definition, { name: 'triage' });
  assert.is(builtIn, false);
  assert.equal(stored, definition);
  let [s, actions] = start(machine, { title: 'db down', severity: 'high', slaMs: 600_000, cooldownMs: 5 }, 1_000);
  assert.equal(s.value, { open: { work: 'new', sla: 'running' } });
  assert.equal(timersOf(actions).map((a) => a.params!.delay), [600_000]);
  [s] = send(machine, s, { type: 'ACKNOWLEDGE', by: 'ana' }, 2_000);
  [s, actions] = send(machine, s, { type: 'RESOLVE', rootCause: 'disk full' }, 3_000);
  assert.equal(spawnsOf(actions).map((a) => [a.params!.src, a.params!.input]), [['sleep', { ms: 5 }]]);
  [s] = send(machine, s, { type: 'xstate.done.actor.cooldown', actorId: 'cooldown', output: { sleptMs: 5 } }, 4_000);
  assert.is(s.status, 'done');
  assert.equal(s.output, { assignee: 'ana', rootCause: 'disk full', breached: 0, openedAt: 1_000 });
});

behaviour.run();

const validation = suite('json workflow validation');

validation('a definition with several problems is refused with every one of them, each with its path', () => {
  const definition = JSON.parse(JSON.stringify({
    initial: 'open',
    states: {
      open: {
        on: {
          GO: { target: 'nowhere' },
          CHECK: { target: 'done', guard: { type: 'isTuesday', params: {} } },
          DO: { actions: [{ type: 'launchMissiles', params: {} }] },
        },
        after: { slaDelay: 'done' },
      },
      work: { invoke: { src: 'sendmail', onDone: 'done' } },
      done: { type: 'final' },
    },
    context: { PROTO: 1 },
  }).replace('"PROTO"', '"__proto__"'));
  const problems = problemsOf(definition);
  hasProblem(problems, '/definition/states/open/on/GO/target', /unknown target/);
  hasProblem(problems, '/definition/states/open/on/CHECK/guard/type', /unknown guard "isTuesday"/);
  hasProblem(problems, '/definition/states/open/on/DO/actions/0/type', /unknown action "launchMissiles"/);
  hasProblem(problems, '/definition/states/open/after/slaDelay', /unknown delay "slaDelay"/);
  hasProblem(problems, '/definition/states/work/invoke/src', /unknown task "sendmail"/);
  hasProblem(problems, '/definition/context/__proto__', /not allowed/);
});

validation('targets resolve like XState: siblings, ".child" and "#id"; a bare target from the root is refused', () => {
  const problems = problemsOf({
    id: 'm',
    initial: 'a',
    on: { TOP: 'a', TOP_OK: '.a.a1', TOP_ID: '#m.b' },
    states: {
      a: { initial: 'a1', states: { a1: { on: { UP: 'b', SIDE: 'a2', IN: '.x', ID: '#deep', IDP: '#deep.nope' } }, a2: {} }, on: { IN: '.a2', SIB: 'b.b1' } },
      b: { initial: 'b1', states: { b1: { id: 'deep' } } },
    },
  });
  assert.equal(problems.map((p) => p.path).sort(), [
    '/definition/on/TOP',
    '/definition/states/a/states/a1/on/IDP',
    '/definition/states/a/states/a1/on/IN',
    '/definition/states/a/states/a1/on/UP',
  ]);
});

validation('shape problems: unknown keys, malformed transitions, missing initial, misplaced history fields', () => {
  const problems = problemsOf({
    initial: 'a',
    states: {
      a: { on: { GO: { target: 'b', gaurd: 'x' }, BAD: 5 }, invoke: [{ id: 'i', src: 'noop', input: { x: { $contxt: 'y' } } }] },
      b: { states: { b1: {} } },
      c: { target: 'a', type: 'final', states: { x: {} } },
    },
  });
  hasProblem(problems, '/definition/states/a/on/GO/gaurd', /unknown property/);
  hasProblem(problems, '/definition/states/a/on/BAD');
  hasProblem(problems, '/definition/states/a/invoke/0/input/x', /unknown reference/);
  hasProblem(problems, '/definition/states/b', /needs "initial"/);
  hasProblem(problems, '/definition/states/c/target', /only a history state/);
  hasProblem(problems, '/definition/states/c/states', /final state has no child states/);
});

validation('built-in params are checked: schema, paths, references allowed where they are used', () => {
  const problems = problemsOf({
    initial: 'a',
    context: { x: { $event: 'nope' } },
    states: {
      a: {
        entry: [
          { type: 'assign', params: { set: { 'a.__proto__.b': 1 } } },
          { type: 'increment', params: {} },
          { type: 'emit', params: { type: 'run.done' } },
          { type: 'emit', params: { type: 'NotDotted' } },
          { type: 'raise', params: { event: { type: 'xstate.done.actor.x' } } },
          { type: 'append', params: { path: 'list', value: { $input: 'x' } } },
        ],
        on: { E: { guard: { type: 'equals', params: { left: 1 } } }, F: { guard: { and: [{ type: 'exists', params: { value: 1 } }], not: 'isTruthy' } } },
      },
    },
  });
  hasProblem(problems, '/definition/context/x/$event', /cannot be used here/);
  hasProblem(problems, '/definition/states/a/entry/0/params/set/a.__proto__.b', /not allowed in a path/);
  hasProblem(problems, '/definition/states/a/entry/1/params', /required property 'path'/);
  hasProblem(problems, '/definition/states/a/entry/2/params/type', /engine writes itself/);
  hasProblem(problems, '/definition/states/a/entry/3/params/type', /pattern/);
  hasProblem(problems, '/definition/states/a/entry/4/params/event/type', /xstate/);
  hasProblem(problems, '/definition/states/a/entry/5/params/value/$input', /cannot be used here/);
  hasProblem(problems, '/definition/states/a/on/E/guard/params', /required property 'right'/);
  hasProblem(problems, '/definition/states/a/on/F/guard', /exactly one of/);
});

validation('names, input schema, forbidden keys anywhere, depth and state count are limited', () => {
  const ok = { initial: 'a', states: { a: {} } };
  hasProblem(problemsOf(ok, { name: 'Bad Name' }), '/name');
  hasProblem(problemsOf(ok, { inputSchema: { type: 'nonsense' } }), '/inputSchema', /does not compile/);
  hasProblem(problemsOf(JSON.parse('{"initial":"a","states":{"a":{"meta":{"x":{"constructor":1}}}}}')), '/definition/states/a/meta/x/constructor');
  const protoSchema = JSON.parse('{"type":"object","properties":{"prototype":{}}}');
  hasProblem(problemsOf(ok, { inputSchema: protoSchema }), '/inputSchema/properties/prototype', /not allowed/);

  let deep: Record<string, unknown> = {};
  const meta = deep;
  for (let i = 0; i < 70; i++) deep = (deep.x = {}) as Record<string, unknown>;
  hasProblem(problemsOf({ initial: 'a', states: { a: { meta } } }), '/definition/states/a/meta' + '/x'.repeat(61), /deeper than 64/);

  const states: Record<string, unknown> = {};
  for (let i = 0; i < 1_001; i++) states[`s${i}`] = {};
  hasProblem(problemsOf({ initial: 's0', states }), '/definition/states', /more than 1000 states/);
});

validation('the exported schema and vocabulary describe the built-ins', () => {
  assert.is(jsonWorkflowSchema.additionalProperties, false);
  for (const name of ['assign', 'increment', 'append', 'emit', 'raise', 'clear']) assert.ok(builtInActions[name]?.description, name);
  for (const name of ['equals', 'notEquals', 'greaterThan', 'lessThan', 'in', 'exists', 'isTruthy']) assert.ok(builtInGuards[name]?.params, name);
  assert.not.ok(Object.hasOwn(builtInActions, 'toString'));
  hasProblem(problemsOf({ initial: 'a', states: { a: { entry: 'toString' } } }), '/definition/states/a/entry', /unknown action "toString"/);
});

validation.run();
