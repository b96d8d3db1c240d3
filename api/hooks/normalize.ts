// Owns reshaping tool bodies whose wrapper varies before they are mapped (ServiceNow records).

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);

/**
 * A ServiceNow record arrives flat, as `{ result: {...} }`, or with `{ display_value, value }` (or
 * `{ link, value }`) pairs. The mapped view has raw values in place and display values under `$display`.
 */
export function normalizeServiceNow(body: unknown): unknown {
  let record = body;
  if (isObj(record) && isObj(record.result)) record = record.result;
  else if (isObj(record) && Array.isArray(record.result) && isObj(record.result[0])) record = record.result[0];
  if (!isObj(record)) return body;
  const raw: Obj = {};
  const display: Obj = {};
  for (const [k, v] of Object.entries(record)) {
    if (isObj(v) && ('value' in v || 'display_value' in v)) {
      raw[k] = v.value ?? v.display_value;
      if (v.display_value !== undefined && v.display_value !== '') display[k] = v.display_value;
    } else raw[k] = v;
  }
  return { ...raw, $display: display };
}

export function normalize(kind: 'servicenow' | undefined, body: unknown): unknown {
  return kind === 'servicenow' ? normalizeServiceNow(body) : body;
}
