// The console's shell: sign-in, navigation by role, and a hash router that loads each
// page's module on first use (the first page needs only this file and three helpers).
import { h, mount, field, errorBox, button } from './dom.js';
import { state, load, signIn, signOut, isPlatform, can, ROLE_LABELS } from './state.js';

const ALL = ['platform-admin', 'auditor', 'tenant-admin', 'developer', 'viewer'];

/**
 * Pages: path, label, the roles that may see it, the routes it reads (it shows when the
 * credential may call one of them, so a key's scopes count too), and its module.
 */
const PAGES = [
  { path: 'overview', label: 'Overview', roles: ALL, needs: ['GET /admin/usage/report', 'GET /v1/usage'], mod: './pages/overview.js' },
  { path: 'tenants', label: 'Tenants & keys', roles: ['platform-admin', 'auditor', 'tenant-admin', 'viewer'], needs: ['GET /admin/tenants', 'GET /admin/tenants/{id}'], mod: './pages/tenants.js' },
  { path: 'models', label: 'Model hub', roles: ['platform-admin', 'auditor', 'tenant-admin', 'developer'], needs: ['GET /admin/models', 'GET /v1/models'], mod: './pages/models.js' },
  { path: 'fine-tuning', label: 'Fine-tuning', roles: ALL, needs: ['GET /admin/fine_tuning/jobs', 'GET /v1/fine_tuning/jobs', 'GET /admin/models'], mod: './pages/finetune.js' },
  { path: 'guardrails', label: 'Guardrails', roles: ALL, needs: ['GET /admin/guardrail-policies', 'POST /v1/guardrails/apply'], mod: './pages/guardrails.js' },
  { path: 'knowledge', label: 'Knowledge bases', roles: ALL, needs: ['GET /admin/knowledge-bases', 'GET /v1/knowledge-bases/{kb}/documents'], mod: './pages/knowledge.js' },
  { path: 'evaluations', label: 'Evaluations', roles: ['platform-admin', 'auditor', 'tenant-admin', 'developer', 'viewer'], needs: ['GET /admin/eval-suites'], mod: './pages/evaluations.js' },
  { path: 'reviews', label: 'Human review', roles: ALL, needs: ['GET /admin/review-queues', 'GET /v1/review-queues'], mod: './pages/reviews.js' },
  { path: 'flows', label: 'Flows', roles: ['platform-admin', 'auditor'], needs: ['GET /admin/executions'], mod: './pages/flows.js' },
  { path: 'usage', label: 'Usage & chargeback', roles: ALL, needs: ['GET /admin/usage/report', 'GET /v1/usage'], mod: './pages/usage.js' },
  { path: 'audit', label: 'Audit log', roles: ['platform-admin', 'auditor', 'tenant-admin'], needs: ['GET /admin/audit'], mod: './pages/audit.js' },
  { path: 'tools', label: 'Tools & agents', roles: ALL, needs: ['GET /admin/tool-servers', 'GET /admin/tenants/{id}/tool-grants', 'GET /v1/tools', 'GET /admin/agents'], mod: './pages/tools.js' },
];

/** visible reports whether the signed-in credential may see the page. */
const visible = (p) => p.roles.includes(state.session.role) && p.needs.some(can);

const app = document.getElementById('app');

function route() {
  const [hashPath, qs] = location.hash.replace(/^#\/?/, '').split('?');
  const [path, ...rest] = hashPath.split('/').map(decodeURIComponent);
  return { path: path || 'overview', params: rest, query: new URLSearchParams(qs || '') };
}

export function go(path) { location.hash = '#/' + path; }

function signInPage(error) {
  const keyInput = h('input', { type: 'password', name: 'key', autocomplete: 'off', required: true, spellcheck: 'false' });
  const nameInput = h('input', { type: 'text', name: 'reviewer', autocomplete: 'name', placeholder: 'e.g. alice' });
  const akid = h('input', { type: 'text', name: 'access_key_id', autocomplete: 'off', spellcheck: 'false' });
  const secret = h('input', { type: 'password', name: 'secret_access_key', autocomplete: 'off' });
  const token = h('input', { type: 'password', name: 'session_token', autocomplete: 'off' });
  const region = h('input', { type: 'text', name: 'region', value: 'us-east-1', autocomplete: 'off' });
  const errBox = h('div');
  const useAWS = h('input', { type: 'checkbox', id: 'use-aws' });
  const awsFields = h('fieldset', { class: 'aws', hidden: true },
    h('legend', null, 'AWS credentials (IAM or IAM Identity Center)'),
    field('Access key ID', akid), field('Secret access key', secret),
    field('Session token', token, 'From your IAM Identity Center portal: "Command line or programmatic access".'),
    field('Region', region));
  const keyField = field('API key', keyInput, 'An admin key (adm-…) or a tenant API key (pk-…). It stays in this tab only.');
  useAWS.addEventListener('change', () => {
    awsFields.hidden = !useAWS.checked;
    keyField.hidden = useAWS.checked;
    keyInput.required = !useAWS.checked;
  });
  const form = h('form', { class: 'signin card', 'aria-labelledby': 'signin-title',
    onsubmit: async (e) => {
      e.preventDefault();
      mount(errBox);
      const submit = form.querySelector('button[type=submit]');
      submit.disabled = true;
      try {
        const cred = useAWS.checked
          ? { sigv4: { accessKeyId: akid.value.trim(), secretAccessKey: secret.value.trim(), sessionToken: token.value.trim() || undefined, region: region.value.trim() } }
          : { key: keyInput.value.trim() };
        await signIn(cred, nameInput.value.trim());
        if (!location.hash || location.hash === '#/signin') go('overview');
        render();
      } catch (err) {
        mount(errBox, errorBox(err.status === 401 ? new Error('That credential was not accepted.') : err));
      } finally {
        submit.disabled = false;
      }
    } },
    h('div', { class: 'brand big' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, 'P'), 'Plinth'),
    h('h1', { id: 'signin-title' }, 'Sign in to the console'),
    error ? errorBox(error) : null,
    keyField,
    h('div', { class: 'check' }, useAWS, h('label', { for: 'use-aws' }, 'Sign in with AWS credentials instead')),
    awsFields,
    field('Your name', nameInput, 'Recorded on model and human reviews you make as an admin.'),
    errBox,
    h('button', { type: 'submit', class: 'btn primary wide' }, 'Sign in'));
  mount(app, h('main', { id: 'main', class: 'signin-wrap' }, form));
  keyInput.focus();
}

function shell(current) {
  const role = state.session.role;
  const nav = h('nav', { 'aria-label': 'Console sections' }, h('ul', null,
    PAGES.filter(visible).map(p => h('li', null,
      h('a', { href: '#/' + p.path, 'aria-current': p.path === current ? 'page' : null }, p.label)))));
  const who = isPlatform()
    ? h('span', null, h('strong', null, ROLE_LABELS[role] || role), state.reviewer ? ` · ${state.reviewer}` : '')
    : h('span', null, h('strong', null, state.session.tenant), ` · ${(ROLE_LABELS[role] || role).toLowerCase()} · key ${state.session.key_id}`);
  const main = h('main', { id: 'main', tabindex: '-1' });
  mount(app,
    h('div', { class: 'layout' },
      h('aside', { class: 'sidebar' },
        h('div', { class: 'brand' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, 'P'), 'Plinth'),
        nav),
      h('div', { class: 'content' },
        h('header', { class: 'topbar' },
          h('span', { class: 'role', 'data-role': isPlatform() ? 'platform' : 'tenant' }, role === 'platform-admin' ? 'admin' : role),
          who,
          h('span', { class: 'grow' }),
          h('a', { href: apiDoc(), class: 'link', target: '_blank', rel: 'noopener' }, 'API reference'),
          button('Sign out', async () => { await signOut(); location.hash = ''; render(); }, { kind: 'ghost' })),
        main)));
  return main;
}

function apiDoc() { return '../openapi.json'; }

const loaded = new Map();

/** stillValid reports whether the signed-in credential is still accepted. */
async function stillValid() {
  try { await state.client.get('/admin/session'); return true; } catch { /* a credential the admin API refuses */ }
  try { await state.client.get('/v1/session'); return true; } catch { return false; }
}

export async function render({ focus = false } = {}) {
  if (!state.session) { signInPage(); return; }
  const { path, params, query } = route();
  const page = PAGES.find(p => p.path === path);
  const main = shell(page ? path : '');
  if (!page) { mount(main, h('h1', null, 'Not found'), h('p', null, 'No such page.')); return; }
  if (!visible(page)) {
    const who = (ROLE_LABELS[state.session.role] || state.session.role).toLowerCase();
    mount(main, h('h1', null, page.label), h('div', { class: 'alert warn', role: 'alert' },
      `The ${page.label} page is not available to you: you are signed in as a ${who}${state.session.tenant ? ` of tenant ${state.session.tenant}` : ''}, and your role or your key's scopes do not include it.`));
    return;
  }
  document.title = `${page.label} · Plinth console`;
  mount(main, h('p', { class: 'loading' }, 'Loading…'));
  try {
    let mod = loaded.get(page.mod);
    if (!mod) { mod = await import(page.mod); loaded.set(page.mod, mod); }
    await mod.render(main, { params, query, go, rerender: () => render() });
  } catch (err) {
    if (err?.status === 401 && !(await stillValid())) { await signOut(); signInPage(new Error('Your session is no longer valid; sign in again.')); return; }
    mount(main, h('h1', null, page.label), errorBox(err));
  }
  if (focus && document.activeElement === document.body) main.focus({ preventScroll: true });
}

// After navigating, focus moves to the new page's content (for screen readers and
// keyboards); on a first load it stays at the top, where the skip link is.
window.addEventListener('hashchange', () => render({ focus: true }));
load();
render();
