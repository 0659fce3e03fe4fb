// Pieces several pages share: page headers, the tenant picker and date ranges.
import { h, field } from './dom.js';
import { isAdmin, state, tenants, pref } from './state.js';

export function header(title, sub, ...actions) {
  return h('div', { class: 'row between' },
    h('div', null, h('h1', null, title), sub ? h('p', { class: 'sub' }, sub) : null),
    actions.length ? h('div', { class: 'toolbar' }, actions) : null);
}

/** tenantPicker is a labelled select of tenants (admins) that remembers the choice. */
export async function tenantPicker(onchange, { allowAll = false, label = 'Tenant' } = {}) {
  if (!isAdmin()) return { el: null, value: () => state.session.tenant };
  const ids = await tenants();
  let current = pref('tenant');
  if (!allowAll && !ids.includes(current)) current = ids.includes('demo') ? 'demo' : ids[0] || '';
  const sel = h('select', { name: 'tenant' },
    allowAll ? h('option', { value: '' }, 'All tenants') : null,
    ids.map(t => h('option', { value: t, selected: t === current }, t)));
  sel.value = current;
  sel.addEventListener('change', () => { pref('tenant', sel.value); onchange(sel.value); });
  return { el: field(label, sel), value: () => sel.value };
}

const day = (d) => d.toISOString().slice(0, 10);

/** lastDays returns {start, end, days[]} covering the last n UTC days, today included. */
export function lastDays(n) {
  const end = new Date();
  const start = new Date(end.getTime() - (n - 1) * 86400_000);
  const days = [];
  for (let t = new Date(start); day(t) <= day(end); t = new Date(t.getTime() + 86400_000)) days.push(day(t));
  return { start: day(start), end: day(end), days };
}

/** byDay spreads usage rows grouped by day over every day of a range (missing days are 0). */
export function byDay(rows, days, pick) {
  const m = new Map((rows || []).map(r => [r.day, r]));
  return days.map(d => (m.has(d) ? pick(m.get(d)) : 0));
}
