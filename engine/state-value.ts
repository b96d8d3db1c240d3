// Reading an XState state value (`"open"`, `{ "work": "waiting" }`) as stored on a run.

/** The top-level states of a state value (the `state` filter of run listings matches these). */
export function topLevelStates(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (value && typeof value === 'object') return Object.keys(value);
  return [];
}

/** Dotted paths of every active state node, parents included (`work`, `work.waiting`). */
export function activeStatePaths(value: unknown, prefix = ''): string[] {
  if (typeof value === 'string') return [prefix + value];
  if (!value || typeof value !== 'object') return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    out.push(prefix + k);
    out.push(...activeStatePaths(v, `${prefix}${k}.`));
  }
  return out;
}
