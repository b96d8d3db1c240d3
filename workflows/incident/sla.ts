// The SLA clock (docs/models/conventions.md §0.3, §0.7) as a reusable region: its XState config plus the named
// delays, guards and actions it needs, kept in context at `sla.<clock>`.
//
// The region reads context only: the model keeps the facts (priority, hold reason, acknowledgement)
// and the clock follows them through guarded `always` transitions, so one event needs no knowledge of
// the clocks and a clock never accepts an event the lifecycle refuses. Due times become `after` timers,
// which the engine turns into durable jobs.
import { nowOf, type EmittedEvent } from '../../engine/definition/index.ts';
import { enqueueActions } from 'xstate';

export interface SlaClockState {
  /** The target the clock runs against now (ms), or null when no SLA is attached. */
  targetMs: number | null;
  /** When timing counts from (retroactive start: the record's creation time). */
  startedAt: number | null;
  /** When the clock breaches if nothing pauses it; null while paused or stopped. */
  dueAt: number | null;
  /** Time counted so far, excluding pauses; exact while the clock stands, else as of `runningSince`. */
  elapsedMs: number;
  pausedMs: number;
  paused: boolean;
  /** Keyed by the fraction as a string (`"0.5"`), the time each warning went out. */
  warnedAt: Record<string, number>;
  met: boolean;
  breached: boolean;
  breachedAt: number | null;
  stoppedAt: number | null;
  /** Hierarchical re-escalations after the breach. */
  reescalations: number;
  /** Internal: the start of the running segment, and of the pause. */
  runningSince: number | null;
  pausedSince: number | null;
  /** Internal: the compliance measure went out (once per clock, whatever reopens follow). */
  recorded: boolean;
}

/** A model action run when the clock warns, breaches or re-escalates, with `{ clock, kind, fraction? }`. */
export interface SlaHookParams {
  clock: string;
  kind: 'warning' | 'breached' | 'reescalated' | 'met';
  fraction?: number;
  level?: number;
}

export interface SlaClockOptions<C, K extends string = string> {
  /** `response` → region `responseSla`, context `sla.response`, delays `responseWarn50Delay`, … */
  clock: K;
  /** The target from context (null: no SLA attached, as for a P5's resolution). */
  targetMs: (context: C) => number | null;
  /** When timing counts from on first start (retroactive start from the record's opening). */
  startedAt: (context: C) => number;
  /** Warning slots; the fractions also name the delays (`Warn50`). Default [0.5, 0.75]. */
  warnAt?: readonly number[];
  /** Per-run fractions for the slots (input `slaWarnAt`); a missing slot keeps its default. */
  warnAtFrom?: (context: C) => readonly number[] | undefined;
  /** The clock stands still while this holds (a hold whose reason pauses the SLA). */
  pausedWhen?: (context: C) => boolean;
  /** The clock stops met (or stays breached) once this holds (response: acknowledged). */
  stoppedWhen?: (context: C) => boolean;
  /** After a stop by `stop` (the lifecycle left), a re-entered region resumes with its elapsed time. */
  resumable?: boolean;
  /** After a breach: re-escalate every `everyFraction` × target, at most `max` times. Default 0.5, 3. */
  reescalate?: { max?: number; everyFraction?: number };
  /** A fixed duration for a named delay of this clock (input `delaysMs.<name>`), if any. */
  delayOverride?: (context: C, delayName: string) => number | undefined;
  /** KPI fed with 1 (met) or 0 (breached) once per clock, and the dimensions of every measure. */
  measure?: string;
  dims?: (context: C) => Record<string, unknown>;
  openedAt?: (context: C) => number;
  /** Model actions (by name) called with `SlaHookParams`, for notifications and escalation levels. */
  hooks?: { warning?: string; breached?: string; reescalated?: string; met?: string };
}

/** The names of the actions a clock registers (`responseSlaStop`, `responseSlaWarn0`, ...). */
export type SlaActionName<K extends string> =
  | `${K}Sla${'Begin' | 'Arm' | 'Accumulate' | 'Pause' | 'Unpause' | 'Breach' | 'BreachedEntry' | 'Reescalate' | 'Stop'}`
  | `${K}SlaWarn${number}`;

export interface SlaClockParts<K extends string = string> {
  /** The state name of the region (`responseSla`) and its config, to place in a parallel state. */
  name: string;
  region: Record<string, unknown>;
  delays: Record<string, (args: { context: any }) => number>;
  guards: Record<string, (args: { context: any; event: any }) => boolean>;
  actions: Record<SlaActionName<K>, any>;
  /** The action to run when the lifecycle leaves the clock's parent (resolve): records met/breached. */
  stopAction: `${K}SlaStop`;
  /** The delay names, for documentation and `delaysMs` overrides. */
  delayNames: string[];
}

export const DEFAULT_WARN_AT: readonly number[] = [0.5, 0.75];

/** A fresh clock for the initial context. */
export function newSlaClock(): SlaClockState {
  return {
    targetMs: null, startedAt: null, dueAt: null, elapsedMs: 0, pausedMs: 0, paused: false, warnedAt: {}, met: false, breached: false,
    breachedAt: null, stoppedAt: null, reescalations: 0, runningSince: null, pausedSince: null, recorded: false,
  };
}


/** Elapsed SLA time at `now` (the running segment included). */
export function slaElapsed(c: SlaClockState, now: number): number {
  return c.elapsedMs + (c.runningSince !== null ? Math.max(0, now - c.runningSince) : 0);
}

type Ctx = { sla: Record<string, SlaClockState> } & Record<string, unknown>;

/**
 * Build one SLA clock region.
 * @example
 * const resolution = slaClock<IncidentContext>({ clock: 'resolution', targetMs: (c) => c.targets.resolutionMs,
 *   startedAt: (c) => c.openedAt, pausedWhen: (c) => c.pausesSla, resumable: true });
 * setup({ delays: { ...resolution.delays }, guards: { ...resolution.guards }, actions: { ...resolution.actions } })
 *   .createMachine({ ... open: { type: 'parallel', states: { [resolution.name]: resolution.region } } });
 */
export function slaClock<C, const K extends string = string>(opts: SlaClockOptions<C, K>): SlaClockParts<K> {
  const clock = opts.clock;
  const p = `${clock}Sla`;
  const slots = opts.warnAt ?? DEFAULT_WARN_AT;
  const maxReescalations = opts.reescalate?.max ?? 3;
  const reescalateEvery = opts.reescalate?.everyFraction ?? 0.5;
  const of = (context: unknown): SlaClockState => (context as Ctx).sla[clock];
  const target = (context: unknown) => opts.targetMs(context as C);
  const paused = (context: unknown) => opts.pausedWhen?.(context as C) ?? false;
  const stopped = (context: unknown) => opts.stoppedWhen?.(context as C) ?? false;
  const fraction = (context: unknown, i: number): number => {
    const f = opts.warnAtFrom?.(context as C)?.[i];
    return typeof f === 'number' && f > 0 && f < 1 ? f : slots[i];
  };
  const pct = (f: number) => String(Math.round(f * 100));
  const name = {
    warn: (i: number) => `${clock}Warn${pct(slots[i])}Delay`,
    breach: `${clock}BreachDelay`,
    reescalate: `${clock}ReescalateDelay`,
  };
  const override = (context: unknown, delay: string) => opts.delayOverride?.(context as C, delay);

  /** Assign `sla.<clock>` from the current one. */
  const patch = (context: unknown, change: Partial<SlaClockState>) => ({ sla: { ...(context as Ctx).sla, [clock]: { ...of(context), ...change } } });

  const measureFields = (context: unknown) => ({
    openedAt: opts.openedAt?.(context as C) ?? of(context).startedAt, dims: opts.dims?.(context as C) ?? {},
  });

  const delays: SlaClockParts['delays'] = {
    [name.breach]: ({ context }) => {
      const c = of(context);
      return Math.max(0, (c.targetMs ?? 0) - c.elapsedMs);
    },
    [name.reescalate]: ({ context }) => override(context, name.reescalate) ?? override(context, 'reescalateDelay') ?? Math.max(1, Math.round((of(context).targetMs ?? 0) * reescalateEvery)),
  };
  slots.forEach((_, i) => {
    delays[name.warn(i)] = ({ context }) => {
      const c = of(context);
      const t = c.targetMs ?? 0;
      const key = String(fraction(context, i));
      const left = fraction(context, i) * t - c.elapsedMs;
      // A warning sent already, or due already (sent on entry), waits past the breach, which withdraws it.
      if (c.warnedAt[key] !== undefined || left <= 0) return Math.max(0, t - c.elapsedMs) + 1;
      return left;
    };
  });

  /** What the clock's actions use of their `enqueue`: raise a model's hook action, assign a patch, emit an event. */
  type ClockEnqueue = {
    (action: { type: string; params: SlaHookParams }): void;
    assign(change: ReturnType<typeof patch>): void;
    emit(event: EmittedEvent): void;
  };

  const hook = (enqueue: ClockEnqueue, kind: keyof NonNullable<SlaClockOptions<C, K>['hooks']>, params: Omit<SlaHookParams, 'clock' | 'kind'> = {}) => {
    const type = opts.hooks?.[kind];
    if (type) enqueue({ type, params: { clock, kind, ...params } satisfies SlaHookParams });
  };

  /** Send warning slot i now unless it went out already. */
  const warn = (enqueue: ClockEnqueue, context: unknown, now: number, i: number) => {
    const c = of(context);
    const f = fraction(context, i);
    const key = String(f);
    if (c.warnedAt[key] !== undefined) return context;
    const next = patch(context, { warnedAt: { ...c.warnedAt, [key]: now } });
    enqueue.assign(next);
    enqueue.emit({ type: 'sla.warning', clock, fraction: f, elapsedMs: slaElapsed(c, now), targetMs: c.targetMs, dueAt: c.dueAt });
    hook(enqueue, 'warning', { fraction: f });
    return { ...(context as object), ...next };
  };

  const breach = (enqueue: ClockEnqueue, context: unknown, now: number) => {
    let ctx = context;
    // A breach found late (a shorter target) still sends the warnings it passed, once.
    slots.forEach((_, i) => {
      ctx = warn(enqueue, ctx, now, i);
    });
    const c = of(ctx);
    if (c.breached) return;
    const first = !!opts.measure && !c.recorded;
    enqueue.assign(patch(ctx, { breached: true, breachedAt: now, met: false, recorded: c.recorded || first }));
    enqueue.emit({ type: 'sla.breached', clock, elapsedMs: slaElapsed(c, now), targetMs: c.targetMs, dueAt: c.dueAt, breachedAt: now });
    const fields = measureFields(ctx);
    enqueue.emit({ type: 'measure.recorded', measure: 'slaBreaches', value: 1, openedAt: fields.openedAt, dims: { ...fields.dims, clock } });
    if (first) enqueue.emit({ type: 'measure.recorded', measure: opts.measure, value: 0, ...fields });
    hook(enqueue, 'breached');
  };

  /** Record the stop: met unless breached. */
  const recordStop = (enqueue: ClockEnqueue, context: unknown, now: number) => {
    const c = of(context);
    if (c.stoppedAt !== null || c.startedAt === null || c.targetMs === null) return;
    const elapsedMs = slaElapsed(c, now);
    const met = !c.breached;
    enqueue.assign(patch(context, { stoppedAt: now, met, elapsedMs, runningSince: null, dueAt: null, recorded: c.recorded || (met && !!opts.measure) }));
    if (met) {
      enqueue.emit({ type: 'sla.met', clock, elapsedMs, targetMs: c.targetMs, pausedMs: c.pausedMs });
      if (opts.measure && !c.recorded) enqueue.emit({ type: 'measure.recorded', measure: opts.measure, value: 1, ...measureFields(context) });
      hook(enqueue, 'met');
    }
  };

  const actions = {
    /** First start sets the retroactive start; a resumable clock re-entered after a stop carries on. */
    [`${p}Begin`]: enqueueActions(({ context, event, enqueue }) => {
      const c = of(context);
      const now = nowOf(event);
      if (c.startedAt === null) {
        const startedAt = Math.min(opts.startedAt(context as C), now);
        enqueue.assign(patch(context, { startedAt, elapsedMs: Math.max(0, now - startedAt), targetMs: target(context) }));
      } else if (c.stoppedAt !== null && opts.resumable && !stopped(context)) {
        enqueue.assign(patch(context, { stoppedAt: null, met: false }));
      }
    }),
    [`${p}Arm`]: enqueueActions(({ context, event, enqueue }) => {
      const now = nowOf(event);
      const t = target(context);
      const c = of(context);
      const armed = patch(context, { targetMs: t, runningSince: now, paused: false, dueAt: t === null ? null : now + Math.max(0, t - c.elapsedMs) });
      enqueue.assign(armed);
      let ctx: unknown = { ...(context as object), ...armed };
      slots.forEach((_, i) => {
        if (t !== null && fraction(ctx, i) * t <= c.elapsedMs) ctx = warn(enqueue, ctx, now, i);
      });
    }),
    [`${p}Accumulate`]: enqueueActions(({ context, event, enqueue }) => {
      const c = of(context);
      if (c.runningSince === null) return;
      enqueue.assign(patch(context, { elapsedMs: slaElapsed(c, nowOf(event)), runningSince: null }));
    }),
    [`${p}Pause`]: enqueueActions(({ context, event, enqueue }) => {
      enqueue.assign(patch(context, { paused: true, pausedSince: nowOf(event), dueAt: null }));
    }),
    [`${p}Unpause`]: enqueueActions(({ context, event, enqueue }) => {
      const c = of(context);
      enqueue.assign(patch(context, { paused: false, pausedSince: null, pausedMs: c.pausedMs + Math.max(0, nowOf(event) - (c.pausedSince ?? nowOf(event))) }));
    }),
    [`${p}Breach`]: enqueueActions(({ context, event, enqueue }) => breach(enqueue, context, nowOf(event))),
    /** Time keeps counting after a breach (SLA time to resolve), unless the clock stopped. */
    [`${p}BreachedEntry`]: enqueueActions(({ context, event, enqueue }) => {
      const c = of(context);
      if (c.stoppedAt === null && !stopped(context)) enqueue.assign(patch(context, { runningSince: nowOf(event), targetMs: target(context) }));
    }),
    [`${p}Reescalate`]: enqueueActions(({ context, enqueue }) => {
      const c = of(context);
      const level = c.reescalations + 1;
      enqueue.assign(patch(context, { reescalations: level }));
      const entry = { type: 'sla.reescalated', clock, level };
      enqueue.emit(entry);
      hook(enqueue, 'reescalated', { level });
    }),
    [`${p}Stop`]: enqueueActions(({ context, event, enqueue }) => recordStop(enqueue, context, nowOf(event))),
  } as Record<SlaActionName<K>, any>;
  slots.forEach((_, i) => {
    actions[`${p}Warn${i}` as SlaActionName<K>] = enqueueActions(({ context, event, enqueue }) => {
      warn(enqueue, context, nowOf(event), i);
    });
  });

  const guards: SlaClockParts['guards'] = {
    [`${p}NotAttached`]: ({ context }) => target(context) === null,
    [`${p}Attached`]: ({ context }) => target(context) !== null,
    [`${p}IsBreached`]: ({ context }) => of(context).breached,
    [`${p}ShouldStop`]: ({ context }) => stopped(context),
    [`${p}StopPending`]: ({ context }) => stopped(context) && of(context).stoppedAt === null,
    [`${p}ShouldPause`]: ({ context }) => paused(context) && of(context).stoppedAt === null,
    [`${p}ShouldResume`]: ({ context }) => !paused(context),
    [`${p}Overdue`]: ({ context }) => {
      const t = target(context);
      return t !== null && of(context).elapsedMs >= t;
    },
    [`${p}TargetChanged`]: ({ context }) => target(context) !== of(context).targetMs,
    [`${p}CanReescalate`]: ({ context }) => of(context).reescalations < maxReescalations && of(context).stoppedAt === null && !stopped(context),
  };
  slots.forEach((_, i) => {
    guards[`${p}Warn${i}Pending`] = ({ context }) => of(context).warnedAt[String(fraction(context, i))] === undefined;
  });

  const runningAfter: Record<string, unknown> = {};
  slots.forEach((_, i) => {
    runningAfter[name.warn(i)] = { guard: `${p}Warn${i}Pending`, actions: `${p}Warn${i}` };
  });
  runningAfter[name.breach] = { target: 'breached', actions: `${p}Breach` };

  const region = {
    initial: 'init',
    states: {
      init: {
        entry: `${p}Begin`,
        always: [
          { guard: `${p}NotAttached`, target: 'notAttached' },
          { guard: `${p}IsBreached`, target: 'breached' },
          { guard: `${p}ShouldStop`, target: 'met' },
          { guard: `${p}ShouldPause`, target: 'paused' },
          { guard: `${p}Overdue`, target: 'breached', actions: `${p}Breach` },
          { target: 'running' },
        ],
      },
      notAttached: {
        always: { guard: `${p}Attached`, target: 'init' },
      },
      running: {
        entry: `${p}Arm`,
        exit: `${p}Accumulate`,
        after: runningAfter,
        always: [
          { guard: `${p}ShouldStop`, target: 'met' },
          { guard: `${p}ShouldPause`, target: 'paused' },
          { guard: `${p}TargetChanged`, target: 'init' },
        ],
      },
      paused: {
        entry: `${p}Pause`,
        exit: `${p}Unpause`,
        always: [
          { guard: `${p}ShouldStop`, target: 'init' },
          { guard: `${p}ShouldResume`, target: 'init' },
        ],
      },
      breached: {
        entry: `${p}BreachedEntry`,
        exit: `${p}Accumulate`,
        after: { [name.reescalate]: { guard: `${p}CanReescalate`, target: 'breached', reenter: true, actions: `${p}Reescalate` } },
        always: [
          { guard: `${p}ShouldPause`, target: 'paused' },
          { guard: `${p}StopPending`, actions: [`${p}Accumulate`, `${p}Stop`] },
        ],
      },
      met: {
        entry: `${p}Stop`,
      },
    },
  };

  return {
    name: p, region, delays, guards, actions, stopAction: `${clock}SlaStop`,
    delayNames: [...slots.map((_, i) => name.warn(i)), name.breach, name.reescalate],
  };
}

export { nowOf };
