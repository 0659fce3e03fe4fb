import { h, mount, field, card, table, badge, button, errorBox, toast, when, fixed, num, kv, download } from '../dom.js';
import { lineChart } from '../charts.js';
import { state, can, isPlatform } from '../state.js';
import { header, tenantPicker } from '../ui.js';

const METRICS = ['exact_match', 'f1', 'rouge1', 'rouge2', 'rougeL', 'bleu', 'embedding_similarity', 'context_precision', 'context_recall', 'faithfulness'];

export async function render(main, { params, go }) {
  if (params[0] === 'runs' && params[1]) return renderRun(main, params[1], go);
  const picker = await tenantPicker(() => go('evaluations'), { allowAll: true });
  const suites = (await state.client.get('/admin/eval-suites', { tenant: picker.value() })).data || [];
  const selected = params[0] ? suites.find(s => s.id === params[0]) : suites[0];
  const detail = h('div');
  mount(main,
    header('Evaluations', 'Suites, their runs against a baseline, and every item\u2019s scores.'),
    h('div', { class: 'grid two' },
      card('Suites', h('div', { class: 'row' }, picker.el), table([
        { label: 'Suite', value: s => h('a', { href: `#/evaluations/${encodeURIComponent(s.id)}` }, s.id) },
        { label: 'Tenant', value: s => s.tenant },
        { label: 'Target', value: s => h('code', null, s.target?.model + (s.target?.knowledge_base ? ` + kb ${s.target.knowledge_base}` : '')) },
        { label: 'Metrics', value: s => (s.metrics || []).join(', ') },
        { label: 'Schedule', value: s => s.schedule || '—' },
      ], suites, { empty: 'No suites yet.', rowAttrs: s => ({ class: s.id === selected?.id ? 'selected' : null }) })),
      can('POST /admin/eval-suites') ? createCard(picker.value(), go) : null),
    detail);
  if (selected) await renderSuite(detail, selected, go);
}

async function renderSuite(el, suite, go) {
  const runs = ((await state.client.get(`/admin/eval-suites/${encodeURIComponent(suite.id)}/runs`, { limit: 50, tenant: suite.tenant })).data || []);
  const chrono = [...runs].reverse().filter(r => r.status === 'succeeded');
  const metrics = (suite.metrics && suite.metrics.length ? suite.metrics : Object.keys(chrono[chrono.length - 1]?.metrics || {}));
  const status = h('div', { 'aria-live': 'polite' });
  const start = button('Start a run', async () => {
    try {
      const r = await state.client.post(`/admin/eval-suites/${encodeURIComponent(suite.id)}/runs`, {}, { tenant: suite.tenant });
      mount(status, h('div', { class: 'alert info' }, `Run ${r.id} started; this page refreshes when it finishes.`));
      for (let i = 0; i < 240; i++) {
        await new Promise(res => setTimeout(res, 500));
        const cur = await state.client.get(`/admin/eval-runs/${encodeURIComponent(r.id)}`);
        if (cur.status !== 'running') {
          toast(`Run ${r.id} ${cur.status}`, cur.status === 'succeeded' ? 'good' : 'bad');
          return renderSuite(el, suite, go);
        }
      }
    } catch (ex) { mount(status, errorBox(ex)); }
  });
  const charts = metrics.map(m => {
    const values = chrono.map(r => r.metrics?.[m] ?? null);
    const markers = chrono.map((r, i) => ({ i, reg: (r.regressions || []).find(x => x.metric === m) }))
      .filter(x => x.reg).map(x => ({ index: x.i, label: `regressed ${fixed(x.reg.baseline)} → ${fixed(x.reg.current)} (tolerance ${x.reg.tolerance})` }));
    const last = chrono[chrono.length - 1];
    const base = last?.baseline_run_id ? runs.find(r => r.id === last.baseline_run_id)?.metrics?.[m] : undefined;
    return card(null, lineChart({ title: m, labels: chrono.map(r => r.id.slice(-8)), series: [{ name: m, values }],
      format: v => fixed(v, m === 'exact_match' || m === 'f1' || m === 'bleu' ? 1 : 3),
      baseline: base !== undefined ? { value: base, label: `baseline ${last.baseline_run_id.slice(-8)}` } : null, markers }));
  });
  mount(el,
    card(`Suite ${suite.id}`,
      kv([['Tenant', suite.tenant], ['Target', suite.target?.model], ['Dataset', suite.dataset?.uri || `${(suite.dataset?.items || []).length || 'inline'} items`],
        ['Baseline', suite.baseline?.mode || 'previous'], ['Thresholds', Object.entries(suite.thresholds || {}).map(([k, v]) => `${k} ≥ ${v}`).join(', ') || '—']]),
      can('POST /admin/eval-suites/{id}/runs') ? h('div', { class: 'toolbar spaced' }, start) : null, status),
    chrono.length ? h('div', { class: 'grid two', 'data-testid': 'trend' }, charts) : card('Trend', h('p', { class: 'empty' }, 'No finished run yet: start one.')),
    card('Runs', table([
      { label: 'Run', value: r => h('a', { href: `#/evaluations/runs/${encodeURIComponent(r.id)}` }, r.id) },
      { label: 'Status', value: r => badge(r.status) },
      { label: 'Trigger', value: r => r.trigger },
      { label: 'Items', num: true, value: r => `${num(r.item_count)}${r.failed_items ? ` (${r.failed_items} failed)` : ''}` },
      ...metrics.slice(0, 4).map(m => ({ label: m, num: true, value: r => fixed(r.metrics?.[m], 2) })),
      { label: 'Verdict', value: r => (r.regressions || []).length ? badge('regressed') : r.passed === false ? badge('failed') : r.status === 'succeeded' ? badge('passed') : '—' },
      { label: 'Started', value: r => when(r.started_at) },
    ], runs, { empty: 'No runs yet.', rowAttrs: r => ({ class: (r.regressions || []).length ? 'regressed' : null }) })));
}

async function renderRun(main, id) {
  const run = await state.client.get(`/admin/eval-runs/${encodeURIComponent(id)}`);
  const metrics = Object.keys(run.metrics || {});
  const dl = (suffix, name, type) => button(name, async () => {
    const text = await state.client.text(`/admin/eval-runs/${encodeURIComponent(id)}${suffix}`);
    download(`${id}${suffix.replace('/', '-')}`, text, type);
  }, { kind: 'secondary' });
  mount(main,
    header(`Run ${run.id}`, `Suite ${run.suite_id} · tenant ${run.tenant}`,
      h('a', { href: `#/evaluations/${encodeURIComponent(run.suite_id)}`, class: 'btn ghost' }, 'Back to the suite'),
      dl('.csv', 'Download CSV', 'text/csv'), dl('/report.html', 'Download HTML report', 'text/html'),
      h('a', { href: `#/reviews?run=${encodeURIComponent(run.id)}`, class: 'btn secondary' }, 'Send to human review')),
    h('div', { class: 'grid two' },
      card('Summary', kv([['Status', badge(run.status)], ['Target', run.suite?.target?.model], ['Items', `${num(run.item_count)} (${run.failed_items} failed)`],
        ['Baseline run', run.baseline_run_id || '—'], ['Passed', run.passed === undefined ? '—' : String(run.passed)],
        ['Tokens', `${num(run.target_usage?.prompt_tokens)} in · ${num(run.target_usage?.completion_tokens)} out`],
        ['Started', when(run.started_at)], ['Finished', when(run.finished_at)], ['Error', run.error]])),
      card('Metrics', table([
        { label: 'Metric', value: m => m },
        { label: 'Value', num: true, value: m => fixed(run.metrics[m], 3) },
        { label: 'vs baseline', value: m => { const r = (run.regressions || []).find(x => x.metric === m); return r ? h('span', null, badge('regressed'), ` ${fixed(r.baseline)} → ${fixed(r.current)}`) : '—'; } },
      ], metrics))),
    card('Items', table([
      { label: '#', num: true, value: it => it.index + 1 },
      { label: 'Input', value: it => h('div', { class: 'cell-text' }, it.input) },
      { label: 'Reference', value: it => (it.references || []).join(' | ') },
      { label: 'Output', value: it => it.error ? h('span', { class: 'badge bad' }, it.error) : h('div', { class: 'cell-text' }, it.output) },
      ...metrics.slice(0, 5).map(m => ({ label: m, num: true, value: it => fixed(it.scores?.[m], 2) })),
      { label: 'Latency', num: true, value: it => `${num(it.latency_ms)} ms` },
    ], run.items || [])));
}

function createCard(tenant, go) {
  const tsel = h('input', { name: 'suite_tenant', value: tenant || state.session.tenant || 'demo', required: true, readonly: !isPlatform() });
  const id = h('input', { name: 'suite_id', required: true, placeholder: 'qa' });
  const model = h('input', { name: 'target_model', value: 'local-chat', required: true });
  const uri = h('input', { name: 'dataset_uri', placeholder: 'blob://datasets/acme/gold/v1.jsonl' });
  const items = h('textarea', { name: 'dataset_items', rows: 5 });
  items.value = '{"id":"1","input":"Paris is the capital of France. What is the capital of France?","references":["Paris"]}\n{"id":"2","input":"Water boils at 100 degrees Celsius at sea level. At what temperature does water boil?","references":["100 degrees Celsius"]}';
  const boxes = METRICS.map(m => ({ m, box: h('input', { type: 'checkbox', id: `metric-${m}`, checked: ['exact_match', 'f1', 'rougeL', 'bleu'].includes(m) }) }));
  const err = h('div');
  return card('Create a suite', h('form', { onsubmit: async (e) => {
    e.preventDefault();
    mount(err);
    try {
      const dataset = uri.value.trim() ? { uri: uri.value.trim() }
        : { items: items.value.split('\n').map(l => l.trim()).filter(Boolean).map((l, i) => { try { return JSON.parse(l); } catch { throw new Error(`dataset line ${i + 1} is not JSON`); } }) };
      const s = await state.client.post('/admin/eval-suites', { tenant: tsel.value.trim(), id: id.value.trim(), dataset,
        target: { model: model.value.trim() }, metrics: boxes.filter(b => b.box.checked).map(b => b.m) });
      toast(`Suite ${s.id} created`);
      go(`evaluations/${encodeURIComponent(s.id)}`);
    } catch (ex) { mount(err, errorBox(ex)); }
  } },
  h('div', { class: 'grid three' }, field('Tenant', tsel), field('Suite ID', id), field('Target model', model)),
  field('Dataset URI', uri, 'A JSONL object, e.g. a ground-truth dataset published from human review; or leave empty and give items below.'),
  field('Dataset items (JSON Lines)', items),
  h('fieldset', null, h('legend', null, 'Metrics'), h('div', { class: 'row' }, boxes.map(b => h('div', { class: 'check' }, b.box, h('label', { for: b.box.id }, b.m))))),
  err, h('button', { type: 'submit', class: 'btn primary' }, 'Create suite')));
}
