/*
 * hosts.js - hosts and sessions: each connected iSCSI initiator and NFS
 * client with its QoS window (the CmdSN window slated grants it), calls in
 * flight, and its IOPS and latency over the last five seconds (from the
 * host's stats series); and the QoS shares set per host.
 *
 * Refreshed every 2 seconds while the page is shown.
 */
import { get, put, del, listAll, seg } from "./api.js";
import { h, field, input, form, button, run, table, number, timeEl, heading, section, status } from "./ui.js";

const RECENT_S = 5;

async function hostFigures(host) {
  try {
    const stats = await get(`/stats?series=${encodeURIComponent(`host:${host}`)}&resolution=1`);
    const pts = stats.points.slice(-RECENT_S);
    if (!pts.length) return null;
    const iops = pts.reduce((n, p) => n + p.read_iops + p.write_iops, 0) / pts.length;
    const busy = pts.filter((p) => p.read_iops + p.write_iops > 0);
    const avg = busy.length ? busy.reduce((n, p) => n + p.avg_latency_us, 0) / busy.length : 0;
    const p99 = busy.reduce((m, p) => Math.max(m, p.p99_latency_us), 0);
    return { iops, avg, p99 };
  } catch {
    return null;
  }
}

export async function render(main) {
  const sessionsBox = h("div#sessions");
  const sharesBox = h("div#host-shares");
  let stopped = false;
  let timer = null;

  const refresh = async () => {
    const [sessions, shares] = await Promise.all([listAll("/sessions"), listAll("/qos-hosts")]);
    const hosts = [...new Set(sessions.map((s) => s.host))];
    const figures = new Map(await Promise.all(hosts.map(async (host) => [host, await hostFigures(host)])));
    const shareOf = new Map(shares.map((s) => [s.host, s.shares]));
    if (stopped) return;
    const rows = (proto) =>
      sessions
        .filter((s) => s.protocol === proto)
        .map((s) => {
          const f = figures.get(s.host);
          return [
            s.host,
            s.peer,
            proto === "iscsi" ? s.target || "—" : "—",
            s.window === undefined ? "—" : number(s.window),
            number(s.outstanding),
            f ? number(f.iops) : "—",
            f && f.avg ? `${number(f.avg)} µs` : "—",
            f && f.p99 ? `${number(f.p99)} µs` : "—",
            shareOf.has(s.host) ? number(shareOf.get(s.host)) : "default",
            timeEl(s.connected_at),
          ];
        });
    const heads = (first) => [first, "Address", "Target", "QoS window", "In flight", `IOPS (${RECENT_S} s)`, "Avg latency", "p99 latency", "Shares", "Connected"];
    sessionsBox.replaceChildren(
      h("h3", {}, "iSCSI sessions"),
      table("iSCSI sessions", heads("Initiator"), rows("iscsi"), { id: "iscsi-sessions", empty: "No iSCSI sessions." }),
      h("h3", {}, "NFS clients"),
      table("NFS clients", heads("Client"), rows("nfs"), { id: "nfs-clients", empty: "No NFS clients." }),
    );
    sharesBox.replaceChildren(
      table(
        "QoS shares per host",
        ["Host", "Shares", "Actions"],
        shares.map((s) => {
          const actions = h("div.row-actions", {}, h("p.form-error", { role: "alert", hidden: true }));
          actions.prepend(button("Reset to default", () => run(actions, async () => {
            await del(`/qos-hosts/${seg(s.host)}`);
            status(`Shares of ${s.host} reset.`);
            await refresh();
          }), { "aria-label": `Reset the shares of ${s.host}` }));
          return [s.host, number(s.shares), actions];
        }),
        { empty: "Every host has the default shares." },
      ),
    );
  };

  const host = input({ name: "host", required: true, autocomplete: "off"});
  const shares = input({ type: "number", name: "shares", min: "1", required: true, value: "1000" });
  const setForm = form([field("Host", host, { hint: "An initiator IQN or an NFS client address" }), field("Shares", shares, { pointer: "/shares" })], async () => {
    await put(`/qos-hosts/${seg(host.value.trim())}`, { shares: Number(shares.value) });
    status(`Shares of ${host.value.trim()} set to ${shares.value}.`);
    await refresh();
  }, { submit: "Set shares", cls: "inline" });

  await refresh();
  main.replaceChildren(
    heading("Hosts and sessions"),
    section("Connected now", h("p.hint", {}, "Updated every 2 seconds. Latency is over the last seconds with IO."), sessionsBox),
    section("QoS shares per host", sharesBox, setForm),
  );
  const loop = async () => {
    if (stopped) return;
    try {
      await refresh();
    } catch {
      /* keep the last table */
    }
    if (!stopped) timer = setTimeout(loop, 2000);
  };
  timer = setTimeout(loop, 2000);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
