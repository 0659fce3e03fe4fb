import { h, mount, field, card, table, badge, button, errorBox, toast, when, num, usd, kv } from '../dom.js';
import { state, tenants, sessionKeyIDs, isPlatform, can } from '../state.js';
import { header } from '../ui.js';

const LIMITS = [
  ['requests_per_minute', 'Requests per minute'], ['tokens_per_minute', 'Tokens per minute'],
  ['daily_tokens', 'Tokens per day'], ['monthly_tokens', 'Tokens per month'],
  ['daily_usd', 'USD per day'], ['monthly_usd', 'USD per month'],
];

const list = (s) => s.split(',').map(x => x.trim()).filter(Boolean);

function limitsFields(current = {}) {
  const inputs = {};
  const el = h('fieldset', null, h('legend', null, 'Limits (empty = unlimited)'),
    h('div', { class: 'grid three' }, LIMITS.map(([k, label]) => {
      inputs[k] = h('input', { type: 'number', min: '0', step: k.endsWith('usd') ? '0.01' : '1', name: k, value: current[k] ?? '' });
      return field(label, inputs[k]);
    })));
  // Every field is sent: 0 clears a limit the merge patch would otherwise keep.
  const value = () => Object.fromEntries(LIMITS.map(([k]) => [k, inputs[k].value === '' ? 0 : Number(inputs[k].value)]));
  return { el, value };
}

function limitsText(l = {}) {
  const parts = LIMITS.filter(([k]) => l[k]).map(([k, label]) => `${label.toLowerCase()}: ${k.endsWith('usd') ? usd(l[k]) : num(l[k])}`);
  return parts.length ? parts.join(' · ') : 'unlimited';
}

export async function render(main, { params, go }) {
  if (!isPlatform()) return renderOwn(main, params);
  const [resp, policies] = await Promise.all([state.client.get('/admin/tenants'), state.client.get('/admin/guardrail-policies').catch(() => ({ data: [] }))]);
  const all = resp.data || [];
  const selected = params[0] ? all.find(t => t.id === params[0]) : null;
  const detail = h('div');
  mount(main,
    header('Tenants & keys', `${all.length} tenants. Each has its own keys, model access, limits and guardrail policy.`),
    h('div', { class: 'grid two' },
      card('Tenants', table([
        { label: 'Tenant', value: t => h('a', { href: `#/tenants/${encodeURIComponent(t.id)}` }, t.id) },
        { label: 'Name', value: t => t.name },
        { label: 'Status', value: t => badge(t.status) },
        { label: 'Limits', value: t => h('span', { class: 'muted' }, limitsText(t.limits)) },
      ], all, { rowAttrs: t => ({ class: t.id === selected?.id ? 'selected' : null }) })),
      can('POST /admin/tenants') ? createTenantCard(go) : null),
    detail);
  if (selected) await renderTenant(detail, selected, policies.data || []);
}

function createTenantCard(go) {
  const id = h('input', { name: 'id', required: true, pattern: '[a-z0-9][a-z0-9\\-]{1,62}', placeholder: 'acme' });
  const name = h('input', { name: 'name', required: true, placeholder: 'Acme Corp' });
  const models = h('input', { name: 'allowed_models', placeholder: 'local-chat, local-embed' });
  const tags = h('input', { name: 'tags', placeholder: 'cost-center=retail' });
  const limits = limitsFields();
  const err = h('div');
  const form = h('form', { onsubmit: async (e) => {
    e.preventDefault();
    mount(err);
    try {
      const body = { id: id.value.trim(), name: name.value.trim(), limits: limits.value() };
      if (models.value.trim()) body.allowed_models = list(models.value);
      if (tags.value.trim()) body.tags = Object.fromEntries(list(tags.value).map(t => t.split('=').map(s => s.trim())));
      await state.client.post('/admin/tenants', body);
      await tenants(true);
      toast(`Tenant ${body.id} created`);
      go(`tenants/${body.id}`);
    } catch (ex) { mount(err, errorBox(ex)); }
  } },
  h('div', { class: 'grid two' }, field('Tenant ID', id, 'Lowercase letters, digits and hyphens.'), field('Name', name)),
  field('Allowed models', models, 'Comma-separated IDs or aliases; empty allows every approved model.'),
  field('Cost-allocation tags', tags, 'key=value pairs, comma-separated; chargeback reports group by them.'),
  limits.el, err, h('button', { type: 'submit', class: 'btn primary' }, 'Create tenant'));
  return card('Onboard a tenant', form);
}

/** renderOwn shows a tenant's own credential its tenant only: another's is refused. */
async function renderOwn(main, params) {
  const id = params[0] || state.session.tenant;
  const [t, policies] = await Promise.all([
    state.client.get(`/admin/tenants/${encodeURIComponent(id)}`),
    state.client.get('/admin/guardrail-policies').catch(() => ({ data: [] })),
  ]);
  const detail = h('div');
  mount(main, header('Tenants & keys', `Tenant ${t.id}: its keys, limits and guardrail policy.`), detail);
  await renderTenant(detail, t, policies.data || []);
}

/** keyRoles are the roles the signed-in credential may give a key of tenant t. */
function keyRoles(t) {
  if (state.session.role === 'platform-admin') return ['developer', 'tenant-admin', 'viewer', 'auditor'];
  const allowed = t.key_policy?.roles?.length ? t.key_policy.roles : ['developer', 'viewer', 'auditor'];
  return ['developer', 'tenant-admin', 'viewer', 'auditor'].filter(r => allowed.includes(r));
}

async function renderTenant(el, t, policies) {
  const [keys, principals] = await Promise.all([
    state.client.get(`/admin/tenants/${encodeURIComponent(t.id)}/keys`),
    state.client.get(`/admin/tenants/${encodeURIComponent(t.id)}/iam-principals`).catch(() => ({ data: [] })),
  ]);
  const mine = sessionKeyIDs();
  const secretBox = h('div');
  const keysBox = h('div');
  const refreshKeys = async () => {
    const k = await state.client.get(`/admin/tenants/${encodeURIComponent(t.id)}/keys`);
    drawKeys(k.data || []);
  };
  const drawKeys = (ks) => mount(keysBox, table([
    { label: 'Key', value: k => h('span', null, h('code', null, k.id), mine.has(k.id) ? h('span', { class: 'tag' }, 'this console') : null) },
    { label: 'Name', value: k => k.name || '—' },
    { label: 'Role', value: k => h('span', { class: 'tag', 'data-key-role': k.role }, k.role || 'developer') },
    { label: 'Prefix', value: k => h('code', null, k.prefix + '…') },
    { label: 'Scopes', value: k => (k.scopes || []).map(s => h('span', { class: 'tag' }, s)) },
    { label: 'Created', value: k => when(k.created_at) },
    { label: 'Expires', value: k => k.expires_at ? when(k.expires_at) : 'never' },
    { label: 'Last used', value: k => k.last_used_at ? when(k.last_used_at) : 'never' },
    { label: 'Status', value: k => badge(k.revoked ? 'revoked' : (k.expires_at && new Date(k.expires_at) < new Date() ? 'expired' : 'active')) },
    { label: 'Action', value: k => k.revoked || !can('DELETE /admin/keys/{id}') ? '' : button('Revoke', async () => {
      if (!confirm(`Revoke ${k.id}? Applications using it stop working at once.`)) return;
      try {
        await state.client.del(`/admin/keys/${encodeURIComponent(k.id)}`);
        toast(`Key ${k.id} revoked`);
        await refreshKeys();
      } catch (ex) { toast(ex.message, 'bad'); }
    }, { kind: 'danger small', 'aria-label': `Revoke key ${k.id}` }) },
  ], ks, { caption: `Keys of ${t.id}`, empty: 'No keys yet.' }));
  drawKeys(keys.data || []);

  // Issue a key.
  const kname = h('input', { name: 'key_name', placeholder: 'ci-pipeline' });
  const krole = h('select', { name: 'key_role' }, keyRoles(t).map(r => h('option', { value: r }, r)));
  const scopeBoxes = ['inference', 'retrieval', 'admin-read'].map(s => ({ s, box: h('input', { type: 'checkbox', id: `scope-${s}`, checked: s === 'inference' || s === 'retrieval' }) }));
  const days = h('input', { type: 'number', min: '0', name: 'expires_days', placeholder: 'never' });
  const kerr = h('div');
  const issue = h('form', { onsubmit: async (e) => {
    e.preventDefault();
    mount(kerr);
    try {
      // Leaving every scope unticked asks for the role's defaults.
      const scopes = scopeBoxes.filter(x => x.box.checked).map(x => x.s);
      const body = { name: kname.value.trim() || undefined, role: krole.value, scopes: krole.value === 'developer' ? scopes : undefined };
      if (days.value) body.expires_at = new Date(Date.now() + Number(days.value) * 86400_000).toISOString();
      const created = await state.client.post(`/admin/tenants/${encodeURIComponent(t.id)}/keys`, body);
      mount(secretBox, h('div', { class: 'alert good', role: 'alert' },
        h('p', null, h('strong', null, `Key ${created.id} issued.`), ' Copy it now: it is shown only once and is not stored by the console.'),
        h('div', { class: 'secret', 'data-secret': 'api-key' }, created.key),
        button('Copy', async () => { await navigator.clipboard?.writeText(created.key); toast('Copied'); }, { kind: 'secondary small' })));
      await refreshKeys();
    } catch (ex) { mount(kerr, errorBox(ex)); }
  } },
  h('div', { class: 'row' }, field('Key name', kname), field('Role', krole, 'Tenant admins manage this tenant; viewers and auditors read it; developers call models.'), field('Expires in (days)', days)),
  h('fieldset', null, h('legend', null, 'Scopes (developer keys; other roles get their role\'s)'), h('div', { class: 'row' }, scopeBoxes.map(x => h('div', { class: 'check' }, x.box, h('label', { for: x.box.id }, x.s))))),
  kerr, h('button', { type: 'submit', class: 'btn primary' }, 'Issue key'));

  // Edit settings and limits.
  const name = h('input', { name: 'name', value: t.name });
  const status = h('select', { name: 'status' }, ['active', 'suspended'].map(s => h('option', { value: s, selected: t.status === s }, s)));
  const models = h('input', { name: 'allowed_models', value: (t.allowed_models || []).join(', '), placeholder: 'every approved model' });
  const policy = h('select', { name: 'guardrail_policy' }, h('option', { value: '' }, 'none'),
    policies.map(p => h('option', { value: p.id, selected: p.id === t.guardrail_policy }, `${p.name || p.id} (${p.id})`)));
  const limits = limitsFields(t.limits || {});
  const perr = h('div');
  const edit = h('form', { onsubmit: async (e) => {
    e.preventDefault();
    mount(perr);
    try {
      await state.client.patch(`/admin/tenants/${encodeURIComponent(t.id)}`, {
        name: name.value.trim(), status: status.value, allowed_models: list(models.value),
        guardrail_policy: policy.value, limits: limits.value(),
      });
      toast(`Tenant ${t.id} updated`);
    } catch (ex) { mount(perr, errorBox(ex)); }
  } },
  h('div', { class: 'grid two' }, field('Name', name), field('Status', status, 'Suspended tenants are refused on every call.')),
  field('Allowed models', models, 'Comma-separated; empty allows every approved model.'),
  field('Guardrail policy', policy, 'Applied to every request of the tenant, input and output.'),
  limits.el, perr, h('button', { type: 'submit', class: 'btn primary' }, 'Save changes'));

  // IAM principals.
  const arn = h('input', { name: 'arn', placeholder: 'arn:aws:iam::123456789012:role/team-app' });
  const ierr = h('div');
  const iam = h('div', null,
    table([
      { label: 'Principal ARN', value: p => h('code', null, p.arn) },
      { label: 'Scopes', value: p => (p.scopes || []).map(s => h('span', { class: 'tag' }, s)) },
      { label: 'Action', value: p => button('Remove', async () => {
        await state.client.del(`/admin/tenants/${encodeURIComponent(t.id)}/iam-principals/${encodeURIComponent(p.arn)}`);
        toast('Mapping removed');
        renderTenant(el, t, policies);
      }, { kind: 'danger small' }) },
    ], principals.data || [], { empty: 'No IAM principals map to this tenant.' }),
    h('form', { class: 'row', onsubmit: async (e) => {
      e.preventDefault();
      mount(ierr);
      try {
        await state.client.post(`/admin/tenants/${encodeURIComponent(t.id)}/iam-principals`, { arn: arn.value.trim() });
        toast('Principal mapped');
        renderTenant(el, t, policies);
      } catch (ex) { mount(ierr, errorBox(ex)); }
    } }, field('Map an IAM principal', arn), h('button', { type: 'submit', class: 'btn secondary' }, 'Map')), ierr);

  const kp = t.key_policy || {};
  mount(el,
    h('h2', { class: 'section' }, `Tenant ${t.id}`),
    card(null, kv([['Name', t.name], ['Status', badge(t.status)], ['Isolation tier', t.isolation_tier || 'pool'],
      ['Guardrail policy', t.guardrail_policy || 'none'], ['Allowed models', (t.allowed_models || []).join(', ') || 'every approved model'],
      ['Tags', Object.entries(t.tags || {}).map(([k, v]) => `${k}=${v}`).join(', ') || '—'],
      ['Key policy', `tenant admins issue ${(kp.roles?.length ? kp.roles : ['developer', 'viewer', 'auditor']).join(', ')} keys` +
        (kp.max_keys ? `, at most ${kp.max_keys} active` : '') + (kp.max_lifetime_days ? `, living at most ${kp.max_lifetime_days} days` : '')],
      ['Limits', limitsText(t.limits)], ['Created', when(t.created_at)]])),
    card('API keys', secretBox, keysBox, can('POST /admin/tenants/{id}/keys') ? [h('h3', null, 'Issue a key'), issue] : null),
    h('div', { class: 'grid two' },
      can('PATCH /admin/tenants/{id}') ? card('Settings and limits', edit) : null,
      can('POST /admin/tenants/{id}/iam-principals') ? card('IAM principals', iam) : null));
}
