// The runs of one or more experiments: filter (the search grammar), sort, columns,
// nested runs under their parent, paging, live refresh while runs are RUNNING, and
// selection for compare.
import { get, query } from "../api.js";
import { clear, duration, errorBox, h, link, number, setRouteParams, status, time } from "../dom.js";

const PAGE = 100;
const REFRESH_MS = 5000;
const KINDS = ["metrics", "params", "tags"];
const ATTRIBUTE_SORT = { Name: "run_name", Status: "status", Start: "start_time", User: "user_id" };

function quoted(kind, key) {
  return `${kind}.\`${key}\``;
}

function columnsKey(ids) {
  return `sparktrack.columns.${ids.join(",")}`;
}

export async function runsPage(root, ctx) {
  const ids = (ctx.params.get("e") || "").split(",").filter(Boolean);
  const state = {
    filter: ctx.params.get("f") || "",
    order: ctx.params.get("o") || "",
    offset: Number(ctx.params.get("off") || 0),
    expanded: new Set(),
    selected: new Map(),
    columns: JSON.parse(localStorage.getItem(columnsKey(ids)) || "null"),
  };
  let timer = null;
  window.addEventListener("sparktrack:leave", () => clearTimeout(timer), { once: true });

  // The experiments' names arrive beside the rows, not before them.
  const title = h("h1", {}, "Runs of ", ids.length ? ids.join(", ") : "all experiments");
  if (ids.length) {
    get(`/api/experiments?${query({ view: "ALL", counts: "false" })}`).then((answer) => {
      const known = new Map(answer.experiments.map((e) => [e.experiment_id, e.name]));
      title.textContent = `Runs of ${ids.map((id) => known.get(id) || id).join(", ")}`;
    }, () => {});
  }
  const filterInput = h("input", {
    type: "text", class: "filter", "data-testid": "filter", value: state.filter,
    placeholder: "metrics.acc > 0.9 AND params.optimizer = 'adam'", spellcheck: "false",
  });
  const searchButton = h("button", { class: "primary", "data-testid": "apply-filter" }, "Search");
  const filterError = h("div", { "data-testid": "filter-error" });
  const compareButton = h("button", { disabled: true, "data-testid": "compare-selected" }, "Compare");
  const columnsButton = h("button", { "data-testid": "columns-button" }, "Columns…");
  const chooser = h("div", { class: "panel", hidden: true, "data-testid": "column-chooser" });
  const summary = h("span", { class: "muted", "data-testid": "runs-summary" });
  const table = h("div", { class: "table-wrap" });
  const prev = h("button", { "data-testid": "prev-page" }, "‹ Previous");
  const next = h("button", { "data-testid": "next-page" }, "Next ›");
  const live = h("span", { class: "muted", "data-testid": "live" });
  root.append(
    title,
    h("div", { class: "row" }, filterInput, searchButton),
    filterError,
    h("div", { class: "row" }, columnsButton, compareButton, summary, live),
    chooser,
    table,
    h("div", { class: "row" }, prev, next),
  );

  if (!state.columns) {
    state.columns = { metrics: [], params: [], tags: [] };
    const kinds = ["metrics", "params"];
    const found = await Promise.all(kinds.map((kind) => get(`/api/runs/keys?${query({ kind, experiment_id: ids, limit: 4 })}`)));
    kinds.forEach((kind, i) => { state.columns[kind] = found[i].keys; });
  }

  function saveRoute() {
    const params = new URLSearchParams();
    if (ids.length) params.set("e", ids.join(","));
    if (state.filter) params.set("f", state.filter);
    if (state.order) params.set("o", state.order);
    if (state.offset) params.set("off", String(state.offset));
    setRouteParams("/runs", params);
    localStorage.setItem(columnsKey(ids), JSON.stringify(state.columns));
  }

  function sortHeader(title, clause, extraClass) {
    const current = state.order.replace(/ (ASC|DESC)$/, "");
    const desc = state.order.endsWith(" DESC");
    const arrow = current === clause ? (desc ? " ↓" : " ↑") : "";
    return h("th", {
      class: `sortable ${extraClass || ""}`, "data-testid": "sort-header", "data-sort": clause,
      onclick: () => {
        state.order = current === clause && desc ? `${clause} ASC` : `${clause} DESC`;
        state.offset = 0;
        load();
      },
    }, title, h("span", { class: "arrow" }, arrow));
  }

  function updateCompare() {
    compareButton.disabled = state.selected.size < 2;
    compareButton.textContent = `Compare (${state.selected.size})`;
  }

  function runRow(run, depth, parentOpen) {
    const isChild = depth > 0;
    const toggle = run.child_count
      ? h("span", {
          class: "toggle", "data-testid": "expand", title: `${run.child_count} nested runs`,
          onclick: () => {
            if (state.expanded.has(run.run_id)) state.expanded.delete(run.run_id);
            else state.expanded.add(run.run_id);
            render(lastAnswer);
          },
        }, state.expanded.has(run.run_id) ? "▾" : "▸")
      : h("span", { class: "toggle" }, "");
    const box = h("input", {
      type: "checkbox", "data-testid": "select-run", "aria-label": `select ${run.run_name}`,
      checked: state.selected.has(run.run_id),
      onchange: (ev) => {
        if (ev.target.checked) state.selected.set(run.run_id, run.run_name);
        else state.selected.delete(run.run_id);
        updateCompare();
      },
    });
    const sweep = run.tags && run.tags["sparktrack.sweep.role"] === "sweep"
      ? h("span", {}, " ", link(`#/sweep/${run.run_id}`, "sweep", { "data-testid": "sweep-page-link" }))
      : null;
    const cells = [
      h("td", {}, box),
      h("td", {}, toggle, link(`#/run/${run.run_id}`, run.run_name || run.run_id, { "data-testid": "run-link" }),
        run.child_count ? h("span", { class: "muted" }, ` (${run.child_count})`) : null, sweep),
      h("td", {}, status(run.status)),
      h("td", {}, time(run.start_time)),
      h("td", { class: "num" }, duration(run.duration_ms)),
      h("td", {}, run.user_id || ""),
      state.columns.metrics.map((k) => h("td", { class: "num" }, number(run.metrics[k]))),
      state.columns.params.map((k) => h("td", {}, run.params[k] ?? "")),
      state.columns.tags.map((k) => h("td", {}, run.tags[k] ?? "")),
    ];
    const rows = [h("tr", {
      class: isChild ? "child" : "", "data-testid": isChild ? "child-row" : "run-row",
      "data-run-id": run.run_id, hidden: isChild && !parentOpen,
    }, cells)];
    for (const child of run.children || []) {
      rows.push(...runRow(child, depth + 1, parentOpen && state.expanded.has(run.run_id)));
    }
    return rows;
  }

  let lastAnswer = null;
  function render(answer) {
    lastAnswer = answer;
    const head = h("tr", {},
      h("th", {}, ""),
      sortHeader("Name", ATTRIBUTE_SORT.Name),
      sortHeader("Status", ATTRIBUTE_SORT.Status),
      sortHeader("Start", ATTRIBUTE_SORT.Start),
      h("th", {}, "Duration"),
      sortHeader("User", ATTRIBUTE_SORT.User),
      state.columns.metrics.map((k) => sortHeader(k, quoted("metrics", k), "metric")),
      state.columns.params.map((k) => sortHeader(k, quoted("params", k), "param")),
      state.columns.tags.map((k) => sortHeader(k, quoted("tags", k), "tag")),
    );
    const body = answer.rows.flatMap((run) => runRow(run, 0, true));
    clear(table, h("table", { "data-testid": "runs" }, h("thead", {}, head), h("tbody", {}, body)));
    const last = Math.min(answer.offset + answer.rows.length, answer.total);
    summary.textContent = answer.total ? `${answer.offset + 1}–${last} of ${answer.total} runs` : "No run matches.";
    prev.disabled = answer.offset === 0;
    next.disabled = answer.offset + answer.limit >= answer.total;
    live.textContent = answer.running ? `${answer.running} running · refreshing every ${REFRESH_MS / 1000} s` : "";
  }

  async function load(silent) {
    clearTimeout(timer);
    saveRoute();
    try {
      const answer = await get(`/api/runs?${query({
        experiment_id: ids, filter: state.filter, order_by: state.order || undefined,
        offset: state.offset, limit: PAGE, metrics: state.columns.metrics.join(","),
        params: state.columns.params.join(","), tags: ["sparktrack.sweep.role", ...state.columns.tags].join(","),
      })}`);
      if (!ctx.alive()) return;
      clear(filterError);
      render(answer);
      if (answer.running) timer = setTimeout(() => ctx.alive() && load(true), REFRESH_MS);
    } catch (err) {
      if (!ctx.alive()) return;
      if (err.position !== undefined && err.position !== null) {
        const text = state.filter;
        const at = Math.min(err.position, text.length);
        clear(filterError,
          h("div", { class: "filter-error" }, text.slice(0, at),
            h("mark", { "data-testid": "error-position" }, text.slice(at, at + 1) || " "), text.slice(at + 1)),
          errorBox(err));
      } else if (!silent) {
        clear(filterError, errorBox(err));
      }
    }
  }

  function renderChooser() {
    const kind = h("select", { "data-testid": "column-kind" }, KINDS.map((k) => h("option", { value: k }, k)));
    const search = h("input", { type: "search", placeholder: "Search keys", "data-testid": "column-search" });
    const found = h("div", { class: "suggest", "data-testid": "column-suggestions" });
    const note = h("span", { class: "muted" });
    const chips = h("div", { class: "chips" },
      KINDS.flatMap((k) => state.columns[k].map((key) => h("span", { class: "chip" }, `${k}.${key}`,
        h("button", { title: "remove", onclick: () => {
          state.columns[k] = state.columns[k].filter((c) => c !== key);
          renderChooser();
          load();
        } }, "×")))));
    async function suggest() {
      const answer = await get(`/api/runs/keys?${query({ kind: kind.value, q: search.value, experiment_id: ids, limit: 50 })}`);
      note.textContent = answer.truncated ? `${answer.total} keys match; showing ${answer.keys.length}` : `${answer.total} keys`;
      clear(found, answer.keys.filter((k) => !state.columns[kind.value].includes(k)).map((k) =>
        h("button", { "data-testid": "column-option", onclick: () => {
          state.columns[kind.value].push(k);
          renderChooser();
          load();
        } }, k)));
    }
    let debounce = null;
    search.addEventListener("input", () => { clearTimeout(debounce); debounce = setTimeout(suggest, 150); });
    kind.addEventListener("change", suggest);
    clear(chooser, h("div", { class: "row" }, kind, search, note), found, h("h2", {}, "Shown"), chips);
    suggest();
  }

  columnsButton.addEventListener("click", () => {
    chooser.hidden = !chooser.hidden;
    if (!chooser.hidden) renderChooser();
  });
  const apply = () => { state.filter = filterInput.value.trim(); state.offset = 0; load(); };
  searchButton.addEventListener("click", apply);
  filterInput.addEventListener("keydown", (ev) => { if (ev.key === "Enter") apply(); });
  prev.addEventListener("click", () => { state.offset = Math.max(0, state.offset - PAGE); load(); });
  next.addEventListener("click", () => { state.offset += PAGE; load(); });
  compareButton.addEventListener("click", () => {
    window.location.hash = `#/compare?r=${[...state.selected.keys()].join(",")}`;
  });
  updateCompare();
  await load();
}
