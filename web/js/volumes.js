/*
 * volumes.js - volumes: the list (pool, size, used, QoS through the VM
 * they belong to) with create in a chosen pool; one volume's page with
 * resize, snapshot now, its snapshots (space, clone, rollback, delete), a
 * full copy and a move to another pool (tasks with their progress) and
 * delete.
 */
import { get, post, patch, del, listAll, seg } from "./api.js";
import { h, field, input, select, form, button, run, table, bytes, number, timeEl, heading, section, sizeField, status, confirmDialog } from "./ui.js";
import { confirmRollback } from "./snapshots.js";
import { trackTask } from "./tasks.js";

/* volume name -> {vm, policy} for the QoS column */
async function vmOfVolume() {
  const map = new Map();
  for (const vm of await listAll("/vms")) for (const v of vm.volumes) map.set(v, vm);
  return map;
}

function qosText(vm) {
  if (!vm) return "—";
  return vm.qos_policy ? `${vm.qos_policy} (VM ${vm.name})` : `none (VM ${vm.name})`;
}

export async function render(main, name) {
  if (name) return renderOne(main, name);
  const [volumes, vms, pools] = await Promise.all([listAll("/volumes"), vmOfVolume(), listAll("/pools")]);
  const nameIn = input({ name: "name", required: true, autocomplete: "off", pattern: "[A-Za-z0-9._-]+" });
  const size = sizeField("Size", "/size_bytes", { value: "1", unit: "GiB" });
  const poolSel = select(pools.map((p) => [p.name, `${p.name} (${bytes(p.free_bytes)} free)`]), { name: "pool" });
  const create = form(
    [field("Name", nameIn, { pointer: "/name" }), size.block, field("Pool", poolSel, { pointer: "/pool" })],
    async () => {
      const v = await post("/volumes", { name: nameIn.value.trim(), size_bytes: size.bytes(), pool: poolSel.value });
      status(`Volume ${v.name} created (${bytes(v.size_bytes)}).`);
      location.hash = `#/volumes/${seg(v.name)}`;
    },
    { submit: "Create volume", cls: "inline" },
  );
  create.id = "volume-create";
  main.replaceChildren(
    heading("Volumes"),
    section(
      "All volumes",
      table(
        "Volumes",
        ["Name", "Pool", "Size", "Used", "Unique", "Snapshots", "Clones", "QoS", "Created"],
        volumes.map((v) => [
          h("a", { href: `#/volumes/${seg(v.name)}` }, v.name),
          v.pool,
          bytes(v.size_bytes),
          bytes(v.used_bytes),
          bytes(v.unique_bytes),
          number(v.snapshots),
          number(v.clones),
          qosText(vms.get(v.name)),
          timeEl(v.created_at),
        ]),
        { id: "volume-list", empty: "No volumes yet." },
      ),
    ),
    section("New volume", create),
  );
}

async function renderOne(main, name) {
  const path = `/volumes/${seg(name)}`;
  const [vol, snaps, vms, pools] = await Promise.all([get(path), listAll(`${path}/snapshots`), vmOfVolume(), listAll("/pools")]);
  const reload = () => render(main, name);
  const vm = vms.get(name);

  const size = sizeField("New size", "/size_bytes", { bytes: vol.size_bytes });
  const resize = form([size.block], async () => {
    const v = await patch(path, { size_bytes: size.bytes() });
    status(`Volume ${name} is now ${bytes(v.size_bytes)}.`);
    await reload();
  }, { submit: "Resize", cls: "inline" });
  resize.id = "volume-resize";

  const snapName = input({ name: "name", required: true, autocomplete: "off", value: defaultSnapName() });
  const snapForm = form([field("Snapshot name", snapName, { pointer: "/name" })], async () => {
    const s = await post(`${path}/snapshots`, { name: snapName.value.trim() });
    status(`Snapshot ${s.name} of ${name} taken.`);
    await reload();
  }, { submit: "Snapshot now", cls: "inline" });
  snapForm.id = "snapshot-create";

  const copyName = input({ name: "name", required: true, autocomplete: "off", value: `${name}-copy` });
  const copyTasks = h("div.tasks");
  const copyForm = form([field("Copy name", copyName, { pointer: "/name", hint: "A full, independent copy; runs as a task" })], async () => {
    const task = await post(`${path}/copy`, { name: copyName.value.trim() });
    trackTask(task, copyTasks);
  }, { submit: "Copy", cls: "inline" });

  const others = pools.filter((p) => p.name !== vol.pool);
  const moveTasks = h("div.tasks");
  const moveSel = select(others.map((p) => [p.name, `${p.name} (${bytes(p.free_bytes)} free)`]), { name: "pool" });
  const moveForm = form([field("Move to pool", moveSel, { pointer: "/pool", hint: "With its snapshots, while it serves IO; runs as a task" })], async () => {
    const task = await post(`${path}/move`, { pool: moveSel.value });
    trackTask(task, moveTasks);
  }, { submit: "Move", cls: "inline" });
  moveForm.id = "volume-move";

  const snapBox = h("div#snapshot-list-box");
  const snapRows = snaps.map((s) => {
    const actions = h("div.row-actions");
    const cloneName = input({ name: "clone", autocomplete: "off", value: `${name}-${s.name}-clone`, size: "18" });
    const cloneForm = form([field(`Clone of ${s.name} named`, cloneName, { pointer: "/name" })], async () => {
      const c = await post(`${path}/snapshots/${seg(s.name)}/clone`, { name: cloneName.value.trim() });
      status(`Clone ${c.name} made from ${name}@${s.name}.`);
      location.hash = `#/volumes/${seg(c.name)}`;
    }, { submit: "Clone", cls: "inline compact" });
    actions.append(
      cloneForm,
      button("Roll back…", () => run(actions, async () => {
        const body = await confirmRollback(`volume ${name}`, s, snaps);
        if (!body) return;
        await post(`${path}/snapshots/${seg(s.name)}/rollback`, body);
        status(`Volume ${name} rolled back to ${s.name}.`);
        await reload();
      }), { "aria-label": `Roll ${name} back to ${s.name}` }),
      button("Delete", () => run(actions, async () => {
        if (!(await confirmDialog(`Delete snapshot “${s.name}”?`, [`Its ${bytes(s.unique_bytes)} of unique data is freed. Volume ${name} itself is not changed.`], "Delete"))) return;
        await del(`${path}/snapshots/${seg(s.name)}`);
        status(`Snapshot ${s.name} deleted.`);
        await reload();
      }), { class: "danger", "aria-label": `Delete snapshot ${s.name}` }),
      h("p.form-error", { role: "alert", hidden: true }),
    );
    return [s.name, timeEl(s.created_at), bytes(s.unique_bytes), bytes(s.shared_bytes), number(s.clones), actions];
  });
  snapBox.append(table(`Snapshots of ${name}`, ["Name", "Taken", "Unique space", "Shared space", "Clones", "Actions"], snapRows, { id: "snapshot-list", empty: "No snapshots yet." }));

  const dangerBox = h("div.danger-zone", {}, h("p.form-error", { role: "alert", hidden: true }));
  dangerBox.append(
    button("Delete volume…", () => run(dangerBox, async () => {
      const lines = [`All data of ${name} (${bytes(vol.size_bytes)}) is deleted.`];
      if (snaps.length) lines.push(`Its ${snaps.length} snapshot(s) go with it: ${snaps.map((s) => s.name).join(", ")}.`);
      if (!(await confirmDialog(`Delete volume “${name}”?`, lines, "Delete volume"))) return;
      await del(path);
      status(`Volume ${name} deleted.`);
      location.hash = "#/volumes";
    }), { class: "danger", id: "volume-delete" }),
  );

  main.replaceChildren(
    heading(`Volume ${name}`, h("a", { href: "#/volumes" }, "All volumes")),
    section(
      "Details",
      h(
        "dl.figures",
        { id: "volume-facts" },
        h("div", {}, h("dt", {}, "Pool"), h("dd", {}, vol.pool)),
        h("div", {}, h("dt", {}, "Size"), h("dd", {}, bytes(vol.size_bytes))),
        h("div", {}, h("dt", {}, "Used"), h("dd", {}, bytes(vol.used_bytes))),
        h("div", {}, h("dt", {}, "Unique"), h("dd", {}, bytes(vol.unique_bytes))),
        h("div", {}, h("dt", {}, "VM"), h("dd", {}, vm ? h("a", { href: `#/vms/${seg(vm.name)}` }, vm.name) : "—")),
        h("div", {}, h("dt", {}, "QoS policy"), h("dd", {}, qosText(vm))),
        h("div", {}, h("dt", {}, "Clone of"), h("dd", {}, vol.parent_snapshot_id ? `snapshot #${vol.parent_snapshot_id}` : "—")),
        h("div", {}, h("dt", {}, "Created"), h("dd", {}, timeEl(vol.created_at))),
      ),
    ),
    section("Snapshots", snapForm, snapBox),
    section("Resize", resize),
    section("Copy", copyForm, copyTasks),
    ...(others.length ? [section("Move", moveForm, moveTasks)] : []),
    section("Delete", dangerBox),
  );
}

export function defaultSnapName() {
  const d = new Date();
  const p = (n) => String(n).padStart(2, "0");
  return `manual-${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}
