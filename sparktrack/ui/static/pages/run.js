// One run: status and times, facts from system tags, params, latest metrics, charts,
// tags, dataset inputs, parent and children, and the artifact browser.
import { del, get, patch, post, query } from "../api.js";
import { draw, smooth, xTitle } from "../charts.js";
import { clear, duration, errorBox, h, kvTable, link, number, status, time } from "../dom.js";
import { artifactBrowser } from "./artifacts.js";
import { snapshotBrowser } from "./snapshot.js";

const SNAPSHOT_TAG = "sparktrack.source.snapshot";

function factValue(name, value, tags) {
  if (name === "Re-run of") return link(`#/run/${value}`, value, { "data-testid": "rerun-of" });
  if (name === "Source snapshot") {
    return h("a", { href: "", "data-testid": "snapshot-link", onclick: (ev) => {
      ev.preventDefault();
      document.querySelector("[data-testid=snapshot]")?.scrollIntoView();
    } }, value.slice(0, 12));
  }
  const repo = tags["mlflow.source.git.repoURL"];
  if (name === "Git commit" && repo && /^https?:\/\//.test(repo)) {
    return link(`${repo.replace(/\.git$/, "")}/commit/${value}`, value, { rel: "noreferrer", target: "_blank" });
  }
  return value;
}

// A monitoring pass of a registered model's version links to that version's drift.
function monitoredModel(tags) {
  const model = tags["sparktrack.monitor.model"];
  const version = tags["sparktrack.monitor.version"];
  if (!model || !version) return null;
  return h("p", {}, link(`#/drift/${encodeURIComponent(model)}?version=${encodeURIComponent(version)}`,
    `Drift over time of ${model} version ${version}`, { "data-testid": "run-drift-link" }));
}

export async function runPage(root, ctx) {
  const runId = ctx.args[0];
  const run = await get(`/api/runs/${encodeURIComponent(runId)}`);
  if (!ctx.alive()) return;
  const systemTags = (k) => k.startsWith("mlflow.") || k.startsWith("sparktrack.");
  root.append(h("div", {},
    h("div", { class: "muted" },
      link(`#/runs?e=${encodeURIComponent(run.experiment_id)}`, run.experiment_name || run.experiment_id), " › run"),
    h("h1", { "data-testid": "run-name" }, run.run_name || run.run_id, " ", status(run.status)),
    run.sweep ? h("p", {}, link(`#/sweep/${run.run_id}`, "Open the sweep page", { "data-testid": "sweep-link" })) : null,
    monitoredModel(run.tags),
    h("div", { class: "grid2" },
      h("div", {},
        kvTable([
          ["Run id", run.run_id],
          ["Started", time(run.start_time)],
          ["Ended", time(run.end_time)],
          ["Duration", duration(run.duration_ms)],
          ["Lifecycle", run.lifecycle_stage],
          ["Artifacts", run.artifact_uri],
          ...(run.parent ? [["Parent", link(`#/run/${run.parent.run_id}`, run.parent.run_name || run.parent.run_id, { "data-testid": "parent-link" })]] : []),
        ], "run-info"),
        h("h2", {}, "Facts"),
        kvTable(Object.entries(run.facts).map(([k, v]) => [k, factValue(k, v, run.tags)]), "facts"),
      ),
      h("div", {},
        h("h2", {}, "Params"),
        kvTable(Object.entries(run.params).sort(), "params"),
        h("h2", {}, "Latest metrics"),
        kvTable(Object.entries(run.metrics).sort().map(([k, v]) => [k, number(v)]), "metrics"),
      ),
    ),
  ));

  if (ctx.server.allow_writes) root.append(changes(run));

  const metricKeys = Object.keys(run.metrics).sort();
  if (metricKeys.length) root.append(h("h2", {}, "Charts"), chartsSection(run, metricKeys, ctx));

  const userTags = Object.entries(run.tags).filter(([k]) => !systemTags(k)).sort();
  root.append(h("h2", {}, "Tags"), userTags.length ? kvTable(userTags, "tags") : h("p", { class: "muted" }, "No tags."));
  if (run.inputs.length) {
    root.append(h("h2", {}, "Dataset inputs"), h("table", { "data-testid": "inputs" },
      h("thead", {}, h("tr", {}, ["Name", "Context", "Type", "Rows", "Digest", "Source"].map((t) => h("th", {}, t)))),
      h("tbody", {}, run.inputs.map((d) => h("tr", {},
        h("td", {}, d.name), h("td", {}, d.context), h("td", {}, d.source_type), h("td", {}, d.num_rows ?? ""),
        h("td", {}, d.digest), h("td", {}, typeof d.source === "string" ? d.source : JSON.stringify(d.source)))))));
  }
  if (run.children.length) {
    root.append(h("h2", {}, `Nested runs (${run.children.length})`), h("ul", { "data-testid": "children" },
      run.children.map((c) => h("li", {}, link(`#/run/${c.run_id}`, c.run_name || c.run_id), " ", status(c.status)))));
  }
  root.append(h("h2", {}, "Artifacts"), artifactBrowser(run.run_id));
  if (run.tags[SNAPSHOT_TAG]) root.append(h("h2", {}, "Source snapshot"), snapshotBrowser(run.run_id));
}

function chartsSection(run, metricKeys, ctx) {
  const chosen = new Set(metricKeys.slice(0, 6));
  const axis = h("select", { "data-testid": "x-axis" }, ["step", "time", "wall"].map((a) => h("option", { value: a }, a)));
  const logScale = h("input", { type: "checkbox", "data-testid": "log-scale" });
  const overlay = h("input", { type: "checkbox", "data-testid": "overlay" });
  const smoothing = h("input", { type: "range", min: "0", max: "0.99", step: "0.01", value: "0", "data-testid": "smoothing" });
  const picks = h("div", { class: "chips" }, metricKeys.map((k) => h("label", { class: "chip" },
    h("input", { type: "checkbox", checked: chosen.has(k), "data-testid": "chart-metric", value: k,
      onchange: (ev) => { if (ev.target.checked) chosen.add(k); else chosen.delete(k); refresh(); } }), ` ${k}`)));
  const area = h("div", { class: "charts", "data-testid": "charts" });
  let series = [];

  function paint() {
    const weight = Number(smoothing.value);
    const x = { label: xTitle(axis.value), time: axis.value === "wall" };
    const y = { log: logScale.checked };
    const lineOf = (s) => ({ name: s.key, x: s.x, y: smooth(s.y, weight) });
    if (overlay.checked) {
      const el = h("div", { class: "chart", "data-testid": "chart", "data-metric": "overlay" });
      clear(area, el);
      draw(el, { title: [...chosen].join(", "), series: series.map(lineOf), x, y });
      return;
    }
    clear(area);
    for (const s of series) {
      const el = h("div", { class: "chart", "data-testid": "chart", "data-metric": s.key });
      area.append(el);
      const note = s.downsampled ? ` (${s.x.length} of ${s.total_points} points)` : "";
      draw(el, { title: s.key + note, series: [lineOf(s)], x, y });
    }
  }

  async function refresh() {
    if (!chosen.size) { clear(area, h("p", { class: "muted" }, "Pick a metric to chart.")); return; }
    try {
      const answer = await get(`/api/metric-history?${query({ run_id: run.run_id, key: [...chosen], x: axis.value })}`);
      if (!ctx.alive()) return;
      series = answer.series;
      paint();
    } catch (err) {
      clear(area, errorBox(err));
    }
  }
  axis.addEventListener("change", refresh);
  for (const control of [logScale, overlay]) control.addEventListener("change", paint);
  smoothing.addEventListener("input", paint);
  refresh();
  return h("div", {},
    h("div", { class: "row" }, "x:", axis, h("label", {}, logScale, " log scale"), h("label", {}, overlay, " overlay"),
      h("label", {}, "smoothing ", smoothing)),
    picks, area);
}

// With --allow-writes: rename the run, set a tag, delete it (a second click confirms).
function changes(run) {
  const base = `/api/runs/${encodeURIComponent(run.run_id)}`;
  const result = h("span", { "data-testid": "run-change-result" });
  const done = async (action) => {
    try {
      await action();
      window.dispatchEvent(new HashChangeEvent("hashchange"));
    } catch (err) {
      clear(result, errorBox(err));
    }
  };
  const name = h("input", { type: "text", value: run.run_name || "", "data-testid": "rename-input", size: "24" });
  const key = h("input", { type: "text", placeholder: "tag", size: "12", "data-testid": "tag-key" });
  const value = h("input", { type: "text", placeholder: "value", size: "16", "data-testid": "tag-value" });
  const remove = h("button", { "data-testid": "delete-run" }, "Delete run");
  remove.addEventListener("click", () => {
    if (remove.dataset.armed) return done(() => del(base));
    remove.dataset.armed = "true";
    remove.textContent = "Click again to delete";
  });
  return h("div", { class: "row panel", "data-testid": "run-changes" },
    name, h("button", { "data-testid": "rename", onclick: () => done(() => patch(base, { run_name: name.value })) }, "Rename"),
    key, value, h("button", { "data-testid": "set-tag", onclick: () => done(() => post(`${base}/tags`, { key: key.value, value: value.value })) }, "Set tag"),
    remove, result);
}
