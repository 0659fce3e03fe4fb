// The console's shell: sign-in, navigation by role, and a hash router that loads each
// page's module on first use (the first page needs only this file and three helpers).
import { h, mount, field, errorBox, button } from './dom.js';
import { state, load, signIn, signOut, isAdmin } from './state.js';

/** Pages: path, label, who may see it, and the module that renders it. */
const PAGES = [
  { path: 'overview', label: 'Overview', roles: ['admin', 'tenant'], mod: './pages/overview.js' },
  { path: 'tenants', label: 'Tenants & keys', roles: ['admin'], mod: './pages/tenants.js' },
  { path: 'models', label: 'Model hub', roles: ['admin', 'tenant'], mod: './pages/models.js' },
  { path: 'guardrails', label: 'Guardrails', roles: ['admin', 'tenant'], mod: './pages/guardrails.js' },
  { path: 'knowledge', label: 'Knowledge bases', roles: ['admin', 'tenant'], mod: './pages/knowledge.js' },
  { path: 'evaluations', label: 'Evaluations', roles: ['admin'], mod: './pages/evaluations.js' },
  { path: 'reviews', label: 'Human review', roles: ['admin', 'tenant'], mod: './pages/reviews.js' },
  { path: 'flows', label: 'Flows', roles: ['admin'], mod: './pages/flows.js' },
  { path: 'usage', label: 'Usage & chargeback', roles: ['admin', 'tenant'], mod: './pages/usage.js' },
  { path: 'audit', label: 'Audit log', roles: ['admin'], mod: './pages/audit.js' },
  { path: 'tools', label: 'Tools & agents', roles: ['admin'], mod: './pages/tools.js' },
];

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
    PAGES.filter(p => p.roles.includes(role)).map(p => h('li', null,
      h('a', { href: '#/' + p.path, 'aria-current': p.path === current ? 'page' : null }, p.label)))));
  const who = isAdmin()
    ? h('span', null, h('strong', null, 'Platform admin'), state.reviewer ? ` · ${state.reviewer}` : '')
    : h('span', null, h('strong', null, state.session.tenant), ` · key ${state.session.key_id}`);
  const main = h('main', { id: 'main', tabindex: '-1' });
  mount(app,
    h('div', { class: 'layout' },
      h('aside', { class: 'sidebar' },
        h('div', { class: 'brand' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, 'P'), 'Plinth'),
        nav),
      h('div', { class: 'content' },
        h('header', { class: 'topbar' },
          h('span', { class: 'role', 'data-role': role }, role === 'admin' ? 'admin' : 'tenant'),
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
  try { await state.client.get(isAdmin() ? '/admin/session' : '/v1/session'); return true; } catch { return false; }
}

export async function render({ focus = false } = {}) {
  if (!state.session) { signInPage(); return; }
  const { path, params, query } = route();
  const page = PAGES.find(p => p.path === path);
  const main = shell(page ? path : '');
  if (!page) { mount(main, h('h1', null, 'Not found'), h('p', null, 'No such page.')); return; }
  if (!page.roles.includes(state.session.role)) {
    mount(main, h('h1', null, page.label), h('div', { class: 'alert warn', role: 'alert' },
      `The ${page.label} page is for platform admins; you are signed in with a tenant key.`));
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
