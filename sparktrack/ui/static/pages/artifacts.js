// The artifact browser: a lazily opened tree, and a preview of the chosen file.
import { artifactBlobUrl, get, query } from "../api.js";
import { clear, errorBox, h } from "../dom.js";

export function artifactBrowser(runId) {
  const tree = h("div", { class: "tree", "data-testid": "artifact-tree" });
  const pane = h("div", { "data-testid": "artifact-preview" }, h("p", { class: "muted" }, "Choose a file."));
  const base = `/api/runs/${encodeURIComponent(runId)}/artifacts`;
  let selected = null;

  async function openFolder(path, into, depth) {
    try {
      const listing = await get(`${base}?${query({ path })}`);
      if (!listing.files.length && !path) into.append(h("p", { class: "muted" }, "No artifacts."));
      for (const file of listing.files) {
        const row = h("div", {
          class: file.is_dir ? "dir" : "file", "data-testid": "artifact", "data-path": file.path, "data-kind": file.kind,
          style: `padding-left: ${depth * 16}px`,
        }, file.name, file.is_dir ? "" : h("span", { class: "muted" }, `  ${file.file_size ?? ""} B`));
        const children = h("div");
        row.addEventListener("click", async () => {
          if (file.is_dir) {
            if (row.classList.toggle("open")) await openFolder(file.path, children, depth + 1);
            else clear(children);
            return;
          }
          if (selected) selected.classList.remove("selected");
          selected = row;
          row.classList.add("selected");
          await show(file);
        });
        into.append(row, children);
      }
    } catch (err) {
      into.append(errorBox(err));
    }
  }

  async function download(file) {
    const url = await artifactBlobUrl(runId, file.path, true);
    const a = h("a", { href: url, download: file.name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  async function show(file) {
    clear(pane, h("p", { class: "muted" }, "Loading…"));
    try {
      const p = await get(`${base}/preview?${query({ path: file.path })}`);
      const head = h("div", { class: "row" }, h("strong", {}, p.path), h("span", { class: "muted" }, `${p.size} bytes`),
        h("button", { "data-testid": "download", onclick: () => download(file) }, "Download"),
        p.truncated ? h("span", { class: "muted" }, "(preview truncated)") : null);
      let body;
      if (p.kind === "image") {
        const url = await artifactBlobUrl(runId, file.path, false);
        body = h("img", { class: "preview", src: url, alt: p.path, "data-testid": "preview-image" });
      } else if (p.kind === "csv" && p.columns) {
        body = h("div", { class: "table-wrap" }, h("table", { "data-testid": "preview-table" },
          h("thead", {}, h("tr", {}, p.columns.map((c) => h("th", {}, c)))),
          h("tbody", {}, p.rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c)))))));
      } else if (p.kind === "mlmodel" && p.mlmodel) {
        body = mlmodelView(p.mlmodel);
      } else if (p.text !== null && p.text !== undefined) {
        body = h("pre", { class: "preview", "data-testid": "preview-text", "data-kind": p.kind }, p.text);
      } else {
        body = h("p", { class: "muted", "data-testid": "preview-none" }, "No preview for this file: download it.");
      }
      clear(pane, head, body);
    } catch (err) {
      clear(pane, errorBox(err));
    }
  }

  openFolder("", tree, 0);
  return h("div", { class: "grid2" }, tree, pane);
}

function columnsTable(title, columns) {
  if (!Array.isArray(columns)) return null;
  return h("div", {}, h("h2", {}, title), h("table", { "data-testid": `signature-${title.toLowerCase()}` },
    h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Type"))),
    h("tbody", {}, columns.map((c) => h("tr", {}, h("td", {}, c.name ?? ""), h("td", {}, c.type ?? JSON.stringify(c)))))));
}

function mlmodelView(model) {
  const signature = model.signature || {};
  return h("div", { "data-testid": "preview-mlmodel" },
    h("p", {}, "Flavors: ", model.flavors.join(", ")),
    model.run_id ? h("p", { class: "muted" }, `Logged by run ${model.run_id} at ${model.utc_time_created ?? "?"}`) : null,
    model.signature ? [columnsTable("Inputs", signature.inputs), columnsTable("Outputs", signature.outputs)]
      : h("p", { class: "muted" }, "No signature."));
}
