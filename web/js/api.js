/*
 * api.js - every call the console makes to slated's REST API (/api/v1).
 *
 * The token lives in sessionStorage (this tab only, gone when it closes).
 * A failed call throws ApiError carrying the RFC 9457 problem the server
 * sent: views show problem.detail next to the control that problem.field
 * (a JSON pointer such as "/size_bytes") names. A 401 on any call other
 * than login means the token is gone: the app goes back to its login page.
 */
const BASE = "/api/v1";
const TOKEN_KEY = "slate-token";
const TIMEOUT_MS = 30000;

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

let onUnauthorized = () => {};

export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/* api(method, path, body?) -> the parsed JSON answer (null for 204). */
export async function api(method, path, body) {
  const headers = {};
  const tok = token();
  if (tok) headers.Authorization = `Bearer ${tok}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(BASE + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    throw new ApiError(0, {
      title: "No answer",
      detail: `slated did not answer (${err.name === "TimeoutError" ? "timed out" : err.message})`,
    });
  }
  const text = await res.text();
  let payload = null;
  if (text) {
    try {
      payload = JSON.parse(text);
    } catch {
      payload = { detail: text };
    }
  }
  if (!res.ok) {
    const problem = payload && typeof payload === "object" ? payload : {};
    if (!problem.detail && !problem.title) problem.detail = `${res.status} ${res.statusText}`;
    if (res.status === 401 && path !== "/login") onUnauthorized();
    throw new ApiError(res.status, problem);
  }
  return payload;
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body);
export const patch = (path, body) => api("PATCH", path, body);
export const put = (path, body) => api("PUT", path, body);
export const del = (path) => api("DELETE", path);

/* Path segment: names may hold ':' (IQNs) and '/' never. */
export const seg = (s) => encodeURIComponent(s);

/* listAll(path, query?) -> every item of a paged list, following "next". */
export async function listAll(path, query = "") {
  const items = [];
  let after = null;
  for (let pages = 0; pages < 100; pages++) {
    const q = new URLSearchParams(query);
    q.set("limit", "1000");
    if (after !== null) q.set("after", String(after));
    const page = await get(`${path}?${q}`);
    items.push(...page.items);
    if (page.next === null || page.next === undefined) break;
    after = page.next;
  }
  return items;
}

export async function login(user, password) {
  const answer = await post("/login", { user, password });
  setToken(answer.token);
  return answer;
}

export async function logout() {
  try {
    await post("/logout");
  } finally {
    setToken(null);
  }
}
