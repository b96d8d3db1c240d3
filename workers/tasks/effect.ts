// A factory for tasks whose whole job is one outbound effect through an adapter (record by default,
// signed webhook, PagerDuty), and the tasks several process models share.
import type { JSONSchema } from 'json-schema-to-ts';
import { defineTask, type TaskDefinition } from '../../engine/index.ts';
import { deliver, ticketAdapter, type AdapterConfig } from '../adapters/index.ts';
import { deliveryOutput } from './notify.ts';

export interface EffectTaskSpec {
  name: string;
  description: string;
  /** JSON Schema of the input: an object that allows unknown fields (the adapter forwards them). */
  input?: OpenObjectSchema & JSONSchema;
  retry?: { attempts?: number; backoffMs?: number };
  timeoutMs?: number;
  /** A ticket task: a run started by a tool (`input.tool`) with outbound updates configured goes back to that tool. */
  toSourceTool?: boolean;
  /** Extra output fields computed from the input once the effect is delivered (for example a ticket ref). */
  result?: (input: Record<string, unknown>, ctx: { idempotencyKey: string; runId: string }) => Record<string, unknown>;
}

/**
 * An object schema that allows unknown fields: whatever properties it declares, what it accepts is at
 * least an object of unknown fields, which is the input type an effect task's handler is given.
 */
type OpenObjectSchema = { readonly type: 'object'; readonly additionalProperties: true };
const openObject: OpenObjectSchema = { type: 'object', additionalProperties: true };

export function effectTask(spec: EffectTaskSpec, adapters: AdapterConfig) {
  return defineTask<OpenObjectSchema, typeof deliveryOutput>({
    name: spec.name,
    description: spec.description,
    input: spec.input ?? openObject,
    output: deliveryOutput,
    retry: { attempts: spec.retry?.attempts ?? 5, backoffMs: spec.retry?.backoffMs ?? 1000 },
    timeoutMs: spec.timeoutMs ?? 15_000,
    handler: async (input, ctx) => {
      const adapter = spec.toSourceTool ? ticketAdapter(adapters, spec.name, input.tool) : adapters[spec.name];
      const delivery = await deliver(adapter, spec.name, spec.toSourceTool ? withSummary(input) : input, ctx);
      return { ...(spec.result?.(input, { idempotencyKey: ctx.idempotencyKey, runId: ctx.runId }) ?? {}), ...delivery };
    },
  });
}

/** A one-line comment a ticket tool can post as is (a Jira comment, a GitHub issue comment). */
function withSummary(input: Record<string, unknown>): Record<string, unknown> {
  if (typeof input.summaryText === 'string') return input;
  const parts = [`Servicechart: ${String(input.kind ?? 'incident')} ${String(input.ticketRef ?? input.key ?? input.businessKey ?? '')}`.trim()];
  const state = input.state ?? (input.eventAction === 'resolve' ? 'resolved' : undefined);
  if (state) parts.push(`is ${String(state)}`);
  if (input.priority !== undefined && input.priority !== null) parts.push(`(priority P${String(input.priority)})`);
  if (input.resolutionCode) parts.push(`resolution ${String(input.resolutionCode)}`);
  const text = parts.join(' ') + (input.comment ? `: ${String(input.comment)}` : '');
  return { ...input, summaryText: text.slice(0, 2000) };
}

/** Tasks used by more than one process model. */
export function sharedEffectTasks(adapters: AdapterConfig): TaskDefinition<any, any>[] {
  return [
    effectTask({
      name: 'create_external_ticket',
      description: 'Open a ticket in the team\'s tool (Jira, ServiceNow, GitHub) mirroring the run; output `ticketRef`.',
      result: (input, ctx) => ({ ticketRef: String(input.ticketRef ?? `SC-${ctx.runId.slice(-8).toUpperCase()}`) }),
    }, adapters),
    effectTask({ name: 'update_external_ticket', description: 'Mirror state, priority and work notes to the linked ticket (back to the tool that started the run when SERVICECHART_OUTBOUND_<TOOL> is set).', toSourceTool: true }, adapters),
    effectTask({ name: 'send_change_event', description: 'PagerDuty Change Event (summary, source, custom_details, links) so responders see recent changes.' }, adapters),
    effectTask({ name: 'rollback', description: 'Run the backout plan or redeploy the previous version; must be idempotent.', retry: { attempts: 3, backoffMs: 2000 }, timeoutMs: 60_000 }, adapters),
  ];
}
