// Owns the type of `enqueue` in a model's named actions, so actions written outside setup() stay checked.
import type { enqueueActions, EventObject, MachineContext, ParameterizedObject, ProvidedActor } from 'xstate';

/** An event a workflow emits: history and the outbound webhooks carry it as it is. */
export type EmittedEvent = { type: string; [k: string]: unknown };

/**
 * The `enqueue` that `enqueueActions` hands an action of a machine with this context and these events:
 * `enqueue.assign` is checked against the context, `enqueue.emit` takes an event with a `type`.
 * @example
 * const respond = enqueueActions(({ context, enqueue }: Args & { enqueue: Enqueue<IncidentContext, Ev> }) => {
 *   enqueue.assign({ respondedAt: context.openedAt });
 * });
 */
export type Enqueue<TContext extends MachineContext, TEvent extends EventObject> = Parameters<
  Parameters<typeof enqueueActions<TContext, TEvent, undefined, TEvent, ProvidedActor, ParameterizedObject, ParameterizedObject, string, EmittedEvent>>[0]
>[0]['enqueue'];
