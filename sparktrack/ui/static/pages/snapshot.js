// A run's source snapshot: what ran (script or notebook), its uncommitted changes,
// packages, versions and Spark conf, each file shown as text.
import { get, query } from "../api.js";
import { clear, errorBox, h } from "../dom.js";

export function snapshotBrowser(runId) {
  const base = `/api/runs/${encodeURIComponent(runId)}/snapshot`;
  const facts = h("p", { class: "muted", "data-testid": "snapshot-facts" });
  const files = h("div", { class: "tree", "data-testid": "snapshot-files" });
  const pane = h("div", { "data-testid": "snapshot-preview" });
  let selected = null;

  async function show(file, row) {
    if (selected) selected.classList.remove("selected");
    selected = row;
    row.classList.add("selected");
    clear(pane, h("p", { class: "muted" }, "Loading…"));
    try {
      const answer = await get(`${base}/file?${query({ name: file.name })}`);
      clear(pane,
        h("div", { class: "row" }, h("strong", {}, answer.name), h("span", { class: "muted" }, `${answer.size} bytes`),
          answer.truncated ? h("span", { class: "muted" }, "(first MiB shown)") : null),
        h("pre", { class: "preview", "data-testid": "snapshot-text" }, answer.text));
    } catch (err) {
      clear(pane, errorBox(err));
    }
  }

  (async () => {
    try {
      const s = await get(base);
      const git = s.git && s.git.commit ? ` · git ${s.git.commit.slice(0, 12)}` : "";
      facts.textContent = `${s.source.name || "?"} (${s.source.type || "?"})${git} · snapshot ${s.digest.slice(0, 12)}`
        + ` · sparktrack runs source ${runId}`;
      for (const file of s.files) {
        const row = h("div", { class: "file", "data-testid": "snapshot-file", "data-name": file.name },
          file.name, h("span", { class: "muted" }, `  ${file.role} · ${file.size} B${file.note ? ` · ${file.note}` : ""}`));
        row.addEventListener("click", () => show(file, row));
        files.append(row);
        if (file.name === s.main) show(file, row);
      }
    } catch (err) {
      clear(files, errorBox(err));
    }
  })();
  return h("div", { "data-testid": "snapshot" }, facts, h("div", { class: "grid2" }, files, pane));
}
