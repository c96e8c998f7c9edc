/*
 * qos.js - QoS: the controller (on or off, L in use, Lbar, each host's
 * window and normalized latency, from /qos-status), policies (shares,
 * reservation and limit IOPS) and which VM uses which, the VM-to-policy
 * assignment, and the settings.  Host shares are on the Hosts page, beside
 * the sessions they apply to.
 */
import { get, post, patch, del, listAll, seg } from "./api.js";
import { h, field, input, select, form, button, run, table, number, heading, section, status, confirmDialog } from "./ui.js";

const num = (attrs) => input({ type: "number", min: "0", ...attrs });

export async function render(main) {
  const reload = () => render(main);
  const [policies, vms, settings, state] = await Promise.all([listAll("/qos-policies"), listAll("/vms"),
    get("/qos-settings"), get("/qos-status").catch(() => null)]);
  const usedBy = (p) => vms.filter((vm) => vm.qos_policy === p.name).map((vm) => vm.name);

  const rows = policies.map((p) => {
    const shares = num({ value: String(p.shares), size: "6", min: "1" });
    const resv = num({ value: String(p.reservation_iops), size: "6" });
    const limit = num({ value: String(p.limit_iops), size: "6" });
    const edit = form([
      field("Shares", shares, { pointer: "/shares" }),
      field("Reservation IOPS", resv, { pointer: "/reservation_iops" }),
      field("Limit IOPS", limit, { pointer: "/limit_iops", hint: "0: no limit" }),
    ], async () => {
      await patch(`/qos-policies/${seg(p.name)}`, { shares: Number(shares.value), reservation_iops: Number(resv.value), limit_iops: Number(limit.value) });
      status(`Policy ${p.name} saved.`);
      await reload();
    }, { submit: "Save", cls: "inline compact" });
    const actions = h("div.row-actions", {}, h("p.form-error", { role: "alert", hidden: true }));
    actions.prepend(button("Delete", () => run(actions, async () => {
      if (!(await confirmDialog(`Delete QoS policy ${p.name}?`, ["VMs using it must be moved to another policy first."], "Delete"))) return;
      await del(`/qos-policies/${seg(p.name)}`);
      status(`Policy ${p.name} deleted.`);
      await reload();
    }), { class: "danger", "aria-label": `Delete QoS policy ${p.name}` }));
    return [p.name, edit, usedBy(p).join(", ") || "—", actions];
  });

  const name = input({ name: "name", required: true, autocomplete: "off" });
  const shares = num({ value: "1000", min: "1" });
  const resv = num({ value: "0" });
  const limit = num({ value: "0" });
  const create = form([
    field("Name", name, { pointer: "/name" }),
    field("Shares", shares, { pointer: "/shares", hint: "Relative weight under contention" }),
    field("Reservation IOPS", resv, { pointer: "/reservation_iops", hint: "Guaranteed minimum" }),
    field("Limit IOPS", limit, { pointer: "/limit_iops", hint: "0: no limit" }),
  ], async () => {
    const p = await post("/qos-policies", { name: name.value.trim(), shares: Number(shares.value), reservation_iops: Number(resv.value), limit_iops: Number(limit.value) });
    status(`Policy ${p.name} created.`);
    await reload();
  }, { submit: "Create policy", cls: "inline" });

  const vmRows = vms.map((vm) => {
    const sel = select([["", "none"], ...policies.map((p) => p.name)], { "aria-label": `QoS policy of VM ${vm.name}` });
    sel.value = vm.qos_policy || "";
    const cell = h("div.row-actions", {}, sel, h("p.form-error", { role: "alert", hidden: true }));
    sel.addEventListener("change", () => run(cell, async () => {
      await patch(`/vms/${seg(vm.name)}`, { qos_policy: sel.value || null });
      status(`VM ${vm.name} now uses ${sel.value || "no policy"}.`);
    }));
    return [h("a", { href: `#/vms/${seg(vm.name)}` }, vm.name), cell];
  });

  const enabled = select([["false", "off"], ["true", "on"]]);
  enabled.value = String(settings.enabled);
  const threshold = num({ value: String(settings.latency_threshold_us), min: "0" });
  const period = num({ value: String(settings.period_ms), min: "100" });
  const settingsForm = form([
    field("QoS control", enabled, { pointer: "/enabled", hint: "Off: every host gets the targets' default window" }),
    field("Latency threshold (µs)", threshold, { pointer: "/latency_threshold_us", hint: "0: automatic (latency at 90% of peak throughput)" }),
    field("Period (ms)", period, { pointer: "/period_ms" }),
  ], async () => {
    await patch("/qos-settings", { enabled: enabled.value === "true", latency_threshold_us: Number(threshold.value), period_ms: Number(period.value) });
    status("QoS settings saved.");
    await reload();
  }, { submit: "Save settings", cls: "inline" });

  const controller = !state ? h("p", {}, "This slated runs no QoS control.") : [
    h("p", {}, state.enabled
      ? `On: L ${number(state.threshold_us)} µs (${state.threshold_source}), cluster latency Lbar ${number(state.cluster_latency_us)} µs, ${state.law} law, every ${state.period_ms} ms.`
      : "Off."),
    state.anomaly.active ? h("p.form-error", { role: "status" }, "Latency stays above L while the managed hosts are throttled: an outside workload shares the device.") : "",
    table("Hosts under QoS control", ["Host", "Shares", "Window (IOs)", "Normalized latency (µs)", "IOPS"],
      state.hosts.map((x) => [x.host, number(x.shares), number(x.window_ios), number(x.latency_us), number(x.iops)]),
      { id: "qos-hosts-status", empty: "No host has done IO yet." }),
  ];

  main.replaceChildren(
    heading("QoS"),
    section("Controller", ...[controller].flat()),
    section("Policies", table("QoS policies", ["Name", "Shares, reservation and limit", "Used by VMs", "Actions"], rows, { id: "qos-policies", empty: "No policies yet." })),
    section("New policy", create),
    section("Policy per VM", table("QoS policy per VM", ["VM", "Policy"], vmRows, { empty: "No VMs yet." })),
    section("Settings", settingsForm),
  );
}
