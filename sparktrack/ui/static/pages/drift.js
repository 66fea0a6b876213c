// Drift over time per model version: the passes `sparktrack monitor` logged, PSI per
// feature and of the predictions against the WARN/ALERT thresholds, each pass marked by
// its status; the latest pass per column; every pass linking to its run and its report.
import { artifactBlobUrl, get } from "../api.js";
import { draw } from "../charts.js";
import { clear, errorBox, h, link, number, setRouteParams, status, time } from "../dom.js";

const STATUS_COLORS = { OK: "#067647", WARN: "#b54708", ALERT: "#d92d20" };
const STATUSES = ["OK", "WARN", "ALERT"];
const STATS = ["psi", "js", "ks", "chi2_p", "null_delta", "unseen"];
const STAT_TITLES = { psi: "PSI", js: "JS", ks: "KS", chi2_p: "χ² p", null_delta: "Null Δ", unseen: "Unseen" };
const PASSES_SHOWN = 50;
const REPORT_HTML = "drift_report.html";

const asNumber = (v) => (typeof v === "number" ? v : null);

function when(p) {
  if (p.window_start !== null && p.window_end !== null) return `${time(p.window_start)} → ${time(p.window_end)}`;
  return time(p.start_time);
}

async function downloadReport(runId) {
  // Downloaded, not opened: nothing a run uploaded runs in the UI's origin.
  const url = await artifactBlobUrl(runId, REPORT_HTML, true);
  const a = h("a", { href: url, download: `${runId.slice(0, 8)}-${REPORT_HTML}` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function emptyState(answer, version) {
  return h("div", { "data-testid": "drift-empty" },
    h("p", {}, version
      ? `Version ${version} of ${answer.model} has no monitoring pass in experiment "${answer.experiment}".`
      : `${answer.model} has no monitoring pass in experiment "${answer.experiment}" yet.`),
    h("p", {}, "Monitor a version on scored data (a Delta table, or --path PATH) to see its drift here:"),
    h("p", {}, h("code", { class: "cmd", "data-testid": "drift-how" }, answer.how_to_start)),
    h("p", { class: "muted" }, "or sparktrack.monitor(\"models:/", answer.model,
      "/<version>\", df) from Python; with a timestamp column, each time window is a pass."));
}

// PSI per feature and of the predictions, the thresholds as flat lines, and one marker
// per pass at its largest PSI, coloured by the pass's status. A click opens that pass.
function chartSpec(v, thresholds) {
  const passes = v.passes;
  const xs = passes.map((p) => p.time);
  const features = [...new Set(passes.flatMap((p) => Object.keys((p.drift || {}).psi || {})))].sort();
  const series = features.map((f) => ({
    name: f, style: "linepoints", x: xs, y: passes.map((p) => asNumber(((p.drift || {}).psi || {})[f])),
  }));
  if (passes.some((p) => asNumber(p.prediction.psi) !== null)) {
    series.push({ name: "prediction", style: "linepoints", color: "#101828", dash: [6, 4], x: xs,
      y: passes.map((p) => asNumber(p.prediction.psi)) });
  }
  const [warn, alert] = thresholds.psi || [null, null];
  for (const [label, limit] of [["WARN", warn], ["ALERT", alert]]) {
    if (typeof limit !== "number") continue;
    series.push({ name: `${label} (PSI ≥ ${number(limit)})`, color: STATUS_COLORS[label], dash: [2, 3], x: xs,
      y: xs.map(() => limit) });
  }
  const top = passes.map((p) => {
    const values = [...Object.values((p.drift || {}).psi || {}), p.prediction.psi].map(asNumber).filter((x) => x !== null);
    return values.length ? Math.max(...values) : 0;
  });
  for (const s of STATUSES) {
    series.push({ name: `${s} pass`, style: "points", size: 11, color: STATUS_COLORS[s], x: xs,
      y: passes.map((p, i) => (p.status === s ? top[i] : null)) });
  }
  const byTime = new Map(passes.map((p) => [p.time, p]));
  return {
    title: `PSI per feature over time · version ${v.version}`,
    x: { label: "window start (or run start)", time: true },
    y: { label: "PSI" },
    series,
    onPick: (x) => {
      const p = byTime.get(x);
      if (p) window.location.hash = `#/run/${p.run_id}`;
    },
  };
}

function latestTable(v) {
  const latest = v.latest;
  const last = v.passes[v.passes.length - 1];
  let rows = latest.columns;
  if (!latest.from_report) {
    // No report: the values from the run's metrics, no status per column.
    const names = [...new Set(Object.values(last.drift || {}).flatMap((m) => Object.keys(m)))].sort();
    rows = names.map((c) => Object.assign({ column: c, role: "feature", status: null, reasons: "" },
      Object.fromEntries(STATS.map((s) => [s, ((last.drift || {})[s] || {})[c] ?? null]))));
    if (Object.keys(last.prediction).length) rows.push({ column: "prediction", role: "prediction", status: null, reasons: "", ...last.prediction });
  }
  return h("div", {},
    h("p", { class: "muted" }, "Pass of ", when(last), " · ", link(`#/run/${last.run_id}`, "run"),
      latest.from_report ? null : " · no drift_report.json: statuses per column unknown"),
    h("div", { class: "table-wrap" }, h("table", { "data-testid": "drift-latest" },
      h("thead", {}, h("tr", {}, ["Column", "Role", "Status", ...STATS.map((s) => STAT_TITLES[s]), "Why"].map((t) => h("th", {}, t)))),
      h("tbody", {}, rows.map((r) => h("tr", { "data-testid": "drift-column-row", "data-column": r.column, "data-status": r.status || "" },
        h("td", {}, r.column), h("td", {}, r.role), h("td", {}, r.status ? status(r.status) : "—"),
        STATS.map((s) => h("td", { class: "num" }, number(r[s]))),
        h("td", {}, r.reasons || "")))))),
    latest.decay.length ? h("div", {}, h("h3", {}, "Performance decay"),
      h("table", { "data-testid": "drift-decay" },
        h("thead", {}, h("tr", {}, ["Metric", "Training", "Now", "Decay", "Status"].map((t) => h("th", {}, t)))),
        h("tbody", {}, latest.decay.map((d) => h("tr", { "data-testid": "drift-decay-row", "data-metric": d.metric },
          h("td", {}, d.metric), h("td", { class: "num" }, number(d.training)), h("td", { class: "num" }, number(d.current)),
          h("td", { class: "num" }, number(d.decay)), h("td", {}, d.status ? status(d.status) : "—")))))) : null);
}

function passesTable(v) {
  const newest = v.passes.slice().reverse().slice(0, PASSES_SHOWN);
  const decayKeys = [...new Set(v.passes.flatMap((p) => Object.keys(p.decay)))].sort();
  const maxPsi = (p) => {
    const values = Object.values((p.drift || {}).psi || {}).map(asNumber).filter((x) => x !== null);
    return values.length ? Math.max(...values) : null;
  };
  return h("div", {},
    v.pass_count > newest.length ? h("p", { class: "muted" }, `The newest ${newest.length} of ${v.pass_count} passes.`) : null,
    h("div", { class: "table-wrap" }, h("table", { "data-testid": "drift-passes" },
      h("thead", {}, h("tr", {}, ["Window", "Status", "Run", "Report", "Largest PSI", "Prediction PSI", ...decayKeys.map((k) => `decay ${k}`)].map((t) => h("th", {}, t)))),
      h("tbody", {}, newest.map((p) => h("tr", { "data-testid": "drift-pass-row", "data-run": p.run_id, "data-status": p.status || "" },
        h("td", {}, when(p)), h("td", {}, p.status ? status(p.status) : ""),
        h("td", {}, link(`#/run/${p.run_id}`, p.run_id.slice(0, 8), { "data-testid": "drift-run-link" })),
        h("td", {}, h("button", { "data-testid": "drift-report", title: `Download ${REPORT_HTML}`,
          onclick: (ev) => downloadReport(p.run_id).catch((err) => ev.target.replaceWith(errorBox(err))) }, REPORT_HTML)),
        h("td", { class: "num" }, number(maxPsi(p))), h("td", { class: "num" }, number(p.prediction.psi)),
        decayKeys.map((k) => h("td", { class: "num" }, number(p.decay[k])))))))));
}

export async function driftPage(root, ctx) {
  const name = ctx.args[0];
  const answer = await get(`/api/registry/models/${encodeURIComponent(name)}/drift`);
  if (!ctx.alive()) return;
  const wanted = ctx.params.get("version");
  root.append(
    h("div", { class: "muted" }, link("#/registry", "Models"), " › ", link(`#/registry/${encodeURIComponent(name)}`, name), " › drift"),
    h("h1", {}, `Drift of ${name}`));
  if (!answer.versions.length) {
    root.append(emptyState(answer, wanted));
    return;
  }
  const picker = h("select", { "data-testid": "drift-version" },
    answer.versions.map((v) => h("option", { value: v.version, selected: v.version === wanted },
      v.version === "-" ? "no version" : `version ${v.version}`)));
  const chart = h("div", { class: "chart", "data-testid": "drift-chart" });
  const body = h("div");
  root.append(
    h("div", { class: "row" }, "Version:", picker,
      h("span", { class: "muted" }, `passes logged to experiment "${answer.experiment}"`)),
    chart, body);

  function show() {
    const v = answer.versions.find((x) => x.version === picker.value) || answer.versions[0];
    const params = new URLSearchParams();
    params.set("version", v.version);
    setRouteParams(`/drift/${encodeURIComponent(name)}`, params);
    const thresholds = Object.keys(v.latest.thresholds).length ? v.latest.thresholds : answer.default_thresholds;
    try {
      draw(chart, chartSpec(v, thresholds));
    } catch (err) {
      clear(chart, errorBox(err));
    }
    clear(body,
      h("h2", {}, "Latest pass per column"), latestTable(v),
      h("h2", {}, `Passes (${v.pass_count})`), passesTable(v));
  }
  if (wanted && !answer.versions.some((v) => v.version === wanted)) {
    root.insertBefore(emptyState(answer, wanted), chart);
  }
  picker.addEventListener("change", show);
  show();
}
