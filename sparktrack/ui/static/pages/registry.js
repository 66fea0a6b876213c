// The model registry: models, versions with stage and aliases, history, source runs,
// serve commands; stage and alias changes when the server allows changes.
import { del, get, post, put, query } from "../api.js";
import { clear, errorBox, h, link, time } from "../dom.js";

export async function registryPage(root, ctx) {
  const search = h("input", { type: "search", placeholder: "Search models by name", "data-testid": "model-search" });
  const body = h("div");
  root.append(h("h1", {}, "Registered models"), h("div", { class: "row" }, search), body);
  async function load() {
    try {
      const answer = await get(`/api/registry/models?${query({ q: search.value })}`);
      if (!ctx.alive()) return;
      clear(body, answer.models.length ? h("table", { "data-testid": "models" },
        h("thead", {}, h("tr", {}, ["Name", "Versions", "Latest by stage", "Aliases", "Updated"].map((t) => h("th", {}, t)))),
        h("tbody", {}, answer.models.map((m) => h("tr", { "data-testid": "model-row" },
          h("td", {}, link(`#/registry/${encodeURIComponent(m.name)}`, m.name)),
          h("td", { class: "num" }, m.version_count),
          h("td", {}, m.latest_versions.map((v) => `${v.current_stage}: v${v.version}`).join(", ")),
          h("td", {}, Object.entries(m.aliases).map(([a, v]) => `@${a} → v${v}`).join(", ")),
          h("td", {}, time(m.last_updated_timestamp))))))
        : h("p", { class: "muted" }, "No registered model."));
    } catch (err) {
      clear(body, errorBox(err));
    }
  }
  search.addEventListener("input", load);
  await load();
}

export async function modelPage(root, ctx) {
  const name = ctx.args[0];
  const message = h("div", { "data-testid": "change-result" });
  const body = h("div");
  root.append(h("div", { class: "muted" }, link("#/registry", "Models"), " › model"), h("h1", {}, name),
    h("p", {}, link(`#/drift/${encodeURIComponent(name)}`, "Drift over time", { "data-testid": "model-drift-link" })),
    message, body);
  const readOnly = !ctx.server.allow_writes;
  const why = readOnly ? "read-only: restart the UI with --allow-writes to change stages and aliases" : null;

  async function change(action) {
    try {
      await action();
      clear(message, h("p", { class: "muted" }, "Done."));
      await load();
    } catch (err) {
      clear(message, errorBox(err));
    }
  }

  function versionRow(v, stages) {
    const stage = h("select", { "data-testid": "stage-select", disabled: readOnly, title: why },
      stages.map((s) => h("option", { value: s, selected: s === v.current_stage }, s)));
    const apply = h("button", {
      "data-testid": "apply-stage", disabled: readOnly, title: why,
      onclick: () => change(() => post(`/api/registry/models/${encodeURIComponent(name)}/versions/${v.version}/stage`, { stage: stage.value })),
    }, "Move");
    const alias = h("input", { type: "text", placeholder: "alias", size: "10", "data-testid": "alias-input", disabled: readOnly, title: why });
    const setAlias = h("button", {
      "data-testid": "set-alias", disabled: readOnly, title: why,
      onclick: () => alias.value && change(() => put(`/api/registry/models/${encodeURIComponent(name)}/aliases/${encodeURIComponent(alias.value)}`, { version: v.version })),
    }, "Set alias");
    return h("tr", { "data-testid": "version-row", "data-version": v.version },
      h("td", {}, `v${v.version} `, link(`#/drift/${encodeURIComponent(name)}?version=${v.version}`, "drift", { "data-testid": "version-drift-link" })),
      h("td", { "data-testid": "version-stage" }, v.current_stage),
      h("td", {}, v.aliases.map((a) => h("span", { class: "chip" }, `@${a}`,
        h("button", { title: why || "remove", disabled: readOnly, onclick: () => change(() => del(`/api/registry/models/${encodeURIComponent(name)}/aliases/${encodeURIComponent(a)}`)) }, "×")))),
      h("td", {}, v.run_id ? link(`#/run/${v.run_id}`, v.run_id.slice(0, 8), { "data-testid": "source-run" }) : v.source),
      h("td", {}, time(v.creation_timestamp)),
      h("td", {}, h("code", { class: "cmd", "data-testid": "serve-command" }, v.serve_command)),
      h("td", {}, stage, " ", apply, " ", alias, " ", setAlias));
  }

  async function load() {
    const m = await get(`/api/registry/models/${encodeURIComponent(name)}`);
    if (!ctx.alive()) return;
    clear(body,
      m.model.description ? h("p", {}, m.model.description) : null,
      readOnly ? h("p", { class: "muted", "data-testid": "read-only-note" }, why) : null,
      h("h2", {}, "Versions"),
      h("div", { class: "table-wrap" }, h("table", { "data-testid": "versions" },
        h("thead", {}, h("tr", {}, ["Version", "Stage", "Aliases", "Source run", "Registered", "Serve", "Change"].map((t) => h("th", {}, t)))),
        h("tbody", {}, m.versions.map((v) => versionRow(v, m.stages))))),
      h("h2", {}, "History"),
      h("table", { "data-testid": "history" },
        h("thead", {}, h("tr", {}, ["When", "Who", "Version", "What", "From", "To"].map((t) => h("th", {}, t)))),
        h("tbody", {}, m.history.slice().reverse().map((t) => h("tr", { "data-testid": "history-row" },
          h("td", {}, time(t.timestamp)), h("td", {}, t.user_id || ""), h("td", {}, t.version ?? ""),
          h("td", {}, t.key ? `${t.kind} @${t.key}` : t.kind), h("td", {}, t.from_value ?? ""), h("td", {}, t.to_value ?? ""))))));
  }
  await load();
}
