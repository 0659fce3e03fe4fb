// The console's browser suite: drives every page of the web console in headless Debian
// Chromium through playwright-core, as an admin, a tenant and a reviewer. Run by
// console_test.go, which starts the platform and passes its URL and keys in the
// environment; prints one "RESULT {json}" line with the figures it measured.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { chromium } from '../tools/node_modules/playwright-core/index.mjs';

const URL_ = process.env.PLINTH_URL;
const ADMIN = process.env.PLINTH_ADMIN_KEY;
const DEMO = process.env.PLINTH_DEMO_KEY;
const OUT = process.env.ARTIFACTS;
const figures = { page_load_ms: {}, steps_ms: {} };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
});
const started = Date.now();
let failed = false;

async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', e => page.errors.push(e.message));
  // Answers the console expects are not errors (the sign-in probe's 401 for a tenant key,
  // a 404 for an API this platform does not serve yet); script errors and CSP
  // violations are.
  page.on('console', m => { if (m.type() === 'error' && !/^Failed to load resource: the server responded with a status of 40[14]/.test(m.text())) page.errors.push(m.text()); });
  // Nothing may leave the platform's origin: no CDN, fonts or telemetry.
  page.foreign = [];
  await context.route('**/*', (route) => {
    const u = route.request().url();
    if (u.startsWith(URL_) || u.startsWith('data:') || u.startsWith('blob:')) return route.continue();
    page.foreign.push(u);
    return route.abort();
  });
  return page;
}

async function step(page, name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    figures.steps_ms[name] = Date.now() - t0;
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed = true;
    console.log(`FAIL ${name}: ${e.stack || e}`);
    await page.screenshot({ path: `${OUT}/FAILED-${name.replace(/\W+/g, '-')}.png`, fullPage: true }).catch(() => {});
    throw e;
  }
}

async function shot(page, name) {
  // Notifications would hide the page; sticky bars follow the scroll position.
  await page.evaluate(() => { document.getElementById('toasts')?.replaceChildren(); window.scrollTo(0, 0); });
  await page.screenshot({ path: `${OUT}/${name}.png`, fullPage: true });
}

async function open(page, hash, ready) {
  const t0 = Date.now();
  // The same URL again is no navigation: load the page afresh instead.
  if (page.url() === `${URL_}/console/#/${hash}`) await page.reload();
  else await page.goto(`${URL_}/console/#/${hash}`);
  await page.waitForSelector(ready, { timeout: 15000 });
  return Date.now() - t0;
}

async function signIn(page, key, name) {
  await page.goto(`${URL_}/console/`);
  await page.fill('input[name=key]', key);
  if (name) await page.fill('input[name=reviewer]', name);
  await page.click('form.signin button[type=submit]');
  await page.waitForSelector('nav[aria-label="Console sections"]');
}

const api = async (method, path, body, key = ADMIN) => {
  const r = await fetch(URL_ + path, { method, headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
};

/** until polls fn (an API read) until pred holds, for at most ms. */
async function until(what, fn, pred, ms = 120000) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (pred(v)) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v).slice(0, 400)}`);
    await new Promise(r => setTimeout(r, 500));
  }
}

const example = (name) => ({ name, mimeType: 'application/jsonl', buffer: readFileSync(new URL(`../../docs/examples/fine-tuning/${name}`, import.meta.url)) });

try {
  const admin = await newPage();

  await step(admin, 'first page load', async () => {
    // Cold load of the sign-in page, then of the signed-in overview, measured by the
    // browser and reported (a figure, not a pass mark: the machine's load varies).
    await admin.goto(`${URL_}/console/`);
    await admin.waitForSelector('form.signin');
    const nav = await admin.evaluate(() => { const n = performance.getEntriesByType('navigation')[0]; return { dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd }; });
    figures.page_load_ms.signin_dom_content_loaded = Math.round(nav.dcl);
    figures.page_load_ms.signin_load = Math.round(nav.load);
    await shot(admin, '01-sign-in');
    // The page source holds no credential and loads nothing but the platform's own files.
    const html = await (await fetch(`${URL_}/console/`)).text();
    assert.ok(!html.includes(ADMIN) && !html.includes(DEMO));
  });

  await step(admin, 'sign in as admin', async () => {
    const t0 = Date.now();
    await admin.fill('input[name=key]', ADMIN);
    await admin.fill('input[name=reviewer]', 'alice');
    await admin.click('form.signin button[type=submit]');
    await admin.waitForSelector('.kpi');
    figures.page_load_ms.overview_after_sign_in = Date.now() - t0;
    // The credential lives in sessionStorage only.
    const storage = await admin.evaluate(() => ({ local: localStorage.length, session: JSON.stringify(sessionStorage), cookies: document.cookie }));
    assert.equal(storage.local, 0);
    assert.equal(storage.cookies, '');
    assert.ok(storage.session.includes(ADMIN));
    const t1 = Date.now();
    await admin.reload();
    await admin.waitForSelector('.kpi');
    figures.page_load_ms.overview_reload = Date.now() - t1;
  });

  await step(admin, 'keyboard and labels', async () => {
    await admin.reload();
    await admin.waitForSelector('.kpi');
    await admin.keyboard.press('Tab');
    assert.equal(await admin.evaluate(() => document.activeElement.className), 'skip');
    await admin.keyboard.press('Tab');
    assert.equal(await admin.evaluate(() => document.activeElement.textContent), 'Overview');
    await admin.keyboard.press('Tab');
    await admin.keyboard.press('Enter');
    await admin.waitForSelector('h1:text("Tenants & keys")');
  });

  await step(admin, 'tenants: onboard, issue and revoke a key', async () => {
    await open(admin, 'tenants', 'form input[name=id]');
    await admin.fill('input[name=id]', 'acme');
    await admin.fill('input[name=name]', 'Acme Corp');
    await admin.fill('input[name=tags]', 'cost-center=retail');
    await admin.fill('input[name=requests_per_minute]', '600');
    await admin.fill('input[name=monthly_usd]', '250');
    await admin.click('button:text("Create tenant")');
    await admin.waitForSelector('h2:text("Tenant acme")');
    await admin.fill('input[name=key_name]', 'ci-pipeline');
    await admin.click('button:text("Issue key")');
    const secret = await admin.textContent('[data-secret=api-key]');
    assert.match(secret, /^pk-/);
    const row = admin.locator('tr', { hasText: 'ci-pipeline' });
    admin.once('dialog', d => d.accept());
    await row.locator('button:text("Revoke")').click();
    await admin.waitForSelector('tr:has-text("ci-pipeline") .badge.bad:text("revoked")');
    // The revoked key no longer works.
    const r = await fetch(`${URL_}/v1/models`, { headers: { Authorization: `Bearer ${secret}` } });
    assert.equal(r.status, 401);
    await shot(admin, '02-tenants');
  });

  await step(admin, 'model hub: approve a model, lineage', async () => {
    await api('POST', '/admin/models', { id: 'team-gpt', kind: 'chat', deployments: [{ provider: 'openai', base_url: 'http://127.0.0.1:9/v1', model: 'gpt-4o-mini', api_key_env: 'OPENAI_API_KEY' }], prices: { input_per_million: 0.15, output_per_million: 0.6 } });
    await api('POST', '/admin/models', { id: 'team-gpt-support', kind: 'chat', deployments: [{ provider: 'local', model: 'local-chat' }], lineage: { base_model: 'local-chat', dataset: 'blob://datasets/demo/support-gold/v1.chat.jsonl', metrics: { f1: 71.5 } } });
    await open(admin, 'models', 'h1:text("Model hub")');
    const row = admin.locator('section', { hasText: 'Review queue' }).locator('tr', { hasText: 'team-gpt-support' });
    await row.locator('button:text("Approve")').click();
    await admin.waitForSelector('.toast:text("team-gpt-support approved")');
    await admin.waitForSelector('section:has-text("Review queue (1)")');
    const m = await api('GET', '/admin/models/team-gpt-support');
    assert.equal(m.status, 'approved');
    assert.equal(m.reviews.at(-1).reviewer, 'alice');
    await admin.waitForSelector('svg.lineage g[data-model="team-gpt-support"]');
    await shot(admin, '03-model-hub');
  });

  await step(admin, 'guardrails: create a policy and test it', async () => {
    await open(admin, 'guardrails', 'textarea.policy');
    // A schema error is caught as you type.
    await admin.fill('textarea.policy', '{"name":"x","contentPolicyConfig":{"filtersConfig":[{"type":"PROMPT_ATTACK","inputStrength":"EXTREME"}]}}');
    await admin.click('button:text("Validate")');
    await admin.waitForSelector('#policy-status .alert.bad:has-text("inputStrength")');
    await admin.goto(`${URL_}/console/#/guardrails?new`);
    await admin.goto(`${URL_}/console/#/guardrails`);
    await admin.waitForSelector('textarea.policy');
    await admin.waitForSelector('#policy-status .alert.good');
    await admin.click('button:text("Create policy")');
    await admin.waitForSelector('button:text("Save as version 2")');
    await admin.click('button:text("Test policy")');
    await admin.waitForSelector('.findings .badge:text("GUARDRAIL_INTERVENED")');
    const marks = await admin.locator('[data-testid=highlighted] mark').allTextContents();
    assert.ok(marks.includes('jane@example.com'), `highlighted ${JSON.stringify(marks)}`);
    await shot(admin, '04-guardrails');
  });

  await step(admin, 'knowledge bases: upload a document and see it indexed', async () => {
    await open(admin, 'knowledge', 'h1:text("Knowledge bases")');
    await admin.selectOption('select[name=tenant]', 'demo');
    await admin.waitForSelector('input[name=kb_id]');
    await admin.fill('input[name=kb_id]', 'handbook');
    await admin.click('button:text("Create")');
    await admin.waitForSelector('h2:text("Documents of handbook")');
    await admin.setInputFiles('input[name=file]', { name: 'leave-policy.md', mimeType: 'text/markdown',
      buffer: Buffer.from('# Leave policy\n\nParental leave is sixteen weeks at full pay for every parent.\n\nAnnual leave is twenty-five days a year, plus public holidays.\n') });
    await admin.fill('input[name=metadata]', '{"team":"hr"}');
    await admin.click('button:text("Upload")');
    await admin.waitForSelector('[data-doc="leave-policy.md"][data-doc-status=indexed]', { timeout: 30000 });
    await admin.fill('input[name=query]', 'How long is parental leave?');
    await admin.click('button:text("Retrieve")');
    await admin.waitForSelector('h3:has-text("passages")');
    const text = await admin.locator('td:has-text("sixteen weeks")').count();
    assert.ok(text >= 1);
    await admin.click('button:text("Answer with citations")');
    await admin.waitForSelector('h3:text("Citations")');
    await shot(admin, '05-knowledge-bases');
  });

  let runs = [];
  await step(admin, 'evaluations: start runs and see the trend chart', async () => {
    await open(admin, 'evaluations', 'input[name=suite_id]');
    await admin.fill('input[name=suite_tenant]', 'demo');
    await admin.fill('input[name=suite_id]', 'qa');
    await admin.click('button:text("Create suite")');
    await admin.waitForSelector('button:text("Start a run")');
    for (let i = 1; i <= 2; i++) {
      await admin.click('button:text("Start a run")');
      await admin.waitForFunction((n) => document.querySelectorAll('[data-testid=trend] svg.chart circle').length >= n * 4, i, { timeout: 60000 });
    }
    runs = (await api('GET', '/admin/eval-suites/qa/runs')).data.map(r => r.id);
    assert.equal(runs.length, 2);
    await shot(admin, '06-evaluations');
    await admin.click(`a:text("${runs[0]}")`);
    await admin.waitForSelector('h1:has-text("Run ")');
    await admin.waitForSelector('section:has-text("Items") tbody tr');
    await shot(admin, '07-evaluation-run');
  });

  // Human review: two reviewers (alice as admin, the demo tenant's key as the second)
  // score the demo set; the suite checks the agreement the page shows against the
  // value computed from the same scores.
  const demo = [
    { input: 'What is the capital of France?', output: 'Paris.' },
    { input: 'How many days are in a leap year?', output: '366 days.' },
    { input: 'Who wrote Hamlet?', output: 'Christopher Marlowe.' },
    { input: 'What is the boiling point of water at sea level?', output: '100 °C.' },
    { input: 'What is 12 × 12?', output: '124.' },
    { input: 'Which planet is known as the red planet?', output: 'Mars.' },
  ];
  const alice = [5, 5, 1, 4, 1, 5];
  const second = [5, 4, 1, 5, 2, 5];
  let queueID;
  await step(admin, 'human review: build a queue and review as alice', async () => {
    await open(admin, 'reviews', 'input[name=queue_name]');
    await admin.fill('input[name=queue_tenant]', 'demo');
    await admin.fill('input[name=queue_name]', 'Answer quality');
    await admin.fill('input[name=criteria]', 'correctness');
    await admin.selectOption('select[name=source_type]', 'samples');
    await admin.fill('textarea[name=samples]', demo.map((d, i) => JSON.stringify({ id: `q${i + 1}`, ...d })).join('\n'));
    await admin.click('button:text("Build queue")');
    await admin.waitForSelector('a:text("Start reviewing")');
    queueID = decodeURIComponent((await admin.url()).split('#/reviews/')[1]);
    await admin.click('a:text("Start reviewing")');
    for (let i = 0; i < demo.length; i++) {
      await admin.waitForSelector('[data-testid=prompt]');
      const prompt = await admin.textContent('[data-testid=prompt]');
      const k = demo.findIndex(d => d.input === prompt);
      if (i === 0) await shot(admin, '08-human-review-rubric');
      await admin.locator(`label:has(input[aria-label="correctness ${alice[k]}"])`).click();
      if (k === 2) await admin.fill('textarea[name=corrected_output]', 'William Shakespeare.');
      await admin.click('button:text("Submit review")');
      await admin.waitForFunction((p) => document.querySelector('[data-testid=prompt]')?.textContent !== p || document.querySelector('[data-testid=review-done]'), prompt);
    }
    await admin.waitForSelector('[data-testid=review-done]');
  });

  // A side-by-side queue: the order is drawn per reviewer and recorded with the choice.
  await step(admin, 'human review: side by side', async () => {
    const q = await api('POST', '/admin/review-queues', { tenant: 'demo', name: 'Prompt v1 vs v2', kind: 'pairwise', reviewers_per_item: 1,
      source: { type: 'eval_run', run_id: runs[1], compare_run_id: runs[0] } });
    await open(admin, `reviews/${q.id}/review`, '.compare');
    await shot(admin, '09-human-review-side-by-side');
    const left = await admin.textContent('[data-side=left]');
    await admin.click('button[data-choice=left]');
    await admin.waitForSelector('.toast:text("Review saved")');
    const items = (await api('GET', `/admin/review-queues/${q.id}/items`)).data;
    const reviewed = items.find(it => it.reviews?.length);
    const shown = reviewed.candidates.find(c => c.id === reviewed.reviews[0].order[0]);
    assert.ok(left.includes(shown.text), 'the left answer is the candidate the review records as shown left');
    assert.equal(reviewed.reviews[0].preferred, reviewed.reviews[0].order[0]);
  });

  const tenant = await newPage();
  await step(tenant, 'role restrictions: a tenant key', async () => {
    await signIn(tenant, DEMO);
    const nav = await tenant.locator('nav a').allTextContents();
    for (const hidden of ['Tenants & keys', 'Evaluations', 'Flows', 'Audit log']) assert.ok(!nav.includes(hidden), `tenant sees ${hidden}`);
    for (const shown of ['Overview', 'Knowledge bases', 'Human review', 'Usage & chargeback', 'Fine-tuning', 'Tools & agents']) assert.ok(nav.includes(shown), `tenant misses ${shown}`);
    await tenant.goto(`${URL_}/console/#/tenants`);
    await tenant.waitForSelector('.alert.warn:has-text("not available to you")');
    await shot(tenant, '10-tenant-restricted');
    await open(tenant, 'overview', '.kpi');
    await shot(tenant, '11-tenant-overview');
    await open(tenant, 'models', 'td code:text("local-chat")');
  });

  await step(tenant, 'human review: a tenant reviewer completes the queue', async () => {
    await open(tenant, `reviews/${queueID}/review`, '[data-testid=prompt]');
    for (let i = 0; i < demo.length; i++) {
      await tenant.waitForSelector('[data-testid=prompt]');
      const prompt = await tenant.textContent('[data-testid=prompt]');
      const k = demo.findIndex(d => d.input === prompt);
      await tenant.locator(`label:has(input[aria-label="correctness ${second[k]}"])`).click();
      await tenant.keyboard.press('Tab'); // the scale is reachable by keyboard
      await tenant.click('button:text("Submit review")');
      await tenant.waitForFunction((p) => document.querySelector('[data-testid=prompt]')?.textContent !== p || document.querySelector('[data-testid=review-done]'), prompt);
    }
    await tenant.waitForSelector('[data-testid=review-done]');
  });

  // Federated administration: a tenant admin manages its own tenant and no other; a
  // viewer reads; a platform auditor reads every tenant and changes nothing.
  const tadmin = await newPage();
  let viewerKey;
  await step(tadmin, 'role restrictions: a tenant admin', async () => {
    const k = await api('POST', '/admin/tenants/demo/keys', { name: 'demo admin', role: 'tenant-admin' });
    await signIn(tadmin, k.key);
    const nav = await tadmin.locator('nav a').allTextContents();
    for (const shown of ['Tenants & keys', 'Knowledge bases', 'Evaluations', 'Human review', 'Audit log', 'Guardrails', 'Fine-tuning', 'Tools & agents']) assert.ok(nav.includes(shown), `tenant admin misses ${shown}`);
    for (const hidden of ['Flows']) assert.ok(!nav.includes(hidden), `tenant admin sees ${hidden}`);
    await open(tadmin, 'tenants', 'h2:text("Tenant demo")');
    assert.equal(await tadmin.locator('button:text("Create tenant")').count(), 0, 'a tenant admin onboards no tenant');
    assert.equal(await tadmin.locator('section:has-text("Settings and limits")').count(), 0, 'a tenant admin edits no limits');
    await tadmin.fill('input[name=key_name]', 'dashboard');
    await tadmin.selectOption('select[name=key_role]', 'viewer');
    await tadmin.click('button:text("Issue key")');
    viewerKey = await tadmin.textContent('[data-secret=api-key]');
    assert.match(viewerKey, /^pk-/);
    await tadmin.waitForSelector('tr:has-text("dashboard") [data-key-role=viewer]');
    const roles = await tadmin.locator('select[name=key_role] option').allTextContents();
    assert.ok(!roles.includes('tenant-admin'), `a tenant admin may issue ${roles} by default`);
    await shot(tadmin, '12a-tenant-admin');
    // Another tenant's page is refused by the platform, not just hidden.
    await tadmin.goto(`${URL_}/console/#/tenants/acme`);
    await tadmin.waitForSelector('.alert:has-text("acts for tenant demo only")');
    tadmin.errors = tadmin.errors.filter(e => !/status of 403/.test(e));
    await open(tadmin, 'audit', 'h1:text("Audit log")');
    await tadmin.waitForSelector('td code:has-text("createKey")');
    assert.equal(await tadmin.locator('td:text-is("acme")').count(), 0, 'the tenant admin reads another tenant\'s audit trail');
  });

  const viewer = await newPage();
  await step(viewer, 'role restrictions: a viewer', async () => {
    await signIn(viewer, viewerKey);
    const nav = await viewer.locator('nav a').allTextContents();
    for (const shown of ['Overview', 'Tenants & keys', 'Knowledge bases', 'Evaluations', 'Usage & chargeback', 'Fine-tuning', 'Tools & agents']) assert.ok(nav.includes(shown), `viewer misses ${shown}`);
    for (const hidden of ['Model hub', 'Flows', 'Audit log']) assert.ok(!nav.includes(hidden), `viewer sees ${hidden}`);
    await open(viewer, 'tenants', 'h2:text("Tenant demo")');
    assert.equal(await viewer.locator('button:text("Issue key")').count(), 0, 'a viewer issues keys');
    assert.equal(await viewer.locator('button:text("Revoke")').count(), 0, 'a viewer revokes keys');
    await open(viewer, 'evaluations', 'h1:text("Evaluations")');
    assert.equal(await viewer.locator('button:text("Create suite")').count(), 0, 'a viewer creates suites');
    assert.equal(await viewer.locator('button:text("Start a run")').count(), 0, 'a viewer starts runs');
    await shot(viewer, '12b-viewer');
  });

  const auditor = await newPage();
  await step(auditor, 'role restrictions: a platform auditor', async () => {
    const k = await api('POST', '/admin/keys', { name: 'compliance', role: 'auditor' });
    await signIn(auditor, k.key);
    const nav = await auditor.locator('nav a').allTextContents();
    for (const shown of ['Tenants & keys', 'Model hub', 'Fine-tuning', 'Flows', 'Audit log', 'Tools & agents', 'Usage & chargeback']) assert.ok(nav.includes(shown), `auditor misses ${shown}`);
    await open(auditor, 'tenants', 'td a:text("acme")');
    assert.equal(await auditor.locator('button:text("Create tenant")').count(), 0, 'an auditor onboards tenants');
    await open(auditor, 'models', 'h1:text("Model hub")');
    assert.equal(await auditor.locator('button:text("Approve")').count(), 0, 'an auditor approves models');
    assert.equal(await auditor.locator('button:text("Propose model")').count(), 0, 'an auditor registers models');
    await open(auditor, 'overview', '.kpi:has-text("Maturity stage")');
    await shot(auditor, '12c-platform-auditor');
  });

  await step(admin, 'human review: agreement and ground truth', async () => {
    await open(admin, `reviews/${queueID}`, '[data-alpha=correctness]');
    const shown = Number(await admin.textContent('[data-alpha=correctness]'));
    const ag = await api('GET', `/admin/review-queues/${queueID}/agreement`);
    const m = ag.measures[0];
    assert.equal(ag.multiply_reviewed, demo.length);
    assert.equal(shown.toFixed(3), m.alpha.toFixed(3));
    figures.agreement = { items: demo.length, reviewers: ag.reviewers, krippendorff_alpha_ordinal: round(m.alpha), percent_agreement: round(m.percent_agreement), cohen_kappa: round(m.mean_kappa), quadratic_kappa: round(m.mean_quadratic_kappa) };
    await admin.fill('input[name=dataset_name]', 'qa-gold');
    await admin.click('button:text("Publish a new version")');
    await admin.waitForSelector('.alert.good:has-text("Published qa-gold v1")');
    await shot(admin, '12-human-review-queue');
    const gold = await (await fetch(`${URL_}/admin/datasets/qa-gold/versions/1?tenant=demo`, { headers: { Authorization: `Bearer ${ADMIN}` } })).text();
    const lines = gold.trim().split('\n').map(l => JSON.parse(l));
    // Accepted: mean ≥ 4 (q1, q2, q4, q6) plus q3 through its correction.
    assert.deepEqual(lines.map(l => l.id).sort(), ['q1', 'q2', 'q3', 'q4', 'q6']);
    assert.deepEqual(lines.find(l => l.id === 'q3').references, ['William Shakespeare.']);
    figures.agreement.ground_truth_items = lines.length;
    // The dataset feeds an evaluation suite.
    await api('POST', '/admin/eval-suites', { tenant: 'demo', id: 'qa-gold', dataset: { uri: 'blob://datasets/demo/qa-gold/v1.jsonl' }, target: { model: 'local-chat' }, metrics: ['exact_match', 'f1'] });
    await open(admin, 'reviews', 'h2:has-text("Ground-truth datasets")');
    await shot(admin, '13-human-review-datasets');
  });

  await step(admin, 'flows: executions with state history', async () => {
    await open(admin, 'flows', 'h1:text("Flows")');
    await admin.locator('tr', { hasText: 'ingestion' }).first().locator('a').click();
    await admin.waitForSelector('h3:text("State history")');
    assert.ok(await admin.locator('section:has-text("State history") tbody tr').count() >= 3);
    await shot(admin, '14-flows');
  });

  await step(admin, 'usage: filters and CSV export', async () => {
    await open(admin, 'usage', 'h1:text("Usage & chargeback")');
    await admin.selectOption('select[name=group_by]', 'tag');
    await admin.click('button:text("Apply")');
    await admin.waitForSelector('th:text("tag")');
    const [dl] = await Promise.all([admin.waitForEvent('download'), admin.click('button:text("Export CSV")')]);
    const csv = await (await dl.createReadStream()).toArray();
    const text = Buffer.concat(csv).toString();
    assert.match(text.split('\n')[0], /^tag/);
    assert.match(text, /demo/);
    await shot(admin, '15-usage');
  });

  await step(admin, 'audit log', async () => {
    await open(admin, 'audit', 'h1:text("Audit log")');
    await admin.fill('input[name=tenant]', 'acme');
    await admin.click('button:text("Filter")');
    await admin.waitForSelector('td code:has-text("revokeAPIKey"), td code:has-text("Key")');
    await shot(admin, '16-audit');
  });

  await step(admin, 'tools and agents: register and approve a server', async () => {
    await open(admin, 'tools', 'h1:text("Tools & agents")');
    await admin.fill('input[name=server_id]', 'kb-tools');
    await admin.selectOption('select[name=server_kind]', 'builtin');
    await admin.fill('input[name=server_target]', 'knowledge-base');
    await admin.click('button:text("Register")');
    await admin.waitForSelector('h2:text("Server kb-tools")');
    await admin.locator('tr', { has: admin.locator('[data-server="kb-tools"]') }).locator('button:text("Approve")').click();
    await admin.waitForSelector('tr:has([data-server="kb-tools"]) .badge.good:text("approved")');
    await shot(admin, '17-tools');
  });

  // Tools are deny-by-default: the demo key lists nothing until a grant names a server.
  await step(admin, 'tool hub: definition hashes, grant and revoke', async () => {
    const server = await api('GET', '/admin/tool-servers/kb-tools');
    const tool = server.tools.find(t => !t.removed);
    assert.ok(tool?.hash, 'the server lists a tool with a definition hash');
    const t0 = Date.now();
    await admin.goto(`${URL_}/console/#/tools/server/kb-tools`);
    await admin.waitForSelector(`[data-hash="${tool.hash}"]`);
    figures.page_load_ms.tools = Date.now() - t0;
    assert.equal(await admin.locator(`[data-tool-status="${tool.name}"] .badge`).first().textContent(), tool.status);
    await admin.selectOption('select[name=tenant]', 'demo');
    await admin.waitForSelector('[data-testid=no-grants]');
    const before = await api('GET', '/v1/tools', null, DEMO);
    assert.equal(before.data.length, 0, 'an ungranted tenant lists tools');
    await admin.selectOption('select[name=grant_server]', 'kb-tools');
    await admin.fill('input[name=grant_cpm]', '30');
    await admin.click('button:text("Grant")');
    await admin.waitForSelector('[data-grant="kb-tools"]');
    const after = await api('GET', '/v1/tools', null, DEMO);
    assert.ok(after.data.length >= 1 && after.data.every(t => t.server === 'kb-tools'), JSON.stringify(after));
    await shot(admin, '20-tool-grants');
    admin.once('dialog', d => d.accept());
    await admin.click('button[aria-label="Revoke kb-tools from demo"]');
    await admin.waitForSelector('[data-testid=no-grants]');
    assert.equal((await api('GET', '/v1/tools', null, DEMO)).data.length, 0, 'a revoked grant still lists tools');
    // Granted again for the role checks below.
    await admin.selectOption('select[name=grant_server]', 'kb-tools');
    await admin.click('button:text("Grant")');
    await admin.waitForSelector('[data-grant="kb-tools"]');
  });

  await step(admin, 'agents: a run and its tree of steps', async () => {
    await api('POST', '/admin/agents', { id: 'greeter', tenant: 'demo', model: 'local-chat', instructions: 'Answer in one sentence.', max_steps: 3 });
    const started = await api('POST', '/v1/agent-runs', { agent: 'greeter', input: 'Say hello to the new starters.' }, DEMO);
    const run = await until('the agent run', () => api('GET', `/v1/agent-runs/${started.id}`, null, DEMO), r => r.status !== 'running', 60000);
    await open(admin, 'tools', '[data-agent="greeter"]');
    await admin.click(`a[data-run="${started.id}"]`);
    await admin.waitForSelector('[data-testid=run-steps] li');
    assert.equal(await admin.textContent('[data-run-status]'), run.status);
    assert.equal(await admin.locator('[data-testid=run-steps] > li').count(), run.trace.length);
    await shot(admin, '21-agent-run');
  });

  // Fine-tuning end to end in the browser: upload, train, see the loss curve, approve the
  // custom model, follow its lineage, roll its alias back and promote it again; then a
  // broken file's findings by line.
  let ftJob, ftModel;
  await step(admin, 'fine-tuning: start a job and see its loss curve', async () => {
    const demoTenant = await api('GET', '/admin/tenants/demo');
    if ((demoTenant.allowed_models || []).length && !demoTenant.allowed_models.includes('local-tune')) {
      await api('PATCH', '/admin/tenants/demo', { allowed_models: [...demoTenant.allowed_models, 'local-tune'] });
    }
    const t0 = Date.now();
    await admin.goto(`${URL_}/console/#/fine-tuning`);
    await admin.waitForSelector('h2:text("Jobs")');
    figures.page_load_ms.fine_tuning = Date.now() - t0;
    await admin.selectOption('select[name=tenant]', 'demo');
    await admin.waitForSelector('input[name=training_file]');
    await admin.setInputFiles('input[name=training_file]', example('handbook-train.jsonl'));
    await admin.setInputFiles('input[name=validation_file]', example('handbook-valid.jsonl'));
    await admin.fill('input[name=ft_suffix]', 'handbook');
    await admin.click('button:text("Start job")');
    await admin.waitForSelector('h2:has-text("Job ftjob-")');
    ftJob = decodeURIComponent(admin.url().split('#/fine-tuning/')[1]);
    const job = await until('the job to await approval', () => api('GET', `/admin/fine_tuning/jobs/${ftJob}`),
      j => ['awaiting_approval', 'failed'].includes(j.customization?.stage), 180000);
    assert.equal(job.customization.stage, 'awaiting_approval', JSON.stringify(job.error));
    ftModel = job.fine_tuned_model;
    const events = (await api('GET', `/admin/fine_tuning/jobs/${ftJob}/events?limit=100`)).data.filter(e => e.type === 'metrics');
    await admin.reload();
    await admin.waitForSelector('[data-testid=loss-curve] svg.chart');
    assert.equal(await admin.locator('[data-testid=loss-curve] svg.chart circle').count(), events.length, 'one point per training step');
    assert.ok(events.length >= 2);
    await admin.waitForSelector('[data-job-stage=awaiting_approval]');
    await shot(admin, '22-fine-tuning-job');
  });

  await step(admin, 'fine-tuning: approve the custom model, lineage, roll back and promote', async () => {
    await admin.click(`button[aria-label="Approve ${ftModel}"]`);
    await admin.waitForSelector(`.toast:text("${ftModel} approved")`);
    const job = await until('the promotion', () => api('GET', `/admin/fine_tuning/jobs/${ftJob}`), j => j.customization?.stage !== 'awaiting_approval', 60000);
    assert.equal(job.customization.stage, 'promoted');
    const alias = job.customization.promotion.alias;
    assert.equal((await api('GET', `/admin/models/${ftModel}`)).reviews.at(-1).reviewer, 'alice');
    await admin.reload();
    // base model and datasets → job → custom model → alias
    for (const sel of [`g[data-kind=base][data-node="local-tune"]`, `g[data-kind=job][data-node="${ftJob}"]`, `g[data-kind=model][data-node="${ftModel}"]`,
      `g[data-kind=alias][data-node="${alias}"]`, 'g[data-kind=dataset]']) await admin.waitForSelector(`svg.lineage ${sel}`);
    assert.equal(await admin.locator('svg.lineage g[data-kind=dataset]').count(), 2, 'training and validation files');
    assert.equal(await admin.textContent(`[data-alias-model="${alias}"]`), ftModel);
    await shot(admin, '23-fine-tuning-lineage');
    admin.once('dialog', d => d.accept());
    await admin.click(`button[aria-label="Roll back ${alias}"]`);
    await admin.waitForSelector(`.toast:has-text("${alias} rolled back")`);
    const moves = (await api('GET', `/admin/aliases/history?alias=${encodeURIComponent(alias)}`)).data;
    assert.ok(moves[0].rollback && moves[0].from === ftModel, JSON.stringify(moves));
    await admin.waitForSelector(`[data-alias-model="${alias}"]`, { state: 'detached' });
    await admin.fill('input[name=promote_alias]', alias);
    await admin.selectOption('select[name=promote_model]', ftModel);
    await admin.click('button:text("Promote")');
    await admin.waitForSelector(`[data-alias-model="${alias}"]:text("${ftModel}")`);
    assert.equal((await api('GET', `/admin/aliases/history?alias=${encodeURIComponent(alias)}`)).data[0].to, ftModel);
    await admin.click(`button[aria-label="History of ${alias}"]`);
    await admin.waitForSelector('[data-testid=alias-history] tbody tr >> nth=2');
    await shot(admin, '24-aliases');
  });

  await step(admin, 'fine-tuning: a broken file is reported by line', async () => {
    await open(admin, 'fine-tuning', 'input[name=training_file]');
    await admin.setInputFiles('input[name=training_file]', example('broken.jsonl'));
    await admin.click('button:text("Start job")');
    await admin.waitForSelector('h2:has-text("Job ftjob-")');
    const bad = decodeURIComponent(admin.url().split('#/fine-tuning/')[1]);
    const job = await until('the broken job to fail', () => api('GET', `/admin/fine_tuning/jobs/${bad}`), j => j.status !== 'validating_files', 60000);
    assert.equal(job.status, 'failed');
    await admin.reload();
    await admin.waitForSelector('[data-testid=job-error]');
    const lines = (job.customization.validation.issues || []).filter(i => i.severity === 'error').map(i => String(i.line));
    assert.ok(lines.includes('2') && lines.includes('3'), JSON.stringify(lines));
    for (const l of lines) await admin.waitForSelector(`[data-issue-line="${l}"]`);
    await shot(admin, '25-fine-tuning-validation');
  });

  // Every role: each page in its navigation opens without a permission error, every
  // other page is refused, and the new pages' actions appear only where the policy lets
  // the role act.
  await step(admin, 'role matrix: pages and actions per role', async () => {
    const all = (await admin.locator('nav a').evaluateAll(as => as.map(a => a.getAttribute('href').slice(2))));
    assert.equal(all.length, 12, `the platform admin sees every page: ${all}`);
    const check = async (p, who) => {
      const mine = await p.locator('nav a').evaluateAll(as => as.map(a => a.getAttribute('href').slice(2)));
      for (const path of all) {
        await p.goto(`${URL_}/console/#/${path}`);
        if (mine.includes(path)) {
          await p.waitForSelector('main h1');
          await p.waitForFunction(() => !document.querySelector('main .loading'));
          const errs = await p.locator('main .alert.bad').allTextContents();
          assert.deepEqual(errs, [], `${who} on ${path}`);
        } else {
          await p.waitForSelector('.alert.warn:has-text("not available to you")');
        }
      }
      return mine;
    };
    const seen = {};
    for (const [p, who] of [[admin, 'platform admin'], [auditor, 'auditor'], [tadmin, 'tenant admin'], [tenant, 'developer'], [viewer, 'viewer']]) seen[who] = await check(p, who);
    figures.pages_per_role = Object.fromEntries(Object.entries(seen).map(([k, v]) => [k, v.length]));

    // The auditor reads the review queue, the aliases and the grants, and changes nothing.
    await open(auditor, `fine-tuning/${ftJob}`, '[data-testid=loss-curve]');
    await auditor.waitForSelector(`[data-alias-model]`);
    for (const b of ['Approve', 'Reject', 'Roll back', 'Promote', 'Start job']) assert.equal(await auditor.locator(`main button:text("${b}")`).count(), 0, `an auditor may ${b}`);
    await open(auditor, 'tools', 'h1:text("Tools & agents")');
    await auditor.selectOption('select[name=tenant]', 'demo');
    await auditor.waitForSelector('[data-grant="kb-tools"]');
    for (const b of ['Grant', 'Revoke', 'Approve', 'Reject']) assert.equal(await auditor.locator(`main button:text("${b}")`).count(), 0, `an auditor may ${b}`);
    await shot(auditor, '26-auditor-fine-tuning-tools');

    // The tenant admin reads its tenant's jobs (loss curve through the admin route), its
    // grants and agents; it neither approves models nor moves aliases nor grants tools.
    await open(tadmin, `fine-tuning/${ftJob}`, '[data-testid=loss-curve] svg.chart');
    await tadmin.waitForSelector(`svg.lineage g[data-kind=model][data-node="${ftModel}"]`);
    for (const b of ['Approve', 'Roll back', 'Promote']) assert.equal(await tadmin.locator(`main button:text("${b}")`).count(), 0, `a tenant admin may ${b}`);
    assert.equal(await tadmin.locator('input[name=training_file]').count(), 1, 'a tenant admin starts jobs');
    await shot(tadmin, '27-tenant-admin-fine-tuning');
    await open(tadmin, 'tools', '[data-grant="kb-tools"]');
    await tadmin.waitForSelector('[data-agent="greeter"]');
    assert.equal(await tadmin.locator('main button:text("Grant")').count(), 0, 'a tenant admin grants tools');
    assert.equal(await tadmin.locator('main button:text("Revoke")').count(), 0, 'a tenant admin revokes grants');
    await shot(tadmin, '28-tenant-admin-tools');

    // The developer's key (inference and retrieval, no admin-read) uses the tenant API:
    // its jobs, the tools granted to it, a run by ID.
    await open(tenant, 'fine-tuning', `[data-job="${ftJob}"]`);
    await open(tenant, 'tools', 'h2:text("Tools this key may call")');
    assert.ok(await tenant.locator('section:has-text("Tools this key may call") tbody tr').count() >= 1);
    await shot(tenant, '29-developer-tools');

    // Knowledge bases: keys with admin-read list their tenant's (the policy's reading of a
    // tenant's configuration); a key without it opens one by ID, as GET /admin/knowledge-bases
    // needs admin-read.
    for (const p of [tadmin, viewer]) {
      await open(p, 'knowledge', 'a:text("handbook")');
      await p.click('a:text("handbook")');
      await p.waitForSelector('[data-doc="leave-policy.md"]');
    }
    await open(tenant, 'knowledge', 'input[name=kb]');
    assert.equal(await tenant.locator('a:text("handbook")').count(), 0);
    await open(auditor, 'knowledge', 'a:text("handbook")');
    await auditor.waitForSelector('[data-testid=kb-tenant-api-only]');

    // The viewer reads jobs and grants, starts nothing.
    await open(viewer, `fine-tuning/${ftJob}`, '[data-testid=loss-curve] svg.chart');
    assert.equal(await viewer.locator('input[name=training_file]').count(), 0, 'a viewer starts jobs');
    await open(viewer, 'tools', '[data-grant="kb-tools"]');
  });

  await step(admin, 'overview with traffic', async () => {
    await open(admin, 'overview', '.kpi');
    await admin.waitForSelector('.bars .bar-row');
    // The overview shows the platform's maturity stage from GET /admin/kpis.
    const stage = await admin.textContent('.kpi:has-text("Maturity stage") .value');
    const kpis = await api('GET', '/admin/kpis');
    assert.equal(stage, kpis.stage);
    figures.maturity_stage = kpis.stage;
    await shot(admin, '18-overview');
  });

  const sso = await newPage();
  await step(sso, 'sign in with AWS credentials (SigV4)', async () => {
    await sso.goto(`${URL_}/console/`);
    await sso.check('#use-aws');
    await sso.fill('input[name=access_key_id]', process.env.SIGV4_ACCESS_KEY_ID);
    await sso.fill('input[name=secret_access_key]', process.env.SIGV4_SECRET_ACCESS_KEY);
    await sso.fill('input[name=region]', 'us-east-1');
    await sso.click('form.signin button[type=submit]');
    await sso.waitForSelector('.topbar strong:text("demo")');
    await open(sso, `knowledge/handbook`, '[data-doc="leave-policy.md"]');
    await shot(sso, '19-sigv4-tenant');
  });

  await step(admin, 'accessibility and hygiene on every page', async () => {
    for (const p of ['overview', 'tenants/acme', 'models', `fine-tuning/${ftJob}`, 'guardrails', 'knowledge', 'evaluations', 'reviews', 'flows', 'usage', 'audit', 'tools/server/kb-tools']) {
      await open(admin, p, 'main h1');
      const bad = await admin.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
        .filter(el => el.type !== 'hidden' && !el.closest('[hidden]') && el.labels.length === 0 && !el.getAttribute('aria-label'))
        .map(el => el.name || el.outerHTML.slice(0, 60)));
      assert.deepEqual(bad, [], `unlabelled controls on ${p}`);
    }
    const ratios = await admin.evaluate(() => {
      const lum = (c) => { const [r, g, b] = c.match(/\d+/g).map(Number).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
      const ratio = (el) => { const s = getComputedStyle(el); let bg = el; let b = 'rgba(0, 0, 0, 0)'; while (bg && (b = getComputedStyle(bg).backgroundColor) === 'rgba(0, 0, 0, 0)') bg = bg.parentElement; if (!bg) b = 'rgb(255,255,255)'; const [l1, l2] = [lum(s.color), lum(b)].sort((x, y) => y - x); return (l1 + 0.05) / (l2 + 0.05); };
      return ['main h1', '.sub', 'th', 'td', '.sidebar a', '.hint', '.badge', '.btn.primary', '.muted'].map(sel => [sel, document.querySelector(sel) ? ratio(document.querySelector(sel)) : null]);
    });
    // The new pages' own colours: lineage boxes, stage badges, error reasons, hashes.
    await open(admin, `fine-tuning/${ftJob}`, '[data-testid=loss-curve]');
    ratios.push(...await admin.evaluate(() => {
      const lum = (c) => { const [r, g, b] = c.match(/\d+/g).map(Number).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
      const pair = (fg, bg) => { const [l1, l2] = [lum(fg), lum(bg)].sort((x, y) => y - x); return (l1 + 0.05) / (l2 + 0.05); };
      const out = [];
      for (const k of ['dataset', 'job', 'alias', 'model', 'base']) {
        const g = document.querySelector(`svg.lineage g[data-kind=${k}]`);
        if (g) out.push([`lineage ${k}`, pair(getComputedStyle(g.querySelector('text')).fill, getComputedStyle(g.querySelector('rect')).fill)]);
      }
      for (const sel of ['[data-job-stage] .badge', '.hash']) {
        const el = document.querySelector(sel);
        if (!el) continue;
        let bg = el, b; while (bg && (b = getComputedStyle(bg).backgroundColor) === 'rgba(0, 0, 0, 0)') bg = bg.parentElement;
        out.push([sel, pair(getComputedStyle(el).color, bg ? b : 'rgb(255, 255, 255)')]);
      }
      return out;
    }));
    for (const [sel, r] of ratios) if (r !== null) assert.ok(r >= 4.5, `${sel} contrast ${r.toFixed(2)} < 4.5`);
    figures.min_contrast = round(Math.min(...ratios.filter(([, r]) => r !== null).map(([, r]) => r)));
    for (const p of [admin, tenant, sso, tadmin, viewer, auditor]) {
      assert.deepEqual(p.foreign, [], 'requests outside the platform');
      assert.deepEqual(p.errors, [], 'script errors');
    }
  });

  await step(admin, 'sign out revokes the console session keys', async () => {
    const before = (await api('GET', '/admin/tenants/demo/keys')).data.filter(k => k.name?.startsWith('console session') && !k.revoked);
    assert.ok(before.length >= 1);
    await admin.click('button:text("Sign out")');
    await admin.waitForSelector('form.signin');
    const after = (await api('GET', '/admin/tenants/demo/keys')).data.filter(k => k.name?.startsWith('console session') && !k.revoked);
    assert.equal(after.length, 0, JSON.stringify({ before, after, stored: await admin.evaluate(() => sessionStorage.getItem('plinth.console.tenant-keys')) }));
    assert.equal(await admin.evaluate(() => sessionStorage.length), 0);
  });
} catch (e) {
  failed = true;
} finally {
  await browser.close();
}
figures.suite_ms = Date.now() - started;
console.log('RESULT ' + JSON.stringify(figures));
process.exit(failed ? 1 : 0);

function round(x) { return x === null || x === undefined ? null : Math.round(x * 1000) / 1000; }
