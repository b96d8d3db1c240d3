// Owns the engine's Prometheus series (prom-client), one registry per engine.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface Metrics {
  registry: Registry;
  runStarted(workflow: string): void;
  runEnded(workflow: string, status: string, durationMs: number): void;
  eventApplied(workflow: string, source: string): void;
  stepApplied(workflow: string, seconds: number): void;
  taskAttempt(task: string, outcome: 'completed' | 'failed' | 'retrying'): void;
  timerFired(workflow: string, latenessMs: number): void;
  setQueueDepth(collect: () => Promise<Record<string, Record<string, number>>>): void;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  const started = new Counter({ name: 'servicechart_runs_started_total', help: 'Runs started', labelNames: ['workflow'], registers: [registry] });
  const ended = new Counter({ name: 'servicechart_runs_ended_total', help: 'Runs ended', labelNames: ['workflow', 'status'], registers: [registry] });
  const events = new Counter({ name: 'servicechart_events_applied_total', help: 'Events applied to runs', labelNames: ['workflow', 'source'], registers: [registry] });
  const step = new Histogram({
    name: 'servicechart_step_duration_seconds', help: 'Time to apply one step (read, transition, commit)', labelNames: ['workflow'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers: [registry],
  });
  const attempts = new Counter({ name: 'servicechart_task_attempts_total', help: 'Task attempts by outcome', labelNames: ['task', 'outcome'], registers: [registry] });
  const timers = new Counter({ name: 'servicechart_timers_fired_total', help: 'Timers fired', labelNames: ['workflow'], registers: [registry] });
  const lateness = new Histogram({
    name: 'servicechart_timer_lateness_seconds', help: 'How late timers fired after their due time',
    buckets: [0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 5], registers: [registry],
  });
  let collectDepth: (() => Promise<Record<string, Record<string, number>>>) | null = null;
  new Gauge({
    name: 'servicechart_queue_jobs', help: 'Jobs per queue and state', labelNames: ['queue', 'state'], registers: [registry],
    async collect() {
      if (!collectDepth) return;
      const depth = await collectDepth();
      for (const [queue, counts] of Object.entries(depth)) for (const [state, n] of Object.entries(counts)) this.set({ queue, state }, n);
    },
  });
  return {
    registry,
    runStarted: (w) => started.inc({ workflow: w }),
    runEnded: (w, s) => ended.inc({ workflow: w, status: s }),
    eventApplied: (w, source) => events.inc({ workflow: w, source }),
    stepApplied: (w, s) => step.observe({ workflow: w }, s),
    taskAttempt: (t, o) => attempts.inc({ task: t, outcome: o }),
    timerFired: (w, ms) => {
      timers.inc({ workflow: w });
      lateness.observe(ms / 1000);
    },
    setQueueDepth: (fn) => {
      collectDepth = fn;
    },
  };
}
