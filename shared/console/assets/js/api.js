// The platform API as the console calls it: same origin, the signed-in credential on
// every request (a bearer key or SigV4 credentials), errors in OpenAI's shape.
import { sign } from './sigv4.js';

/** ApiError carries the API's error message, status and code. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code;
    this.param = body?.error?.param;
  }
}

/** apiRoot is the platform's base path: what precedes /console/ (a stage prefix in AWS). */
export function apiRoot() {
  const p = location.pathname;
  const i = p.lastIndexOf('/console');
  return location.origin + (i >= 0 ? p.slice(0, i) : '');
}

/** Client calls the API with one credential: {key} or {sigv4:{accessKeyId,…,region}}. */
export class Client {
  constructor(cred) { this.cred = cred; }

  async raw(method, path, { query, json, form, headers = {} } = {}) {
    const url = new URL(apiRoot() + path);
    for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, v);
    let body = null;
    const h = { ...headers };
    if (json !== undefined) { body = JSON.stringify(json); h['Content-Type'] = 'application/json'; }
    if (form) {
      // Serialise the form ourselves so a SigV4 signature can cover the exact bytes.
      const r = new Response(form);
      h['Content-Type'] = r.headers.get('Content-Type');
      body = await r.arrayBuffer();
    }
    if (this.cred.key) h.Authorization = `Bearer ${this.cred.key}`;
    else if (this.cred.sigv4) Object.assign(h, await sign({ method, url: url.href, body, creds: this.cred.sigv4 }));
    const resp = await fetch(url, { method, headers: h, body, credentials: 'omit', cache: 'no-store' });
    if (!resp.ok) {
      let b = null;
      try { b = await resp.json(); } catch { /* not JSON */ }
      throw new ApiError(resp.status, b);
    }
    return resp;
  }

  async json(method, path, opts) {
    const r = await this.raw(method, path, opts);
    if (r.status === 204) return null;
    return r.json();
  }

  get(path, query) { return this.json('GET', path, { query }); }
  post(path, json, query) { return this.json('POST', path, { json: json ?? {}, query }); }
  put(path, json) { return this.json('PUT', path, { json }); }
  patch(path, json) { return this.json('PATCH', path, { json }); }
  del(path, query) { return this.json('DELETE', path, { query }); }
  async text(path, query) { return (await this.raw('GET', path, { query })).text(); }
}
