// Owns the webhook configuration the entry point reads from the environment: secrets and mappings.
import type { Mapping } from './mapping-schema.ts';
import { loadMappings } from './mappings.ts';
import { HOOK_SOURCES, secretEnvName, type HookSource } from './verify.ts';

export interface HookConfig {
  /** A source without a secret refuses every delivery with 401. */
  secrets: Partial<Record<HookSource, string>>;
  /** Folder whose `<source>.json` files replace the built-in mappings. */
  mappingsDir?: string | null;
  /** Mappings loaded already (hookConfigFromEnv does it, so a bad file stops the process at start). */
  mappings?: Record<HookSource, Mapping>;
}

/**
 * Secrets from `SERVICECHART_HOOK_SECRET_<SOURCE>`, mappings from `SERVICECHART_MAPPINGS_DIR`; throws
 * a MappingError naming the file and JSON path when a mapping file is invalid.
 */
export function hookConfigFromEnv(env: NodeJS.ProcessEnv): HookConfig {
  const secrets: HookConfig['secrets'] = {};
  for (const source of HOOK_SOURCES) {
    const value = env[secretEnvName(source)];
    if (value) secrets[source] = value;
  }
  const mappingsDir = env.SERVICECHART_MAPPINGS_DIR || null;
  return { secrets, mappingsDir, mappings: loadMappings(mappingsDir) };
}
