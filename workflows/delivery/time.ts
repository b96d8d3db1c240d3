// Time as the delivery machine sees it (shared with the other models: ../lib/time.ts).
export { nowOf, timeOf as toMs, iso } from '../lib/time.ts';
