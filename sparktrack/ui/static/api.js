// The JSON API: every request carries the bearer token when the server wants one.
// The token comes from the URL's fragment (#token=..., which browsers never send to a
// server) or a prompt, and lives in this tab's sessionStorage only.

const TOKEN_KEY = "sparktrack.token";

export class ApiError extends Error {
  constructor(status, body) {
    super(body && body.message ? body.message : `HTTP ${status}`);
    this.status = status;
    this.code = body && body.error_code;
    this.position = body && body.position;
  }
}

export function takeTokenFromLocation() {
  const match = /^#token=([^&]*)/.exec(window.location.hash);
  if (match) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    history.replaceState(null, "", window.location.pathname + "#/experiments");
  }
}

function headers(extra) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const all = Object.assign({ Accept: "application/json" }, extra || {});
  if (token) all.Authorization = `Bearer ${token}`;
  return all;
}

async function send(method, path, body, retried) {
  const init = { method, headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }) };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(path, init);
  if (response.status === 401 && !retried) {
    const token = window.prompt("This sparktrack UI needs its token:");
    if (token) {
      sessionStorage.setItem(TOKEN_KEY, token);
      return send(method, path, body, true);
    }
  }
  let parsed = null;
  try {
    parsed = await response.json();
  } catch (_) {
    parsed = null;
  }
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

export const get = (path) => send("GET", path);
export const post = (path, body) => send("POST", path, body);
export const put = (path, body) => send("PUT", path, body);
export const patch = (path, body) => send("PATCH", path, body);
export const del = (path) => send("DELETE", path);

// A file of a run's artifacts as a blob URL (an <img> or <a> cannot send the token).
export async function artifactBlobUrl(runId, path, download) {
  const query = new URLSearchParams({ path });
  if (download) query.set("download", "true");
  const response = await fetch(`/api/runs/${encodeURIComponent(runId)}/artifacts/raw?${query}`, {
    headers: headers(),
  });
  if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
  return URL.createObjectURL(await response.blob());
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    if (Array.isArray(value)) value.forEach((v) => search.append(key, v));
    else search.append(key, String(value));
  }
  return search.toString();
}
