/*
 * events.js - the event log, newest first, filtered by severity or type,
 * one page (100) at a time.
 */
import { get } from "./api.js";
import { h, field, select, input, table, timeEl, heading, section, run } from "./ui.js";

export async function render(main) {
  const severity = select([["", "any"], "info", "warning", "error"], { name: "severity" });
  const type = input({ name: "type", placeholder: "e.g. schedule-run", list: "event-types" });
  const types = h(
    "datalist#event-types",
    {},
    ["soft-threshold", "pool-full", "checksum-error", "schedule-run", "schedule-prune", "auth-failure", "rollback", "task"].map((t) => h("option", { value: t })),
  );
  const box = h("div");
  const more = h("button", { type: "button", hidden: true }, "Older events");
  let next = null;
  const load = async (append) => {
    const q = new URLSearchParams({ limit: "100" });
    if (severity.value) q.set("severity", severity.value);
    if (type.value.trim()) q.set("type", type.value.trim());
    if (append && next !== null) q.set("after", String(next));
    const page = await get(`/events?${q}`);
    next = page.next;
    more.hidden = next === null;
    const rows = page.items.map((e) => [timeEl(e.time), h(`span.sev.sev-${e.severity}`, {}, e.severity), e.type, e.object, e.message]);
    const heads = ["Time", "Severity", "Type", "Object", "Message"];
    if (append && box.querySelector("tbody")) {
      const t = table("", heads, rows);
      if (t.tagName === "TABLE") box.querySelector("tbody").append(...t.querySelector("tbody").children);
    } else box.replaceChildren(table("Events, newest first", heads, rows, { empty: "No events match." }));
  };
  const filters = h("form.toolbar", { on: { submit: (ev) => { ev.preventDefault(); run(filters, () => load(false)); } } },
    h("p.form-error", { role: "alert", hidden: true }),
    field("Severity", severity), field("Type", type), types, h("div.actions", {}, h("button", { type: "submit" }, "Filter")));
  more.addEventListener("click", () => run(filters, () => load(true)));
  await load(false);
  main.replaceChildren(heading("Events"), section("Event log", filters, box, more));
}
