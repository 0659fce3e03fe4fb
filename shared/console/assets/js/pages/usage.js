import { h, mount, field, card, table, num, usd, pct, download, button } from '../dom.js';
import { lineChart } from '../charts.js';
import { state, isAdmin } from '../state.js';
import { header, lastDays } from '../ui.js';

export async function render(main, { query, go }) {
  const def = lastDays(30);
  const start = query.get('start') || def.start;
  const end = query.get('end') || def.end;
  const group = query.get('group_by') || (isAdmin() ? 'tenant' : 'model');
  const tag = query.get('tag') || 'cost-center';
  const groupBy = group === 'tag' ? `tag:${tag}` : group;
  const path = isAdmin() ? '/admin/usage/report' : '/v1/usage';
  const [rep, daily] = await Promise.all([
    state.client.get(path, { start, end, group_by: groupBy }),
    state.client.get(path, { start, end, group_by: 'day' }),
  ]);
  const sIn = h('input', { type: 'date', name: 'start', value: start });
  const eIn = h('input', { type: 'date', name: 'end', value: end });
  const gSel = h('select', { name: 'group_by' }, (isAdmin() ? ['tenant', 'model', 'day', 'tag'] : ['model', 'day']).map(g => h('option', { value: g, selected: g === group }, g === 'tag' ? 'cost-allocation tag' : g)));
  const tIn = h('input', { name: 'tag', value: tag });
  const apply = (e) => { e?.preventDefault(); go(`usage?start=${sIn.value}&end=${eIn.value}&group_by=${gSel.value}&tag=${encodeURIComponent(tIn.value)}`); };
  const key = group === 'tag' ? 'tag' : group;
  const rows = rep.data || [];
  const csv = button('Export CSV', async () => {
    let text;
    if (isAdmin()) text = await state.client.text('/admin/usage/report', { start, end, group_by: groupBy, format: 'csv' });
    else text = toCSV(key, rows);
    download(`usage-${groupBy.replace(':', '-')}-${start}-${end}.csv`, text);
  }, { kind: 'secondary' });
  const days = [];
  for (let t = new Date(start + 'T00:00:00Z'); t <= new Date(end + 'T00:00:00Z'); t = new Date(t.getTime() + 86400_000)) days.push(t.toISOString().slice(0, 10));
  const byDay = new Map((daily.data || []).map(r => [r.day, r]));
  mount(main,
    header('Usage & chargeback', isAdmin() ? 'Cost and usage across tenants, grouped for chargeback.' : `Usage of tenant ${state.session.tenant}.`),
    card(null, h('form', { class: 'row', onsubmit: apply }, field('From', sIn), field('To', eIn), field('Group by', gSel),
      group === 'tag' || isAdmin() ? field('Tag key', tIn) : null,
      h('div', { class: 'field' }, h('span', { class: 'label-like', 'aria-hidden': 'true' }, '\u00a0'), h('button', { type: 'submit', class: 'btn primary' }, 'Apply')),
      h('div', { class: 'field' }, h('span', { class: 'label-like', 'aria-hidden': 'true' }, '\u00a0'), csv))),
    card(null, lineChart({ title: 'Spend per day (USD)', labels: days, series: [{ name: 'spend', values: days.map(d => byDay.get(d)?.cost_usd ?? 0), color: '#0f8a6c' }], format: usd })),
    card(`By ${group === 'tag' ? `tag ${tag}` : group}`, table([
      { label: key, value: r => r[key] || '—' },
      { label: 'Requests', num: true, value: r => num(r.requests) },
      { label: 'Input tokens', num: true, value: r => num(r.input_tokens) },
      { label: 'Output tokens', num: true, value: r => num(r.output_tokens) },
      { label: 'Cost', num: true, value: r => usd(r.cost_usd) },
      { label: 'Errors', num: true, value: r => num(r.errors) },
      { label: 'Cache hits', num: true, value: r => pct(r.requests ? r.cache_hits / r.requests : null) },
      { label: 'Avg latency', num: true, value: r => `${num(r.avg_latency_ms)} ms` },
    ], rows, { caption: `Total ${usd(rep.total?.cost_usd)} over ${num(rep.total?.requests)} requests`, empty: 'No usage in this period.' })));
}

function toCSV(key, rows) {
  const cols = [key, 'requests', 'input_tokens', 'output_tokens', 'cost_usd', 'errors', 'cache_hits'];
  const esc = (v) => /[",\n]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v ?? '');
  return [cols.join(','), ...rows.map(r => cols.map(c => esc(r[c])).join(','))].join('\n') + '\n';
}
