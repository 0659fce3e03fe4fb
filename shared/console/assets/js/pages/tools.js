// Tools & agents: the tool hub's servers with each tool's review status and definition
// hash, tenants' grants (tools are deny-by-default), the tools a tenant's key may call,
// agents, and durable agent runs with their tree of steps. Each part shows only when the
// access policy lets the credential call its routes.
import { h, mount, card, table, badge, button, toast, when, kv, field, errorBox, num, usd, pre } from '../dom.js';
import { state, can, isPlatform, canAsTenant, tenantClient } from '../state.js';
import { header, tenantPicker } from '../ui.js';
import { waiting } from './waiting.js';

const enc = encodeURIComponent;
const shortHash = (s) => (s ? String(s).replace(/^sha256:/, '').slice(0, 12) : '—');

export async function render(main, { params, query, rerender, go }) {
  let servers = [];
  if (can('GET /admin/tool-servers')) {
    try {
      servers = (await state.client.get('/admin/tool-servers')).data || [];
    } catch (ex) {
      if (ex.status === 404 && /no such route/.test(ex.message)) return waiting(main, 'Tools & agents', 'GET /admin/tool-servers');
      throw ex;
    }
  }
  const picker = await tenantPicker(() => go('tools'));
  const tenant = picker.value();
  const selected = params[0] === 'server' ? servers.find(s => s.id === params[1]) : null;
  const runID = params[0] === 'run' ? params[1] : (query.get('run') || '');
  const runs = h('div');
  mount(main,
    header('Tools & agents', 'The tool hub: servers and their tools with review status and definition hashes, what each tenant is granted (nothing unless granted), agents and their runs.'),
    can('GET /admin/tool-servers') ? serversCard(servers, rerender, go) : null,
    selected ? serverCard(selected, rerender) : null,
    can('POST /admin/tool-servers') ? registerCard(go) : null,
    picker.el ? card('Tenant', h('div', { class: 'row' }, picker.el)) : null,
    can('GET /admin/tenants/{id}/tool-grants') && tenant ? await grantsCard(tenant, servers, rerender) : null,
    !isPlatform() && can('GET /v1/tools') ? await myToolsCard() : null,
    can('GET /admin/agents') && tenant ? await agentsCard(tenant) : null,
    runs);
  await renderRuns(runs, query.get('tenant') || tenant, runID, go);
}

function serversCard(servers, rerender, go) {
  const review = (s, decision) => async () => {
    try {
      await state.client.post(`/admin/tool-servers/${enc(s.id)}/review`, { decision, reviewer: state.reviewer || 'admin' });
      toast(`${s.id}: ${decision}`);
      await rerender();
    } catch (ex) { toast(ex.message, 'bad'); }
  };
  return card('Tool servers', table([
    { label: 'Server', value: s => h('a', { href: `#/tools/server/${enc(s.id)}`, 'data-server': s.id }, s.id) },
    { label: 'Kind', value: s => s.kind },
    { label: 'Status', value: s => badge(s.status) },
    { label: 'Tools', num: true, value: s => num((s.tools || []).filter(t => !t.removed).length) },
    { label: 'Awaiting review', num: true, value: s => num(pendingTools(s).length) },
    { label: 'Synced', value: s => s.sync_error ? h('span', { class: 'badge bad' }, s.sync_error) : when(s.synced_at) },
    { label: 'Decision', value: s => !can('POST /admin/tool-servers/{id}/review') ? badge(s.status) : h('div', { class: 'choices' },
      s.status !== 'approved' || pendingTools(s).length ? button('Approve', review(s, 'approve'), { kind: 'good small', 'aria-label': `Approve ${s.id}` }) : null,
      s.status !== 'rejected' ? button('Reject', review(s, 'reject'), { kind: 'danger small', 'aria-label': `Reject ${s.id}` }) : null) },
  ], servers, { empty: 'No tool server registered.' }));
}

/** changed reports a tool whose definition moved after a reviewer approved it. */
const changed = (t) => t.approved_hash && t.approved_hash !== t.hash;
const pendingTools = (s) => (s.tools || []).filter(t => !t.removed && (t.status === 'pending-review' || changed(t)));

function serverCard(s, rerender) {
  const decide = (t, decision) => async () => {
    try {
      await state.client.post(`/admin/tool-servers/${enc(s.id)}/review`, { decision, reviewer: state.reviewer || 'admin', tools: [t.name] });
      toast(`${s.id}/${t.name}: ${decision}`);
      await rerender();
    } catch (ex) { toast(ex.message, 'bad'); }
  };
  const mayReview = can('POST /admin/tool-servers/{id}/review');
  return card(`Server ${s.id}`,
    kv([['Kind', s.kind], ['Address', s.url || s.function || s.builtin], ['Owner', s.owner], ['Status', badge(s.status)],
      ['Prefix', s.prefix || '—'], ['Version', s.version], ['Created', `${when(s.created_at)}${s.created_by ? ' by ' + s.created_by : ''}`]]),
    h('p', { class: 'hint' }, 'A tool is callable only while its definition hash equals the one a reviewer approved; a changed definition waits for review again.'),
    table([
      { label: 'Tool', value: t => h('code', { 'data-tool': t.name }, t.name) },
      { label: 'Description', value: t => t.description || '—' },
      { label: 'Status', value: t => h('span', { 'data-tool-status': t.name }, badge(t.status), changed(t) ? [' ', h('span', { class: 'badge warn' }, 'changed since approval')] : null) },
      { label: 'Definition hash', value: t => h('span', { class: 'hash', title: t.hash, 'data-hash': t.hash }, shortHash(t.hash)) },
      { label: 'Approved hash', value: t => t.approved_hash ? h('span', { class: 'hash', title: t.approved_hash }, shortHash(t.approved_hash)) : '—' },
      { label: 'Decision', value: t => !mayReview ? '' : h('div', { class: 'choices' },
        t.status !== 'approved' || changed(t) ? button('Approve', decide(t, 'approve'), { kind: 'good small', 'aria-label': `Approve tool ${t.name}` }) : null,
        t.status !== 'rejected' ? button('Reject', decide(t, 'reject'), { kind: 'danger small', 'aria-label': `Reject tool ${t.name}` }) : null) },
    ], (s.tools || []).filter(t => !t.removed), { empty: 'The server lists no tool yet (sync it once it is reachable).' }),
    (s.reviews || []).length ? h('details', null, h('summary', null, `${s.reviews.length} reviews`), table([
      { label: 'Decision', value: r => badge(r.decision) },
      { label: 'Tools', value: r => (r.tools || []).join(', ') || 'all' },
      { label: 'Reviewer', value: r => r.reviewer },
      { label: 'At', value: r => when(r.at) },
    ], s.reviews)) : null);
}

async function grantsCard(tenant, servers, rerender) {
  const grants = (await state.client.get(`/admin/tenants/${enc(tenant)}/tool-grants`)).data || [];
  const mayRevoke = can('DELETE /admin/tenants/{id}/tool-grants/{grant}');
  const revoke = (g) => async () => {
    if (!confirm(`Revoke the grant of ${g.server} to ${tenant}${g.key_id ? ` (key ${g.key_id})` : ''}?`)) return;
    try {
      await state.client.del(`/admin/tenants/${enc(tenant)}/tool-grants/${enc(g.id)}`);
      toast(`Grant of ${g.server} revoked`);
      await rerender();
    } catch (ex) { toast(ex.message, 'bad'); }
  };
  return card(`Tool grants of ${tenant}`,
    h('p', { class: 'hint' }, `Tools are deny-by-default: ${tenant}'s keys list and call only the tools a grant names.`),
    grants.length ? table([
      { label: 'Server', value: g => h('code', { 'data-grant': g.server }, g.server) },
      { label: 'Tools', value: g => (g.tools || []).length ? g.tools.map(t => h('span', { class: 'tag' }, t)) : 'every approved tool' },
      { label: 'Key', value: g => g.key_id ? h('code', null, g.key_id) : 'every key' },
      { label: 'Calls per minute', num: true, value: g => g.calls_per_minute ? num(g.calls_per_minute) : 'no cap' },
      { label: 'Granted', value: g => `${when(g.created_at)}${g.created_by ? ' by ' + g.created_by : ''}` },
      { label: 'Action', value: g => mayRevoke ? button('Revoke', revoke(g), { kind: 'danger small', 'aria-label': `Revoke ${g.server} from ${tenant}` }) : '' },
    ], grants) : h('div', { class: 'alert info', role: 'status', 'data-testid': 'no-grants' }, `No grant: ${tenant}'s keys can call no tool.`),
    can('POST /admin/tenants/{id}/tool-grants') ? await grantForm(tenant, servers, rerender) : null);
}

async function grantForm(tenant, servers, rerender) {
  const approved = servers.filter(s => s.status === 'approved');
  if (!approved.length) return h('p', { class: 'empty' }, 'Approve a tool server to grant it.');
  const server = h('select', { name: 'grant_server' }, approved.map(s => h('option', { value: s.id }, s.id)));
  const tools = h('fieldset', { class: 'tools' });
  const drawTools = () => {
    const s = approved.find(x => x.id === server.value);
    const ok = (s?.tools || []).filter(t => !t.removed && t.status === 'approved' && !changed(t));
    mount(tools, h('legend', null, 'Tools (none ticked: every approved tool of the server)'),
      ok.length ? ok.map(t => h('div', { class: 'check' },
        h('input', { type: 'checkbox', id: `grant-tool-${t.name}`, value: t.name, name: 'grant_tool' }),
        h('label', { for: `grant-tool-${t.name}` }, t.name))) : h('p', { class: 'hint' }, 'No approved tool listed yet; the grant covers the server\'s tools as they are approved.'));
  };
  server.addEventListener('change', drawTools);
  drawTools();
  let keys = [];
  if (can('GET /admin/tenants/{id}/keys')) {
    try { keys = ((await state.client.get(`/admin/tenants/${enc(tenant)}/keys`)).data || []).filter(k => !k.revoked); } catch { /* keys are optional here */ }
  }
  const key = h('select', { name: 'grant_key' }, h('option', { value: '' }, 'Every key of the tenant'), keys.map(k => h('option', { value: k.id }, `${k.name || k.id} (${k.id})`)));
  const cpm = h('input', { type: 'number', min: '0', step: '1', name: 'grant_cpm', value: '0' });
  const err = h('div');
  return h('form', { onsubmit: async (e) => {
    e.preventDefault();
    mount(err);
    const body = { server: server.value, tools: [...tools.querySelectorAll('input:checked')].map(i => i.value) };
    if (key.value) body.key_id = key.value;
    if (Number(cpm.value) > 0) body.calls_per_minute = Number(cpm.value);
    try {
      await state.client.post(`/admin/tenants/${enc(tenant)}/tool-grants`, body);
      toast(`${server.value} granted to ${tenant}`);
      await rerender();
    } catch (ex) { mount(err, errorBox(ex)); }
  } },
  h('h3', null, `Grant tools to ${tenant}`),
  h('div', { class: 'grid three' }, field('Server', server), field('Key', key, 'Limit the grant to one key.'), field('Calls per minute', cpm, '0: no cap.')),
  tools, err, h('button', { type: 'submit', class: 'btn primary' }, 'Grant'));
}

async function myToolsCard() {
  const tools = (await state.client.get('/v1/tools')).data || [];
  return card('Tools this key may call', table([
    { label: 'Tool', value: t => h('code', null, t.name) },
    { label: 'Server', value: t => t.server },
    { label: 'Kind', value: t => t.kind },
    { label: 'Description', value: t => t.description || '—' },
    { label: 'Definition hash', value: t => h('span', { class: 'hash', title: t.hash }, shortHash(t.hash)) },
  ], tools, { empty: 'No tool is granted to this key: tools are deny-by-default.' }));
}

async function agentsCard(tenant) {
  const agents = (await state.client.get('/admin/agents', { tenant })).data || [];
  return card(`Agents of ${tenant}`, table([
    { label: 'Agent', value: a => h('code', { 'data-agent': a.id }, a.id) },
    { label: 'Version', num: true, value: a => a.version },
    { label: 'Model', value: a => h('code', null, a.model) },
    { label: 'Tools', value: a => [...(a.tools || []), ...(a.agents || []).map(x => `agent ${x}`)].map(t => h('span', { class: 'tag' }, t)) },
    { label: 'Needs approval', value: a => (a.require_approval || []).join(', ') || '—' },
    { label: 'Limits', value: a => [`${a.max_steps || 10} steps`, a.budget?.max_usd ? usd(a.budget.max_usd) : null].filter(Boolean).join(', ') },
    { label: 'Saved', value: a => `${when(a.created_at)}${a.created_by ? ' by ' + a.created_by : ''}` },
  ], agents, { empty: `${tenant} has no agent yet.` }));
}

/**
 * renderRuns lists recent durable runs (platform credentials, from the agent state
 * machine's executions) or opens one by ID (tenants' keys), and draws the chosen run.
 */
async function renderRuns(el, tenant, runID, go) {
  const readsRuns = isPlatform() ? canAsTenant('GET /v1/agent-runs/{id}') : can('GET /v1/agent-runs/{id}');
  const listsExecutions = can('GET /admin/executions');
  if (!readsRuns && !listsExecutions) return;
  let recent = [];
  if (listsExecutions) {
    const list = (await state.client.get('/admin/executions', { machine: 'agent' })).data || [];
    recent = await Promise.all(list.slice(0, 20).map(async x => {
      let input = x.input;
      if (input === undefined) {
        try { input = (await state.client.get(`/admin/executions/${enc(x.executionArn)}`)).input; } catch { input = null; }
      }
      if (typeof input === 'string') { try { input = JSON.parse(input); } catch { input = null; } }
      return { ...x, run: input?.run_id, tenant: input?.tenant };
    }));
  }
  const idIn = h('input', { name: 'run_id', value: runID, placeholder: 'run_…', required: true });
  const runEl = h('div');
  mount(el, card('Agent runs',
    listsExecutions ? table([
      { label: 'Run', value: x => x.run && readsRuns ? h('a', { href: `#/tools/run/${enc(x.run)}?tenant=${enc(x.tenant || '')}`, 'data-run': x.run }, x.run) : h('code', null, x.run || x.name) },
      { label: 'Tenant', value: x => x.tenant || '—' },
      { label: 'Execution', value: x => h('a', { href: `#/flows/${enc(x.executionArn)}` }, x.name) },
      { label: 'Status', value: x => badge(x.status) },
      { label: 'Started', value: x => when(x.startDate) },
    ], recent, { empty: 'No agent run yet.' }) : null,
    readsRuns && !isPlatform() ? h('form', { class: 'row', onsubmit: (e) => { e.preventDefault(); go(`tools/run/${enc(idIn.value.trim())}`); } },
      field('Run ID', idIn, 'POST /v1/agent-runs answers with it.'), h('button', { type: 'submit', class: 'btn secondary' }, 'Open run')) : null),
  runEl);
  if (!runID || !readsRuns) return;
  const runTenant = isPlatform() ? (recent.find(x => x.run === runID)?.tenant || tenant) : state.session.tenant;
  try {
    const client = await tenantClient(runTenant);
    const run = await client.get(`/v1/agent-runs/${enc(runID)}`);
    mount(runEl, runCard(run));
  } catch (ex) { mount(runEl, card(`Run ${runID}`, errorBox(ex))); }
}

function runCard(run) {
  const u = run.usage || {};
  return card(`Run ${run.id}`,
    kv([['Agent', `${run.agent} v${run.agent_version}`], ['Tenant', run.tenant], ['Status', h('span', { 'data-run-status': run.status }, badge(run.status))],
      ['Steps', num(u.steps)], ['Tool calls', num(u.tool_calls)], ['Tokens in/out', `${num(u.input_tokens)} / ${num(u.output_tokens)}`], ['Cost', usd(u.cost_usd)],
      ['Started', when(run.created_at)], ['Updated', when(run.updated_at)],
      run.incomplete ? ['Incomplete', run.incomplete] : null, run.error ? ['Error', run.error] : null]),
    (run.approvals || []).length ? h('div', { class: 'alert warn' }, `Waiting for a reviewer's decision on ${run.approvals.map(a => a.name).join(', ')}.`) : null,
    (run.functions || []).length ? h('div', { class: 'alert info' }, `Waiting for the client's output of ${run.functions.map(a => a.name).join(', ')}.`) : null,
    h('h3', null, 'Steps'),
    (run.trace || []).length ? h('ul', { class: 'steps root', 'aria-label': `Steps of run ${run.id}`, 'data-testid': 'run-steps' }, run.trace.map(stepItem)) : h('p', { class: 'empty' }, 'No step yet.'),
    run.output ? [h('h3', null, 'Output'), pre(run.output)] : null);
}

/** stepItem renders a step and, nested under it, the steps it made (a sub-agent's). */
function stepItem(s) {
  const meta = [s.model, s.input_tokens || s.output_tokens ? `${num(s.input_tokens)}→${num(s.output_tokens)} tokens` : null,
    s.cost_usd ? usd(s.cost_usd) : null, `${num(s.duration_ms)} ms`].filter(Boolean).join(' · ');
  return h('li', { 'data-step-kind': s.kind },
    h('div', { class: 'step' }, h('span', { class: 'badge neutral' }, s.kind), h('code', null, s.name), badge(s.status), h('span', { class: 'meta' }, meta)),
    s.error ? h('div', { class: 'reason' }, s.error) : null,
    s.arguments || s.output ? h('details', null, h('summary', null, 'Arguments and output'),
      s.arguments ? pre(s.arguments) : null, s.output ? pre(s.output) : null) : null,
    (s.children || []).length ? h('ul', { class: 'steps' }, s.children.map(stepItem)) : null);
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
      go(`tools/server/${enc(s.id)}`);
    } catch (ex) { mount(err, errorBox(ex)); }
  } }, h('div', { class: 'grid three' }, field('Server ID', id), field('Kind', kind), field('Address', target)), hint,
  field('Description', desc), err, h('button', { type: 'submit', class: 'btn primary' }, 'Register')));
}
