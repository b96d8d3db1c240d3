// Time as the delivery machine sees it (the engine's time module, engine/definition/time.ts).
export { nowOf, timeOf as toMs, iso } from '../../engine/definition/index.ts';
