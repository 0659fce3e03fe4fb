import { h, mount, field, card, table, badge, when, button } from '../dom.js';
import { state } from '../state.js';
import { header, lastDays } from '../ui.js';
import { waiting } from './waiting.js';

export async function render(main, { query, go }) {
  const def = lastDays(7);
  const f = { tenant: query.get('tenant') || '', actor: query.get('actor') || '', action: query.get('action') || '', outcome: query.get('outcome') || '', start: query.get('start') || def.start, end: query.get('end') || def.end };
  let page;
  try {
    // The audit API takes RFC 3339 instants; the form takes whole UTC days.
    page = await state.client.get('/admin/audit', { ...f, start: `${f.start}T00:00:00Z`, end: `${f.end}T23:59:59Z`, limit: 100, cursor: query.get('cursor') || '' });
  } catch (ex) {
    if (ex.status === 404 && ex.code === 'not_found' && /no such route/.test(ex.message)) return waiting(main, 'Audit log', 'GET /admin/audit');
    throw ex;
  }
  const inputs = Object.fromEntries(Object.entries(f).map(([k, v]) => [k, k === 'outcome'
    ? h('select', { name: k }, ['', 'success', 'failure', 'denied'].map(o => h('option', { value: o, selected: o === v }, o || 'any')))
    : h('input', { name: k, type: k === 'start' || k === 'end' ? 'date' : 'text', value: v })]));
  const apply = (e) => { e.preventDefault(); go('audit?' + new URLSearchParams(Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, el.value]))).toString()); };
  mount(main,
    header('Audit log', 'Every admin action and tenant data operation: who, what, on which resource, from where, and how it ended. Append-only.'),
    card(null, h('form', { class: 'row', onsubmit: apply },
      field('Tenant', inputs.tenant), field('Actor', inputs.actor), field('Action', inputs.action), field('Outcome', inputs.outcome),
      field('From', inputs.start), field('To', inputs.end),
      h('div', { class: 'field' }, h('span', { class: 'label-like', 'aria-hidden': 'true' }, '\u00a0'), h('button', { type: 'submit', class: 'btn primary' }, 'Filter')))),
    card(null, table([
      { label: 'Time', value: e => when(e.time) },
      { label: 'Actor', value: e => h('span', null, e.actor, h('span', { class: 'muted' }, ` (${e.actor_type})`)) },
      { label: 'Action', value: e => h('code', null, e.action) },
      { label: 'Tenant', value: e => e.tenant || '—' },
      { label: 'Resource', value: e => e.resource || '—' },
      { label: 'Outcome', value: e => h('span', null, badge(e.outcome === 'success' ? 'ok' : e.outcome), e.status ? ` ${e.status}` : '') },
      { label: 'Source', value: e => h('span', { class: 'muted' }, e.source_ip || '') },
      { label: 'Request', value: e => h('code', null, e.request_id || '') },
    ], page.data || [], { empty: 'No events match.' }),
    page.next_cursor ? button('Older events', () => go('audit?' + new URLSearchParams({ ...f, cursor: page.next_cursor }).toString()), { kind: 'secondary' }) : null));
}
