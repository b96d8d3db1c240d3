// Owns the change risk levels as the model reads them; the `assess_risk` task computes the level.

export type Risk = 'high' | 'moderate' | 'low';

/** Reads `high|moderate|low` in any case, and ServiceNow's display values ("Moderate"); anything else is null. */
export function parseRisk(v: unknown): Risk | null {
  const s = typeof v === 'string' ? v.trim().toLowerCase() : '';
  if (s === 'high' || s === 'very high' || s === 'critical') return 'high';
  if (s === 'moderate' || s === 'medium') return 'moderate';
  if (s === 'low' || s === 'none') return 'low';
  return null;
}
