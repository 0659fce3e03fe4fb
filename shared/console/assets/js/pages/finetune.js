// Fine-tuning: a tenant's jobs with their status and loss curve, the validator's findings
// by line, the custom models waiting for a person's approval, the lineage from base model
// and datasets through the job to the custom model and its aliases, and alias promotion
// and rollback. Each part shows only when the access policy lets the credential call it.
import { h, mount, field, card, table, badge, button, errorBox, toast, when, num, fixed, kv, usd } from '../dom.js';
import { lineChart, lineageGraph } from '../charts.js';
import { state, isPlatform, can, canAsTenant, tenantClient } from '../state.js';
import { header, tenantPicker } from '../ui.js';

const secs = (t) => (t ? when(new Date(t * 1000).toISOString()) : '—');
const stageTone = (s) => ({ awaiting_approval: 'pending-review', promoted: 'approved', training: 'running', evaluating: 'running', validating: 'running', registering: 'running' })[s] || s;

/** stageBadge shows a flow stage with the tone of the status it resembles. */
function stageBadge(stage) {
  const b = badge(stageTone(stage || ''));
  b.textContent = (stage || '—').replace(/_/g, ' ');
  return b;
}

/** jobsOf reads a tenant's jobs: the admin API for readers, else the tenant API. */
async function jobsOf(tenant) {
  if (can('GET /admin/fine_tuning/jobs')) return (await state.client.get('/admin/fine_tuning/jobs', { tenant, limit: 100 })).data || [];
  if (can('GET /v1/fine_tuning/jobs')) return (await state.client.get('/v1/fine_tuning/jobs', { limit: 100 })).data || [];
  return [];
}

async function jobOf(id) {
  if (can('GET /admin/fine_tuning/jobs/{id}')) return state.client.get(`/admin/fine_tuning/jobs/${encodeURIComponent(id)}`);
  return state.client.get(`/v1/fine_tuning/jobs/${encodeURIComponent(id)}`);
}

/** eventsOf pages through a job's events (newest first), up to 1000. */
async function eventsOf(id) {
  const path = can('GET /admin/fine_tuning/jobs/{id}/events')
    ? `/admin/fine_tuning/jobs/${encodeURIComponent(id)}/events`
    : can('GET /v1/fine_tuning/jobs/{id}/events') ? `/v1/fine_tuning/jobs/${encodeURIComponent(id)}/events` : null;
  if (!path) return null;
  const out = [];
  let after;
  for (let i = 0; i < 10; i++) {
    const page = await state.client.get(path, { limit: 100, after });
    out.push(...(page.data || []));
    if (!page.has_more || !page.data?.length) break;
    after = page.data[page.data.length - 1].id;
  }
  return out;
}

export async function render(main, { params, go, rerender }) {
  const picker = await tenantPicker(() => go('fine-tuning'));
  const tenant = picker.value();
  const models = can('GET /admin/models') ? (await state.client.get('/admin/models')).data || [] : [];
  const jobs = tenant ? await jobsOf(tenant) : [];
  const custom = models.filter(m => m.lineage?.job || m.tenant);
  const pending = custom.filter(m => m.status === 'pending-review');
  const jobID = params[0] || '';
  const detail = h('div');
  mount(main,
    header('Fine-tuning', 'Custom models: jobs with their loss curves and validation findings, the models waiting for approval, their lineage and the aliases that serve them.'),
    models.length || can('GET /admin/models') ? reviewCard(pending, rerender) : null,
    card('Jobs', picker.el ? h('div', { class: 'row' }, picker.el) : null,
      table([
        { label: 'Job', value: j => h('a', { href: `#/fine-tuning/${encodeURIComponent(j.id)}`, 'data-job': j.id }, j.id) },
        { label: 'Base model', value: j => h('code', null, j.model) },
        { label: 'Status', value: j => h('span', { 'data-job-status': j.status }, badge(j.status)) },
        { label: 'Stage', value: j => h('span', { 'data-job-stage': j.customization?.stage || '' }, stageBadge(j.customization?.stage)) },
        { label: 'Custom model', value: j => j.fine_tuned_model ? h('code', null, j.fine_tuned_model) : '—' },
        { label: 'Trained tokens', num: true, value: j => j.trained_tokens ? num(j.trained_tokens) : '—' },
        { label: 'Created', value: j => secs(j.created_at) },
        { label: 'Error', value: j => j.error ? h('span', { class: 'reason' }, j.error.code) : '' },
      ], jobs, { empty: `No fine-tuning job for ${tenant || 'this tenant'} yet.`, rowAttrs: j => ({ class: j.id === jobID ? 'selected' : null }) })),
    detail,
    lineageCard(custom, jobs),
    can('GET /admin/aliases/history') || can('POST /admin/aliases/promote') ? aliasCard(models, rerender) : null,
    canAsTenant('POST /v1/fine_tuning/jobs') && canAsTenant('POST /v1/files') && tenant ? startCard(tenant, go) : null);
  if (jobID) {
    try { await renderJob(detail, jobID, models); } catch (ex) { mount(detail, card(`Job ${jobID}`, errorBox(ex))); }
  }
}

function reviewCard(pending, rerender) {
  const mayDecide = can('POST /admin/models/{id...}');
  const decide = (m, decision) => async () => {
    try {
      await state.client.post(`/admin/models/${m.id}/review`, { decision, reviewer: state.reviewer || 'admin' });
      toast(`${m.id} ${decision === 'approve' ? 'approved' : 'rejected'}`);
      await rerender();
    } catch (ex) { toast(ex.message, 'bad'); }
  };
  const scores = (m) => {
    const ev = m.lineage?.evaluation || {};
    const metric = Object.keys(ev.candidate || {})[0];
    if (!metric) return '—';
    return Object.entries(ev).map(([target, s]) => `${target} ${metric} ${fixed(s[metric], 1)}`).join(' · ');
  };
  return card(`Custom models awaiting approval (${pending.length})`,
    h('p', { class: 'hint' }, 'A fine-tuned model is registered pending review and nobody can call it. Approving it lets the job\'s flow promote its alias; rejecting it ends the job.'),
    table([
      { label: 'Model', value: m => h('code', null, m.id) },
      { label: 'Tenant', value: m => m.tenant || '—' },
      { label: 'Base model', value: m => m.lineage?.base_model || '—' },
      { label: 'Job', value: m => m.lineage?.job ? h('a', { href: `#/fine-tuning/${encodeURIComponent(m.lineage.job)}` }, m.lineage.job) : '—' },
      { label: 'Evaluation', value: scores },
      { label: 'Decision', value: m => mayDecide ? h('div', { class: 'choices' },
        button('Approve', decide(m, 'approve'), { kind: 'good small', 'aria-label': `Approve ${m.id}` }),
        button('Reject', decide(m, 'reject'), { kind: 'danger small', 'aria-label': `Reject ${m.id}` })) : badge(m.status) },
    ], pending, { empty: 'No custom model is waiting for review.' }));
}

async function renderJob(el, id, models) {
  const [job, events] = await Promise.all([jobOf(id), eventsOf(id).catch(() => null)]);
  const c = job.customization || {};
  const steps = (events || []).filter(e => e.type === 'metrics' && e.data && e.data.train_loss !== undefined)
    .map(e => e.data).sort((a, b) => a.step - b.step);
  const rep = c.validation;
  const model = models.find(m => m.id === job.fine_tuned_model);
  const evalTable = c.evaluation ? table([
    { label: 'Target', value: r => r.target },
    { label: 'Model', value: r => h('code', null, r.model || '—') },
    ...Object.keys(Object.values(c.evaluation.scores || {})[0] || {}).map(metric => ({ label: metric, num: true, value: r => fixed(r.scores[metric], 3) })),
  ], Object.entries(c.evaluation.scores || {}).map(([target, scores]) => ({ target, scores, model: c.evaluation.models?.[target] }))) : null;
  mount(el, card(`Job ${job.id}`,
    h('div', { class: 'grid two' },
      kv([['Tenant', job.organization_id], ['Status', badge(job.status)], ['Stage', stageBadge(c.stage)], ['Base model', job.model],
        ['Custom model', job.fine_tuned_model || '—'], ['Registry status', model ? badge(model.status) : null],
        ['Provider', c.provider], ['Started by', c.created_by], ['Created', secs(job.created_at)], ['Finished', secs(job.finished_at)]]),
      kv([['Training file', job.training_file], ['Validation file', job.validation_file || '—'],
        ['Hyperparameters', Object.entries(c.hyperparameters || {}).map(([k, v]) => `${k} ${v}`).join(', ') || '—'],
        ['Trained tokens', job.trained_tokens ? num(job.trained_tokens) : '—'],
        ['Estimated cost', c.cost_estimate ? usd(c.cost_estimate.usd) : '—'],
        ['Approval', c.approval ? `${c.approval.decision} by ${c.approval.reviewer}` : '—'],
        ['Promotion', c.promotion ? `${c.promotion.alias}${c.promotion.previous ? ` (was ${c.promotion.previous})` : ''}` : (c.promote_alias && !['failed', 'cancelled', 'rejected'].includes(c.stage) ? `${c.promote_alias} once approved` : '—')]])),
    job.error ? h('div', { class: 'alert bad', role: 'alert', 'data-testid': 'job-error' }, h('strong', null, `${job.error.code}: `), job.error.message) : null,
    c.stage_error && !job.error ? h('div', { class: 'alert warn' }, c.stage_error) : null,
    h('h3', null, 'Training loss'),
    events === null ? h('p', { class: 'empty' }, 'Your credential may not read this job\'s events.')
      : steps.length ? h('div', { 'data-testid': 'loss-curve' }, lineChart({ title: `Training loss by step (${steps.length} steps)`, labels: steps.map(s => String(s.step)),
        series: [{ name: 'training loss', values: steps.map(s => s.train_loss) }], format: (v) => Number(v).toFixed(3) }))
        : h('p', { class: 'empty' }, 'No training step reported yet.'),
    rep ? validationSection(rep) : null,
    evalTable ? [h('h3', null, `Evaluation before approval${c.evaluation.primary_metric ? ` (primary metric ${c.evaluation.primary_metric})` : ''}`), evalTable,
      h('p', { class: 'hint' }, c.evaluation.beats_base ? 'The candidate beats its base model.' : 'The candidate does not beat its base model.')] : null,
    (c.datasets || []).length ? [h('h3', null, 'Datasets'), table([
      { label: 'Role', value: d => d.role },
      { label: 'File', value: d => h('code', null, d.file_id) },
      { label: 'Records', num: true, value: d => num(d.records) },
      { label: 'Tokens', num: true, value: d => num(d.tokens) },
      { label: 'SHA-256', value: d => h('span', { class: 'hash', title: d.sha256 }, (d.sha256 || '').slice(0, 16) + '…') },
    ], c.datasets)] : null,
    events && events.length ? h('details', null, h('summary', null, `All ${events.length} events`), table([
      { label: 'At', value: e => secs(e.created_at) },
      { label: 'Level', value: e => e.level },
      { label: 'Message', value: e => e.message },
    ], events.filter(e => e.type !== 'metrics'))) : null));
}

function validationSection(rep) {
  const issues = rep.issues || [];
  return [h('h3', null, 'Validation'),
    kv([['Lines', num(rep.lines)], ['Records', num(rep.records)], ['Errors', num(rep.errors)], ['Warnings', num(rep.warnings)],
      ['Duplicates', num(rep.duplicates)], ['Overlap with validation', num(rep.overlaps)],
      ['Tokens', num((rep.prompt_tokens || 0) + (rep.completion_tokens || 0))],
      rep.pii ? ['Personal data', `${num(rep.pii.masked_records)} masked, ${num(rep.pii.blocked_records)} blocked`] : null]),
    table([
      { label: 'Line', num: true, value: i => h('span', { 'data-issue-line': i.line }, i.line ? String(i.line) : 'file') },
      { label: 'Severity', value: i => h('span', { class: `badge ${i.severity === 'error' ? 'bad' : 'warn'}` }, i.severity) },
      { label: 'Code', value: i => h('code', null, i.code) },
      { label: 'Problem', value: i => i.message },
    ], issues, { caption: 'Findings by line', empty: 'The validator found nothing wrong.' })];
}

/**
 * lineageCard draws base model and datasets → job → custom model → aliases: from the
 * registry's lineage for platform credentials, from the tenant's jobs otherwise.
 */
function lineageCard(custom, jobs) {
  const nodes = new Map(), edges = [];
  const node = (kind, name, label, extra = {}) => {
    const id = `${kind}:${name}`;
    if (!nodes.has(id)) nodes.set(id, { id, name, kind, label, custom: kind === 'model', ...extra });
    return id;
  };
  const edge = (from, to, label) => { if (!edges.some(e => e.from === from && e.to === to)) edges.push({ from, to, label }); };
  const chain = ({ base, job, datasets, model, status, aliases }) => {
    const m = node('model', model, status || 'custom model');
    const j = job ? node('job', job, 'fine-tuning job') : null;
    if (base) edge(node('base', base, 'base model'), j || m);
    for (const d of datasets) edge(node('dataset', d.name, d.role ? `${d.role} data` : 'dataset', { title: d.title }), j || m);
    if (j) edge(j, m);
    for (const a of aliases) edge(m, node('alias', a, 'alias'));
  };
  for (const mdl of custom) {
    const l = mdl.lineage || {};
    const datasets = (l.datasets || []).map(d => ({ name: d.file_id, role: d.role, title: `${d.file_id} sha256 ${d.sha256}` }));
    if (!datasets.length && l.dataset) datasets.push({ name: l.dataset, role: '' });
    chain({ base: l.base_model, job: l.job, datasets, model: mdl.id, status: mdl.status, aliases: mdl.aliases || [] });
  }
  if (!custom.length) {
    for (const j of jobs) {
      if (!j.fine_tuned_model) continue;
      const c = j.customization || {};
      chain({ base: j.model, job: j.id, model: j.fine_tuned_model, status: c.stage === 'promoted' ? 'approved' : c.stage === 'rejected' ? 'rejected' : 'custom model',
        datasets: (c.datasets || []).map(d => ({ name: d.file_id, role: d.role, title: `${d.file_id} sha256 ${d.sha256}` })),
        aliases: c.promotion?.alias ? [c.promotion.alias] : [] });
    }
  }
  if (!edges.length) {
    return card('Lineage of custom models', h('p', { class: 'empty' }, 'No custom model yet: each fine-tuned model appears here with its base model, datasets, job and aliases.'));
  }
  return card('Lineage of custom models',
    h('p', { class: 'hint' }, 'Base model and datasets → fine-tuning job → custom model → aliases that name it.'),
    h('div', { class: 'table-wrap' }, lineageGraph([...nodes.values()], edges, 'Lineage of custom models')));
}

function aliasCard(models, rerender) {
  const rows = [];
  for (const m of models) for (const a of m.aliases || []) rows.push({ alias: a, model: m.id, status: m.status, tenant: m.tenant });
  rows.sort((a, b) => a.alias.localeCompare(b.alias));
  const history = h('div', { 'data-testid': 'alias-history' });
  const showHistory = async (alias) => {
    try {
      const moves = (await state.client.get('/admin/aliases/history', { alias })).data || [];
      mount(history, h('h3', null, `Moves of ${alias}`), table([
        { label: 'At', value: mv => secs(mv.at) },
        { label: 'From', value: mv => mv.from ? h('code', null, mv.from) : '—' },
        { label: 'To', value: mv => mv.to ? h('code', null, mv.to) : '—' },
        { label: 'By', value: mv => mv.by || '—' },
        { label: 'Kind', value: mv => mv.rollback ? badge('rollback') : 'promotion' },
      ], moves, { empty: `${alias} has not moved since it was set.` }));
    } catch (ex) { mount(history, errorBox(ex)); }
  };
  const rollback = (alias) => async () => {
    if (!confirm(`Point ${alias} back at the model it named before its last move?`)) return;
    try {
      const r = await state.client.post('/admin/aliases/rollback', { alias });
      toast(r.model ? `${alias} rolled back to ${r.model}` : `${alias} rolled back`);
      await rerender();
    } catch (ex) { toast(ex.message, 'bad'); }
  };
  const approved = models.filter(m => m.status === 'approved' && m.kind !== 'embedding');
  const aliasIn = h('input', { name: 'promote_alias', required: true, placeholder: 'acme/support', list: 'alias-names', autocomplete: 'off' });
  const modelSel = h('select', { name: 'promote_model', required: true }, approved.map(m => h('option', { value: m.id }, m.id + (m.tenant ? ` (${m.tenant})` : ''))));
  const err = h('div');
  const form = can('POST /admin/aliases/promote') ? h('form', { onsubmit: async (e) => {
    e.preventDefault();
    mount(err);
    try {
      const r = await state.client.post('/admin/aliases/promote', { alias: aliasIn.value.trim(), model: modelSel.value });
      toast(`${r.alias} now names ${r.model}`);
      await rerender();
    } catch (ex) { mount(err, errorBox(ex)); }
  } },
  h('h3', null, 'Promote a model'),
  h('datalist', { id: 'alias-names' }, [...new Set(rows.map(r => r.alias))].map(a => h('option', { value: a }))),
  h('div', { class: 'grid two' }, field('Alias', aliasIn, 'Callers that name the alias get the model; the move is recorded for rollback.'), field('Approved model', modelSel)),
  err, h('button', { type: 'submit', class: 'btn primary' }, 'Promote')) : null;
  return card('Aliases',
    table([
      { label: 'Alias', value: r => h('code', { 'data-alias': r.alias }, r.alias) },
      { label: 'Names', value: r => h('code', { 'data-alias-model': r.alias }, r.model) },
      { label: 'Status', value: r => badge(r.status) },
      { label: 'Tenant', value: r => r.tenant || 'every tenant' },
      { label: 'Actions', value: r => h('div', { class: 'choices' },
        can('GET /admin/aliases/history') ? button('History', () => showHistory(r.alias), { kind: 'secondary small', 'aria-label': `History of ${r.alias}` }) : null,
        can('POST /admin/aliases/rollback') ? button('Roll back', rollback(r.alias), { kind: 'danger small', 'aria-label': `Roll back ${r.alias}` }) : null) },
    ], rows, { empty: 'No alias names a model yet.' }),
    history, form);
}

function startCard(tenant, go) {
  const base = h('input', { name: 'ft_model', required: true, value: 'local-tune' });
  const train = h('input', { type: 'file', name: 'training_file', required: true, accept: '.jsonl,application/jsonl,application/json' });
  const valid = h('input', { type: 'file', name: 'validation_file', accept: '.jsonl,application/jsonl,application/json' });
  const suffix = h('input', { name: 'ft_suffix', placeholder: 'handbook', maxlength: 64 });
  const alias = h('input', { name: 'ft_alias', placeholder: `${tenant}/support (default: ${tenant}/<base model>)` });
  const err = h('div');
  return card(isPlatform() ? `Start a job for ${tenant}` : 'Start a job', h('form', { onsubmit: async (e) => {
    e.preventDefault();
    mount(err);
    const submit = e.target.querySelector('button[type=submit]');
    submit.disabled = true;
    try {
      const client = await tenantClient(tenant);
      const upload = async (input) => {
        const form = new FormData();
        form.append('purpose', 'fine-tune');
        form.append('file', input.files[0]);
        return client.json('POST', '/v1/files', { form });
      };
      const tf = await upload(train);
      const vf = valid.files.length ? await upload(valid) : null;
      const body = { model: base.value.trim(), training_file: tf.id };
      if (vf) body.validation_file = vf.id;
      if (suffix.value.trim()) body.suffix = suffix.value.trim();
      if (alias.value.trim()) body.promote_alias = alias.value.trim();
      const job = await client.post('/v1/fine_tuning/jobs', body);
      toast(`Job ${job.id} started`);
      go(`fine-tuning/${encodeURIComponent(job.id)}`);
    } catch (ex) { mount(err, errorBox(ex)); } finally { submit.disabled = false; }
  } },
  h('p', { class: 'hint' }, 'Upload JSON Lines in OpenAI\'s chat or prompt/completion format; every line is checked before training, and the job lists each problem by line.'),
  h('div', { class: 'grid three' }, field('Base model', base), field('Training file', train), field('Validation file (optional)', valid)),
  h('div', { class: 'grid two' }, field('Suffix', suffix, 'Part of the custom model\'s name.'), field('Alias to promote', alias, 'Where the flow points the model once approved.')),
  err, h('button', { type: 'submit', class: 'btn primary' }, 'Start job')));
}
