// The statechart drawings: Mermaid text and the ELK-laid-out SVG, with a run's current states marked.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fromPromise, initialTransition, setup, transition, type AnyStateNode } from 'xstate';
import { toMermaid, toSvg } from '../../engine/diagram/statechart.ts';

const HOSTILE = '<script>&"';

const incident = setup({
  types: {} as { context: { vip: boolean } },
  actors: { triage: fromPromise(async () => ({})) },
  guards: { isVip: ({ context }) => context.vip, isOpen: () => true },
  delays: { slaBreachDelay: 60_000 },
}).createMachine({
  id: 'incident',
  context: { vip: true },
  initial: 'open',
  states: {
    open: {
      type: 'parallel',
      onDone: 'closed',
      states: {
        work: {
          initial: 'new',
          states: {
            new: {
              invoke: { id: 'triage', src: 'triage', onDone: 'acknowledged', onError: 'new' },
              on: { ACK: { target: 'acknowledged', guard: 'isVip' } },
            },
            acknowledged: { on: { RESOLVE: 'resolved', HOLD: 'onHold', INJECT: HOSTILE } },
            onHold: { on: { RESUME: 'resume' } },
            resume: { type: 'history' },
            [HOSTILE]: { always: { target: 'resolved', guard: 'isOpen' } },
            resolved: { type: 'final' },
          },
        },
        sla: {
          initial: 'ticking',
          states: {
            ticking: { after: { slaBreachDelay: 'breached', 300000: 'breached' } },
            breached: { type: 'final' },
          },
        },
      },
    },
    closed: { type: 'final' },
  },
});

/** The run's current states as the engine names them: each active node's path joined by '.'. */
function activePaths(): string[] {
  const [start] = initialTransition(incident);
  const [snapshot] = transition(incident, start, { type: 'ACK' });
  const nodes = (snapshot as unknown as { _nodes: AnyStateNode[] })._nodes;
  return nodes.map((node) => node.path.join('.'));
}

function allPaths(): string[] {
  const paths: string[] = [];
  const visit = (node: AnyStateNode): void => {
    if (node.path.length > 0) paths.push(node.path.join('.'));
    for (const child of Object.values(node.states) as AnyStateNode[]) visit(child);
  };
  visit(incident.root);
  return paths;
}

const xmlEscape = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

/** A small well-formedness check: balanced tags, quoted attributes, and no bare '<' or '&' in text or values. */
function assertWellFormed(xml: string): void {
  const bareAmp = /&(?!(?:amp|lt|gt|quot|#\d+);)/;
  const tag = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>/y;
  const stack: string[] = [];
  let i = 0;
  for (;;) {
    const lt = xml.indexOf('<', i);
    const text = xml.slice(i, lt === -1 ? undefined : lt);
    assert.not.ok(bareAmp.test(text), `bare & in text: ${text}`);
    if (lt === -1) break;
    tag.lastIndex = lt;
    const m = tag.exec(xml);
    if (!m) assert.unreachable(`malformed markup at ${lt}: ${xml.slice(lt, lt + 80)}`);
    const [, closing, name, attrs, selfClosing] = m as RegExpExecArray;
    assert.not.ok(bareAmp.test(attrs as string), `bare & in attributes of <${name}>`);
    if (closing) assert.is(stack.pop(), name, `</${name}> closes the open element`);
    else if (!selfClosing) stack.push(name as string);
    i = tag.lastIndex;
  }
  assert.equal(stack, [], 'every element is closed');
}

interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Each state's group, keyed by its (escaped) data-state, with the first rect inside it. */
function stateGroups(svg: string): Map<string, { tag: string; rect: Rect }> {
  const groups = new Map<string, { tag: string; rect: Rect }>();
  const re = /(<g class="state[^"]*" data-state="([^"]*)"[^>]*>)\s*<rect x="([\d.-]+)" y="([\d.-]+)" width="([\d.-]+)" height="([\d.-]+)"/g;
  for (const m of svg.matchAll(re)) {
    const [, tag, path, x, y, width, height] = m as unknown as string[];
    assert.not.ok(groups.has(path as string), `one group for ${path}`);
    groups.set(path as string, { tag: tag as string, rect: { x: Number(x), y: Number(y), width: Number(width), height: Number(height) } });
  }
  return groups;
}

const test = suite('diagram');

test('mermaid draws every transition with its event, delay, guard and eventless labels', () => {
  const text = toMermaid(incident);
  assert.ok(text.startsWith('stateDiagram-v2\n'));
  for (const line of [
    '[*] --> open',
    '[*] --> open__work__new',
    '[*] --> open__sla__ticking',
    'open__work__new --> open__work__acknowledged : ACK [isVip]',
    'open__work__new --> open__work__acknowledged : done#58; triage',
    'open__work__new --> open__work__new : error#58; triage',
    'open__work__onHold --> open__work__resume : RESUME',
    'open__sla__ticking --> open__sla__breached : after slaBreachDelay',
    'open__sla__ticking --> open__sla__breached : after 300000ms',
    'open__work___script___ --> open__work__resolved : always [isOpen]',
    'open__work__acknowledged --> open__work___script___ : INJECT',
    'open --> closed : done',
    'open__work__resolved --> [*]',
    'closed --> [*]',
  ]) {
    assert.ok(text.includes(`${line}\n`), `has the line: ${line}`);
  }
  assert.match(text, /state "open" as open\{\n\s+state "work" as open__work\{[\s\S]*\n\s+--\n\s+state "sla" as open__sla\{/);
  assert.not.match(text, /classDef|class /, 'nothing is marked without active states');
});

test('mermaid writes user-supplied names as entity codes, never as markup', () => {
  const text = toMermaid(incident);
  assert.ok(text.includes('state "#60;script#62;#38;#34;" as open__work___script___\n'));
  assert.not.ok(text.includes('<'), 'no raw < anywhere');
  assert.not.ok(text.includes(HOSTILE));
});

test('mermaid marks exactly the active states with the active class', () => {
  const text = toMermaid(incident, activePaths());
  assert.match(text, /\n {2}classDef active [^\n]+\n/);
  const marked = /\n {2}class ([\w,]+) active\n/.exec(text)?.[1]?.split(',').sort();
  assert.equal(marked, ['open', 'open__sla', 'open__sla__ticking', 'open__work', 'open__work__acknowledged']);
});

test('svg is a self-contained, well-formed, labelled image', async () => {
  const svg = await toSvg(incident, activePaths());
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Statechart of incident"'));
  assert.ok(svg.includes('<title>Statechart of incident</title>'));
  assertWellFormed(svg);
  assert.match(svg, /<marker id="sc-arrow"[^>]*>/);
  assert.match(svg, /<path d="M[\d.,ML-]+" [^>]*marker-end="url\(#sc-arrow\)"/);
  assert.match(svg, /<circle class="initial"/);
  for (const label of ['ACK [isVip]', 'after slaBreachDelay', 'after 300000ms', 'always [isOpen]', 'done: triage', 'error: triage', 'done']) {
    assert.ok(svg.includes(`>${label}</text>`), `edge label ${label}`);
  }
  assert.not.ok(/href|<script|<foreignObject|on\w+=/i.test(svg), 'nothing active or external');
});

test('svg escapes user-supplied names in text and attributes', async () => {
  const svg = await toSvg(incident);
  assert.not.ok(svg.toLowerCase().includes('<script'));
  assert.ok(svg.includes(`>${xmlEscape(HOSTILE)}</text>`), 'the name is shown, escaped');
  assert.ok(svg.includes(`data-state="open.work.${xmlEscape(HOSTILE)}"`));

  const named = setup({}).createMachine({ id: `it's <b>"bold"</b> & more`, initial: 'a', states: { a: {} } });
  const other = await toSvg(named);
  assertWellFormed(other);
  assert.ok(other.includes(`aria-label="Statechart of ${xmlEscape(`it's <b>"bold"</b> & more`)}"`));
  assert.not.ok(other.includes('<b>'));
});

test('svg draws every state as its own group, active ones marked for eyes and screen readers', async () => {
  const active = activePaths();
  const groups = stateGroups(await toSvg(incident, active));
  const expected = allPaths().map(xmlEscape).sort();
  assert.equal([...groups.keys()].sort(), expected);
  for (const [path, { tag }] of groups) {
    const isActive = active.map(xmlEscape).includes(path);
    assert.is(tag.includes('aria-current="true"'), isActive, `aria-current on ${path}`);
    assert.is(tag.startsWith('<g class="state active"'), isActive, `active class on ${path}`);
  }
  assert.ok(groups.get('open.work.acknowledged')?.tag.includes('aria-current="true"'));
  assert.not.ok(groups.get('open.work.new')?.tag.includes('aria-current'));
});

test('svg shows final states with a double border and parallel regions dashed', async () => {
  const svg = await toSvg(incident);
  for (const path of ['closed', 'open.work.resolved', 'open.sla.breached']) {
    assert.match(svg, new RegExp(`data-state="${path.replace(/\./g, '\\.')}"[^>]*>\\s*<rect [^>]*/>\\s*<rect class="final-border"`));
  }
  for (const region of ['open.work', 'open.sla']) {
    assert.match(svg, new RegExp(`data-state="${region.replace(/\./g, '\\.')}"[^>]*>\\s*<rect [^>]*stroke-dasharray`));
  }
  assert.not.match(svg, /data-state="open"[^>]*>\s*<rect [^>]*stroke-dasharray/);
  assert.match(svg, /data-state="open\.work\.resume" data-kind="history"[^>]*>\s*<rect [^>]*width="28" height="28"/);
});

test('svg nests each state inside its parent, and siblings do not overlap', async () => {
  const svg = await toSvg(incident);
  const groups = stateGroups(svg);
  const machine = /<g class="machine"[^>]*>\s*<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"/.exec(svg);
  assert.ok(machine, 'the machine is drawn as the outer box');
  const [, mx, my, mw, mh] = (machine as RegExpExecArray).map(Number);
  const machineRect = { x: mx as number, y: my as number, width: mw as number, height: mh as number };
  const inside = (inner: Rect, outer: Rect): boolean =>
    inner.x >= outer.x && inner.y >= outer.y && inner.x + inner.width <= outer.x + outer.width && inner.y + inner.height <= outer.y + outer.height;
  for (const [path, { rect }] of groups) {
    assert.ok(rect.width > 0 && rect.height > 0, `${path} has a size`);
    const parent = path.split('.').slice(0, -1).join('.');
    const outer = parent ? groups.get(parent)?.rect : machineRect;
    assert.ok(outer, `${path} has a drawn parent`);
    assert.ok(inside(rect, outer as Rect), `${path} lies inside ${parent || 'the machine'}`);
  }
  const siblings = ['open.work.new', 'open.work.acknowledged', 'open.work.onHold', 'open.work.resolved'].map((p) => groups.get(p)?.rect as Rect);
  for (const a of siblings) {
    for (const b of siblings) {
      if (a === b) continue;
      const overlap = a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
      assert.not.ok(overlap, 'sibling states do not overlap');
    }
  }
});

test('the same machine and states always draw the same output', async () => {
  const active = activePaths();
  assert.is(await toSvg(incident, active), await toSvg(incident, active));
  assert.is(toMermaid(incident, active), toMermaid(incident, active));
  assert.is.not(await toSvg(incident, active), await toSvg(incident), 'active states change the drawing');
});

test.run();
