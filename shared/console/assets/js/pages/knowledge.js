import { h, mount, field, card, table, badge, button, errorBox, toast, when, num, fixed } from '../dom.js';
import { state, isAdmin, tenantClient, pref, can, canAsTenant } from '../state.js';
import { header, tenantPicker } from '../ui.js';

export async function render(main, { params, go }) {
  // Listing needs the admin API (platform credentials, or a tenant's with admin-read).
  const admin = can('GET /admin/knowledge-bases');
  const body = h('div');
  const picker = await tenantPicker(() => go('knowledge'));
  const tenant = picker.value();
  let kbs = [];
  if (admin && tenant) kbs = (await state.client.get('/admin/knowledge-bases', { tenant })).data || [];
  let kb = params[0] || pref('kb-' + tenant);
  if (admin && kb && !kbs.some(k => k.id === kb)) kb = '';
  if (admin && !kb && kbs.length) kb = kbs[0].id;

  const kbChooser = admin
    ? table([
      { label: 'Knowledge base', value: k => h('a', { href: `#/knowledge/${encodeURIComponent(k.id)}` }, k.id) },
      { label: 'Embedding model', value: k => h('code', null, k.embedding_model) },
      { label: 'Index', value: k => k.index_backend },
      { label: 'Chunking', value: k => k.chunking?.strategy || '—' },
      { label: 'Created', value: k => when(k.created_at) },
    ], kbs, { empty: `Tenant ${tenant || '—'} has no knowledge base yet.`, rowAttrs: k => ({ class: k.id === kb ? 'selected' : null }) })
    : kbByName(kb, go);

  mount(main,
    header('Knowledge bases', 'Documents with their ingestion status, uploads, and a retrieval playground.'),
    h('div', { class: 'grid two' },
      card(admin ? 'Knowledge bases' : 'Knowledge base', isAdmin() ? h('div', { class: 'row' }, picker.el) : null, kbChooser),
      can('POST /admin/knowledge-bases') ? createCard(tenant, go) : null),
    body);
  if (!kb) return;
  pref('kb-' + tenant, kb);
  if (isAdmin() && !canAsTenant('GET /v1/knowledge-bases/{kb}/documents')) {
    // A platform auditor: documents and retrieval are the tenant API's, which only a
    // tenant's credential (or a console session key an admin issues) calls.
    mount(body, card(`Documents of ${kb}`, h('div', { class: 'alert info', role: 'status', 'data-testid': 'kb-tenant-api-only' },
      'Documents and the retrieval playground come from the tenant\'s own API, which a platform auditor does not call. The knowledge bases above are what the admin API shows; a tenant\'s key with the admin-read or retrieval scope reads its documents here.')));
    return;
  }
  let client;
  try { client = await tenantClient(tenant); } catch (ex) { mount(body, errorBox(ex)); return; }
  await renderKB(body, client, tenant, kb);
}

function kbByName(kb, go) {
  const input = h('input', { name: 'kb', value: kb, placeholder: 'docs' });
  return h('form', { class: 'row', onsubmit: (e) => { e.preventDefault(); go(`knowledge/${encodeURIComponent(input.value.trim())}`); } },
    field('Knowledge base ID', input, 'Your administrator tells you its ID.'), h('button', { type: 'submit', class: 'btn secondary' }, 'Open'));
}

function createCard(tenant, go) {
  const id = h('input', { name: 'kb_id', required: true, placeholder: 'docs' });
  const name = h('input', { name: 'kb_name', placeholder: 'HR handbook' });
  const model = h('input', { name: 'embedding_model', placeholder: 'local-embed (default)' });
  const err = h('div');
  return card('Create a knowledge base', h('form', { onsubmit: async (e) => {
    e.preventDefault();
    mount(err);
    try {
      const b = { tenant, id: id.value.trim() };
      if (name.value.trim()) b.name = name.value.trim();
      if (model.value.trim()) b.embedding_model = model.value.trim();
      await state.client.post('/admin/knowledge-bases', b);
      toast(`Knowledge base ${b.id} created for ${tenant}`);
      go(`knowledge/${encodeURIComponent(b.id)}`);
    } catch (ex) { mount(err, errorBox(ex)); }
  } }, h('p', { class: 'hint' }, `For tenant ${tenant}.`), h('div', { class: 'grid three' }, field('ID', id), field('Name', name), field('Embedding model', model)), err,
  h('button', { type: 'submit', class: 'btn primary' }, 'Create')));
}

async function renderKB(el, client, tenant, kb) {
  const path = `/v1/knowledge-bases/${encodeURIComponent(kb)}`;
  const docsBox = h('div');
  let timer = null;
  const refresh = async () => {
    const docs = (await client.get(`${path}/documents`)).data || [];
    mount(docsBox, table([
      { label: 'Document', value: d => d.name },
      { label: 'Status', value: d => h('span', { 'data-doc-status': d.status, 'data-doc': d.name }, badge(d.status)) },
      { label: 'Failure reason', value: d => d.reason ? h('span', { class: 'reason' }, d.reason) : '—' },
      { label: 'Chunks', num: true, value: d => num(d.chunk_count) },
      { label: 'Size', num: true, value: d => `${num(d.size / 1024, 1)} KB` },
      { label: 'Metadata', value: d => Object.entries(d.metadata || {}).map(([k, v]) => h('span', { class: 'tag' }, `${k}=${v}`)) },
      { label: 'Updated', value: d => when(d.updated_at) },
      { label: 'Action', value: d => !canAsTenant('DELETE /v1/knowledge-bases/{kb}/documents/{id}') ? '' : button('Delete', async () => {
        if (!confirm(`Delete ${d.name} and its chunks?`)) return;
        await client.del(`${path}/documents/${encodeURIComponent(d.id)}`);
        toast(`${d.name} deleted`);
        refresh();
      }, { kind: 'danger small', 'aria-label': `Delete ${d.name}` }) },
    ], docs, { caption: `${docs.length} documents in ${kb}`, empty: 'No documents yet: upload one.' }));
    clearTimeout(timer);
    if (docs.some(d => d.status === 'pending') && document.body.contains(docsBox)) timer = setTimeout(refresh, 1000);
  };

  const file = h('input', { type: 'file', name: 'file', required: true, accept: '.txt,.md,.html,.htm,.pdf,.docx,.csv,.json' });
  const meta = h('input', { name: 'metadata', placeholder: '{"team":"hr"}' });
  const uerr = h('div');
  const upload = h('form', { onsubmit: async (e) => {
    e.preventDefault();
    mount(uerr);
    if (!file.files.length) return;
    const fd = new FormData();
    fd.append('file', file.files[0]);
    if (meta.value.trim()) {
      try { JSON.parse(meta.value); } catch { mount(uerr, errorBox(new Error('Metadata must be a JSON object.'))); return; }
      fd.append('metadata', meta.value.trim());
    }
    try {
      const d = await client.json('POST', `${path}/documents`, { form: fd });
      toast(`${d.name || file.files[0].name} accepted: ${d.status}`);
      upload.reset();
      await refresh();
    } catch (ex) { mount(uerr, errorBox(ex)); }
  } }, h('div', { class: 'row' }, field('File', file, 'txt, md, html, pdf, docx, csv or json.'), field('Metadata (JSON)', meta)), uerr,
  h('button', { type: 'submit', class: 'btn primary' }, 'Upload'));

  const query = h('input', { type: 'search', name: 'query', placeholder: 'How long is parental leave?' });
  const topk = h('input', { type: 'number', name: 'top_k', min: '1', max: '100', value: '5' });
  const stype = h('select', { name: 'search_type' }, ['HYBRID', 'SEMANTIC', 'LEXICAL'].map(s => h('option', { value: s }, s)));
  const filter = h('input', { name: 'filter', placeholder: '{"equals":{"key":"team","value":"hr"}}' });
  const results = h('div', { 'aria-live': 'polite' });
  const req = () => {
    const b = { query: query.value.trim(), top_k: Number(topk.value) || 5, search_type: stype.value };
    if (filter.value.trim()) b.filter = JSON.parse(filter.value);
    return b;
  };
  const retrieve = button('Retrieve', async () => {
    try {
      const r = await client.post(`${path}/retrieve`, req());
      mount(results, h('h3', null, `${r.results.length} passages (${r.search_type})`), passages(r.results));
    } catch (ex) { mount(results, errorBox(ex)); }
  });
  const answer = button('Answer with citations', async () => {
    try {
      const r = await client.post(`${path}/answer`, req());
      mount(results, h('h3', null, `Answer (${r.model})`), h('div', { class: 'prompt' }, r.answer),
        h('h3', null, 'Citations'), passages(r.citations || []));
    } catch (ex) { mount(results, errorBox(ex)); }
  }, { kind: 'secondary' });

  const uploads = canAsTenant('POST /v1/knowledge-bases/{kb}/documents');
  mount(el,
    card(`Documents of ${kb}`, docsBox, uploads ? [h('h3', null, 'Upload a document'), upload] : null),
    !canAsTenant('POST /v1/knowledge-bases/{kb}/retrieve') ? null : card('Retrieval playground',
      h('form', { onsubmit: (e) => { e.preventDefault(); retrieve.click(); } },
        h('div', { class: 'row' }, field('Query', query), field('Top k', topk), field('Search', stype), field('Filter (JSON)', filter)),
        h('div', { class: 'toolbar' }, retrieve, answer)),
      results));
  await refresh();
}

function passages(rows) {
  return table([
    { label: '#', num: true, value: r => r.citation || '' },
    { label: 'Score', num: true, value: r => fixed(r.score, 4) },
    { label: 'Passage', value: r => h('div', { class: 'cell-text wide' }, r.text) },
    { label: 'Source', value: r => h('div', null, h('strong', null, r.document?.name), r.page ? ` p.${r.page}` : '', h('div', { class: 'muted mono' }, r.chunk_id)) },
  ], rows, { empty: 'Nothing matched.' });
}
