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

  // Curves of one metric, one series per run.
  const curveKey = h("select", { "data-testid": "curve-metric" }, metricKeys.map((k) => h("option", { value: k }, k)));
  const curves = h("div", { class: "chart", "data-testid": "compare-curves" });
  async function drawCurves() {
    try {
      const s = await get(`/api/metric-history?${query({ run_id: ids, key: curveKey.value })}`);
      if (!ctx.alive()) return;
      const byRun = new Map(answer.runs.map((r, i) => [r.run_id, names[i]]));
      draw(curves, {
        title: curveKey.value, x: { label: "step" },
        series: s.series.map((one) => ({ name: byRun.get(one.run_id), x: one.x, y: one.y })),
      });
    } catch (err) {
      clear(curves, errorBox(err));
    }
  }
  curveKey.addEventListener("change", drawCurves);

  // Parallel coordinates over the numeric params and metrics: one vertical axis per
  // column, each scaled to its runs' range (lowest at the bottom, highest at the top),
  // one line per run; the legend shows the values under the cursor.
  const parallel = h("div", { class: "chart", "data-testid": "compare-parallel" });
  function drawParallel() {
    const dims = [];
    for (const row of [...answer.params, ...answer.metrics]) {
      const values = row.values.map(numeric);
      const present = values.filter((v) => v !== null);
      if (!present.length) continue;
      dims.push({ label: row.key, values, low: Math.min(...present), high: Math.max(...present) });
    }
    if (!dims.length) {
      clear(parallel, h("p", { class: "muted" }, "No numeric params or metrics to draw."));
      return;
    }
    const scaled = (d, v) => (v === null ? null : d.high === d.low ? 0.5 : (v - d.low) / (d.high - d.low));
    const positions = dims.map((_, i) => i);
    const labelAxes = (u) => {
      const { ctx: c } = u;
      c.save();
      c.font = `${10 * devicePixelRatio}px system-ui, sans-serif`;
      c.fillStyle = "#667085";
      c.strokeStyle = "#98a2b3";
      c.textAlign = "center";
      dims.forEach((d, i) => {
        const left = u.valToPos(i, "x", true);
        c.beginPath();
        c.moveTo(left, u.bbox.top);
        c.lineTo(left, u.bbox.top + u.bbox.height);
        c.stroke();
        c.fillText(number(d.high), left, u.valToPos(1, "y", true) - 6 * devicePixelRatio);
        c.fillText(number(d.low), left, u.valToPos(0, "y", true) + 14 * devicePixelRatio);
      });
      c.restore();
    };
    draw(parallel, {
      title: "Parallel coordinates",
      x: {
        label: "", range: [-0.3, dims.length - 0.7], splits: () => positions,
        values: (_, splits) => splits.map((v) => dims[v]?.label ?? ""),
        legend: (_, v) => (v === null || v === undefined ? "—" : dims[v]?.label ?? ""),
      },
      y: { range: [-0.22, 1.22], show: false },
      series: answer.runs.map((r, i) => ({
        name: names[i], style: "linepoints",
        x: positions, y: dims.map((d) => scaled(d, d.values[i])),
        value: (_, v, __, idx) => (idx === null || idx === undefined ? "—" : String(dims[idx].values[i] ?? "—")),
      })),
      hooks: { draw: [labelAxes] },
    });
    parallel.dataset.axes = String(dims.length);
  }

  // One param against one metric: a point per run (its own colour and legend entry).
  const xKey = h("select", { "data-testid": "scatter-param" }, paramKeys.map((k) => h("option", { value: k }, k)));
  const yKey = h("select", { "data-testid": "scatter-metric" }, metricKeys.map((k) => h("option", { value: k }, k)));
  const scatter = h("div", { class: "chart", "data-testid": "compare-scatter" });
  function drawScatter() {
    const xs = answer.params.find((p) => p.key === xKey.value)?.values || [];
    const ys = answer.metrics.find((m) => m.key === yKey.value)?.values || [];
    // Numbers on a numeric axis; anything else as categories in order of appearance.
    const numericX = xs.every((v) => v === null || numeric(v) !== null);
    const categories = numericX ? [] : [...new Set(xs.filter((v) => v !== null).map(String))];
    const xOf = (v) => (v === null ? null : numericX ? numeric(v) : categories.indexOf(String(v)));
    const axis = numericX ? { label: xKey.value } : {
      label: xKey.value, range: [-0.5, categories.length - 0.5], splits: () => categories.map((_, i) => i),
      values: (_, splits) => splits.map((v) => categories[v] ?? ""), legend: (_, v) => categories[v] ?? "—",
    };
    draw(scatter, {
      title: `${yKey.value} by ${xKey.value}`, x: axis, y: { label: yKey.value },
      series: answer.runs.map((_, i) => ({ name: names[i], style: "points", size: 10, x: [xOf(xs[i])], y: [numeric(ys[i])] })),
    });
  }
  xKey.addEventListener("change", drawScatter);
  yKey.addEventListener("change", drawScatter);

  root.append(
    h("h2", {}, "Curves"), h("div", { class: "row" }, "metric:", curveKey), curves,
    h("h2", {}, "Parallel coordinates"), parallel,
    h("h2", {}, "Param vs metric"), h("div", { class: "row" }, "param:", xKey, "metric:", yKey), scatter,
  );
  drawParallel();
  if (paramKeys.length) drawScatter();
  await drawCurves();
}
