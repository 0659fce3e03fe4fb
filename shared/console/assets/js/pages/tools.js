import { h, mount, card, table, badge, button, toast, when, kv } from '../dom.js';
import { state } from '../state.js';
import { header } from '../ui.js';
import { waiting } from './waiting.js';

export async function render(main, { params, rerender }) {
  let servers;
  try {
    servers = (await state.client.get('/admin/tool-servers')).data || [];
  } catch (ex) {
    if (ex.status === 404 && /no such route/.test(ex.message)) return waiting(main, 'Tools & agents', 'GET /admin/tool-servers');
    throw ex;
  }
  const selected = params[0] ? servers.find(s => s.id === params[0]) : null;
  const review = (s, decision) => async () => {
    try {
      await state.client.post(`/admin/tool-servers/${encodeURIComponent(s.id)}/review`, { decision, reviewer: state.reviewer || 'admin' });
      toast(`${s.id}: ${decision}`);
      await rerender();
    } catch (ex) { toast(ex.message, 'bad'); }
  };
  mount(main,
    header('Tools & agents', 'Tool servers (MCP, OpenAPI, functions) in the hub, their review status and the tools they expose.'),
    card('Tool servers', table([
      { label: 'Server', value: s => h('a', { href: `#/tools/${encodeURIComponent(s.id)}` }, s.id) },
      { label: 'Kind', value: s => s.kind },
      { label: 'Status', value: s => badge(s.status) },
      { label: 'Tools', value: s => (s.tools || []).filter(t => !t.removed).length },
      { label: 'Synced', value: s => s.sync_error ? h('span', { class: 'badge bad' }, s.sync_error) : when(s.synced_at) },
      { label: 'Decision', value: s => h('div', { class: 'choices' },
        button('Approve', review(s, 'approve'), { kind: 'good small' }), button('Reject', review(s, 'reject'), { kind: 'danger small' })) },
    ], servers, { empty: 'No tool server registered.' })),
    selected ? card(`Server ${selected.id}`, kv([['Kind', selected.kind], ['URL', selected.url || selected.function || selected.builtin], ['Owner', selected.owner], ['Status', badge(selected.status)]]),
      table([
        { label: 'Tool', value: t => h('code', null, t.name) },
        { label: 'Description', value: t => t.description || '—' },
        { label: 'Status', value: t => badge(t.status) },
      ], (selected.tools || []).filter(t => !t.removed))) : null);
}
