/*
 * nfs.js - NFS: exports with their exports(5) client rules (reloaded live
 * by slated), and a file browser for per-file snapshots and clones.
 */
import { get, post, put, del, listAll, seg } from "./api.js";
import { h, field, input, form, button, run, table, bytes, timeEl, heading, section, status, confirmDialog } from "./ui.js";
import { defaultSnapName } from "./volumes.js";

const lines = (s) => s.split("\n").map((x) => x.trim()).filter(Boolean);

function exportRow(e, reload) {
  const rules = h("textarea", { name: "clients", rows: String(Math.max(2, e.clients.length)), cols: "40", spellcheck: "false" });
  rules.value = e.clients.join("\n");
  const edit = form([field(`Client rules of ${e.path}`, rules, { pointer: "/clients", hint: "One per line: host(options), e.g. 10.0.0.0/24(rw,no_root_squash)" })], async () => {
    await put(`/exports/${e.id}`, { clients: lines(rules.value) });
    status(`Rules of ${e.path} saved; clients see them at once.`);
    await reload();
  }, { submit: "Save rules", cls: "compact" });
  const actions = h("div.row-actions", {}, h("p.form-error", { role: "alert", hidden: true }));
  actions.prepend(button("Remove export", () => run(actions, async () => {
    if (!(await confirmDialog(`Remove export ${e.path}?`, ["Clients can no longer mount it; the files stay."], "Remove"))) return;
    await del(`/exports/${e.id}`);
    status(`Export ${e.path} removed.`);
    await reload();
  }), { class: "danger", "aria-label": `Remove export ${e.path}` }));
  return [e.path, h("div", {}, h("details", {}, h("summary", {}, e.clients.join(", ") || "no clients"), edit)), actions];
}

async function fileBrowser(box, dir) {
  const reload = () => fileBrowser(box, dir);
  const pathIn = input({ name: "path", value: dir, autocomplete: "off" });
  const go = form([field("Directory", pathIn, { pointer: "path" })], async () => {
    await fileBrowser(box, pathIn.value.trim() || "/");
  }, { submit: "List", cls: "inline" });
  let files = [];
  let error = null;
  try {
    files = await listAll("/files", `path=${encodeURIComponent(dir)}`);
  } catch (err) {
    error = err;
  }
  const rows = files.map((f) => {
    const full = `${dir.replace(/\/$/, "")}/${f.name}`;
    if (f.type === "dir") return [h("a", { href: "#", on: { click: (ev) => { ev.preventDefault(); fileBrowser(box, full); } } }, `${f.name}/`), "directory", "—", "—", timeEl(f.mtime), ""];
    const actions = h("div.row-actions", {}, h("p.form-error", { role: "alert", hidden: true }));
    const snaps = h("div.file-snaps");
    actions.prepend(
      button("Snapshot now", () => run(actions, async () => {
        const s = await post(`/files/${f.id}/snapshots`, { name: defaultSnapName() });
        status(`Snapshot ${s.name} of ${full} taken.`);
        await showSnaps();
      }), { "aria-label": `Snapshot ${full} now` }),
      button("Snapshots", () => run(actions, showSnaps), { "aria-label": `Show snapshots of ${full}` }),
    );
    const cloneIn = input({ name: "clone", value: `${full}.clone`, autocomplete: "off", size: "20" });
    actions.append(form([field(`Clone ${f.name} to`, cloneIn, { pointer: "/path" })], async () => {
      const c = await post(`/files/${f.id}/clone`, { path: cloneIn.value.trim() });
      status(`Clone ${c.name} made.`);
      await reload();
    }, { submit: "Clone", cls: "inline compact" }));
    async function showSnaps() {
      const list = await listAll(`/files/${f.id}/snapshots`);
      snaps.replaceChildren(table(`Snapshots of ${full}`, ["Name", "Taken", "Unique space", "Actions"], list.map((s) => {
        const a = h("div.row-actions", {}, h("p.form-error", { role: "alert", hidden: true }));
        a.prepend(
          button("Roll back…", () => run(a, async () => {
            if (!(await confirmDialog(`Roll ${full} back to “${s.name}”?`, [`Everything written to ${full} since ${new Date(s.created_at).toLocaleString()} is lost.`], "Roll back"))) return;
            await post(`/files/${f.id}/snapshots/${seg(s.name)}/rollback`);
            status(`${full} rolled back to ${s.name}.`);
          }), { "aria-label": `Roll ${full} back to ${s.name}` }),
          button("Delete", () => run(a, async () => {
            await del(`/files/${f.id}/snapshots/${seg(s.name)}`);
            await showSnaps();
          }), { class: "danger", "aria-label": `Delete snapshot ${s.name} of ${full}` }),
        );
        return [s.name, timeEl(s.created_at), bytes(s.unique_bytes), a];
      }), { empty: "No snapshots of this file." }));
    }
    return [f.name, "file", bytes(f.size_bytes), bytes(f.used_bytes), timeEl(f.mtime), h("div", {}, actions, snaps)];
  });
  box.replaceChildren(
    go,
    error ? h("p.form-error", { role: "alert" }, error.message) : table(`Files in ${dir}`, ["Name", "Type", "Size", "Used", "Modified", "Actions"], rows, { empty: "Empty directory." }),
  );
}

export async function render(main) {
  const reload = () => render(main);
  const exports = await listAll("/exports");
  const path = input({ name: "path", required: true, placeholder: "/vms", autocomplete: "off" });
  const clients = h("textarea", { name: "clients", rows: "3", cols: "40", spellcheck: "false", placeholder: "10.0.0.0/24(rw,no_root_squash)" });
  const create = form([field("Path", path, { pointer: "/path" }), field("Client rules", clients, { pointer: "/clients", hint: "One per line, exports(5) syntax" })], async () => {
    const e = await post("/exports", { path: path.value.trim(), clients: lines(clients.value) });
    status(`Export ${e.path} created.`);
    await reload();
  }, { submit: "Create export" });
  const browser = h("div#file-browser");
  main.replaceChildren(
    heading("NFS"),
    section("Exports", table("NFS exports", ["Path", "Client rules", "Actions"], exports.map((e) => exportRow(e, reload)), { empty: "No exports yet." })),
    section("New export", create),
    section("Files", h("p.hint", {}, "Per-file snapshots and clones (e.g. VM disk images on NFS)."), browser),
  );
  await fileBrowser(browser, exports[0]?.path || "/");
}
