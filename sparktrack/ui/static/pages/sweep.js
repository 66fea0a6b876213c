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
  // Trials over time (when each started) or by number, with the best value so far; a
  // click on the chart opens the trial nearest the cursor.
  const xOf = (t) => (axis.value === "time" ? t.start_time : t.number);
  function drawTrials() {
    const complete = s.trials.filter((t) => t.state === "complete");
    const byX = new Map(s.trials.map((t) => [xOf(t), t]));
    const valueOf = (v) => (typeof v === "number" ? v : null);
    draw(trialsChart, {
      title: `${s.metric ?? "value"} by ${axis.value === "time" ? "start time" : "trial"}`,
      x: { label: axis.value === "time" ? "started" : "trial", time: axis.value === "time" },
      y: { label: s.metric ?? "value" },
      series: [
        { name: "complete", style: "points", color: COLORS.complete, x: complete.map(xOf), y: complete.map((t) => valueOf(t.value)) },
        { name: "best so far", style: "step", color: "#067647", x: s.trials.map(xOf), y: s.best_so_far.map(valueOf) },
      ],
      onPick: (x) => {
        const trial = byX.get(x);
        if (trial) window.location.hash = `#/run/${trial.run_id}`;
      },
    });
  }
  axis.addEventListener("change", drawTrials);
  drawTrials();
  // Importances as bars (a share of the whole each), largest first.
  if (s.importances) {
    const entries = Object.entries(s.importances).sort((a, b) => b[1] - a[1]);
    const top = Math.max(...entries.map((e) => e[1]), 1e-12);
    importanceChart.append(h("h3", {}, "Param importances (fANOVA)"),
      h("table", { class: "bars", "data-testid": "importance-bars" }, entries.map(([key, value]) => {
        const bar = h("span", { class: "bar" });
        bar.style.width = `${(100 * value) / top}%`;
        return h("tr", { "data-testid": "importance", "data-param": key },
          h("td", {}, key), h("td", { class: "num" }, number(value)), h("td", { class: "bar-cell" }, bar));
      })));
    importanceChart.dataset.drawn = "true";
    importanceChart.dataset.traces = "1";
  } else {
    importanceChart.append(h("p", { class: "muted", "data-testid": "importance-note" }, s.importance_note || ""));
  }
}
