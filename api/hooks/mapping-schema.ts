// Owns the format of webhook mapping files (mappings/<source>.json): their types and the JSON Schema
// every file is checked against when it is loaded.

/** A literal, a nested object of expressions, or one of the expression forms below. */
export type Expr =
  | string | number | boolean | null
  | { literal: unknown }
  | (ExprMods & { path: string })
  | (ExprMods & { template: string })
  | (ExprMods & { first: Expr[] })
  | { [field: string]: Expr };

export interface ExprMods {
  /** Regular expression; the first (array element) that matches gives its first capture group. */
  match?: string;
  /** Lookup of the value (as a string; exact, then case-insensitive). */
  map?: Record<string, unknown>;
  as?: 'number' | 'string' | 'iso' | 'lower';
  /** Used when the value is missing (after match, map and as). */
  default?: unknown;
}

export type Condition = unknown | { in: unknown[] } | { includes: unknown } | { exists: boolean } | { matches: string };
/** Keys are JSON pointers (relative to the item; `^/` for the whole body; `@name` segments) or `header:<name>`. */
export type When = Record<string, Condition>;

export interface StartAction {
  workflow: Expr;
  /** Omitted (generic only): a plain start without the open-run claim. */
  businessKey?: Expr;
  input?: Expr;
  /** Sent to the open run when a run with the business key is open already. */
  ifOpen?: { event: Expr };
}

export interface SendAction {
  workflow?: Expr;
  businessKey: Expr;
  event: Expr;
}

export type Rule = { when?: When | When[] } & ({ start: StartAction } | { send: SendAction } | { ignore: string });

export interface Mapping {
  source: string;
  description?: string;
  /** Request header carrying the tool's delivery id (unchanged on redelivery). */
  deliveryIdHeader?: string | string[];
  /** An expression over the (normalised) body that identifies the delivery when the tool sends no id. */
  deliveryId?: Expr;
  normalize?: 'servicenow';
  /** JSON pointer to the array mapped item by item; without it the body is one item. */
  items?: string;
  /** Site-specific field ids by name, used as `@name` path segments. */
  fields?: Record<string, string>;
  rules: Rule[];
  otherwise?: string;
}

const exprRef = { $ref: '#/$defs/expr' };
const mods = {
  match: { type: 'string', minLength: 1 },
  map: { type: 'object' },
  as: { enum: ['number', 'string', 'iso', 'lower'] },
  default: {},
};
const pointer = { type: 'string', pattern: '^(\\^?/.*|)$' };
const when = {
  type: 'object',
  minProperties: 1,
  propertyNames: { pattern: '^(\\^?/.*|header:[A-Za-z0-9-]+)$' },
  additionalProperties: {
    anyOf: [
      { type: ['string', 'number', 'boolean', 'null'] },
      { type: 'object', required: ['in'], additionalProperties: false, properties: { in: { type: 'array' } } },
      { type: 'object', required: ['includes'], additionalProperties: false, properties: { includes: {} } },
      { type: 'object', required: ['exists'], additionalProperties: false, properties: { exists: { type: 'boolean' } } },
      { type: 'object', required: ['matches'], additionalProperties: false, properties: { matches: { type: 'string' } } },
    ],
  },
};

export const mappingSchema = {
  $id: 'servicechart-hook-mapping',
  type: 'object',
  required: ['source', 'rules'],
  additionalProperties: false,
  properties: {
    $comment: { type: 'string' },
    source: { enum: ['alertmanager', 'pagerduty', 'jira', 'github', 'servicenow', 'generic', 'grafana'] },
    description: { type: 'string' },
    deliveryIdHeader: { anyOf: [{ type: 'string', minLength: 1 }, { type: 'array', items: { type: 'string', minLength: 1 } }] },
    deliveryId: exprRef,
    normalize: { enum: ['servicenow'] },
    items: pointer,
    fields: { type: 'object', additionalProperties: { type: 'string', minLength: 1, pattern: '^[^/]+$' } },
    otherwise: { type: 'string' },
    rules: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        minProperties: 1,
        properties: {
          $comment: { type: 'string' },
          when: { anyOf: [when, { type: 'array', minItems: 1, items: when }] },
          start: {
            type: 'object', required: ['workflow'], additionalProperties: false,
            properties: {
              workflow: exprRef, businessKey: exprRef, input: exprRef,
              ifOpen: { type: 'object', required: ['event'], additionalProperties: false, properties: { event: exprRef } },
            },
          },
          send: { type: 'object', required: ['businessKey', 'event'], additionalProperties: false, properties: { workflow: exprRef, businessKey: exprRef, event: exprRef } },
          ignore: { type: 'string' },
        },
        oneOf: [{ required: ['start'] }, { required: ['send'] }, { required: ['ignore'] }],
      },
    },
  },
  $defs: {
    expr: {
      anyOf: [
        { type: ['string', 'number', 'boolean', 'null'] },
        { type: 'object', required: ['literal'], additionalProperties: false, properties: { literal: {} } },
        { type: 'object', required: ['path'], additionalProperties: false, properties: { path: pointer, ...mods } },
        { type: 'object', required: ['template'], additionalProperties: false, properties: { template: { type: 'string' }, ...mods } },
        { type: 'object', required: ['first'], additionalProperties: false, properties: { first: { type: 'array', minItems: 1, items: exprRef }, ...mods } },
        {
          type: 'object',
          not: { anyOf: [{ required: ['path'] }, { required: ['template'] }, { required: ['first'] }, { required: ['literal'] }] },
          additionalProperties: exprRef,
        },
      ],
    },
  },
} as const;
