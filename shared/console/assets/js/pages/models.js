import { h, mount, field, card, table, badge, button, errorBox, toast, when, usd, kv, num } from '../dom.js';
import { lineageGraph } from '../charts.js';
import { state, isAdmin, can } from '../state.js';
import { header } from '../ui.js';

const list = (s) => s.split(',').map(x => x.trim()).filter(Boolean);
const price = (m) => `${usd(m.prices?.input_per_million)} / ${usd(m.prices?.output_per_million)}`;

export async function render(main, { params, go, rerender }) {
  if (!isAdmin()) return renderTenant(main);
  const resp = await state.client.get('/admin/models');
  const models = resp.data || [];
  const pending = models.filter(m => m.status === 'pending-review');
  const selected = params[0] ? models.find(m => m.id === params.join('/')) : null;
  const detail = h('div');
  mount(main,
    header('Model hub', 'Every model the platform may call: review status, deployments, prices, aliases and lineage.'),
    card(`Review queue (${pending.length})`, pending.length === 0 ? h('p', { class: 'empty' }, 'No model is waiting for review.') :
      table([
        { label: 'Model', value: m => h('a', { href: `#/models/${m.id}` }, m.id) },
        { label: 'Kind', value: m => m.kind },
        { label: 'Deployments', value: m => (m.deployments || []).map(d => h('span', { class: 'tag' }, `${d.provider}:${d.model}`)) },
        { label: 'Price in/out per 1M', value: price },
        { label: 'Proposed', value: m => `${when(m.created_at)}${m.created_by ? ' by ' + m.created_by : ''}` },
        { label: 'Decision', value: m => can('POST /admin/models/{id...}') ? reviewButtons(m, rerender) : badge(m.status) },
      ], pending)),
    card('Models', table([
      { label: 'Model', value: m => h('a', { href: `#/models/${m.id}` }, m.id) },
      { label: 'Kind', value: m => m.kind },
      { label: 'Status', value: m => badge(m.status) },
      { label: 'Aliases', value: m => (m.aliases || []).map(a => h('span', { class: 'tag' }, a)) },
      { label: 'Deployments', num: true, value: m => num((m.deployments || []).length) },
      { label: 'Price in/out per 1M', value: price },
      { label: 'Fallbacks', value: m => (m.fallbacks || []).join(', ') || '—' },
    ], models, { rowAttrs: m => ({ class: m.id === selected?.id ? 'selected' : null }) })),
    lineageCard(models),
    detail,
    can('POST /admin/models') ? registerCard(go) : null);
  if (selected) renderModel(detail, selected, rerender);
}

function reviewButtons(m, rerender) {
  const decide = (decision) => async () => {
    try {
      await state.client.post(`/admin/models/${m.id}/review`, { decision, reviewer: state.reviewer || 'admin' });
      toast(`${m.id} ${decision === 'approve' ? 'approved' : 'rejected'}`);
      await rerender();
    } catch (ex) { toast(ex.message, 'bad'); }
  };
  return h('div', { class: 'choices' },
    button('Approve', decide('approve'), { kind: 'good small', 'aria-label': `Approve ${m.id}` }),
    button('Reject', decide('reject'), { kind: 'danger small', 'aria-label': `Reject ${m.id}` }));
}

function lineageCard(models) {
  const custom = models.filter(m => m.lineage?.base_model);
  if (custom.length === 0) {
    return card('Lineage of custom models', h('p', { class: 'empty' }, 'No custom model yet: fine-tuned models appear here with the base model and dataset they came from.'));
  }
  const ids = new Set();
  const edges = custom.map(m => { ids.add(m.id); ids.add(m.lineage.base_model); return { from: m.lineage.base_model, to: m.id, label: m.lineage.dataset ? `dataset ${m.lineage.dataset}` : '' }; });
  const byId = new Map(models.map(m => [m.id, m]));
  const nodes = [...ids].map(id => ({ id, custom: !!byId.get(id)?.lineage?.base_model, label: byId.get(id) ? byId.get(id).status : 'external base' }));
  return card('Lineage of custom models', lineageGraph(nodes, edges),
    table([
      { label: 'Custom model', value: m => h('a', { href: `#/models/${m.id}` }, m.id) },
      { label: 'Base model', value: m => m.lineage.base_model },
      { label: 'Dataset', value: m => m.lineage.dataset || '—' },
      { label: 'Job', value: m => m.lineage.job_arn ? h('code', null, m.lineage.job_arn) : '—' },
      { label: 'Metrics', value: m => Object.entries(m.lineage.metrics || {}).map(([k, v]) => `${k} ${Number(v).toFixed(3)}`).join(', ') || '—' },
    ], custom));
}

function renderModel(el, m, rerender) {
  const aliases = h('input', { name: 'aliases', value: (m.aliases || []).join(', ') });
  const fallbacks = h('input', { name: 'fallbacks', value: (m.fallbacks || []).join(', ') });
  const pin = h('input', { type: 'number', step: '0.0001', min: '0', name: 'input_per_million', value: m.prices?.input_per_million ?? 0 });
  const pout = h('input', { type: 'number', step: '0.0001', min: '0', name: 'output_per_million', value: m.prices?.output_per_million ?? 0 });
  const err = h('div');
  const form = h('form', { onsubmit: async (e) => {
    e.preventDefault();
    mount(err);
    try {
      await state.client.patch(`/admin/models/${m.id}`, { aliases: list(aliases.value), fallbacks: list(fallbacks.value),
        prices: { input_per_million: Number(pin.value), output_per_million: Number(pout.value) } });
      toast(`${m.id} updated`);
      await rerender();
    } catch (ex) { mount(err, errorBox(ex)); }
  } },
  field('Aliases', aliases, 'Other names callers may use, comma-separated.'),
  field('Fallbacks', fallbacks, 'Models tried in order when every deployment fails.'),
  h('div', { class: 'grid two' }, field('Input USD per 1M tokens', pin), field('Output USD per 1M tokens', pout)),
  err, h('button', { type: 'submit', class: 'btn primary' }, 'Save'));
  const lifecycle = h('div', { class: 'choices' },
    ['approve', 'reject', 'deprecate', 'retire'].map(d => button(d[0].toUpperCase() + d.slice(1), async () => {
      try {
        await state.client.post(`/admin/models/${m.id}/review`, { decision: d, reviewer: state.reviewer || 'admin' });
        toast(`${m.id}: ${d}`);
        await rerender();
      } catch (ex) { toast(ex.message, 'bad'); }
    }, { kind: d === 'approve' ? 'good small' : 'secondary small' })));
  mount(el, h('div', { class: 'grid two' },
    card(`Model ${m.id}`,
      kv([['Kind', m.kind], ['Status', badge(m.status)], ['Description', m.description], ['Owner', m.owner],
        ['Context window', m.context_window ? num(m.context_window) : '—'], ['Version', m.version], ['Updated', when(m.updated_at)]]),
      h('h3', null, 'Deployments'),
      table([
        { label: 'Provider', value: d => d.provider },
        { label: 'Model', value: d => h('code', null, d.model) },
        { label: 'Endpoint', value: d => d.base_url || d.region || '—' },
        { label: 'Credential', value: d => d.api_key_env ? `env ${d.api_key_env}` : d.api_key_secret ? 'Secrets Manager' : '—' },
        { label: 'Weight', num: true, value: d => d.weight || 1 },
      ], m.deployments || []),
      h('h3', null, 'Reviews'),
      table([
        { label: 'Decision', value: r => badge(r.decision) },
        { label: 'Reviewer', value: r => r.reviewer },
        { label: 'Comment', value: r => r.comment || '—' },
        { label: 'At', value: r => when(r.at) },
      ], m.reviews || [], { empty: 'Not reviewed yet.' }),
      can('POST /admin/models/{id...}') ? [h('h3', null, 'Lifecycle'), lifecycle] : null),
    can('PATCH /admin/models/{id...}') ? card('Prices, aliases and fallbacks', form) : null));
}

function registerCard(go) {
  const id = h('input', { name: 'id', required: true, placeholder: 'gpt-4o-mini' });
  const kind = h('select', { name: 'kind' }, h('option', { value: 'chat' }, 'chat'), h('option', { value: 'embedding' }, 'embedding'));
  const provider = h('select', { name: 'provider' }, ['openai', 'bedrock', 'local'].map(p => h('option', { value: p }, p)));
  const baseURL = h('input', { name: 'base_url', placeholder: 'https://api.openai.com/v1' });
  const pmodel = h('input', { name: 'provider_model', required: true, placeholder: 'gpt-4o-mini' });
  const keyEnv = h('input', { name: 'api_key_env', placeholder: 'OPENAI_API_KEY' });
  const region = h('input', { name: 'region', placeholder: 'us-east-1 (Bedrock)' });
  const fallbacks = h('input', { name: 'fallbacks', placeholder: 'local-chat' });
  const pin = h('input', { type: 'number', step: '0.0001', min: '0', name: 'input_per_million', value: '0' });
  const pout = h('input', { type: 'number', step: '0.0001', min: '0', name: 'output_per_million', value: '0' });
  const err = h('div');
  const form = h('form', { onsubmit: async (e) => {
    e.preventDefault();
    mount(err);
    const dep = { provider: provider.value, model: pmodel.value.trim() };
    if (baseURL.value.trim()) dep.base_url = baseURL.value.trim();
    if (keyEnv.value.trim()) dep.api_key_env = keyEnv.value.trim();
    if (region.value.trim()) dep.region = region.value.trim();
    try {
      const m = await state.client.post('/admin/models', { id: id.value.trim(), kind: kind.value, deployments: [dep],
        fallbacks: list(fallbacks.value), prices: { input_per_million: Number(pin.value), output_per_million: Number(pout.value) } });
      toast(`${m.id} proposed; it is callable once approved`);
      go(`models/${m.id}`);
    } catch (ex) { mount(err, errorBox(ex)); }
  } },
  h('div', { class: 'grid three' }, field('Model ID', id), field('Kind', kind), field('Provider', provider)),
  h('div', { class: 'grid three' }, field('Provider model', pmodel), field('Base URL', baseURL, 'Any OpenAI-compatible endpoint.'), field('Region', region)),
  h('div', { class: 'grid three' }, field('API key environment variable', keyEnv, 'Provider keys never pass through the console.'), field('Input USD per 1M', pin), field('Output USD per 1M', pout)),
  field('Fallbacks', fallbacks),
  err, h('button', { type: 'submit', class: 'btn primary' }, 'Propose model'));
  return card('Register a model', form);
}

async function renderTenant(main) {
  const resp = await state.client.get('/v1/models');
  mount(main, header('Models', `The models your key may call (tenant ${state.session.tenant}).`),
    card(null, table([
      { label: 'Model', value: m => h('code', null, m.id) },
      { label: 'Owned by', value: m => m.owned_by || '—' },
      { label: 'Created', value: m => m.created ? when(new Date(m.created * 1000).toISOString()) : '—' },
    ], resp.data || [])));
}
