import { h, mount, field, card, table, badge, button, errorBox, toast, when } from '../dom.js';
import { validate } from '../schema.js';
import { state, isAdmin, tenantClient, can } from '../state.js';
import { header, tenantPicker } from '../ui.js';
import { apiRoot } from '../api.js';

const TEMPLATE = {
  name: 'default',
  blockedInputMessaging: 'Sorry, I cannot help with that.',
  blockedOutputsMessaging: 'Sorry, the answer was withheld.',
  sensitiveInformationPolicyConfig: { piiEntitiesConfig: [{ type: 'EMAIL', action: 'ANONYMIZE' }, { type: 'CREDIT_DEBIT_CARD_NUMBER', action: 'BLOCK' }] },
  contentPolicyConfig: { filtersConfig: [{ type: 'PROMPT_ATTACK', inputStrength: 'HIGH', outputStrength: 'NONE' }] },
  wordPolicyConfig: { wordsConfig: [{ text: 'project falcon' }] },
};

let openapi = null;
async function schemaDoc() {
  if (!openapi) openapi = await (await fetch(apiRoot() + '/openapi.json', { credentials: 'omit' })).json();
  return openapi;
}

export async function render(main, { params, go }) {
  // Platform admins see every policy; a tenant's credential its own and the shared ones.
  const admin = can('GET /admin/guardrail-policies');
  const [list, doc, baseline] = await Promise.all([admin ? state.client.get('/admin/guardrail-policies') : { data: [] }, schemaDoc(),
    can('GET /admin/guardrail-baseline') ? state.client.get('/admin/guardrail-baseline') : null]);
  const policies = list.data || [];
  const selectedID = params[0] || '';
  const current = admin && selectedID ? await state.client.get(`/admin/guardrail-policies/${encodeURIComponent(selectedID)}`) : null;
  // Tenant admins change their own tenant's policies only; shared ones are the platform's.
  const mine = (p) => isAdmin() || (p?.tenant && p.tenant === state.session.tenant);
  const writable = current ? can('PUT /admin/guardrail-policies/{id}') && mine(current) : can('POST /admin/guardrail-policies');
  const start = current ? stripMeta(current.policy) : TEMPLATE;

  const editor = h('textarea', { class: 'policy', name: 'policy', spellcheck: 'false', 'aria-describedby': 'policy-status' });
  editor.value = JSON.stringify(start, null, 2);
  const status = h('div', { id: 'policy-status', 'aria-live': 'polite' });
  const parse = () => {
    let value;
    try { value = JSON.parse(editor.value); } catch (e) {
      editor.setAttribute('aria-invalid', 'true');
      mount(status, h('div', { class: 'alert bad' }, `Not valid JSON: ${e.message}`));
      return null;
    }
    const errs = validate(doc, { $ref: '#/components/schemas/GuardrailPolicy' }, value);
    editor.setAttribute('aria-invalid', errs.length ? 'true' : 'false');
    mount(status, errs.length
      ? h('div', { class: 'alert bad', role: 'alert' }, h('strong', null, `${errs.length} problem${errs.length > 1 ? 's' : ''} against Bedrock's CreateGuardrail schema:`), h('ul', null, errs.slice(0, 12).map(e => h('li', null, h('code', null, e)))))
      : h('div', { class: 'alert good' }, 'Valid policy document (Amazon Bedrock Guardrails configuration).'));
    return errs.length ? null : value;
  };
  editor.addEventListener('input', () => { clearTimeout(editor._t); editor._t = setTimeout(parse, 250); });

  const save = writable ? button(current ? `Save as version ${current.latestVersion + 1}` : 'Create policy', async () => {
    const value = parse();
    if (!value) return;
    if (!isAdmin()) value.tenant = state.session.tenant;
    try {
      const saved = current
        ? await state.client.put(`/admin/guardrail-policies/${encodeURIComponent(current.id)}`, value)
        : await state.client.post('/admin/guardrail-policies', value);
      toast(`Policy ${saved.id} saved (version ${saved.version})`);
      go(`guardrails/${saved.id}`);
    } catch (ex) { mount(status, errorBox(ex)); }
  }) : null;

  // The test box applies the policy being edited (inline), or the tenant's own policy.
  const picker = await tenantPicker(() => {});
  const text = h('textarea', { name: 'test_text', rows: 5 });
  text.value = 'Hi, I am Jane, mail me at jane@example.com about project falcon. My card is 4111 1111 1111 1111.';
  const source = h('select', { name: 'source' }, h('option', { value: 'INPUT' }, 'INPUT (a prompt)'), h('option', { value: 'OUTPUT' }, 'OUTPUT (a model answer)'));
  const which = h('select', { name: 'which' }, h('option', { value: 'editor' }, 'the policy in the editor'), h('option', { value: 'tenant' }, "the tenant's assigned policy"));
  const result = h('div', { class: 'findings', 'aria-live': 'polite' });
  const test = button('Test policy', async () => {
    mount(result);
    const body = { source: source.value, content: [{ text: { text: text.value } }] };
    if (which.value === 'editor') {
      const value = parse();
      if (!value) { mount(result, h('div', { class: 'alert bad' }, 'Fix the policy first.')); return; }
      body.policy = value;
    }
    try {
      const c = await tenantClient(picker.value());
      const r = await c.post('/v1/guardrails/apply', body);
      mount(result, findings(text.value, r));
    } catch (ex) { mount(result, errorBox(ex)); }
  });

  mount(main,
    header('Guardrail policies', 'Policies in Amazon Bedrock Guardrails\u2019 own configuration language: they port to and from Bedrock unchanged.'),
    admin ? card('Policies', table([
      { label: 'Policy', value: p => h('a', { href: `#/guardrails/${encodeURIComponent(p.id)}` }, p.name || p.id) },
      { label: 'ID', value: p => h('code', null, p.id) },
      { label: 'Owner', value: p => p.tenant || h('span', { class: 'tag' }, p.id === baselineID(baseline) ? 'platform baseline' : 'shared') },
      { label: 'Latest version', num: true, value: p => p.latestVersion },
      { label: 'Updated', value: p => when(p.updatedAt) },
    ], policies, { empty: 'No policy yet: edit the template below and create one.', rowAttrs: p => ({ class: p.id === selectedID ? 'selected' : null }) }),
    baseline ? h('p', { 'data-testid': 'baseline' }, baseline.policy
      ? ['Platform baseline: ', h('code', null, baseline.policy), '. Every tenant\u2019s policy includes it; a tenant\u2019s own rules may only add to it or tighten it.']
      : 'No platform baseline is set.') : null,
    current && !current.tenant && can('PUT /admin/guardrail-baseline') && baselineID(baseline) !== current.id
      ? button('Make this the platform baseline', async () => {
        try { await state.client.put('/admin/guardrail-baseline', { policy: current.id }); toast(`${current.id} is the platform baseline`); go(`guardrails/${current.id}`); } catch (ex) { toast(ex.message, 'bad'); }
      }, { kind: 'secondary' }) : null,
    writable || can('POST /admin/guardrail-policies') ? h('p', null, h('a', { href: '#/guardrails' }, 'New policy from the template')) : null) : null,
    h('div', { class: 'split' },
      card(current ? `Edit ${current.name || current.id}` : (admin ? 'New policy' : 'Policy to test'),
        field('Policy document (JSON)', editor, 'Checked as you type against the CreateGuardrail schema published in /openapi.json; the server validates again on save.'),
        status, h('div', { class: 'toolbar' }, button('Validate', async () => { if (parse()) toast('The policy is valid'); }, { kind: 'secondary' }), save)),
      can('POST /v1/guardrails/apply') || can('POST /admin/tenants/{id}/keys') && isAdmin() ? card('Test box',
        h('div', { class: 'row' }, picker.el, field('Check as', source), field('Apply', which)),
        field('Text', text),
        h('div', { class: 'toolbar' }, test),
        result) : null));
  parse();
}

function stripMeta(p) {
  const { id, version, ...rest } = p || {};
  return rest;
}

/** findings renders the verdict and highlights each finding's span in the text. */
function findings(text, r) {
  const spans = [];
  const rows = [];
  for (const a of r.assessments || []) {
    for (const f of a.sensitiveInformationPolicy?.piiEntities || []) { spans.push({ ...f.span, action: f.action, label: f.type }); rows.push(['PII', f.type, f.match, f.action]); }
    for (const f of a.sensitiveInformationPolicy?.regexes || []) { spans.push({ ...f.span, action: f.action, label: f.name }); rows.push(['Regex', f.name, f.match, f.action]); }
    for (const f of a.wordPolicy?.customWords || []) { spans.push({ ...f.span, action: f.action, label: 'word' }); rows.push(['Word', 'custom', f.match, f.action]); }
    for (const f of a.wordPolicy?.managedWordLists || []) { spans.push({ ...f.span, action: f.action, label: f.type }); rows.push(['Word', f.type, f.match, f.action]); }
    for (const f of a.contentPolicy?.filters || []) {
      for (const s of f.spans || []) spans.push({ ...s, action: f.action, label: f.type });
      rows.push(['Content', f.type, `${f.confidence} (${Number(f.score || 0).toFixed(2)})`, f.action]);
    }
    for (const f of a.topicPolicy?.topics || []) rows.push(['Topic', f.name, Number(f.score || 0).toFixed(2), f.action]);
    for (const f of a.contextualGroundingPolicy?.filters || []) rows.push(['Grounding', f.type, `${Number(f.score).toFixed(2)} < ${f.threshold}`, f.action]);
  }
  return h('div', null,
    h('div', { class: 'row between' }, h('h3', null, 'Verdict'), badge(r.action)),
    h('p', { class: 'label-like' }, 'Findings in the text'),
    h('div', { class: 'text', 'data-testid': 'highlighted' }, highlight(text, spans.filter(s => (s.content ?? 0) === 0 && s.end > s.start))),
    table([
      { label: 'Policy', value: x => x[0] }, { label: 'Type', value: x => x[1] },
      { label: 'Match', value: x => h('code', null, x[2] ?? '') }, { label: 'Action', value: x => badge(x[3]) },
    ], rows, { empty: 'No findings.' }),
    h('p', { class: 'label-like' }, 'Output after the policy'),
    h('div', { class: 'text' }, (r.outputs || []).map(o => o.text).join('\n') || text));
}

function highlight(text, spans) {
  const cps = Array.from(text); // spans are in code points
  spans.sort((a, b) => a.start - b.start);
  const out = [];
  let at = 0;
  for (const s of spans) {
    if (s.start < at) continue; // overlapping finding: the first one is shown
    out.push(cps.slice(at, s.start).join(''));
    out.push(h('mark', { class: s.action === 'BLOCKED' || s.action === 'BLOCK' ? 'block' : null, title: `${s.label}: ${s.action}` }, cps.slice(s.start, s.end).join('')));
    at = s.end;
  }
  out.push(cps.slice(at).join(''));
  return out;
}

/** baselineID is the policy ID the baseline names ("" when none). */
function baselineID(b) { return (b?.policy || '').split(':')[0]; }
