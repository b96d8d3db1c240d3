// The `delivery` process model (docs/models/delivery.md §3): one release from build through pre-production,
// the go/no-go, the change gate, a canary / phased / big-bang production rollout (pausable through a
// deep history node), bake, rollback and early life support, feeding DORA's delivery metrics.
// The machine and its parts live in `delivery/`; this module declares the workflow.
import { defineWorkflow, namesIn } from '../engine/definition/index.ts';
import { deliveryMachine } from './delivery/machine.ts';
import { DELIVERY_KPIS } from './delivery/kpis.ts';
import { eventSchemas, inputSchema } from './delivery/schemas.ts';

export type { DeliveryContext } from './delivery/types.ts';
export { DELIVERY_DELAYS } from './delivery/delays.ts';
export { DELIVERY_KPIS };

export const delivery = defineWorkflow({
  name: 'delivery',
  version: 1,
  description: 'Release and deployment: build, pre-production, go/no-go, change gate, canary/phased/big-bang rollout with pause/resume, bake, rollback, early life support (docs/models/delivery.md §3).',
  machine: deliveryMachine,
  builtIn: true,
  kpis: DELIVERY_KPIS,
  inputSchema,
  eventSchemas,
  // Service owners and release managers of the services named in the input.
  registry: { refs: (input) => ({ services: namesIn((input.release as { service?: unknown } | undefined)?.service), cis: [] }) },
});
