// Owns the SVG primitives both diagrams draw with: boxes, ELK edge routes, numbers, text width and XML escaping.
import type { ElkExtendedEdge } from 'elkjs/lib/elk-api.js';

/** The diagrams' font size (px): labels are measured with it before ELK lays anything out. */
export const FONT_SIZE = 13;

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export function rectAttrs(box: Box): string {
  return `x="${num(box.x)}" y="${num(box.y)}" width="${num(box.width)}" height="${num(box.height)}"`;
}

export function edgePath(edge: ElkExtendedEdge): string {
  return (edge.sections ?? [])
    .map((section) => {
      const points = [section.startPoint, ...(section.bendPoints ?? []), section.endPoint];
      return points.map((p, i) => `${i === 0 ? 'M' : 'L'}${num(p.x)},${num(p.y)}`).join('');
    })
    .join('');
}

/** Rounded to hundredths, so layout noise never reaches the markup. */
export function num(n: number): string {
  return String(Math.round(n * 100) / 100);
}

/** Roughly how wide a label renders at the diagram's font size; ELK needs sizes before anything is drawn. */
export function textWidth(text: string): number {
  let width = 0;
  for (const ch of text) {
    const code = ch.codePointAt(0) as number;
    if (code >= 0x2e80) width += FONT_SIZE;
    else if (/[A-Z@%&mwMW]/.test(ch)) width += FONT_SIZE * 0.72;
    else if (/[il.,:;'|!]/.test(ch)) width += FONT_SIZE * 0.32;
    else width += FONT_SIZE * 0.58;
  }
  return Math.ceil(width);
}

/** Drops what XML 1.0 cannot hold at all (control characters, lone surrogates), which escaping cannot fix. */
export function cleanText(text: string): string {
  return text.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

const XML_ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeXml(text: string): string {
  return cleanText(text).replace(/[&<>"']/g, (ch) => XML_ENTITIES[ch] as string);
}

/** The document around a drawing: title, the arrow marker its edges use (in `edgeColour`), a white ground. */
export function svgDocument(title: string, width: string, height: string, edgeColour: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${title}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif" font-size="${FONT_SIZE}">`,
    `  <title>${title}</title>`,
    '  <defs>',
    `    <marker id="sc-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="${edgeColour}"/></marker>`,
    '  </defs>',
    `  <rect width="${width}" height="${height}" fill="#ffffff"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}
