// Building the DOM without innerHTML: whatever a run logged lands as text, never markup.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function link(href, text, attrs) {
  return h("a", Object.assign({ href }, attrs || {}), text);
}

export function time(ms) {
  if (ms === null || ms === undefined) return "";
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

export function duration(ms) {
  if (ms === null || ms === undefined) return "";
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

export function number(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value; // NaN, Infinity
  if (Number.isInteger(value)) return String(value);
  if (value !== 0 && (Math.abs(value) >= 1e6 || Math.abs(value) < 1e-4)) return value.toExponential(4);
  return String(Number(value.toPrecision(6)));
}

export function status(text) {
  return h("span", { class: `status ${text}` }, text);
}

export function errorBox(err) {
  return h("p", { class: "error", "data-testid": "error" }, err && err.message ? err.message : String(err));
}

export function kvTable(entries, testid) {
  return h(
    "table",
    { class: "kv", "data-testid": testid },
    h("tbody", {}, entries.map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", {}, v)))),
  );
}

export function routeParams() {
  const [path, search] = window.location.hash.replace(/^#/, "").split("?");
  return { path: path || "/experiments", params: new URLSearchParams(search || "") };
}

export function setRouteParams(path, params) {
  const search = params.toString();
  const target = `#${path}${search ? "?" + search : ""}`;
  if (window.location.hash !== target) history.replaceState(null, "", target);
}
