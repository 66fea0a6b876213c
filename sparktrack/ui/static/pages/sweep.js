// A sweep: state counts, trials over time with the best so far, param importances, and
// every trial linking to its run.
import { get } from "../api.js";
import { draw } from "../charts.js";
import { h, link, number, status, time } from "../dom.js";

const COLORS = { complete: "#2f6fde", pruned: "#b54708", failed: "#c4320a", running: "#667085", killed: "#98a2b3" };

export async function sweepPage(root, ctx) {
  const s = await get(`/api/sweeps/${encodeURIComponent(ctx.args[0])}`);
  if (!ctx.alive()) return;
  const counts = h("p", { class: "counts", "data-testid": "state-counts" },
    Object.entries(s.state_counts).map(([state, n]) => h("span", { "data-state": state }, status(state), ` ${n}`)));
  const trialsChart = h("div", { class: "chart", "data-testid": "sweep-trials" });
  const axis = h("select", { "data-testid": "sweep-x" }, h("option", { value: "number" }, "trial"),
    h("option", { value: "time" }, "start time"));
  const importanceChart = h("div", { class: "chart", "data-testid": "sweep-importances" });
  const paramKeys = [...new Set(s.trials.flatMap((t) => Object.keys(t.params)))].sort();
  const table = h("table", { "data-testid": "trials" },
    h("thead", {}, h("tr", {}, ["#", "State", s.metric || "value", ...paramKeys, "Started", "Run"].map((t) => h("th", {}, t)))),
    h("tbody", {}, s.trials.map((t) => h("tr", { "data-testid": "trial-row", class: t.number === s.best_trial ? "diff" : "" },
      h("td", {}, t.number), h("td", {}, status(t.state)), h("td", { class: "num" }, number(t.value)),
      paramKeys.map((k) => h("td", {}, t.params[k] === undefined ? "" : String(t.params[k]))),
      h("td", {}, time(t.start_time)), h("td", {}, link(`#/run/${t.run_id}`, t.run_id.slice(0, 8), { "data-testid": "trial-link" }))))));
  root.append(
    h("div", { class: "muted" }, link(`#/run/${s.run_id}`, "sweep run"), " › sweep"),
    h("h1", {}, s.name || s.run_id, " ", status(s.status)),
    h("p", {}, `${s.mode === "min" ? "Minimising" : "Maximising"} ${s.metric ?? "?"} · strategy ${s.strategy ?? "?"} · ${s.trials.length} trials`),
    counts,
    h("div", { class: "row" }, "trials by:", axis),
    h("div", { class: "charts" }, trialsChart, importanceChart),
    h("h2", {}, "Trials"), h("div", { class: "table-wrap" }, table),
  );
  // Trials over time (when each started) or by number, with the best value so far.
  const xOf = (t) => (axis.value === "time" ? new Date(t.start_time) : t.number);
  async function drawTrials() {
    const complete = s.trials.filter((t) => t.state === "complete");
    const traces = [{
      x: complete.map(xOf), y: complete.map((t) => (typeof t.value === "number" ? t.value : null)),
      text: complete.map((t) => t.run_id), name: "complete", mode: "markers", type: "scatter",
      marker: { color: COLORS.complete, size: 8 },
    }, {
      x: s.trials.map(xOf), y: s.best_so_far.map((v) => (typeof v === "number" ? v : null)),
      name: "best so far", mode: "lines", type: "scatter", line: { shape: "hv", color: "#067647" },
    }];
    await draw(trialsChart, traces, {
      title: { text: `${s.metric ?? "value"} by ${axis.value === "time" ? "start time" : "trial"}` },
      xaxis: { title: { text: axis.value === "time" ? "started" : "trial" }, type: axis.value === "time" ? "date" : "linear" },
    });
  }
  axis.addEventListener("change", drawTrials);
  await drawTrials();
  trialsChart.on("plotly_click", (ev) => {
    const id = ev.points && ev.points[0] && ev.points[0].text;
    if (id) window.location.hash = `#/run/${id}`;
  });
  if (s.importances) {
    const entries = Object.entries(s.importances).sort((a, b) => a[1] - b[1]);
    await draw(importanceChart, [{ type: "bar", orientation: "h", x: entries.map((e) => e[1]), y: entries.map((e) => e[0]) }],
      { title: { text: "Param importances (fANOVA)" }, margin: { l: 100, r: 16, t: 36, b: 36 } });
  } else {
    importanceChart.append(h("p", { class: "muted", "data-testid": "importance-note" }, s.importance_note || ""));
  }
}
