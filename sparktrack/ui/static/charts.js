// Charts through uPlot (vendor/uplot, MIT): canvas charts small enough to load on every
// page and fast enough to draw thousands of points in a few milliseconds.
import uPlot from "./vendor/uplot/uPlot.esm.js";

const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1", "#edc948",
  "#9c755f", "#ff9da7", "#bab0ac"];
const HEIGHT = 300;

export function color(i) {
  return PALETTE[i % PALETTE.length];
}

function sortedByX(one) {
  const order = one.x.map((_, i) => i).filter((i) => one.x[i] !== null && one.x[i] !== undefined);
  order.sort((a, b) => one.x[a] - one.x[b]);
  return [order.map((i) => one.x[i]), order.map((i) => one.y[i])];
}

function sameX(series) {
  const first = series[0].x;
  return series.every((s) => s.x === first);
}

// uPlot draws series over one x array: series with x of their own are joined on the
// union of their x values (gaps where a series has no point), each sorted by x first.
function aligned(series, log) {
  const clean = (y) => y.map((v) => (v === null || v === undefined || !Number.isFinite(v) || (log && v <= 0) ? null : v));
  if (sameX(series)) return [series[0].x, ...series.map((s) => clean(s.y))];
  const joined = uPlot.join(series.map(sortedByX));
  return [joined[0], ...joined.slice(1).map(clean)];
}

function seriesOptions(one, i) {
  const stroke = one.color || color(i);
  const base = { label: one.name, stroke, width: 1.5, spanGaps: true };
  if (one.value) base.value = one.value;
  if (one.dash) base.dash = one.dash;
  if (one.style === "points") {
    return { ...base, paths: () => null, points: { show: true, size: one.size || 8, fill: stroke, stroke } };
  }
  if (one.style === "step") return { ...base, paths: uPlot.paths.stepped({ align: 1 }), points: { show: false } };
  if (one.style === "linepoints") return { ...base, points: { show: true, size: 6, fill: stroke } };
  return { ...base, points: { show: false } };
}

// Draws `spec` into `el`:
//   { title, series: [{ name, x, y, style: "line"|"points"|"step"|"linepoints", color, value,
//                       dash: [on, off] }],
//     x: { label, time, splits, values }, y: { label, log, range, show },
//     onPick(xValue), hooks }
// and marks the element drawn with its number of series (what the tests read).
export function draw(el, spec) {
  if (el.uplot) el.uplot.destroy();
  el.replaceChildren();
  const x = spec.x || {};
  const y = spec.y || {};
  const data = aligned(spec.series, y.log);
  const options = {
    title: spec.title,
    width: Math.max(el.clientWidth - 2, 320),
    height: HEIGHT,
    ms: x.time ? 1 : 1e-3, // wall-clock x values are milliseconds since the epoch
    scales: {
      x: { time: !!x.time, ...(x.range ? { range: x.range } : {}) },
      y: { distr: y.log ? 3 : 1, ...(y.range ? { auto: false, range: y.range } : {}) },
    },
    axes: [
      { label: x.label, ...(x.splits ? { splits: x.splits } : {}), ...(x.values ? { values: x.values } : {}), grid: { stroke: "#eaecf0" } },
      { label: y.label, show: y.show !== false, grid: { stroke: "#eaecf0" }, size: 60 },
    ],
    series: [{ label: x.label || "x", ...(x.legend ? { value: x.legend } : {}) },
      ...spec.series.map((s, i) => seriesOptions(s, i))],
    cursor: { drag: { x: true, y: false }, points: { size: 7 } },
    legend: { live: true },
    hooks: spec.hooks || {},
  };
  const plot = new uPlot(options, data, el);
  el.uplot = plot; // the chart's state, for what reads it (zoom, tests)
  if (spec.onPick) {
    plot.over.addEventListener("click", () => {
      const idx = plot.cursor.idx;
      if (idx !== null && idx !== undefined) spec.onPick(plot.data[0][idx]);
    });
  }
  keepWidth(el);
  el.dataset.traces = String(spec.series.length);
  el.dataset.drawn = "true";
  return plot;
}

// Charts follow their element's width (the grid reflows with the window).
const watched = new WeakSet();
const resizer = new ResizeObserver((entries) => {
  for (const entry of entries) {
    const plot = entry.target.uplot;
    const width = Math.max(entry.target.clientWidth - 2, 320);
    if (plot && Math.abs(plot.width - width) > 1) plot.setSize({ width, height: HEIGHT });
  }
});

function keepWidth(el) {
  if (watched.has(el)) return;
  watched.add(el);
  resizer.observe(el);
}

// Exponential moving average with TensorBoard's debiasing: weight 0 leaves the curve.
export function smooth(values, weight) {
  if (!weight) return values;
  let last = 0;
  let count = 0;
  return values.map((v) => {
    if (v === null || !Number.isFinite(v)) return v;
    last = last * weight + (1 - weight) * v;
    count += 1;
    return last / (1 - Math.pow(weight, count));
  });
}

export function xTitle(axis) {
  return { step: "step", time: "seconds since the run started", wall: "time" }[axis];
}
