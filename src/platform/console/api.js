// The control API as the console uses it: every call carries the token
// (Authorization: Bearer, never in a URL), and every failure becomes an
// ApiError whose text says which call failed and what emberd answered.
const KEY = 'ember.token';

export class ApiError extends Error {
  constructor(status, code, message, what) {
    super(message);
    this.status = status; // 0: emberd could not be reached
    this.code = code;
    this.what = what; // "GET /v1/services"
  }
  toString() {
    const status = this.status ? `${this.status} ${this.code}` : this.code;
    return `${this.what}: ${status}: ${this.message}`;
  }
}

export const token = () => sessionStorage.getItem(KEY) || '';
export const setToken = (t) => sessionStorage.setItem(KEY, t);
export const clearToken = () => sessionStorage.removeItem(KEY);

let unauthorized = () => {};
// fn(err) runs when emberd refuses the token (401) on any call.
export function onUnauthorized(fn) { unauthorized = fn; }

// method, path ("/v1/..."), and one of json (sent as JSON) or body (raw
// bytes: a File). Resolves to the parsed JSON, the text, or with raw the
// Response itself (to stream it).
export async function call(method, path, { json, body, signal, raw, auth } = {}) {
  const headers = { Authorization: `Bearer ${auth ?? token()}` };
  let payload;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(json);
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/octet-stream';
    payload = body;
  }
  const what = `${method} ${path.split('?')[0]}`;
  let res;
  try {
    res = await fetch(path, { method, headers, body: payload, signal, cache: 'no-store',
                              credentials: 'omit', redirect: 'error' });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'unreachable', `cannot reach emberd (${e.message})`, what);
  }
  if (raw && res.ok) return res;
  const text = await res.text();
  let data = null;
  if ((res.headers.get('Content-Type') || '').startsWith('application/json') && text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    const code = data?.error?.code || `http_${res.status}`;
    const message = data?.error?.message || text.trim() || res.statusText || 'no message';
    const err = new ApiError(res.status, code, message, what);
    if (res.status === 401 && auth === undefined) unauthorized(err);
    throw err;
  }
  return data ?? text;
}

export const svcPath = (name, rest = '') => `/v1/services/${encodeURIComponent(name)}${rest}`;

// Streams the service's log (GET .../logs?follow=true) into onText until the
// stream ends (the service was removed) or signal aborts it.
export async function followLogs(name, onText, signal) {
  const res = await call('GET', svcPath(name, '/logs?follow=true&tail=500'), { raw: true, signal });
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    onText(decoder.decode(value, { stream: true }));
  }
}

// Uploads a program (a File) and resolves to its sha256.
export async function upload(file) {
  const r = await call('POST', '/v1/images', { body: file });
  return r.sha256;
}
