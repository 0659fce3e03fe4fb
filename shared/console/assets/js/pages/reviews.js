import { h, mount, field, card, table, badge, button, errorBox, toast, when, fixed, num, pct, kv, download, id as uid } from '../dom.js';
import { state, isAdmin, can } from '../state.js';
import { header, tenantPicker } from '../ui.js';

const base = () => (isAdmin() ? '/admin/review-queues' : '/v1/review-queues');
const q = (id) => `${base()}/${encodeURIComponent(id)}`;
// A queue's agreement, items and datasets are read on the admin API, by a tenant admin too.
const adminQ = (id) => `/admin/review-queues/${encodeURIComponent(id)}`;
const mayReview = () => can(isAdmin() ? 'POST /admin/review-queues/{id}/next' : 'POST /v1/review-queues/{id}/next');

export async function render(main, { params, query, go }) {
  if (params[0] && params[1] === 'review') return renderReview(main, params[0], go);
  if (params[0]) return renderQueue(main, params[0], go);
  const picker = await tenantPicker(() => go('reviews'), { allowAll: true });
  const queues = (await state.client.get(base(), isAdmin() ? { tenant: picker.value() } : undefined)).data || [];
  mount(main,
    header('Human review', 'Reviewers score outputs against a rubric or compare two side by side; agreement is measured and reviewed items become ground truth.'),
    card('Review queues', picker.el ? h('div', { class: 'row' }, picker.el) : null, table([
      { label: 'Queue', value: x => h('a', { href: `#/reviews/${encodeURIComponent(x.id)}` }, x.name) },
      { label: 'Tenant', value: x => x.tenant },
      { label: 'Kind', value: x => x.kind === 'pairwise' ? 'side by side' : 'rubric' },
      { label: 'Source', value: x => sourceText(x.source) },
      { label: 'Progress', value: x => progress(x) },
      { label: 'Reviewers', value: x => (x.progress?.reviewers || []).join(', ') || '—' },
      { label: '', value: x => mayReview() ? h('a', { class: 'btn primary small', href: `#/reviews/${encodeURIComponent(x.id)}/review` }, 'Review') : '' },
    ], queues, { empty: can('POST /admin/review-queues') ? 'No review queue yet: build one below.' : 'No review queue for your tenant yet.' })),
    can('POST /admin/review-queues') ? createCard(picker.value(), query, go) : null,
    can('GET /admin/datasets') ? await datasetsCard(picker.value()) : null);
}

function sourceText(s) {
  if (!s) return '—';
  if (s.type === 'eval_run') return s.compare_run_id ? `runs ${s.run_id} vs ${s.compare_run_id}` : `run ${s.run_id}`;
  if (s.type === 'feedback') return s.max_rating ? `feedback rated ≤ ${s.max_rating}` : 'feedback';
  return 'production samples';
}

function progress(x) {
  const done = x.progress?.complete || 0;
  return h('span', null, h('progress', { max: x.item_count, value: done, 'aria-label': `${done} of ${x.item_count} items complete` }), ` ${done}/${x.item_count}`);
}

function createCard(tenant, query, go) {
  const tsel = h('input', { name: 'queue_tenant', value: tenant || state.session.tenant || 'demo', required: true, readonly: !isAdmin() });
  const name = h('input', { name: 'queue_name', required: true, placeholder: 'Answer quality, week 12' });
  const kind = h('select', { name: 'kind' }, h('option', { value: 'rubric' }, 'Rubric: score one output'), h('option', { value: 'pairwise' }, 'Side by side: compare two outputs'));
  const per = h('input', { type: 'number', name: 'reviewers_per_item', min: '1', max: '10', value: '2' });
  const crit = h('input', { name: 'criteria', value: 'correctness, helpfulness' });
  const stype = h('select', { name: 'source_type' }, h('option', { value: 'eval_run' }, 'An evaluation run'), h('option', { value: 'feedback' }, 'End-user feedback'), h('option', { value: 'samples' }, 'Production samples'));
  const run = h('input', { name: 'run_id', value: query?.get('run') || '', placeholder: 'run-…' });
  const compare = h('input', { name: 'compare_run_id', placeholder: 'second run, for side by side' });
  const maxRating = h('input', { type: 'number', name: 'max_rating', min: '0', max: '5', value: '0' });
  const samples = h('textarea', { name: 'samples', rows: 4, placeholder: '{"input":"…","output":"…"}  or  {"input":"…","outputs":["…","…"]}' });
  const size = h('input', { type: 'number', name: 'sample_size', min: '0', max: '2000', value: '0' });
  const instructions = h('textarea', { name: 'instructions', rows: 2, placeholder: 'What reviewers should look for.' });
  const err = h('div');
  const show = () => {
    const t = stype.value;
    run.closest('.field').hidden = t !== 'eval_run';
    compare.closest('.field').hidden = t !== 'eval_run' || kind.value !== 'pairwise';
    maxRating.closest('.field').hidden = t !== 'feedback';
    samples.closest('.field').hidden = t !== 'samples';
    crit.closest('.field').hidden = kind.value !== 'rubric';
  };
  const form = h('form', { onsubmit: async (e) => {
    e.preventDefault();
    mount(err);
    try {
      const source = { type: stype.value, sample_size: Number(size.value) || 0, seed: Date.now() % 100000 };
      if (source.type === 'eval_run') { source.run_id = run.value.trim(); if (kind.value === 'pairwise') source.compare_run_id = compare.value.trim(); }
      if (source.type === 'feedback') source.max_rating = Number(maxRating.value) || 0;
      if (source.type === 'samples') source.samples = samples.value.split('\n').map(l => l.trim()).filter(Boolean).map((l, i) => { try { return JSON.parse(l); } catch { throw new Error(`sample line ${i + 1} is not JSON`); } });
      const body = { tenant: tsel.value.trim(), name: name.value.trim(), kind: kind.value, reviewers_per_item: Number(per.value) || 2, source, instructions: instructions.value.trim() };
      if (kind.value === 'rubric') body.criteria = crit.value.split(',').map(s => s.trim()).filter(Boolean).map(n => ({ name: n, min: 1, max: 5 }));
      const created = await state.client.post('/admin/review-queues', body);
      toast(`Queue created with ${created.item_count} items`);
      go(`reviews/${encodeURIComponent(created.id)}`);
    } catch (ex) { mount(err, errorBox(ex)); }
  } },
  h('div', { class: 'grid three' }, field('Tenant', tsel), field('Name', name), field('Kind', kind)),
  h('div', { class: 'grid three' }, field('Reviewers per item', per, 'Two or more to measure agreement.'), field('Rubric criteria (1–5)', crit), field('Source', stype)),
  h('div', { class: 'grid three' }, field('Evaluation run', run), field('Compare with run', compare), field('Feedback rated at most', maxRating, '0 takes all feedback.')),
  field('Samples (JSON Lines)', samples),
  h('div', { class: 'grid two' }, field('Random sample size', size, '0 takes every item (at most 2000).'), field('Instructions', instructions)),
  err, h('button', { type: 'submit', class: 'btn primary' }, 'Build queue'));
  kind.addEventListener('change', show);
  stype.addEventListener('change', show);
  queueMicrotask(show);
  return card('Build a review queue', form);
}

async function datasetsCard(tenant) {
  if (!tenant) return card('Ground-truth datasets', h('p', { class: 'empty' }, 'Choose a tenant to see its datasets.'));
  const ds = (await state.client.get('/admin/datasets', { tenant })).data || [];
  const rows = ds.flatMap(d => d.versions.map(v => ({ ...v })));
  return card(`Ground-truth datasets of ${tenant}`, table([
    { label: 'Dataset', value: v => v.name },
    { label: 'Version', num: true, value: v => `v${v.version}` },
    { label: 'Items', num: true, value: v => num(v.items) },
    { label: 'Alpha', num: true, value: v => fixed(v.alpha, 3) },
    { label: 'From queue', value: v => h('a', { href: `#/reviews/${encodeURIComponent(v.queue_id)}` }, v.queue_id) },
    { label: 'Evaluation URI', value: v => h('code', null, v.uri) },
    { label: 'Download', value: v => h('div', { class: 'choices' }, ['eval', 'chat', ...(v.preference_uri ? ['preference'] : [])].map(f =>
      button(f, async () => download(`${v.name}-v${v.version}.${f}.jsonl`, await state.client.text(`/admin/datasets/${encodeURIComponent(v.name)}/versions/${v.version}`, { tenant, format: f }), 'application/x-ndjson'), { kind: 'secondary small' }))) },
    { label: 'Created', value: v => when(v.created_at) },
  ], rows, { empty: 'No dataset published yet.' }));
}

async function renderQueue(main, id, go) {
  const queue = await state.client.get(q(id));
  const [agreement, items] = can('GET /admin/review-queues/{id}/agreement')
    ? await Promise.all([state.client.get(`${adminQ(id)}/agreement`), state.client.get(`${adminQ(id)}/items`)])
    : [null, null];
  const publishErr = h('div');
  const dsName = h('input', { name: 'dataset_name', required: true, value: queue.name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'gold' });
  const minReviews = h('input', { type: 'number', name: 'min_reviews', min: '1', max: '10', value: String(queue.reviewers_per_item) });
  const publish = can('POST /admin/review-queues/{id}/datasets') ? h('form', { onsubmit: async (e) => {
    e.preventDefault();
    mount(publishErr);
    try {
      const v = await state.client.post(`${adminQ(id)}/datasets`, { name: dsName.value.trim(), min_reviews: Number(minReviews.value) });
      mount(publishErr, h('div', { class: 'alert good', role: 'status' }, `Published ${v.name} v${v.version}: ${v.items} items (use `, h('code', null, v.uri), ' as an evaluation suite\u2019s dataset).'));
    } catch (ex) { mount(publishErr, errorBox(ex)); }
  } }, h('div', { class: 'row' }, field('Dataset name', dsName), field('Reviews needed per item', minReviews)),
  h('p', { class: 'hint' }, queue.kind === 'rubric'
    ? 'An item becomes ground truth when its mean score reaches 4 of 5 on every criterion, or through a reviewer\u2019s corrected answer.'
    : 'An item becomes ground truth with the answer most reviewers preferred (a tie or split vote leaves it out); pairs also feed preference tuning.'),
  publishErr, h('button', { type: 'submit', class: 'btn primary' }, 'Publish a new version')) : null;

  mount(main,
    header(queue.name, `${queue.kind === 'pairwise' ? 'Side-by-side comparison' : 'Rubric scoring'} · tenant ${queue.tenant} · ${sourceText(queue.source)}`,
      h('a', { href: '#/reviews', class: 'btn ghost' }, 'All queues'),
      h('a', { href: `#/reviews/${encodeURIComponent(id)}/review`, class: 'btn primary' }, 'Start reviewing')),
    h('div', { class: 'grid two' },
      card('Progress', kv([['Items', num(queue.item_count)], ['Complete', `${queue.progress.complete} (${queue.reviewers_per_item} reviewers each)`],
        ['Reviews', num(queue.progress.reviews)], ['Reviewers', queue.progress.reviewers.join(', ') || '—'],
        ['Criteria', (queue.criteria || []).map(c => `${c.name} (${c.min}–${c.max})`).join(', ') || '—'], ['Created', `${when(queue.created_at)} by ${queue.created_by || '—'}`]])),
      agreement ? agreementCard(agreement) : null),
    publish ? card('Publish ground truth', publish) : null,
    items ? card('Items and reviews', itemsTable(queue, items.data || [])) : null);
}

function agreementCard(a) {
  return card('Inter-reviewer agreement', h('p', { class: 'hint' },
    `Measured on ${a.multiply_reviewed} of ${a.items} items with two or more reviews. Krippendorff\u2019s alpha: 1 is perfect agreement, 0 is chance; above 0.8 is reliable, 0.667–0.8 tentative.`),
  table([
    { label: 'Measure', value: m => m.name },
    { label: 'Alpha', num: true, value: m => h('span', { 'data-alpha': m.name }, fixed(m.alpha, 3)) },
    { label: 'Level', value: m => m.level },
    { label: 'Agreement', num: true, value: m => pct(m.percent_agreement) },
    { label: 'Mean Cohen\u2019s κ', num: true, value: m => fixed(m.mean_kappa, 3) },
    { label: 'Quadratic κ', num: true, value: m => fixed(m.mean_quadratic_kappa, 3) },
  ], a.measures, { empty: 'No reviews yet.' }),
  a.measures.some(m => m.pairs.length) ? h('details', null, h('summary', null, 'Per reviewer pair'), table([
    { label: 'Measure', value: p => p.measure }, { label: 'Reviewers', value: p => `${p.a} · ${p.b}` },
    { label: 'Items', num: true, value: p => p.items }, { label: 'κ', num: true, value: p => fixed(p.kappa, 3) },
    { label: 'Quadratic κ', num: true, value: p => fixed(p.quadratic_kappa, 3) },
  ], a.measures.flatMap(m => m.pairs.map(p => ({ ...p, measure: m.name }))))) : null);
}

function itemsTable(queue, items) {
  return table([
    { label: 'Item', value: it => h('code', null, it.id) },
    { label: 'Input', value: it => h('div', { class: 'cell-text' }, it.input) },
    { label: queue.kind === 'pairwise' ? 'Candidates' : 'Output', value: it => queue.kind === 'pairwise'
      ? h('div', null, (it.candidates || []).map(c => h('div', null, h('strong', null, `${c.id}${c.label ? ' · ' + c.label : ''}: `), c.text)))
      : h('div', { class: 'cell-text' }, it.output) },
    { label: 'Reviews', value: it => (it.reviews || []).length === 0 ? h('span', { class: 'muted' }, 'none') : h('ul', { class: 'plain' }, it.reviews.map(r => h('li', null,
      h('strong', null, r.reviewer), ': ',
      queue.kind === 'pairwise' ? `preferred ${r.preferred} (shown ${r.order.join(' | ')}, clicked ${r.choice})` : Object.entries(r.scores || {}).map(([k, v]) => `${k} ${v}`).join(', '),
      r.corrected_output ? h('div', { class: 'muted' }, `correction: ${r.corrected_output}`) : null,
      r.comment ? h('div', { class: 'muted' }, `“${r.comment}”`) : null))) },
  ], items);
}

async function renderReview(main, id, go) {
  const queue = await state.client.get(q(id));
  const resp = await state.client.post(`${q(id)}/next`, isAdmin() ? { reviewer: state.reviewer || 'admin' } : {});
  const a = resp.assignment;
  const top = header(`Reviewing: ${queue.name}`, isAdmin() ? `You review as ${state.reviewer || 'admin'}.` : `You review as key ${state.session.key_id}.`,
    h('a', { href: `#/reviews/${encodeURIComponent(id)}`, class: 'btn ghost' }, 'Queue details'));
  if (!a) {
    mount(main, top, card(null, h('div', { class: 'alert good', role: 'status', 'data-testid': 'review-done' }, 'Nothing left for you in this queue. Thank you!')));
    return;
  }
  const err = h('div');
  const corrected = h('textarea', { name: 'corrected_output', rows: 3, placeholder: 'Optional: a better answer, kept as ground truth.' });
  const comment = h('input', { name: 'comment', placeholder: 'Optional comment' });
  const submit = async (extra) => {
    mount(err);
    try {
      await state.client.post(`${q(id)}/reviews`, { item_id: a.item_id, reviewer: isAdmin() ? (state.reviewer || 'admin') : undefined,
        corrected_output: corrected.value.trim() || undefined, comment: comment.value.trim() || undefined, ...extra });
      toast('Review saved');
      renderReview(main, id, go);
    } catch (ex) { mount(err, errorBox(ex)); }
  };
  const context = h('div', null,
    a.instructions ? h('div', { class: 'alert info' }, a.instructions) : null,
    h('h3', null, 'Prompt'), h('div', { class: 'prompt', 'data-testid': 'prompt' }, a.input),
    (a.references || []).length ? h('details', null, h('summary', null, 'Reference answer'), h('div', { class: 'prompt' }, a.references.join('\n'))) : null,
    (a.contexts || []).length ? h('details', null, h('summary', null, `Context passages (${a.contexts.length})`), a.contexts.map(c => h('div', { class: 'prompt' }, c))) : null);
  let form;
  if (a.kind === 'rubric') {
    const groups = a.criteria.map(c => {
      const gid = uid('crit');
      return { c, el: h('fieldset', { class: 'criterion' }, h('legend', null, `${c.name}${c.description ? ' — ' + c.description : ''}`),
        h('div', { class: 'scale', role: 'radiogroup' }, Array.from({ length: c.max - c.min + 1 }, (_, i) => c.min + i).map(v =>
          h('label', null, h('input', { type: 'radio', name: gid, value: String(v), required: true, 'aria-label': `${c.name} ${v}` }), h('span', null, String(v)))))) };
    });
    form = h('form', { onsubmit: (e) => {
      e.preventDefault();
      const scores = {};
      for (const g of groups) {
        const v = g.el.querySelector('input:checked');
        if (!v) { mount(err, errorBox(new Error(`Score ${g.c.name}.`))); return; }
        scores[g.c.name] = Number(v.value);
      }
      submit({ scores });
    } }, h('h3', null, 'Answer under review'), h('div', { class: 'prompt', 'data-testid': 'output' }, a.output),
    groups.map(g => g.el), field('Corrected answer', corrected), field('Comment', comment), err,
    h('button', { type: 'submit', class: 'btn primary' }, 'Submit review'));
  } else {
    form = h('div', null,
      h('div', { class: 'compare' },
        h('div', { class: 'side', 'data-side': 'left' }, h('h3', null, 'Answer A (left)'), a.left),
        h('div', { class: 'side', 'data-side': 'right' }, h('h3', null, 'Answer B (right)'), a.right)),
      h('p', { class: 'hint' }, 'Which answer is better? The two were put in a random order for you; labels are hidden. Keys: ← left, → right, T tie.'),
      field('Corrected answer', corrected), field('Comment', comment), err,
      h('div', { class: 'choices', role: 'group', 'aria-label': 'Your choice' },
        button('Left is better', () => submit({ choice: 'left' }), { kind: 'primary', 'data-choice': 'left' }),
        button('Tie', () => submit({ choice: 'tie' }), { kind: 'secondary', 'data-choice': 'tie' }),
        button('Right is better', () => submit({ choice: 'right' }), { kind: 'primary', 'data-choice': 'right' })));
    const keys = (e) => {
      if (!document.body.contains(form)) { window.removeEventListener('keydown', keys); return; }
      if (e.target.closest('input, textarea, select')) return;
      const choice = { ArrowLeft: 'left', ArrowRight: 'right', t: 'tie', T: 'tie' }[e.key];
      if (choice) { window.removeEventListener('keydown', keys); submit({ choice }); }
    };
    window.addEventListener('keydown', keys);
  }
  mount(main, top, card(`Item ${a.item_id} · ${a.remaining} left for you`, context, form));
}
