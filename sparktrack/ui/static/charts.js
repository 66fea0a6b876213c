// Charts through Plotly (the plotly.min.js the server ships from the plotly package).

const CONFIG = { displaylogo: false, responsive: true, displayModeBar: "hover" };

export async function draw(el, traces, layout) {
  const base = {
    margin: { l: 56, r: 16, t: 36, b: 44 },
    height: 320,
    hovermode: "closest",
    legend: { orientation: "h", y: -0.2 },
    font: { size: 11 },
  };
  await window.Plotly.react(el, traces, Object.assign(base, layout || {}), CONFIG);
  el.dataset.traces = String(traces.length);
  el.dataset.drawn = "true";
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

export function xValues(series, axis) {
  return axis === "wall" ? series.x.map((ms) => new Date(ms)) : series.x;
}
