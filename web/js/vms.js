/*
 * vms.js - VMs (named groups of volumes and NFS files with a QoS policy):
 * the list with size, used space and QoS, create; one VM's page with its
 * policy and members, snapshot now (all volumes at one instant), its
 * snapshots with space, clone into a new VM, rollback, delete.
 */
import { get, post, patch, del, listAll, seg } from "./api.js";
import { h, field, input, select, form, button, run, table, bytes, timeEl, heading, section, status, confirmDialog } from "./ui.js";
import { confirmRollback } from "./snapshots.js";
import { defaultSnapName } from "./volumes.js";

const splitList = (s) => s.split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);

function policyOptions(policies) {
  return [["", "none"], ...policies.map((p) => [p.name, `${p.name} (shares ${p.shares}, ${p.reservation_iops}–${p.limit_iops || "∞"} IOPS)`])];
}

function volumeChecks(volumes, chosen, taken) {
  const box = h("fieldset.checks", {}, h("legend", {}, "Volumes"));
  for (const v of volumes) {
    const id = `vmvol-${v.name}`;
    const other = taken.get(v.name);
    box.append(
      h("label", { for: id }, h("input", { type: "checkbox", id, value: v.name, checked: chosen.includes(v.name), disabled: !!other }), ` ${v.name} (${bytes(v.size_bytes)})${other ? ` — in VM ${other}` : ""}`),
    );
  }
  if (!volumes.length) box.append(h("p.hint", {}, "No volumes yet: create some under Volumes."));
  return h("div.field", { dataset: { field: "/volumes" } }, box, h("p.field-error", { role: "alert", hidden: true }));
}
const checked = (root) => [...root.querySelectorAll("fieldset.checks input:checked")].map((c) => c.value);

export async function render(main, name) {
  if (name) return renderOne(main, name);
  const [vms, volumes, policies] = await Promise.all([listAll("/vms"), listAll("/volumes"), listAll("/qos-policies")]);
  const byName = new Map(volumes.map((v) => [v.name, v]));
  const taken = new Map();
  for (const vm of vms) for (const v of vm.volumes) taken.set(v, vm.name);
  const sum = (vm, key) => vm.volumes.reduce((n, v) => n + (byName.get(v)?.[key] || 0), 0);

  const nameIn = input({ name: "name", required: true, autocomplete: "off" });
  const policy = select(policyOptions(policies), { name: "qos_policy" });
  const files = input({ name: "files", placeholder: "/vms/disk.raw, …", autocomplete: "off" });
  const create = form(
    [
      field("Name", nameIn, { pointer: "/name" }),
      volumeChecks(volumes, [], taken),
      field("NFS files", files, { pointer: "/files", hint: "Paths in the pool, separated by commas" }),
      field("QoS policy", policy, { pointer: "/qos_policy" }),
    ],
    async (f) => {
      const vm = await post("/vms", { name: nameIn.value.trim(), volumes: checked(f), files: splitList(files.value), qos_policy: policy.value || null });
      status(`VM ${vm.name} created.`);
      location.hash = `#/vms/${seg(vm.name)}`;
    },
    { submit: "Create VM" },
  );
  main.replaceChildren(
    heading("VMs"),
    section(
      "All VMs",
      table(
        "VMs",
        ["Name", "Volumes", "NFS files", "Size", "Used", "QoS policy", "Created"],
        vms.map((vm) => [
          h("a", { href: `#/vms/${seg(vm.name)}` }, vm.name),
          vm.volumes.join(", ") || "—",
          vm.files.join(", ") || "—",
          bytes(sum(vm, "size_bytes")),
          bytes(sum(vm, "used_bytes")),
          vm.qos_policy || "none",
          timeEl(vm.created_at),
        ]),
        { id: "vm-list", empty: "No VMs yet." },
      ),
    ),
    section("New VM", create),
  );
}

async function renderOne(main, name) {
  const path = `/vms/${seg(name)}`;
  const [vm, snaps, volumes, policies, vms] = await Promise.all([
    get(path), listAll(`${path}/snapshots`), listAll("/volumes"), listAll("/qos-policies"), listAll("/vms"),
  ]);
  const reload = () => render(main, name);
  const taken = new Map();
  for (const other of vms) if (other.name !== name) for (const v of other.volumes) taken.set(v, other.name);
  const byName = new Map(volumes.map((v) => [v.name, v]));

  const policy = select(policyOptions(policies), { name: "qos_policy" });
  policy.value = vm.qos_policy || "";
  const files = input({ name: "files", value: vm.files.join(", "), autocomplete: "off" });
  const edit = form(
    [field("QoS policy", policy, { pointer: "/qos_policy" }), volumeChecks(volumes, vm.volumes, taken), field("NFS files", files, { pointer: "/files" })],
    async (f) => {
      await patch(path, { qos_policy: policy.value || null, volumes: checked(f), files: splitList(files.value) });
      status(`VM ${name} changed.`);
      await reload();
    },
    { submit: "Save VM" },
  );

  const snapName = input({ name: "name", required: true, autocomplete: "off", value: defaultSnapName() });
  const snapForm = form([field("Snapshot name", snapName, { pointer: "/name" })], async () => {
    const s = await post(`${path}/snapshots`, { name: snapName.value.trim() });
    status(`Snapshot ${s.name} of VM ${name} taken (${s.volumes.length} volumes, ${s.files.length} files).`);
    await reload();
  }, { submit: "Snapshot now", cls: "inline" });

  const what = `VM ${name} (${vm.volumes.length} volume${vm.volumes.length === 1 ? "" : "s"}${vm.files.length ? `, ${vm.files.length} file(s)` : ""})`;
  const rows = snaps.map((s) => {
    const actions = h("div.row-actions");
    const cloneName = input({ name: "clone", autocomplete: "off", value: `${name}-${s.name}`, size: "16" });
    actions.append(
      form([field(`New VM from ${s.name}`, cloneName, { pointer: "/name" })], async () => {
        const c = await post(`${path}/snapshots/${seg(s.name)}/clone`, { name: cloneName.value.trim() });
        status(`VM ${c.name} cloned from ${name}@${s.name}.`);
        location.hash = `#/vms/${seg(c.name)}`;
      }, { submit: "Clone", cls: "inline compact" }),
      button("Roll back…", () => run(actions, async () => {
        const body = await confirmRollback(what, s, snaps);
        if (!body) return;
        await post(`${path}/snapshots/${seg(s.name)}/rollback`, body);
        status(`VM ${name} rolled back to ${s.name}.`);
        await reload();
      }), { "aria-label": `Roll VM ${name} back to ${s.name}` }),
      button("Delete", () => run(actions, async () => {
        if (!(await confirmDialog(`Delete VM snapshot “${s.name}”?`, [`The snapshot of each member is deleted, freeing ${bytes(s.unique_bytes)}. The VM itself is not changed.`], "Delete"))) return;
        await del(`${path}/snapshots/${seg(s.name)}`);
        status(`VM snapshot ${s.name} deleted.`);
        await reload();
      }), { class: "danger", "aria-label": `Delete VM snapshot ${s.name}` }),
      h("p.form-error", { role: "alert", hidden: true }),
    );
    return [s.name, timeEl(s.created_at), `${s.volumes.length} volumes, ${s.files.length} files`, bytes(s.unique_bytes), actions];
  });

  const dangerBox = h("div.danger-zone", {}, h("p.form-error", { role: "alert", hidden: true }));
  dangerBox.append(
    button("Delete VM…", () => run(dangerBox, async () => {
      if (!(await confirmDialog(`Delete VM “${name}”?`, ["The VM grouping and its policy binding go; its volumes and files stay (delete them under Volumes)."], "Delete VM"))) return;
      await del(path);
      status(`VM ${name} deleted.`);
      location.hash = "#/vms";
    }), { class: "danger" }),
  );

  main.replaceChildren(
    heading(`VM ${name}`, h("a", { href: "#/vms" }, "All VMs"), h("a", { href: `#/dashboard` }, "Live graphs")),
    section(
      "Members",
      table(
        `Volumes of ${name}`,
        ["Volume", "Size", "Used", "Unique"],
        vm.volumes.map((v) => [h("a", { href: `#/volumes/${seg(v)}` }, v), bytes(byName.get(v)?.size_bytes), bytes(byName.get(v)?.used_bytes), bytes(byName.get(v)?.unique_bytes)]),
        { empty: "No volumes." },
      ),
      vm.files.length ? h("p", {}, `NFS files: ${vm.files.join(", ")}`) : null,
    ),
    section("Snapshots", snapForm, table(`Snapshots of VM ${name}`, ["Name", "Taken", "Members", "Unique space", "Actions"], rows, { id: "vm-snapshot-list", empty: "No snapshots yet." })),
    section("Settings and QoS", edit),
    section("Delete", dangerBox),
  );
}
