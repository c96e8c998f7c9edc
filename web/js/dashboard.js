/*
 * dashboard.js - pool space, live 1-second graphs (IOPS, MiB/s, latency) of
 * the appliance, a VM, a host or a volume, and the newest events.
 *
 * The graphs poll GET /stats?resolution=1 once a second (the next poll is
 * set only when the last one has answered, so a slow server is never asked
 * twice at once) and keep the last two minutes.
 */
import { get, listAll } from "./api.js";
import { h, field, select, setOptions, bytes, table, timeEl, section, heading } from "./ui.js";
import { LiveChart } from "./chart.js";

const WINDOW_S = 120;
const MIB = 1 << 20;

function seriesLabel(s) {
  if (s === "appliance") return "Appliance (all IO)";
  const [kind, ...rest] = s.split(":");
  return `${{ vm: "VM", host: "Host", volume: "Volume" }[kind] || kind}: ${rest.join(":")}`;
}

function poolCard(pool) {
  const usedPct = pool.capacity_bytes ? (100 * pool.used_bytes) / pool.capacity_bytes : 0;
  return h(
    "div.pool",
    { id: "pool-card" },
    h("h3", {}, `Pool ${pool.name}`),
    h(
      "div.meter",
      { role: "meter", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": usedPct.toFixed(1), "aria-label": "Pool space used" },
      h("div.meter-used", { style: `width:${Math.min(100, usedPct).toFixed(1)}%` }),
      h("div.meter-threshold", { style: `left:${pool.soft_threshold_pct}%`, title: `soft threshold ${pool.soft_threshold_pct}%` }),
    ),
    h(
      "dl.figures",
      {},
      h("div", {}, h("dt", {}, "Capacity"), h("dd#pool-capacity", {}, bytes(pool.capacity_bytes))),
      h("div", {}, h("dt", {}, "Used"), h("dd#pool-used", {}, `${bytes(pool.used_bytes)} (${usedPct.toFixed(1)}%)`)),
      h("div", {}, h("dt", {}, "Free"), h("dd", {}, bytes(pool.free_bytes))),
      h("div", {}, h("dt", {}, "Saved by sharing"), h("dd#pool-saved", {}, bytes(pool.saved_bytes))),
      h("div", {}, h("dt", {}, "Volumes / snapshots"), h("dd", {}, `${pool.volumes} / ${pool.snapshots}`)),
    ),
    pool.soft_threshold_crossed ? h("p.warning", { role: "alert" }, `Used space is above the soft threshold (${pool.soft_threshold_pct}%).`) : null,
  );
}

export async function render(main) {
  const pools = await listAll("/pools");
  const poolBox = h("div.pools", {}, pools.map(poolCard));
  const seriesSel = select([["appliance", seriesLabel("appliance")]], { name: "series" });
  seriesSel.id = "series";
  const charts = {
    iops: new LiveChart({
      id: "chart-iops",
      title: "IOPS",
      unit: "IO/s",
      lines: [
        { label: "read", value: (p) => p.read_iops },
        { label: "write", value: (p) => p.write_iops },
      ],
    }),
    mibs: new LiveChart({
      id: "chart-mibs",
      title: "Throughput",
      unit: "MiB/s",
      digits: 2,
      lines: [
        { label: "read", value: (p) => p.read_bytes_per_s / MIB },
        { label: "write", value: (p) => p.write_bytes_per_s / MIB },
      ],
    }),
    latency: new LiveChart({
      id: "chart-latency",
      title: "Latency",
      unit: "µs",
      lines: [
        { label: "average", value: (p) => p.avg_latency_us },
        { label: "p99", value: (p) => p.p99_latency_us },
      ],
    }),
  };
  const liveNote = h("p.hint#live-note", { "aria-live": "off" }, "Waiting for the first points…");
  const eventsBox = h("div#recent-events");
  main.replaceChildren(
    heading("Dashboard"),
    section("Space", poolBox),
    section(
      "Performance, live",
      h("div.toolbar", {}, field("Show", seriesSel, { hint: "The appliance, a VM, a host (iSCSI initiator or NFS client) or a volume" }), liveNote),
      h("div.charts", {}, Object.values(charts).map((c) => c.el)),
    ),
    section("Recent events", eventsBox, h("p", {}, h("a", { href: "#/events" }, "All events"))),
  );

  let stopped = false;
  let timer = null;
  let tick = 0;
  let clockOffsetMs = null; // server time minus browser time, from "until"

  async function refreshSeries() {
    try {
      // every VM, even one without IO yet, and every series with points
      const [list, vms] = await Promise.all([listAll("/stats/series"), listAll("/vms")]);
      const known = new Set([...list.map((s) => s.series), ...vms.map((vm) => `vm:${vm.name}`)]);
      known.delete("appliance");
      const order = { vm: 0, host: 1, volume: 2 };
      const names = ["appliance", ...[...known].sort((a, b) => (order[a.split(":")[0]] ?? 3) - (order[b.split(":")[0]] ?? 3) || a.localeCompare(b))];
      setOptions(seriesSel, names.map((s) => [s, seriesLabel(s)]));
    } catch {
      /* the graphs go on with the list they have */
    }
  }

  async function refreshStats() {
    const series = seriesSel.value;
    const q = new URLSearchParams({ series, resolution: "1" });
    // "since" on the server's clock: the browser's may be off
    if (clockOffsetMs !== null) q.set("since", new Date(Date.now() + clockOffsetMs - WINDOW_S * 1000).toISOString());
    try {
      const stats = await get(`/stats?${q}`);
      if (stats.until) clockOffsetMs = Date.parse(stats.until) - Date.now();
      if (stopped || series !== seriesSel.value) return;
      const points = stats.points.slice(-WINDOW_S);
      for (const c of Object.values(charts)) c.set(points);
      liveNote.textContent = `${points.length} one-second points of ${seriesLabel(series)}, updated every second`;
      liveNote.classList.remove("form-error");
    } catch (err) {
      liveNote.textContent = `Graphs not updated: ${err.message}`;
      liveNote.classList.add("form-error");
    }
  }

  async function refreshSlow() {
    try {
      const [events, fresh] = await Promise.all([get("/events?limit=8"), listAll("/pools")]);
      if (stopped) return;
      eventsBox.replaceChildren(
        table(
          "The newest events",
          ["Time", "Severity", "Type", "Object", "Message"],
          events.items.map((e) => [timeEl(e.time), h(`span.sev.sev-${e.severity}`, {}, e.severity), e.type, e.object, e.message]),
          { empty: "No events yet." },
        ),
      );
      poolBox.replaceChildren(...fresh.map(poolCard));
    } catch (err) {
      eventsBox.replaceChildren(h("p.form-error", { role: "alert" }, err.message));
    }
  }

  async function loop() {
    if (stopped) return;
    const work = [refreshStats()];
    if (tick % 5 === 0) work.push(refreshSlow(), refreshSeries());
    tick++;
    await Promise.all(work);
    if (!stopped) timer = setTimeout(loop, 1000);
  }
  seriesSel.addEventListener("change", () => {
    for (const c of Object.values(charts)) c.set([]);
    refreshStats();
  });
  await refreshSeries();
  loop();

  return () => {
    stopped = true;
    clearTimeout(timer);
    for (const c of Object.values(charts)) c.destroy();
  };
}
