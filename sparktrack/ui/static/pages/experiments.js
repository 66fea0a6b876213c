// Experiments: name, run count, last activity, search by name; tick several to open
// their runs together.
import { get, query } from "../api.js";
import { clear, errorBox, h, link, time } from "../dom.js";

export async function experimentsPage(root, ctx) {
  const search = h("input", { type: "search", placeholder: "Search experiments by name", "data-testid": "experiment-search", value: ctx.params.get("q") || "" });
  const open = h("button", { class: "primary", disabled: true, "data-testid": "open-selected" }, "Show runs of selected");
  const body = h("div");
  const chosen = new Set();
  root.append(h("h1", {}, "Experiments"), h("div", { class: "row" }, search, open), body);

  open.addEventListener("click", () => {
    window.location.hash = `#/runs?e=${[...chosen].map(encodeURIComponent).join(",")}`;
  });

  async function load() {
    try {
      const answer = await get(`/api/experiments?${query({ q: search.value })}`);
      if (!ctx.alive()) return;
      const rows = answer.experiments.map((e) =>
        h(
          "tr",
          { "data-testid": "experiment-row" },
          h("td", {}, h("input", {
            type: "checkbox",
            "aria-label": `select ${e.name}`,
            onchange: (ev) => {
              if (ev.target.checked) chosen.add(e.experiment_id);
              else chosen.delete(e.experiment_id);
              open.disabled = chosen.size === 0;
            },
          })),
          h("td", {}, link(`#/runs?e=${encodeURIComponent(e.experiment_id)}`, e.name)),
          h("td", { class: "num", "data-testid": "run-count" }, e.run_count),
          h("td", {}, time(e.last_activity)),
          h("td", { class: "muted" }, e.experiment_id),
        ),
      );
      clear(
        body,
        rows.length
          ? h("div", { class: "table-wrap" }, h("table", { "data-testid": "experiments" },
              h("thead", {}, h("tr", {}, h("th", {}, ""), h("th", {}, "Name"), h("th", {}, "Runs"), h("th", {}, "Last activity"), h("th", {}, "Id"))),
              h("tbody", {}, rows)))
          : h("p", { class: "muted" }, "No experiment matches."),
      );
    } catch (err) {
      clear(body, errorBox(err));
    }
  }

  let timer = null;
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(load, 200);
  });
  await load();
}
