// The signed-in session, kept in sessionStorage only (gone when the tab closes).
import { Client, ApiError } from './api.js';

const KEY = 'plinth.console';
const TENANT_KEYS = 'plinth.console.tenant-keys';

export const state = {
  session: null, // {role, platform, tenant, key_id, scopes, allowed}
  cred: null,    // {key} or {sigv4}
  reviewer: '',  // the name an admin reviews under
  client: null,
};

export function load() {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) || 'null');
    if (s?.cred && s?.session) {
      Object.assign(state, s);
      state.client = new Client(s.cred);
      return true;
    }
  } catch { /* corrupt: sign in again */ }
  return false;
}

function save() {
  sessionStorage.setItem(KEY, JSON.stringify({ session: state.session, cred: state.cred, reviewer: state.reviewer }));
}

/**
 * signIn asks who the credential is: the admin API answers for every credential it
 * accepts (platform keys and tenants' keys alike); the tenant API for the rest.
 */
export async function signIn(cred, reviewer) {
  const c = new Client(cred);
  let session = null;
  try {
    session = await c.get('/admin/session');
  } catch (e) {
    if (!(e instanceof ApiError) || (e.status !== 401 && e.status !== 403)) throw e;
  }
  if (!session) session = await c.get('/v1/session');
  Object.assign(state, { session, cred, reviewer: reviewer || (session.platform ? 'admin' : session.key_id), client: c });
  save();
  return session;
}

/** signOut revokes the tenant session keys this console issued and forgets everything. */
export async function signOut() {
  const keys = tenantKeys();
  if (isPlatform() && can('DELETE /admin/keys/{id}')) {
    await Promise.allSettled(Object.values(keys).map(k => state.client.del(`/admin/keys/${encodeURIComponent(k.id)}`)));
  }
  sessionStorage.clear(); // the credential, the tenant keys and remembered choices
  Object.assign(state, { session: null, cred: null, client: null, reviewer: '' });
}

/** isPlatform: the credential acts across tenants (a platform admin or a platform auditor). */
export const isPlatform = () => !!state.session?.platform;
/** isAdmin: pages show every tenant (platform credentials); what they may change is can(). */
export const isAdmin = isPlatform;
/** can reports whether the access policy lets the credential call the route ("METHOD /pattern"). */
export const can = (route) => (state.session?.allowed || []).includes(route);
/**
 * canAsTenant reports whether the console may call a tenant API route ("METHOD /v1/…"):
 * with the credential itself when it is a tenant's, else through a console session key
 * (platform admins only).
 */
export const canAsTenant = (route) => isPlatform() ? can('POST /admin/tenants/{id}/keys') : can(route);
export const hasScope = (s) => (state.session?.scopes || []).includes(s);

/** Role names as people say them. */
export const ROLE_LABELS = { 'platform-admin': 'Platform admin', auditor: 'Auditor', 'tenant-admin': 'Tenant admin', developer: 'Developer', viewer: 'Viewer' };

function tenantKeys() {
  try { return JSON.parse(sessionStorage.getItem(TENANT_KEYS) || '{}'); } catch { return {}; }
}

/**
 * tenantClient returns a client for a tenant's own API (/v1): the signed-in key when it
 * is that tenant's, else, for an admin, a short-lived key the console issues for the
 * tenant (named "console session", one hour, revoked on sign-out) and reuses meanwhile.
 */
export async function tenantClient(tenant) {
  if (!isPlatform()) {
    if (tenant && tenant !== state.session.tenant) throw new Error(`this key belongs to ${state.session.tenant}`);
    return state.client;
  }
  if (!tenant) throw new Error('choose a tenant first');
  if (!can('POST /admin/tenants/{id}/keys')) throw new Error('an auditor reads tenants\' records through the admin API only; this view needs a tenant\'s own key');
  const keys = tenantKeys();
  const k = keys[tenant];
  if (k && new Date(k.expires_at) - Date.now() > 60_000) return new Client({ key: k.key });
  const expires = new Date(Date.now() + 3600_000).toISOString();
  const created = await state.client.post(`/admin/tenants/${encodeURIComponent(tenant)}/keys`,
    { name: `console session (${state.reviewer || 'admin'})`, expires_at: expires, scopes: ['inference', 'retrieval'] });
  keys[tenant] = { id: created.id, key: created.key, expires_at: expires };
  sessionStorage.setItem(TENANT_KEYS, JSON.stringify(keys));
  return new Client({ key: created.key });
}

/** sessionKeyIDs lists the key IDs the console issued, so pages can label them. */
export const sessionKeyIDs = () => new Set(Object.values(tenantKeys()).map(k => k.id));

let tenantCache = null;
/** tenants lists tenant IDs (admins), cached for selectors. */
export async function tenants(refresh = false) {
  if (!isAdmin()) return [state.session.tenant];
  if (!tenantCache || refresh) {
    const r = await state.client.get('/admin/tenants');
    tenantCache = (r.data || []).map(t => t.id).sort();
  }
  return tenantCache;
}

/** Remembered choices (current tenant, knowledge base), for this tab only. */
export function pref(name, value) {
  const k = 'plinth.console.pref.' + name;
  if (value === undefined) return sessionStorage.getItem(k) || '';
  sessionStorage.setItem(k, value);
  return value;
}
