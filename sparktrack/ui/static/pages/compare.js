// Runs side by side: params with differences highlighted, metrics, overlaid curves,
// parallel coordinates and a param-vs-metric scatter.
import { get, query } from "../api.js";
import { draw } from "../charts.js";
import { clear, errorBox, h, link, number, status } from "../dom.js";

function numeric(value) {
  const n = typeof value === "string" ? Number(value) : value;
  return typeof n === "number" && Number.isFinite(n) ? n : null;
}

export async function comparePage(root, ctx) {
  const ids = (ctx.params.get("r") || "").split(",").filter(Boolean);
  if (ids.length < 2) {
    root.append(h("p", {}, "Pick two runs or more in a runs table to compare them."));
    return;
  }
  const answer = await get(`/api/compare?${query({ run_id: ids })}`);
  if (!ctx.alive()) return;
  const names = answer.runs.map((r) => r.run_name || r.run_id.slice(0, 8));
  const onlyDiff = h("input", { type: "checkbox", "data-testid": "only-differences" });
  const header = h("tr", {}, h("th", {}, ""), answer.runs.map((r, i) =>
    h("th", {}, link(`#/run/${r.run_id}`, names[i]), " ", status(r.status))));
  const rowsOf = (entries, fmt, testid) => entries.map((row) =>
    h("tr", { class: row.differs ? "diff" : "", "data-testid": testid, "data-key": row.key, "data-differs": String(row.differs) },
      h("td", {}, row.key), row.values.map((v) => h("td", { class: fmt === number ? "num" : "" }, fmt(v)))));
  const paramsTable = h("table", { "data-testid": "compare-params" }, h("thead", {}, header.cloneNode(true)),
    h("tbody", {}, rowsOf(answer.params, (v) => v ?? "—", "param-row")));
  const metricsTable = h("table", { "data-testid": "compare-metrics" }, h("thead", {}, header),
    h("tbody", {}, rowsOf(answer.metrics, number, "metric-row")));
  onlyDiff.addEventListener("change", () => {
    paramsTable.querySelectorAll("tr[data-differs=false]").forEach((tr) => { tr.hidden = onlyDiff.checked; });
  });

  const metricKeys = answer.metrics.map((m) => m.key);
  const paramKeys = answer.params.map((p) => p.key);
  root.append(
    h("h1", {}, `Compare ${answer.runs.length} runs`),
    h("h2", {}, "Params"), h("label", {}, onlyDiff, " only differences"), h("div", { class: "table-wrap" }, paramsTable),
    h("h2", {}, "Latest metrics"), h("div", { class: "table-wrap" }, metricsTable),
  );
  if (!metricKeys.length) return;

  // Curves of one metric, one trace per run.
  const curveKey = h("select", { "data-testid": "curve-metric" }, metricKeys.map((k) => h("option", { value: k }, k)));
  const curves = h("div", { class: "chart", "data-testid": "compare-curves" });
  async function drawCurves() {
    try {
      const s = await get(`/api/metric-history?${query({ run_id: ids, key: curveKey.value })}`);
      const byRun = new Map(answer.runs.map((r, i) => [r.run_id, names[i]]));
      await draw(curves, s.series.map((one) => ({ x: one.x, y: one.y, name: byRun.get(one.run_id), mode: "lines", type: "scatter" })),
        { title: { text: curveKey.value }, xaxis: { title: { text: "step" } } });
    } catch (err) {
      clear(curves, errorBox(err));
    }
  }
  curveKey.addEventListener("change", drawCurves);

  // Parallel coordinates over the numeric params and metrics. Drawn as SVG lines over
  // axes scaled to [0, 1] (Plotly's parcoords needs WebGL, which many browsers lack).
  const parallel = h("div", { class: "chart", "data-testid": "compare-parallel" });
  function drawParallel() {
    const dims = [];
    for (const row of [...answer.params, ...answer.metrics]) {
      const values = row.values.map(numeric);
      if (values.filter((v) => v !== null).length < 1) continue;
      dims.push({ label: row.key, values });
    }
    const scaled = dims.map((d) => {
      const present = d.values.filter((v) => v !== null);
      const low = Math.min(...present);
      const high = Math.max(...present);
      return d.values.map((v) => (v === null ? null : high === low ? 0.5 : (v - low) / (high - low)));
    });
    const traces = answer.runs.map((r, i) => ({
      type: "scatter", mode: "lines+markers", name: names[i],
      x: dims.map((d) => d.label), y: scaled.map((col) => col[i]),
      text: dims.map((d) => `${d.label} = ${d.values[i] ?? "—"}`), hoverinfo: "text+name",
    }));
    const ranges = dims.map((d) => {
      const present = d.values.filter((v) => v !== null);
      return { x: d.label, y: 1.06, text: `${number(Math.max(...present))}`, showarrow: false, font: { size: 10 } };
    });
    const lows = dims.map((d) => {
      const present = d.values.filter((v) => v !== null);
      return { x: d.label, y: -0.08, text: `${number(Math.min(...present))}`, showarrow: false, font: { size: 10 } };
    });
    return draw(parallel, traces, {
      title: { text: "Parallel coordinates" }, annotations: [...ranges, ...lows],
      yaxis: { range: [-0.15, 1.12], showticklabels: false, zeroline: false, showgrid: false },
      xaxis: { type: "category", showgrid: true, gridcolor: "#98a2b3" }, margin: { l: 30, r: 30, t: 50, b: 60 },
    });
  }

  // One param against one metric.
  const xKey = h("select", { "data-testid": "scatter-param" }, paramKeys.map((k) => h("option", { value: k }, k)));
  const yKey = h("select", { "data-testid": "scatter-metric" }, metricKeys.map((k) => h("option", { value: k }, k)));
  const scatter = h("div", { class: "chart", "data-testid": "compare-scatter" });
  function drawScatter() {
    const xs = answer.params.find((p) => p.key === xKey.value)?.values || [];
    const ys = answer.metrics.find((m) => m.key === yKey.value)?.values || [];
    const numericX = xs.every((v) => v === null || numeric(v) !== null);
    return draw(scatter, [{
      x: xs.map((v) => (numericX ? numeric(v) : v)), y: ys.map(numeric), text: names, mode: "markers+text",
      textposition: "top center", type: "scatter", marker: { size: 10 },
    }], { title: { text: `${yKey.value} by ${xKey.value}` }, xaxis: { title: { text: xKey.value } }, yaxis: { title: { text: yKey.value } } });
  }
  xKey.addEventListener("change", drawScatter);
  yKey.addEventListener("change", drawScatter);

  root.append(
    h("h2", {}, "Curves"), h("div", { class: "row" }, "metric:", curveKey), curves,
    h("h2", {}, "Parallel coordinates"), parallel,
    h("h2", {}, "Param vs metric"), h("div", { class: "row" }, "param:", xKey, "metric:", yKey), scatter,
  );
  await Promise.all([drawCurves(), drawParallel(), paramKeys.length ? drawScatter() : null]);
}
