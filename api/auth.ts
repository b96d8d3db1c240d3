// Owns API keys: parsing SERVICECHART_API_KEYS, generating a first admin key, and constant-time lookup.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from '../engine/index.ts';

/** Ranks: each role may do what the ones below it may. `worker` ranks lowest: external tasks only. */
export const Role = { worker: 0, viewer: 1, operator: 2, admin: 3 } as const;
export type Role = keyof typeof Role;

export interface Principal {
  name: string;
  role: Role;
}

export interface Auth {
  /** The key's owner, or null for an unknown key. Compares digests in constant time. */
  authenticate(key: string): Principal | null;
  size: number;
}

interface KeyEntry extends Principal {
  digest: Buffer;
}

const digest = (key: string) => createHash('sha256').update(key).digest();

/** `key:role` or `name:key:role`, comma separated. */
export function parseApiKeys(spec: string): KeyEntry[] {
  const out: KeyEntry[] = [];
  for (const raw of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const parts = raw.split(':');
    const role = parts.pop() as Role;
    if (!(role in Role)) throw new Error(`SERVICECHART_API_KEYS: unknown role "${role}" (use admin, operator, viewer or worker)`);
    const key = parts.pop();
    if (!key || key.length < 8) throw new Error('SERVICECHART_API_KEYS: every key needs at least 8 characters');
    const name = parts.length ? parts.join(':') : `key-${digest(key).toString('hex').slice(0, 8)}`;
    out.push({ name, role, digest: digest(key) });
  }
  if (!out.length) throw new Error('SERVICECHART_API_KEYS is set but names no key');
  return out;
}

export function createAuth(entries: KeyEntry[]): Auth {
  return {
    size: entries.length,
    authenticate(key) {
      const d = digest(key);
      let found: KeyEntry | null = null;
      // Compare against every entry so the time taken does not tell which one matched.
      for (const e of entries) if (timingSafeEqual(d, e.digest) && !found) found = e;
      return found ? { name: found.name, role: found.role } : null;
    },
  };
}

/**
 * Keys from the environment, or else the data dir's generated admin key (made, saved with mode 0600
 * and printed once, on first start).
 */
export async function loadApiKeys(opts: { env: string | null; dataDir: string; logger: Logger; print?: (line: string) => void }): Promise<Auth> {
  if (opts.env) return createAuth(parseApiKeys(opts.env));
  const dir = resolve(opts.dataDir);
  const file = join(dir, 'api-key');
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const key = `sc_${randomBytes(24).toString('base64url')}`;
    writeFileSync(file, `${key}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
    (opts.print ?? ((l) => process.stdout.write(l + '\n')))(
      `\nGenerated an admin API key (shown once; kept in ${file}, mode 0600):\n\n  ${key}\n\nUse it as: Authorization: Bearer ${key}\n`,
    );
  }
  const key = readFileSync(file, 'utf8').trim();
  return createAuth([{ name: 'admin', role: 'admin', digest: digest(key) }]);
}
