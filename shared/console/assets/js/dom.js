// Small DOM helpers: element creation without innerHTML (no injection), formatting.

/** h(tag, attrs, ...children) builds an element; attrs keys starting with "on" bind events. */
export function h(tag, attrs, ...children) {
  const el = tag === 'svg' || SVG_TAGS.has(tag)
    ? document.createElementNS('http://www.w3.org/2000/svg', tag)
    : document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.setAttribute('class', v);
      else if (k === 'style') el.style.cssText = v; // CSSOM: allowed by the CSP, unlike style attributes
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k === 'value' && 'value' in el) el.value = v;
      else if (k === 'checked' || k === 'disabled' || k === 'selected' || k === 'multiple') { el[k] = !!v; if (v) el.setAttribute(k, ''); }
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

const SVG_TAGS = new Set(['g', 'path', 'line', 'rect', 'circle', 'text', 'title', 'polyline', 'polygon', 'defs', 'marker', 'tspan']);

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** clear empties an element and appends children. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let uid = 0;
/** id returns a unique element ID with a prefix, for label/for pairs. */
export const id = (p = 'f') => `${p}-${++uid}`;

/** field is a labelled form control. */
export function field(label, control, hint) {
  const cid = control.id || (control.id = id('f'));
  const hid = hint ? id('h') : null;
  if (hid) control.setAttribute('aria-describedby', hid);
  return h('div', { class: 'field' },
    h('label', { for: cid }, label),
    control,
    hint ? h('p', { class: 'hint', id: hid }, hint) : null);
}

export const num = (n, d = 0) => (n ?? 0).toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
export const usd = (n) => '$' + (n ?? 0).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: (n > 0 && n < 0.01) ? 6 : 2 });
export const pct = (n, d = 1) => (n === null || n === undefined) ? '—' : (n * 100).toFixed(d) + '%';
export const fixed = (n, d = 3) => (n === null || n === undefined) ? '—' : Number(n).toFixed(d);
export function when(s) {
  if (!s) return '—';
  const d = new Date(s);
  if (isNaN(d)) return s;
  return d.toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
}

/** badge renders a status pill coloured by its meaning. */
export function badge(text) {
  const t = String(text ?? '');
  const tone = /^(approved|active|indexed|succeeded|complete|completed|none|ok|passed)$/i.test(t) ? 'good'
    : /^(pending|pending-review|running|queued|open|deprecated|validating_files|requires_approval|requires_action|incomplete)$/i.test(t) ? 'warn'
    : /^(rejected|failed|revoked|suspended|retired|regressed|guardrail_intervened|blocked|timed_out|aborted|expired|cancelled|error)$/i.test(t) ? 'bad' : 'neutral';
  return h('span', { class: `badge ${tone}` }, t);
}

/** table renders rows with columns [{label, value: row => node|string, num?}]. */
export function table(columns, rows, { caption, empty = 'Nothing here yet.', rowAttrs } = {}) {
  if (!rows || rows.length === 0) return h('p', { class: 'empty' }, empty);
  return h('div', { class: 'table-wrap' }, h('table', null,
    caption ? h('caption', null, caption) : null,
    h('thead', null, h('tr', null, columns.map(c => h('th', { scope: 'col', class: c.num ? 'num' : null }, c.label)))),
    h('tbody', null, rows.map(r => h('tr', rowAttrs ? rowAttrs(r) : null,
      columns.map(c => h('td', { class: c.num ? 'num' : null }, c.value(r))))))));
}

/** toast shows a short message in the live region. */
export function toast(message, tone = 'good') {
  const box = document.getElementById('toasts');
  const t = h('div', { class: `toast ${tone}` }, message);
  box.appendChild(t);
  while (box.children.length > 3) box.firstElementChild.remove();
  setTimeout(() => t.remove(), 4000);
}

/** errorBox renders an API error for a form. */
export function errorBox(err) {
  return h('div', { class: 'alert bad', role: 'alert' }, h('strong', null, 'Error: '), err?.message || String(err));
}

/** card wraps content in a titled panel. */
export function card(title, ...children) {
  return h('section', { class: 'card', 'aria-label': typeof title === 'string' ? title : null },
    title ? h('h2', null, title) : null, ...children);
}

/** button builds a button; busy disables it while an async handler runs. */
export function button(label, onclick, { kind = 'primary', type = 'button', ...rest } = {}) {
  const b = h('button', { type, class: `btn ${kind}`, ...rest }, label);
  if (onclick) b.addEventListener('click', async (e) => {
    if (b.disabled) return;
    b.disabled = true;
    try { await onclick(e); } finally { b.disabled = false; }
  });
  return b;
}

/** download saves text as a file. */
export function download(name, text, type = 'text/csv') {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { href: url, download: name });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** kv renders a definition list from pairs. */
export function kv(pairs) {
  return h('dl', { class: 'kv' }, pairs.filter(Boolean).map(([k, v]) => [h('dt', null, k), h('dd', null, v ?? '—')]));
}

export function pre(obj) {
  return h('pre', { class: 'code' }, typeof obj === 'string' ? obj : JSON.stringify(obj, null, 2));
}
