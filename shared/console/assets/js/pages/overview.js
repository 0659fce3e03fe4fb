import { h, mount, num, usd, pct, card, table, badge } from '../dom.js';
import { lineChart, barList } from '../charts.js';
import { state, isAdmin } from '../state.js';
import { header, lastDays, byDay } from '../ui.js';

function kpi(label, value, note) {
  return h('div', { class: 'kpi' }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, value), note ? h('div', { class: 'note' }, note) : null);
}

export async function render(main) {
  const range = lastDays(30);
  const c = state.client;
  const q = (group) => ({ group_by: group, start: range.start, end: range.end });
  const base = isAdmin() ? '/admin/usage/report' : '/v1/usage';
  const [daily, second, models, pending, kpis] = await Promise.all([
    c.get(base, q('day')),
    isAdmin() ? c.get(base, q('tenant')) : null,
    c.get(base, q('model')),
    isAdmin() ? c.get('/admin/models').then(r => (r.data || []).filter(m => m.status === 'pending-review')) : null,
    isAdmin() ? c.get('/admin/kpis').catch(() => null) : null,
  ]);
  const t = daily.total || {};
  const errRate = t.requests ? t.errors / t.requests : null;
  const hitRate = t.requests ? t.cache_hits / t.requests : null;
  const guard = Object.values(t.guardrail || {}).reduce((s, n) => s + n, 0);
  mount(main,
    header('Overview', isAdmin() ? `All tenants, ${range.start} to ${range.end} (UTC)` : `Tenant ${state.session.tenant}, ${range.start} to ${range.end} (UTC)`),
    h('div', { class: 'grid kpis' },
      kpi('Requests', num(t.requests), `${num(t.streamed)} streamed`),
      kpi('Spend', usd(t.cost_usd), t.estimated ? `${num(t.estimated)} estimated` : 'provider-reported'),
      kpi('Tokens', num((t.input_tokens || 0) + (t.output_tokens || 0)), `${num(t.input_tokens)} in · ${num(t.output_tokens)} out`),
      kpi('Error rate', pct(errRate), `${num(t.errors)} errors`),
      kpi('Avg latency', `${num(t.avg_latency_ms)} ms`),
      kpi('Cache hits', pct(hitRate), `${num(t.cache_hits)} hits`),
      kpi('Guardrail interventions', num(guard)),
      isAdmin() ? kpi('Models awaiting review', num(pending.length), pending.length ? h('a', { href: '#/models' }, 'Review now') : 'none') : null,
      kpis?.stage ? kpi('Maturity stage', String(kpis.stage)) : null),
    h('div', { class: 'grid two' },
      card(null, lineChart({ title: 'Requests per day', labels: range.days, series: [
        { name: 'requests', values: byDay(daily.data, range.days, r => r.requests) },
        { name: 'errors', values: byDay(daily.data, range.days, r => r.errors), color: '#a3231b' },
      ], format: v => num(v), integer: true })),
      card(null, lineChart({ title: 'Spend per day (USD)', labels: range.days, series: [
        { name: 'spend', values: byDay(daily.data, range.days, r => r.cost_usd), color: '#0f8a6c' },
      ], format: v => usd(v) }))),
    h('div', { class: 'grid two' },
      isAdmin() ? card(null, barList('Top tenants by spend', top(second.data, 'tenant', 'cost_usd'), usd)) : null,
      card(null, barList('Top models by requests', top(models.data, 'model', 'requests'), v => num(v))),
      !isAdmin() ? card(null, barList('Spend by model', top(models.data, 'model', 'cost_usd'), usd)) : null),
    card('Errors', table([
      { label: 'Day', value: r => r.day },
      { label: 'Errors', num: true, value: r => num(r.errors) },
      { label: 'Requests', num: true, value: r => num(r.requests) },
      { label: 'Error rate', num: true, value: r => pct(r.requests ? r.errors / r.requests : 0) },
    ], (daily.data || []).filter(r => r.errors > 0).reverse(), { empty: 'No failed requests in this period.' })),
    isAdmin() && pending.length ? card('Awaiting review', table([
      { label: 'Model', value: m => h('a', { href: `#/models/${encodeURIComponent(m.id)}` }, m.id) },
      { label: 'Kind', value: m => m.kind },
      { label: 'Status', value: m => badge(m.status) },
    ], pending)) : null);
}

function top(rows, key, metric, n = 8) {
  return (rows || []).map(r => ({ name: r[key] || '—', value: r[metric] || 0 }))
    .sort((a, b) => b.value - a.value).slice(0, n);
}
