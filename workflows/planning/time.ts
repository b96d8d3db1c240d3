// Time as the planning machine sees it (the engine's time module, engine/definition/time.ts).
export { nowOf, iso } from '../../engine/definition/index.ts';

/** Epoch ms of an ISO time string; null for anything else (planning dates arrive as strings). */
export const ms = (s: string | null | undefined): number | null => {
  if (typeof s !== 'string') return null;
  const t = Date.parse(s);
  return Number.isNaN(t) ? null : t;
};
