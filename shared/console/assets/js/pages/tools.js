import { h, mount, card, table, badge, button, toast, when, kv, field, errorBox } from '../dom.js';
import { state, can } from '../state.js';
import { header } from '../ui.js';
import { waiting } from './waiting.js';

export async function render(main, { params, rerender, go }) {
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
      { label: 'Server', value: s => h('a', { href: `#/tools/${encodeURIComponent(s.id)}`, 'data-server': s.id }, s.id) },
      { label: 'Kind', value: s => s.kind },
      { label: 'Status', value: s => badge(s.status) },
      { label: 'Tools', value: s => (s.tools || []).filter(t => !t.removed).length },
      { label: 'Synced', value: s => s.sync_error ? h('span', { class: 'badge bad' }, s.sync_error) : when(s.synced_at) },
      { label: 'Decision', value: s => !can('POST /admin/tool-servers/{id}/review') ? badge(s.status) : h('div', { class: 'choices' },
        button('Approve', review(s, 'approve'), { kind: 'good small' }), button('Reject', review(s, 'reject'), { kind: 'danger small' })) },
    ], servers, { empty: 'No tool server registered.' })),
    can('POST /admin/tool-servers') ? registerCard(go) : null,
    selected ? card(`Server ${selected.id}`, kv([['Kind', selected.kind], ['URL', selected.url || selected.function || selected.builtin], ['Owner', selected.owner], ['Status', badge(selected.status)]]),
      table([
        { label: 'Tool', value: t => h('code', null, t.name) },
        { label: 'Description', value: t => t.description || '—' },
        { label: 'Status', value: t => badge(t.status) },
      ], (selected.tools || []).filter(t => !t.removed))) : null);
}

function registerCard(go) {
  const id = h('input', { name: 'server_id', required: true, placeholder: 'hr-tools' });
  const kind = h('select', { name: 'server_kind' }, [['mcp', 'MCP server (Streamable HTTP)'], ['openapi', 'HTTP API (OpenAPI 3)'], ['lambda', 'AWS Lambda function'], ['builtin', 'Built-in']].map(([v, l]) => h('option', { value: v }, l)));
  const target = h('input', { name: 'server_target', required: true, placeholder: 'https://tools.example.com/mcp' });
  const desc = h('input', { name: 'server_description', placeholder: 'What the tools do' });
  const hint = h('p', { class: 'hint' });
  const describe = () => {
    const k = kind.value;
    target.placeholder = { mcp: 'https://tools.example.com/mcp', openapi: 'https://api.example.com/openapi.json', lambda: 'arn:aws:lambda:…:function:name', builtin: 'knowledge-base, guardrail or evaluation' }[k];
    hint.textContent = { mcp: 'Its tools are listed by a sync and callable once approved.', openapi: 'Each operation becomes a tool.', lambda: 'The arguments are the event; the response is the result.', builtin: 'A tool set the platform provides itself.' }[k];
  };
  kind.addEventListener('change', describe);
  describe();
  const err = h('div');
  return card('Register a tool server', h('form', { onsubmit: async (e) => {
    e.preventDefault();
    mount(err);
    const body = { id: id.value.trim(), kind: kind.value, description: desc.value.trim() || undefined };
    const t = target.value.trim();
    if (kind.value === 'mcp') body.url = t;
    if (kind.value === 'openapi') body.url = t;
    if (kind.value === 'lambda') body.function = t;
    if (kind.value === 'builtin') body.builtin = t;
    try {
      const s = await state.client.post('/admin/tool-servers', body);
      toast(`${s.id} registered; it is callable once approved`);
      go(`tools/${encodeURIComponent(s.id)}`);
    } catch (ex) { mount(err, errorBox(ex)); }
  } }, h('div', { class: 'grid three' }, field('Server ID', id), field('Kind', kind), field('Address', target)), hint,
  field('Description', desc), err, h('button', { type: 'submit', class: 'btn primary' }, 'Register')));
}
