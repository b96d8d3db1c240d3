// The command-line client: runs, workflows, human tasks and KPIs over the public HTTP API, with
// tables for people, --json for scripts and exit codes scripts can rely on.
import { Command, CommanderError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const ExitCode = { OK: 0, USAGE: 1, NOT_FOUND: 2, CONFLICT: 3, VALIDATION: 4, AUTH: 5, UNAVAILABLE: 6 } as const;
type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

interface Globals {
  url?: string;
  key?: string;
  json?: boolean;
}

interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  env: NodeJS.ProcessEnv;
  isTty: boolean;
}

class CliError extends Error {
  constructor(readonly exitCode: ExitCode, message: string, readonly body?: unknown) {
    super(message);
  }
}

function exitFor(status: number): ExitCode {
  if (status === 404) return ExitCode.NOT_FOUND;
  if (status === 409) return ExitCode.CONFLICT;
  if (status === 422) return ExitCode.VALIDATION;
  if (status === 401 || status === 403) return ExitCode.AUTH;
  if (status === 503 || status === 429) return ExitCode.UNAVAILABLE;
  return ExitCode.USAGE;
}

interface ErrorBody {
  error?: { code?: string; message?: string; details?: unknown };
}

/** The admin key `servicechart start` generated in its data dir, when this checkout has one. */
function generatedKey(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

function client(g: Globals, io: Io) {
  const base = (g.url ?? io.env.SERVICECHART_URL ?? 'http://127.0.0.1:3000').replace(/\/+$/, '');
  const keyFile = join(io.env.SERVICECHART_DATA_DIR || './.servicechart', 'api-key');
  const key = g.key ?? io.env.SERVICECHART_API_KEY ?? generatedKey(keyFile);
  /** `raw` sends text as it is (with its content-type in `headers`), instead of `body` as JSON. */
  async function request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, raw?: string): Promise<Response> {
    if (!key) throw new CliError(ExitCode.AUTH, `no API key: set SERVICECHART_API_KEY, pass --key, or run where ${keyFile} (the key \`servicechart start\` generates) exists`);
    const h: Record<string, string> = { authorization: `Bearer ${key}`, ...headers };
    if (body !== undefined) h['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(base + path, { method, headers: h, body: raw ?? (body === undefined ? undefined : JSON.stringify(body)) });
    } catch (err) {
      throw new CliError(ExitCode.UNAVAILABLE, `cannot reach ${base}: ${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message}`);
    }
    if (!res.ok) {
      const text = await res.text();
      let parsed: ErrorBody | null = null;
      try {
        parsed = JSON.parse(text) as ErrorBody;
      } catch {
        parsed = null; // not the contract's shape: report the status alone
      }
      const e = parsed?.error;
      throw new CliError(exitFor(res.status), `${res.status} ${e?.code ?? ''}: ${e?.message ?? text.slice(0, 200)}`.replace(' :', ':'), parsed ?? undefined);
    }
    return res;
  }
  return {
    base,
    request,
    async json<T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<T> {
      return (await (await request(method, path, body, headers)).json()) as T;
    },
    async text(method: string, path: string): Promise<string> {
      return (await request(method, path)).text();
    },
  };
}

function qs(params: Record<string, unknown>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
}

/** JSON from an argument: inline text, `@file`, or `-` for stdin. */
function readJson(value: string, what: string): unknown {
  let text = value;
  if (value === '-') text = readFileSync(0, 'utf8');
  else if (value.startsWith('@')) {
    try {
      text = readFileSync(value.slice(1), 'utf8');
    } catch (err) {
      throw new CliError(ExitCode.USAGE, `${what}: cannot read ${value.slice(1)}: ${(err as Error).message}`);
    }
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CliError(ExitCode.USAGE, `${what} is not JSON: ${(err as Error).message}`);
  }
}

function stateText(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'string') return value;
  const out: string[] = [];
  const walk = (v: unknown, prefix: string) => {
    if (typeof v === 'string') out.push(prefix + v);
    else if (v && typeof v === 'object') for (const [k, c] of Object.entries(v)) walk(c, `${prefix}${k}.`);
  };
  walk(value, '');
  return out.join(',');
}

/** A plain table: columns padded to the widest cell; control characters shown escaped. */
export function table(headers: string[], rows: unknown[][]): string {
  const clean = (v: unknown) => (v === null || v === undefined || v === '' ? '-' : String(v)).replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  const cells = rows.map((r) => r.map(clean));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  return [line(headers.map((h) => h.toUpperCase())), ...cells.map(line)].join('\n') + '\n';
}

function fmtMs(ms: number): string {
  let t = Math.round(ms / 1000);
  const d = Math.floor(t / 86400); t -= d * 86400;
  const h = Math.floor(t / 3600); t -= h * 3600;
  const m = Math.floor(t / 60); const s = t - m * 60;
  return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : m ? `${m}m ${s}s` : `${s}s`;
}

function kpiValue(value: unknown, unit: string): string {
  if (typeof value !== 'number') return '-';
  if (unit === 'ms') return fmtMs(value);
  if (unit === 'ratio') return `${(value * 100).toFixed(1)}%`;
  if (unit === 'perDay') return `${value.toFixed(2)}/day`;
  return String(value);
}

function runDetail(run: any): string {
  const rows: [string, unknown][] = [
    ['id', run.id], ['workflow', `${run.workflow} v${run.version}`], ['status', run.status], ['state', stateText(run.state)],
    ['businessKey', run.businessKey], ['parentRunId', run.parentRunId], ['createdAt', run.createdAt], ['updatedAt', run.updatedAt], ['endedAt', run.endedAt],
    ['nextEvents', (run.nextEvents ?? []).join(', ')],
    ...(run.archived ? [['archived', 'yes (read from the archive: it has left Redis)'] as [string, unknown]] : []),
  ];
  let out = rows.map(([k, v]) => `${k.padEnd(12)} ${v === null || v === undefined || v === '' ? '-' : String(v)}`).join('\n') + '\n';
  if (run.tasks?.length) out += `\ntasks\n${table(['id', 'name', 'status', 'attempts'], run.tasks.map((t: any) => [t.id, t.name, t.status, t.attempts]))}`;
  if (run.timers?.length) out += `\ntimers\n${table(['timer', 'event', 'dueAt'], run.timers.map((t: any) => [t.timer ?? t.id, t.event, t.dueAt]))}`;
  if (run.humanTasks?.length) out += `\nhuman tasks\n${table(['id', 'title', 'role', 'outcomes'], run.humanTasks.map((t: any) => [t.id, t.title, t.role, Object.keys(t.outcomes ?? {}).join('|')]))}`;
  out += `\ncontext\n${JSON.stringify(run.context, null, 2)}\n`;
  if (run.output !== null && run.output !== undefined) out += `\noutput\n${JSON.stringify(run.output, null, 2)}\n`;
  return out;
}

function entryLine(e: any): string {
  const what = e.state ?? e.task ?? e.timer ?? e.event ?? '';
  return `${String(e.seq).padStart(4)}  ${e.at}  ${String(e.type).padEnd(16)} ${typeof what === 'string' ? what : JSON.stringify(what)}${e.actor ? `  (${e.actor})` : ''}`;
}

const ENDS = new Set(['run.done', 'run.failed', 'run.cancelled']);

/** Parse SSE blocks from a fetch body; yields each `event: history` entry. */
async function* sse(res: Response): AsyncGenerator<any> {
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (event === 'history' && data.length) yield JSON.parse(data.join('\n'));
    }
  }
}

export function buildProgram(io: Io, setExit: (code: ExitCode) => void): Command {
  const program = new Command('servicechart');
  program
    .description('Servicechart: durable ITSM workflows. Server commands: start | api | worker. Client commands below talk to a server over HTTP.')
    .option('--url <url>', 'server base URL (default: $SERVICECHART_URL or http://127.0.0.1:3000)')
    .option('--key <key>', 'API key (default: $SERVICECHART_API_KEY, else the key `servicechart start` generated in $SERVICECHART_DATA_DIR or ./.servicechart)')
    .option('--json', 'print JSON for scripts instead of tables')
    .addHelpText('after', `
Server commands (not shown above): servicechart start | api | worker

Exit codes: 0 ok, 1 usage or other error, 2 not found, 3 refused or conflict (409),
4 validation failed (422), 5 authentication or role (401/403), 6 server unavailable (503, 429, unreachable).`)
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride()
    .showHelpAfterError('(add --help for usage)');

  const ctx = (cmd: Command) => {
    const g = cmd.optsWithGlobals() as Globals;
    return { g, api: client(g, io), print: (human: () => string, data: unknown) => io.out(g.json ? JSON.stringify(data, null, 2) + '\n' : human()) };
  };

  // runs
  const runs = program.command('runs').description('start, inspect, drive and follow runs');
  runs.command('start').description('start a run of a workflow').argument('<workflow>', 'workflow name')
    .option('-i, --input <json>', 'input as JSON, @file or - for stdin', '{}')
    .option('-b, --business-key <key>', 'business key, such as a ticket number')
    .addOption(new Option('--workflow-version <n>', 'a version other than the latest').argParser((v) => Number(v)))
    .option('--idempotency-key <key>', 'repeat safely: the same key starts the run once')
    .action(async (workflow: string, o, cmd: Command) => {
      const { api, print } = ctx(cmd);
      const body = { workflow, input: readJson(o.input, '--input'), ...(o.businessKey ? { businessKey: o.businessKey } : {}), ...(o.workflowVersion ? { version: o.workflowVersion } : {}) };
      const run = await api.json('POST', '/v1/runs', body, o.idempotencyKey ? { 'idempotency-key': o.idempotencyKey } : {});
      print(() => `started ${run.id} (${run.workflow} v${run.version}) in ${stateText(run.state)}\n`, run);
    });
  runs.command('get').description('show a run').argument('<id>', 'run id').action(async (id: string, _o, cmd: Command) => {
    const { api, print } = ctx(cmd);
    const run = await api.json('GET', `/v1/runs/${encodeURIComponent(id)}`);
    print(() => runDetail(run), run);
  });
  runs.command('list').description('list runs, newest first')
    .option('-w, --workflow <name>').option('-s, --status <status>', 'running | done | failed | cancelled').option('--state <state>', 'top-level state name')
    .option('-b, --business-key <key>').option('--parent <runId>', 'children of this run')
    .option('--archived', 'runs past retention, from the archive (newest end first)')
    .option('--ended-since <time>', 'with --archived: ended at or after (ISO 8601 or a date)').option('--ended-until <time>', 'with --archived: ended before')
    .option('-n, --limit <n>', 'page size (1-500)', '50').option('--cursor <cursor>', 'next page, from the previous answer')
    .action(async (o, cmd: Command) => {
      const { api, print } = ctx(cmd);
      const page = await api.json('GET', `/v1/runs${qs({
        workflow: o.workflow, status: o.status, state: o.state, businessKey: o.businessKey, parentRunId: o.parent, archived: o.archived ? 'true' : undefined,
        endedSince: o.endedSince, endedUntil: o.endedUntil, limit: o.limit, cursor: o.cursor,
      })}`);
      const when = o.archived ? 'endedAt' : 'createdAt';
      print(() => table(['id', 'workflow', 'status', 'state', 'businessKey', when], page.items.map((r: any) => [r.id, `${r.workflow} v${r.version}`, r.status, stateText(r.state), r.businessKey, r[when]]))
        + (page.nextCursor ? `more: --cursor ${page.nextCursor}\n` : ''), page);
    });
  runs.command('send').description('send an event to a run').argument('<id>', 'run id').argument('<event>', 'event type, such as ACKNOWLEDGE')
    .option('-p, --payload <json>', 'event payload as a JSON object, @file or -', '{}')
    .option('--idempotency-key <key>', 'repeat safely: the same key applies the event once')
    .action(async (id: string, event: string, o, cmd: Command) => {
      const { api, print } = ctx(cmd);
      const payload = readJson(o.payload, '--payload');
      if (!payload || typeof payload !== 'object' || Array.isArray(payload)) throw new CliError(ExitCode.USAGE, '--payload must be a JSON object');
      const res = await api.json('POST', `/v1/runs/${encodeURIComponent(id)}/events`, { ...payload, type: event }, o.idempotencyKey ? { 'idempotency-key': o.idempotencyKey } : {});
      print(() => `${event} applied: ${res.run.status} in ${stateText(res.run.state)}; accepts now: ${res.run.nextEvents.join(', ') || 'nothing'}\n`, res);
    });
  runs.command('cancel').description('cancel a run; its tasks and timers are withdrawn').argument('<id>', 'run id').option('-r, --reason <text>')
    .action(async (id: string, o, cmd: Command) => {
      const { api, print } = ctx(cmd);
      const run = await api.json('POST', `/v1/runs/${encodeURIComponent(id)}/cancel`, o.reason ? { reason: o.reason } : {});
      print(() => `cancelled ${run.id}\n`, run);
    });
  runs.command('history').description("a run's history, oldest first").argument('<id>', 'run id').action(async (id: string, _o, cmd: Command) => {
    const { api, print } = ctx(cmd);
    const items: any[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: any[]; nextCursor: string | null } = await api.json('GET', `/v1/runs/${encodeURIComponent(id)}/history${qs({ limit: 500, cursor })}`);
      items.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    print(() => items.map(entryLine).join('\n') + '\n', items);
  });
  runs.command('watch').description('follow a run live until it ends (exit 0 when it ends done, 1 when it fails or is cancelled)').argument('<id>', 'run id')
    .action(async (id: string, _o, cmd: Command) => {
      const { g, api } = ctx(cmd);
      const enc = encodeURIComponent(id);
      let run = await api.json('GET', `/v1/runs/${enc}`);
      // Read the history's end first and stream after it, so an ending between the two reads is never missed.
      let last = 0;
      let cursor: string | null = null;
      do {
        const page: { items: any[]; nextCursor: string | null } = await api.json('GET', `/v1/runs/${enc}/history${qs({ limit: 500, cursor })}`);
        for (const e of page.items) last = e.seq;
        cursor = page.nextCursor;
      } while (cursor);
      run = await api.json('GET', `/v1/runs/${enc}`);
      const progress = (e?: any) => {
        const line = `${run.status.padEnd(9)} ${stateText(run.state)}${e ? `  · #${e.seq} ${e.type} ${e.state ?? e.task ?? e.timer ?? e.event ?? ''}` : ''}`;
        if (g.json) io.out(JSON.stringify(e ?? { run }) + '\n');
        else if (io.isTty) io.out(`\r\x1b[2K${line}`);
        else io.out(line + '\n');
      };
      progress();
      while (run.status === 'running') {
        const res = await api.request('GET', `/v1/runs/${enc}/stream${qs({ after: last })}`, undefined, { accept: 'text/event-stream' });
        for await (const e of sse(res)) {
          last = e.seq;
          if (['state.entered', 'run.done', 'run.failed', 'run.cancelled', 'event.received'].includes(e.type)) run = await api.json('GET', `/v1/runs/${enc}`);
          progress(e);
          if (ENDS.has(e.type)) break;
        }
        if (run.status === 'running') run = await api.json('GET', `/v1/runs/${enc}`);
      }
      if (!g.json && io.isTty) io.out('\n');
      if (!g.json) io.out(`run ${run.id} ended: ${run.status}\n`);
      setExit(run.status === 'done' ? ExitCode.OK : ExitCode.USAGE);
    });

  // workflows
  const workflows = program.command('workflows').description('list, read, draw and register workflows');
  workflows.command('list').description('latest version of each workflow').action(async (_o, cmd: Command) => {
    const { api, print } = ctx(cmd);
    const res = await api.json('GET', '/v1/workflows');
    print(() => table(['name', 'version', 'kind', 'description'], res.items.map((w: any) => [w.name, w.version, w.builtIn ? 'built-in' : 'json', w.description])), res);
  });
  workflows.command('get').description('a workflow, with its definition').argument('<name>')
    .addOption(new Option('-v, --workflow-version <n>', 'one version (default: latest)').argParser((v) => Number(v)))
    .action(async (name: string, o, cmd: Command) => {
      const { api, print } = ctx(cmd);
      const path = o.workflowVersion ? `/v1/workflows/${encodeURIComponent(name)}/versions/${o.workflowVersion}` : `/v1/workflows/${encodeURIComponent(name)}`;
      const wf = await api.json('GET', path);
      print(() => `${wf.name} v${wf.version}${wf.builtIn ? ' (built-in)' : ''}\n${wf.description ?? ''}\nversions: ${(wf.versions ?? []).join(', ')}\n\ndefinition\n${JSON.stringify(wf.definition, null, 2)}\n`, wf);
    });
  workflows.command('register').description('register a JSON workflow (the next version of its name)').argument('<file>', 'JSON file: { name, definition, description?, inputSchema? } or a bare definition with --name; - for stdin')
    .option('--name <name>', 'name, when the file holds a bare definition').option('--description <text>')
    .action(async (file: string, o, cmd: Command) => {
      const { api, print } = ctx(cmd);
      const doc = readJson(file === '-' ? '-' : `@${file}`, file) as Record<string, unknown>;
      const body: Record<string, unknown> = doc && typeof doc === 'object' && 'definition' in doc ? { ...doc } : { definition: doc };
      if (o.name) body.name = o.name;
      if (o.description) body.description = o.description;
      if (!body.name) throw new CliError(ExitCode.USAGE, 'no name: put "name" in the file or pass --name');
      const res = await api.json('POST', '/v1/workflows', body);
      print(() => `registered ${res.name} v${res.version}\n`, res);
    });
  workflows.command('diagram').description('draw a workflow (or a run, with --run) as SVG or Mermaid on stdout').argument('[name]')
    .addOption(new Option('-f, --format <format>', 'svg or mermaid').choices(['svg', 'mermaid']).default('mermaid'))
    .option('--run <id>', "a run's diagram, its current states highlighted")
    .action(async (name: string | undefined, o, cmd: Command) => {
      const { api } = ctx(cmd);
      if (!name && !o.run) throw new CliError(ExitCode.USAGE, 'name a workflow, or pass --run <id>');
      const path = o.run ? `/v1/runs/${encodeURIComponent(o.run)}/diagram` : `/v1/workflows/${encodeURIComponent(name!)}/diagram`;
      io.out(await api.text('GET', `${path}?format=${o.format}`));
    });

  // tasks
  const tasks = program.command('tasks').description('human tasks (the inbox), and the task types workers serve');
  tasks.command('list').description('human tasks, newest first')
    .addOption(new Option('-s, --status <status>').choices(['open', 'done']).default('open'))
    .option('-r, --role <role>').option('-w, --workflow <name>').option('--run <id>', 'tasks of one run').option('-n, --limit <n>', 'page size', '50')
    .action(async (o, cmd: Command) => {
      const { api, print } = ctx(cmd);
      const page = await api.json('GET', `/v1/tasks${qs({ status: o.status, role: o.role, workflow: o.workflow, runId: o.run, limit: o.limit })}`);
      print(() => table(['id', 'title', 'role', 'workflow', 'runId', 'outcomes', 'dueAt'], page.items.map((t: any) => [t.id, t.title, t.role, t.workflow, t.runId, Object.keys(t.outcomes ?? {}).join('|'), t.dueAt])), page);
    });
  tasks.command('complete').description("complete a human task: sends the outcome's event to its run").argument('<id>', 'task id')
    .requiredOption('-o, --outcome <outcome>', 'one of the task outcomes').requiredOption('--by <name>', 'who completes it').option('-c, --comment <text>')
    .action(async (id: string, o, cmd: Command) => {
      const { api, print } = ctx(cmd);
      const res = await api.json('POST', `/v1/tasks/${encodeURIComponent(id)}/complete`, { outcome: o.outcome, by: o.by, ...(o.comment ? { comment: o.comment } : {}) });
      print(() => `completed ${res.task.id} with ${o.outcome}; run ${res.run.id} is ${res.run.status} in ${stateText(res.run.state)}\n`, res);
    });

  tasks.command('types').description('the live task catalog: task types, where they run, live workers, queue depth, failures in the last hour')
    .action(async (o, cmd: Command) => {
      const { api, print } = ctx(cmd);
      const res = await api.json('GET', '/v1/task-types');
      print(() => {
        const rows = res.items.map((t: any) => [
          t.name, t.execution, t.workers.length ? t.workers.map((w: any) => `${w.workerId} (${w.kind})`).join(', ') : 'none',
          t.queue.waiting + t.queue.delayed, t.queue.oldestWaitingMs === null ? '-' : fmtMs(t.queue.oldestWaitingMs), t.failuresLastHour, t.conflict ? 'CONFLICT' : '',
        ]);
        let out = table(['type', 'runs', 'live workers', 'queued', 'oldest', 'failed 1h', 'schemas'], rows);
        for (const t of res.items.filter((x: any) => x.conflict)) {
          out += `
${t.name}: workers publish different schemas: ${t.conflict.workers.map((w: any) => w.workerId).join(', ')}
`;
        }
        return out;
      }, res);
    });
  registryCommands(program, ctx, io);

  // kpis
  program.command('kpis').description("a workflow's service measures (KPIs)").requiredOption('-w, --workflow <name>')
    .option('--since <time>', 'runs opened at or after (ISO 8601)').option('--until <time>', 'runs opened before (ISO 8601)')
    .action(async (o, cmd: Command) => {
      const { api, print } = ctx(cmd);
      const res = await api.json('GET', `/v1/kpis${qs({ workflow: o.workflow, since: o.since, until: o.until })}`);
      print(() => table(['kpi', 'label', 'value', 'runs'], (res.kpis ?? []).map((k: any) => [k.name, k.label, kpiValue(k.value, k.unit), k.count])), res);
    });

  // archive: read straight from the archive store the server is configured with (no server needed)
  const archive = program.command('archive').description('the archive of runs past retention (read from SERVICECHART_ARCHIVE_URL or _DIR, else <data dir>/archive)');
  archive.command('export').description('write archived runs that ended in [since, until) as JSON Lines: one self-describing run (record, history, human tasks) per line')
    .option('--since <time>', 'ended at or after (ISO 8601 or a date)').option('--until <time>', 'ended before (ISO 8601 or a date)')
    .option('-o, --out <file>', 'write to this file instead of stdout')
    .action(async (o) => {
      const bound = (v: string | undefined, what: string) => {
        if (v === undefined) return null;
        const t = Date.parse(v);
        if (Number.isNaN(t)) throw new CliError(ExitCode.USAGE, `--${what} is not a time: ${v}`);
        return t;
      };
      const since = bound(o.since, 'since');
      const until = bound(o.until, 'until');
      const { createDirectoryStore, createPostgresStore } = await import('../engine/index.ts');
      const { createWriteStream } = await import('node:fs');
      const store = io.env.SERVICECHART_ARCHIVE_URL
        ? createPostgresStore(io.env.SERVICECHART_ARCHIVE_URL)
        : createDirectoryStore(io.env.SERVICECHART_ARCHIVE_DIR || join(io.env.SERVICECHART_DATA_DIR || './.servicechart', 'archive'));
      const file = o.out ? createWriteStream(o.out) : null;
      const write = (line: string) => (file ? new Promise<void>((r) => (file.write(line) ? r() : file.once('drain', () => r()))) : io.out(line));
      let n = 0;
      try {
        for await (const record of store.exportRange(since, until)) {
          await write(JSON.stringify(record) + '\n');
          n++;
        }
      } catch (err) {
        throw new CliError(ExitCode.UNAVAILABLE, `the archive (${store.kind}) cannot be read: ${(err as Error).message}`);
      } finally {
        await store.close();
        if (file) await new Promise((r) => file.end(r));
      }
      if (file) io.err(`${n} runs written to ${o.out}\n`);
    });

  return program;
}

type Ctx = (cmd: Command) => { g: Globals; api: ReturnType<typeof client>; print: (human: () => string, data: unknown) => void };

/** Read a file (or stdin for `-`) as text. */
function readText(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new CliError(ExitCode.USAGE, `cannot read ${file}: ${(err as Error).message}`);
  }
}

/** `registry import|export`, `services list|get|history`, `cis list|get|history|impact`. */
function registryCommands(program: Command, ctx: Ctx, io: Io): void {
  const registry = program.command('registry').description('the service and CI registry: import and export');
  registry.command('import').description('import services and CIs (a JSON array or JSON Lines of { kind, ... }), all or nothing').argument('<file>', 'file, or - for stdin')
    .action(async (file: string, _o, cmd: Command) => {
      const { api, print } = ctx(cmd);
      const text = readText(file);
      const type = text.trimStart().startsWith('[') ? 'application/json' : 'application/x-ndjson';
      const res = await (await api.request('POST', '/v1/registry/import', undefined, { 'content-type': type }, text)).json();
      print(() => `imported: ${res.created} created, ${res.updated} updated, ${res.unchanged} unchanged (registry version ${res.version})\n`, res);
    });
  registry.command('export').description('every service and CI, in the format import reads')
    .addOption(new Option('-f, --format <format>', 'jsonl or json').choices(['jsonl', 'json']).default('jsonl'))
    .action(async (o, cmd: Command) => {
      const { api } = ctx(cmd);
      io.out(await api.text('GET', `/v1/registry/export${qs({ format: o.format })}`));
    });

  const page = (res: any) => (res.nextCursor ? `more: --cursor ${res.nextCursor}\n` : '');
  const services = program.command('services').description('services in the registry');
  services.command('list').description('services in name order')
    .option('--criticality <n>', '1 (most critical) to 4').option('--owner-group <group>').option('--support-group <group>').option('--label <key[=value]>')
    .option('-n, --limit <n>', 'page size (1-500)', '50').option('--cursor <cursor>')
    .action(async (o, cmd: Command) => {
      const { api, print } = ctx(cmd);
      const res = await api.json('GET', `/v1/services${qs({ criticality: o.criticality, ownerGroup: o.ownerGroup, supportGroup: o.supportGroup, label: o.label, limit: o.limit, cursor: o.cursor })}`);
      print(() => table(['name', 'criticality', 'title', 'supportGroup', 'oncall'], res.items.map((s: any) => [s.name, s.criticality, s.title, s.supportGroup, s.oncall?.policy])) + page(res), res);
    });
  services.command('get').description('a service, with the open runs that touch it').argument('<name>').action(async (name: string, _o, cmd: Command) => {
    const { api, print } = ctx(cmd);
    const svc = await api.json('GET', `/v1/services/${encodeURIComponent(name)}`);
    const runs = await api.json('GET', `/v1/services/${encodeURIComponent(name)}/runs`);
    print(() => `${JSON.stringify(svc, null, 2)}\n\nopen runs\n${table(['id', 'workflow', 'businessKey', 'touches'], runs.items.map((r: any) => [r.id, r.workflow, r.businessKey, r.touches.join(', ')]))}`, { ...svc, openRuns: runs.items });
  });
  const cis = program.command('cis').description('configuration items in the registry');
  cis.command('list').description('CIs in id order')
    .option('--type <type>').option('--service <name>').option('--environment <env>').option('--depends-on <id>')
    .option('-n, --limit <n>', 'page size (1-500)', '50').option('--cursor <cursor>')
    .action(async (o, cmd: Command) => {
      const { api, print } = ctx(cmd);
      const res = await api.json('GET', `/v1/cis${qs({ type: o.type, service: o.service, environment: o.environment, dependsOn: o.dependsOn, limit: o.limit, cursor: o.cursor })}`);
      print(() => table(['id', 'type', 'environment', 'services', 'dependsOn', 'title'], res.items.map((c: any) => [c.id, c.type, c.environment, (c.services ?? []).join(','), (c.dependsOn ?? []).join(','), c.title])) + page(res), res);
    });
  cis.command('get').description('a CI, with what depends on it (its impact)').argument('<id>').action(async (id: string, _o, cmd: Command) => {
    const { api, print } = ctx(cmd);
    const ci = await api.json('GET', `/v1/cis/${encodeURIComponent(id)}`);
    const impact = await api.json('GET', `/v1/cis/${encodeURIComponent(id)}/impact`);
    print(() => `${JSON.stringify(ci, null, 2)}\n\nservices depending on it\n${table(['name', 'criticality', 'through'], impact.services.map((s: any) => [s.name, s.criticality, s.through]))}`
      + `\nopen runs touching them\n${table(['id', 'workflow', 'businessKey', 'touches'], impact.openRuns.map((r: any) => [r.id, r.workflow, r.businessKey, r.touches.join(', ')]))}`, { ...ci, impact });
  });
  for (const [group, kind, arg] of [[services, 'services', '<name>'], [cis, 'cis', '<id>']] as const) {
    group.command('history').description('the audit history, newest first').argument(arg).action(async (key: string, _o, cmd: Command) => {
      const { api, print } = ctx(cmd);
      const res = await api.json('GET', `/v1/${kind}/${encodeURIComponent(key)}/history?limit=500`);
      print(() => table(['at', 'actor', 'source', 'action'], res.items.map((e: any) => [e.at, e.actor, e.source, e.action])), res);
    });
  }
}

/** Run the CLI; resolves to the process exit code. */
export async function runCli(argv: string[], io: Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s), env: process.env, isTty: Boolean(process.stdout.isTTY) }): Promise<number> {
  let code: ExitCode = ExitCode.OK;
  const program = buildProgram(io, (c) => (code = c));
  if (!argv.length) argv = ['--help'];
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : ExitCode.USAGE;
    if (err instanceof CliError) {
      const json = argv.includes('--json');
      if (json && err.body) io.err(JSON.stringify(err.body, null, 2) + '\n');
      else {
        io.err(`servicechart: ${err.message}\n`);
        const details = (err.body as ErrorBody | undefined)?.error?.details;
        if (Array.isArray(details)) {
          for (const d of details as { path?: string; message?: string; line?: number; entry?: string; referencedBy?: string[] }[]) {
            if (d.entry) io.err(`  ${d.entry}: referenced by ${(d.referencedBy ?? []).join(', ')}\n`);
            else io.err(`  ${d.line ? `line ${d.line} ` : ''}${d.path || '/'}: ${d.message ?? JSON.stringify(d)}\n`);
          }
        }
        else if (details && typeof details === 'object' && 'nextEvents' in details) io.err(`  accepts now: ${(details as { nextEvents: string[] }).nextEvents.join(', ') || 'nothing'}\n`);
      }
      return err.exitCode;
    }
    io.err(`servicechart: ${err instanceof Error ? err.message : String(err)}\n`);
    return ExitCode.USAGE;
  }
}
