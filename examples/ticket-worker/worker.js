// A task worker that lives in its own project: it installs `servicechart` and serves two tasks.
// - create_external_ticket: the built-in incident workflow's ticket step, served here instead of by the
//   built-in handler (the server lists it in SERVICECHART_EXTERNAL_TASKS).
// - assign_ticket: a task of this team's own, which JSON workflows may use once this worker is live.
import { defineTask, NonRetryableTaskError, runWorker } from 'servicechart/worker';

const createTicket = defineTask({
  name: 'create_external_ticket',
  description: 'Open a ticket in the team tracker for the incident.',
  input: { type: 'object', additionalProperties: true },
  output: { type: 'object', required: ['adapter', 'delivered', 'ticketRef'], properties: { adapter: { type: 'string' }, delivered: { type: 'boolean' }, ticketRef: { type: 'string' } } },
  handler: async (input, ctx) => {
    // A real worker calls its tracker here, passing ctx.idempotencyKey so a retry opens no second ticket.
    const ticketRef = `TW-${ctx.runId.slice(-8).toUpperCase()}`;
    return { adapter: 'ticket-worker', delivered: true, ticketRef };
  },
});

const assignTicket = defineTask({
  name: 'assign_ticket',
  description: 'Pick the owner of a ticket from its component.',
  input: { type: 'object', required: ['component'], properties: { component: { type: 'string' } } },
  output: { type: 'object', required: ['assignee'], properties: { assignee: { type: 'string' } } },
  retry: { attempts: 3, backoffMs: 500 },
  handler: async (input) => {
    if (input.component === '') throw new NonRetryableTaskError('a ticket needs a component');
    return { assignee: `${input.component}-oncall` };
  },
});

const worker = await runWorker({
  redis: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  prefix: process.env.SERVICECHART_PREFIX ?? 'sc',
  tasks: [createTicket, assignTicket],
  concurrency: Number(process.env.CONCURRENCY ?? 4),
  logger: console,
});
console.log(`ticket-worker ${worker.workerId} ready`);

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, async () => {
    await worker.close();
    process.exit(0);
  });
}
