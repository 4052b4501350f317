// A grouped horizontal bar chart as plain SVG: one group per case, one bar per contender,
// every bar labelled with the contender's name and its value (the colours, one per
// contender throughout the page, are never the only cue), and a <title>/<desc> for screen
// readers (the tables beside it hold the same numbers). Scales
// with its container (viewBox), so it fits a phone's width.

export interface BarGroup {
  label: string;
  bars: { name: string; value: number | null }[];
}

export interface BarChartOptions {
  title: string;
  /** Unit and direction, e.g. 'GFLOP/s, higher is better'. */
  unit: string;
  groups: BarGroup[];
  /** Contender order, which fixes each contender's colour. */
  series: readonly string[];
  format?: (v: number) => string;
}

const SVG = 'http://www.w3.org/2000/svg';
/** Colour-blind-safe (Okabe-Ito), in contender order. */
const PALETTE = ['#0072b2', '#e69f00', '#009e73', '#cc79a7', '#56b4e9', '#d55e00', '#000000'];

export function seriesColour(series: readonly string[], name: string): string {
  const i = series.indexOf(name);
  return PALETTE[(i < 0 ? series.length : i) % PALETTE.length]!;
}

function el<K extends keyof SVGElementTagNameMap>(name: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

let chartIds = 0;

export function barChart(o: BarChartOptions): SVGSVGElement {
  const fmt = o.format ?? ((v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)));
  // narrow on purpose: on a phone the chart is drawn at about its own size, so 12px stays legible
  const width = 420, nameW = 132, valueW = 62, barH = 15, gap = 4, headH = 18, groupGap = 8;
  const plotW = width - nameW - valueW;
  const max = Math.max(1e-12, ...o.groups.flatMap((g) => g.bars.map((b) => b.value ?? 0)));
  const id = `chart-${++chartIds}`;
  let y = 2;
  const body: SVGElement[] = [];
  for (const g of o.groups) {
    body.push(el('text', { x: 0, y: y + headH / 2, 'dominant-baseline': 'middle', class: 'chart-group' }, g.label));
    y += headH;
    for (const b of g.bars) {
      const measured = b.value !== null && Number.isFinite(b.value);
      const w = measured ? Math.max(1, (b.value! / max) * plotW) : 0;
      body.push(el('text', { x: nameW - 6, y: y + barH / 2, 'text-anchor': 'end', 'dominant-baseline': 'middle' }, b.name));
      const bar = el('rect', { x: nameW, y, width: w, height: barH, fill: seriesColour(o.series, b.name), rx: 2 });
      bar.append(el('title', {}, `${b.name}: ${measured ? `${fmt(b.value!)} (${o.unit})` : 'not measured'}`));
      body.push(bar);
      body.push(el('text', { x: nameW + w + 4, y: y + barH / 2, 'dominant-baseline': 'middle', class: 'chart-value' },
        measured ? fmt(b.value!) : '—'));
      y += barH + gap;
    }
    y += groupGap;
  }
  const svg = el('svg', { viewBox: `0 0 ${width} ${y}`, role: 'img', 'aria-labelledby': `${id}-t ${id}-d`, class: 'chart' });
  const desc = o.groups.map((g) => `${g.label}: ${g.bars.map((b) => `${b.name} ${b.value === null ? 'not measured' : fmt(b.value)}`).join(', ')}`).join('; ');
  svg.append(el('title', { id: `${id}-t` }, `${o.title} (${o.unit})`), el('desc', { id: `${id}-d` }, desc), ...body);
  return svg;
}
