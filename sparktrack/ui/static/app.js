// The single page: a hash router over the pages in ./pages/.
import { get, takeTokenFromLocation } from "./api.js";
import { clear, errorBox, routeParams } from "./dom.js";
import { experimentsPage } from "./pages/experiments.js";
import { runsPage } from "./pages/runs.js";
import { runPage } from "./pages/run.js";
import { comparePage } from "./pages/compare.js";
import { sweepPage } from "./pages/sweep.js";
import { registryPage, modelPage } from "./pages/registry.js";
import { driftPage } from "./pages/drift.js";

const ROUTES = [
  [/^\/experiments$/, experimentsPage, "experiments"],
  [/^\/runs$/, runsPage, "experiments"],
  [/^\/run\/([^/]+)$/, runPage, "experiments"],
  [/^\/compare$/, comparePage, "experiments"],
  [/^\/sweep\/([^/]+)$/, sweepPage, "experiments"],
  [/^\/registry$/, registryPage, "registry"],
  [/^\/drift\/(.+)$/, driftPage, "registry"],
  [/^\/registry\/(.+)$/, modelPage, "registry"],
];

const app = document.getElementById("app");
export const server = { allow_writes: false, version: "" };
let generation = 0;

async function route() {
  const { path, params } = routeParams();
  const mine = ++generation;
  // A page's timers (live refresh) stop once another page is shown.
  window.dispatchEvent(new Event("sparktrack:leave"));
  for (const [pattern, page, nav] of ROUTES) {
    const match = pattern.exec(path);
    if (!match) continue;
    document.querySelectorAll("[data-nav]").forEach((a) => a.classList.toggle("active", a.dataset.nav === nav));
    clear(app);
    try {
      await page(app, { args: match.slice(1).map(decodeURIComponent), params, server, alive: () => mine === generation });
    } catch (err) {
      if (mine === generation) app.append(errorBox(err));
    }
    return;
  }
  window.location.hash = "#/experiments";
}

// What the header shows comes with the page (no request before the first data).
function serverInfo() {
  const block = document.getElementById("server-info");
  return block ? JSON.parse(block.textContent) : get("/api/info");
}

async function start() {
  takeTokenFromLocation();
  try {
    Object.assign(server, await serverInfo());
    document.getElementById("mode").textContent =
      `sparktrack ${server.version} · ${server.allow_writes ? "changes allowed" : "read-only"}`;
  } catch (err) {
    clear(app, errorBox(err));
    return;
  }
  window.addEventListener("hashchange", route);
  await route();
}

start();
