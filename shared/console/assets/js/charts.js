// Hand-written SVG charts: a line chart over categories (days, runs) with an optional
// baseline and regression markers, horizontal bars, and a layered lineage graph. Each
// chart carries a text alternative and its data as a table for screen readers.
import { h, table } from './dom.js';

export const PALETTE = ['#2f4fd6', '#0f8a6c', '#c2410c', '#7c3aed', '#b91c5c', '#0e7490', '#4d7c0f'];

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/**
 * lineChart draws series over shared x labels.
 * opts: {title, labels:[…], series:[{name, values:[…]}], format:(v)=>string,
 *        max?, baseline?:{value, label}, markers?:[{index, label}]}
 */
export function lineChart({ title, labels, series, format = String, max, baseline, markers = [], height = 220, integer = false }) {
  const W = 640, H = height, L = 56, R = 16, T = 12, B = 34;
  const all = series.flatMap(s => s.values).filter(v => v !== null && v !== undefined);
  if (baseline) all.push(baseline.value);
  let top = max ?? niceMax(Math.max(0, ...all));
  if (integer) top = Math.max(4, Math.ceil(top / 4) * 4);
  const n = Math.max(labels.length, 1);
  const x = (i) => L + (n === 1 ? (W - L - R) / 2 : i * (W - L - R) / (n - 1));
  const y = (v) => T + (H - T - B) * (1 - v / top);
  const ticks = [0, .25, .5, .75, 1].map(f => f * top);
  const every = Math.ceil(n / 8);
  const svg = h('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${title}: ${describe(labels, series, format)}` },
    ticks.map(t => h('g', null,
      h('line', { class: 'grid', x1: L, x2: W - R, y1: y(t), y2: y(t) }),
      h('text', { x: L - 6, y: y(t) + 4, 'text-anchor': 'end' }, format(t)))),
    h('line', { class: 'axis', x1: L, x2: W - R, y1: y(0), y2: y(0) }),
    labels.map((lab, i) => (i % every === 0 || (i === n - 1 && (n - 1) % every >= every / 2)) ? h('text', { x: x(i), y: H - 12, 'text-anchor': 'middle' }, shortLabel(lab)) : null),
    baseline ? h('g', null,
      h('line', { class: 'baseline', x1: L, x2: W - R, y1: y(baseline.value), y2: y(baseline.value) }),
      h('text', { x: W - R, y: y(baseline.value) - 4, 'text-anchor': 'end' }, baseline.label)) : null,
    series.map((s, si) => {
      const color = s.color || PALETTE[si % PALETTE.length];
      const pts = s.values.map((v, i) => (v === null || v === undefined) ? null : [x(i), y(v), v, i]).filter(Boolean);
      return h('g', { 'data-series': s.name },
        pts.length > 1 ? h('polyline', { class: 'series', stroke: color, points: pts.map(p => `${p[0]},${p[1]}`).join(' ') }) : null,
        pts.map(p => h('circle', { cx: p[0], cy: p[1], r: 3.5, fill: color },
          h('title', null, `${s.name} · ${labels[p[3]]}: ${format(p[2])}`))));
    }),
    markers.map(m => h('g', { class: 'marker', 'data-marker': m.label },
      h('polygon', { class: 'regression', points: `${x(m.index) - 6},${T + 10} ${x(m.index) + 6},${T + 10} ${x(m.index)},${T + 20}` }),
      h('title', null, m.label))));
  return h('figure', { class: 'chart' },
    h('figcaption', null, title),
    svg,
    series.length > 1 || baseline || markers.length ? h('div', { class: 'legend' },
      series.map((s, si) => h('span', null, swatch(s.color || PALETTE[si % PALETTE.length]), s.name)),
      baseline ? h('span', null, swatch('#7a4b00'), baseline.label) : null,
      markers.length ? h('span', null, swatch('#a3231b'), 'regression') : null) : null,
    h('details', { class: 'data' }, h('summary', null, 'Data table'),
      table([
        { label: 'Point', value: r => r.label },
        ...series.map(s => ({ label: s.name, num: true, value: r => r.values[s.name] })),
      ], labels.map((lab, i) => ({ label: lab, values: Object.fromEntries(series.map(s => [s.name, s.values[i] == null ? '—' : format(s.values[i])])) })))));
}

function swatch(color) {
  return h('svg', { class: 'swatch', viewBox: '0 0 10 10', 'aria-hidden': 'true' }, h('rect', { width: 10, height: 10, rx: 2, fill: color }));
}

function shortLabel(s) {
  s = String(s);
  return /^\d{4}-\d{2}-\d{2}$/.test(s) ? s.slice(5) : (s.length > 14 ? s.slice(0, 13) + '…' : s);
}

function describe(labels, series, format) {
  if (!labels.length) return 'no data';
  return series.map(s => {
    const vals = s.values.filter(v => v != null);
    if (!vals.length) return `${s.name}: no data`;
    return `${s.name} from ${format(vals[0])} to ${format(vals[vals.length - 1])} over ${labels.length} points`;
  }).join('; ');
}

/** barList renders horizontal bars: rows [{name, value}], format for values. */
export function barList(title, rows, format = String) {
  const top = Math.max(0, ...rows.map(r => r.value)) || 1;
  return h('figure', { class: 'chart' },
    h('figcaption', null, title),
    rows.length === 0 ? h('p', { class: 'empty' }, 'No data in this period.') :
      h('div', { class: 'bars', role: 'list' }, rows.map(r => h('div', { class: 'bar-row', role: 'listitem' },
        h('span', { class: 'name', title: r.name }, r.name),
        h('svg', { class: 'track', viewBox: '0 0 100 10', preserveAspectRatio: 'none', 'aria-hidden': 'true' },
          h('rect', { x: 0, y: 0, width: 100, height: 10, rx: 2, fill: '#edf0f5' }),
          h('rect', { x: 0, y: 0, width: (100 * r.value / top).toFixed(2), height: 10, rx: 2, fill: '#2f4fd6' })),
        h('span', { class: 'num' }, format(r.value))))));
}

/**
 * lineageGraph lays nodes out in columns by depth (roots left) with edges from what a
 * node came from to the node. nodes: [{id, label, custom, kind?, name?}] (kind: base,
 * dataset, job, model or alias; name is what the box shows when the id is only a key),
 * edges: [{from, to, label}].
 */
export function lineageGraph(nodes, edges, title = 'Model lineage') {
  const names = new Map(nodes.map(n => [n.id, n.name || n.id]));
  const nameOf = (id) => names.get(id) || id;
  const depth = new Map(nodes.map(n => [n.id, 0]));
  for (let pass = 0; pass < nodes.length; pass++) {
    for (const e of edges) depth.set(e.to, Math.max(depth.get(e.to) ?? 0, (depth.get(e.from) ?? 0) + 1));
  }
  const cols = [];
  for (const n of nodes) (cols[depth.get(n.id)] ||= []).push(n);
  const NW = 170, NH = 40, GX = 70, GY = 18;
  const pos = new Map();
  cols.forEach((col, ci) => col.forEach((n, ri) => pos.set(n.id, { x: 10 + ci * (NW + GX), y: 10 + ri * (NH + GY) })));
  const W = 20 + cols.length * (NW + GX) - GX;
  const H = 20 + Math.max(...cols.map(c => c.length)) * (NH + GY) - GY;
  const svg = h('svg', { class: 'chart lineage', viewBox: `0 0 ${Math.max(W, 200)} ${Math.max(H, 60)}`, width: Math.max(W, 200), height: Math.max(H, 60), role: 'img',
    'aria-label': `${title}: ${edges.map(e => `${nameOf(e.to)} derives from ${nameOf(e.from)}`).join('; ') || 'no derived models'}` },
    h('defs', null, h('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
      h('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#8e9bb0' }))),
    edges.map(e => {
      const a = pos.get(e.from), b = pos.get(e.to);
      if (!a || !b) return null;
      const x1 = a.x + NW, y1 = a.y + NH / 2, x2 = b.x, y2 = b.y + NH / 2, mx = (x1 + x2) / 2;
      return h('g', null, h('path', { class: 'graph-edge', d: `M ${x1} ${y1} C ${mx} ${y1}, ${mx} ${y2}, ${x2 - 2} ${y2}`, 'marker-end': 'url(#arrow)' }),
        e.label ? h('title', null, e.label) : null);
    }),
    nodes.map(n => {
      const p = pos.get(n.id);
      const name = n.name || n.id;
      return h('g', { class: 'graph-node' + (n.custom ? ' custom' : '') + (n.kind ? ' kind-' + n.kind : ''),
        'data-model': !n.kind || n.kind === 'model' || n.kind === 'base' ? name : null, 'data-kind': n.kind || null, 'data-node': name },
      h('rect', { x: p.x, y: p.y, width: NW, height: NH, rx: 6 }),
      h('text', { x: p.x + 10, y: p.y + 17 }, name.length > 24 ? name.slice(0, 23) + '…' : name),
      h('text', { x: p.x + 10, y: p.y + 31 }, n.label || ''),
      h('title', null, n.title || name));
    }));
  return h('figure', { class: 'chart' }, h('figcaption', null, title), svg);
}
