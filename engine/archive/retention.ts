// Owns reading retention rules: `incident=180d,change=1y,*=30d` (units s m h d w y; `keep` keeps forever).

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000, y: 365 * 86_400_000 };

export interface Retention {
  /** How long after its end a run of this workflow stays in Redis; null keeps it there. */
  of(workflow: string): number | null;
  /** True when some workflow's runs ever leave Redis. */
  readonly any: boolean;
  describe(): string;
}

/** A duration such as `30d`, `12h`, `90s`, in milliseconds; null when it is not one. */
export function parseDuration(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)([smhdwy])$/.exec(text.trim());
  if (!m) return null;
  const ms = Number(m[1]) * UNIT_MS[m[2]];
  return Number.isFinite(ms) && ms > 0 ? Math.round(ms) : null;
}

/**
 * Read `SERVICECHART_RETENTION`. Empty or unset keeps every run (as before retention existed).
 * @example
 * parseRetention('incident=180d,*=30d').of('change') // 30 days in ms
 */
export function parseRetention(text: string | undefined): Retention {
  const rules = new Map<string, number | null>();
  for (const part of (text ?? '').split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([a-z][a-z0-9_-]{0,63}|\*)=(.+)$/.exec(part);
    if (!m) throw new Error(`SERVICECHART_RETENTION: "${part}" is not workflow=duration (e.g. incident=180d, *=30d)`);
    if (rules.has(m[1])) throw new Error(`SERVICECHART_RETENTION: ${m[1]} is given twice`);
    const value = m[2].trim();
    if (value === 'keep') {
      rules.set(m[1], null);
      continue;
    }
    const ms = parseDuration(value);
    if (ms === null) throw new Error(`SERVICECHART_RETENTION: "${value}" for ${m[1]} is not a duration (a number and one of s m h d w y, or keep)`);
    rules.set(m[1], ms);
  }
  const fallback = rules.has('*') ? rules.get('*')! : null;
  return {
    of: (workflow) => (rules.has(workflow) ? rules.get(workflow)! : fallback),
    any: [...rules.values()].some((v) => v !== null),
    describe: () => (rules.size ? [...rules].map(([k, v]) => `${k}=${v === null ? 'keep' : `${v / 1000}s`}`).join(',') : 'keep everything'),
  };
}
