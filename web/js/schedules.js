/*
 * schedules.js - snapshot schedules: the list (next run, last result,
 * enabled toggle, run now) and the editor with its cron helper.
 *
 * The helper asks the server (POST /schedules/preview) for the next five
 * runs whenever a cron field or the zone changes, 300 ms after the last
 * keystroke, so what it shows is what slated's own cron code will do
 * (day-of-month OR day-of-week, DST gaps); a bad field's message appears
 * under that field before anything is saved.
 */
import { get, post, patch, del, listAll, seg } from "./api.js";
import { h, field, input, select, setOptions, form, button, run, table, timeEl, time, heading, section, status, confirmDialog, clearErrors, showError } from "./ui.js";

const CRON = ["minute", "hour", "day_of_month", "month", "day_of_week"];
const CRON_LABELS = { minute: "Minute", hour: "Hour", day_of_month: "Day of month", month: "Month", day_of_week: "Day of week" };
const CRON_HINTS = { minute: "0-59", hour: "0-23", day_of_month: "1-31", month: "1-12 or jan-dec", day_of_week: "0-7 or sun-sat" };
const PRESETS = [
  ["", "Custom"],
  ["0 * * * *", "Every hour"],
  ["0 */6 * * *", "Every 6 hours"],
  ["30 2 * * *", "Every day at 02:30"],
  ["0 18 * * 1-5", "Weekdays at 18:00"],
  ["0 3 * * 0", "Sundays at 03:00"],
  ["0 1 1 * *", "First of the month at 01:00"],
];

const cronText = (s) => CRON.map((k) => s[k]).join(" ");

function retentionText(r) {
  const parts = [];
  if (r.keep_last) parts.push(`last ${r.keep_last}`);
  if (r.keep_for) parts.push(`for ${r.keep_for}`);
  return parts.length ? `keep ${parts.join(" and ")}` : "—";
}

function resultText(r) {
  if (!r) return "never ran";
  return h("span", { class: `result-${r.status}` }, `${r.status} ${time(r.time)}${r.snapshot ? ` → ${r.snapshot}` : ""}${r.message ? `: ${r.message}` : ""}`);
}

export async function render(main, name) {
  if (name) return renderEditor(main, name === "new" ? null : name);
  const schedules = await listAll("/schedules");
  const box = h("div");
  const rows = schedules.map((s) => {
    const actions = h("div.row-actions", {}, h("p.form-error", { role: "alert", hidden: true }));
    const toggleId = `enabled-${s.name}`;
    const toggle = h("input", { type: "checkbox", id: toggleId, checked: s.enabled });
    toggle.addEventListener("change", () => run(actions, async () => {
      try {
        const u = await patch(`/schedules/${seg(s.name)}`, { enabled: toggle.checked });
        status(`Schedule ${s.name} ${u.enabled ? "enabled" : "disabled"}; next run ${u.next_run ? time(u.next_run) : "none"}.`);
        await render(main);
      } catch (err) {
        toggle.checked = !toggle.checked;
        throw err;
      }
    }));
    actions.prepend(
      h("a.button", { href: `#/schedules/${seg(s.name)}`, "aria-label": `Edit schedule ${s.name}` }, "Edit"),
      button("Run now", () => run(actions, async () => {
        const u = await post(`/schedules/${seg(s.name)}/run`);
        status(`Schedule ${s.name} ran: ${u.last_result?.status} ${u.last_result?.snapshot || u.last_result?.message || ""}`);
        await render(main);
      }), { "aria-label": `Run schedule ${s.name} now` }),
      button("Delete", () => run(actions, async () => {
        if (!(await confirmDialog(`Delete schedule “${s.name}”?`, ["No more snapshots are taken by it; the snapshots it made stay."], "Delete"))) return;
        await del(`/schedules/${seg(s.name)}`);
        status(`Schedule ${s.name} deleted.`);
        await render(main);
      }), { class: "danger", "aria-label": `Delete schedule ${s.name}` }),
    );
    return [
      s.name,
      `${s.target.kind} ${s.target.name}`,
      h("code", {}, cronText(s)),
      s.timezone,
      h("span", { class: "next-run" }, s.enabled ? timeEl(s.next_run) : "disabled"),
      resultText(s.last_result),
      retentionText(s.retention),
      h("label.toggle", { for: toggleId }, toggle, h("span.visually-hidden", {}, `Schedule ${s.name} `), "enabled"),
      actions,
    ];
  });
  box.append(
    table("Snapshot schedules", ["Name", "Target", "Cron", "Zone", "Next run", "Last result", "Retention", "Enabled", "Actions"], rows, {
      id: "schedule-list",
      empty: "No schedules yet.",
    }),
  );
  main.replaceChildren(heading("Schedules", h("a.button#new-schedule", { href: "#/schedules/new" }, "New schedule")), section("All schedules", box));
}

async function renderEditor(main, name) {
  const [current, vms, volumes] = await Promise.all([name ? get(`/schedules/${seg(name)}`) : null, listAll("/vms"), listAll("/volumes")]);
  const s = current || {
    name: "", minute: "30", hour: "2", day_of_month: "*", month: "*", day_of_week: "*",
    timezone: "UTC", target: { kind: vms.length ? "vm" : "volume", name: "" }, retention: { keep_last: 7 },
    name_pattern: "auto-%Y%m%d-%H%M", enabled: true, catch_up: true,
  };
  const nameIn = input({ name: "name", required: true, autocomplete: "off", value: s.name, disabled: !!current });
  const kind = select([["vm", "VM"], ["volume", "Volume"]], { name: "target_kind" });
  kind.value = s.target.kind;
  const target = select([], { name: "target_name" });
  const fillTargets = () => {
    const names = (kind.value === "vm" ? vms : volumes).map((x) => x.name);
    setOptions(target, names.length ? names : [["", `no ${kind.value === "vm" ? "VMs" : "volumes"} yet`]]);
  };
  fillTargets();
  target.value = s.target.name || target.value;
  kind.addEventListener("change", fillTargets);

  const cron = {};
  for (const k of CRON) cron[k] = input({ name: k, value: s[k], autocomplete: "off", spellcheck: "false", size: "8", class: "cron" });
  const preset = select(PRESETS, { name: "preset" });
  preset.value = PRESETS.some(([v]) => v === cronText(s)) ? cronText(s) : "";
  const zone = input({ name: "timezone", value: s.timezone, list: "zones", autocomplete: "off" });
  const zones = h("datalist#zones", {}, (Intl.supportedValuesOf ? Intl.supportedValuesOf("timeZone") : ["UTC"]).concat("UTC").map((z) => h("option", { value: z })));
  const keepLast = input({ type: "number", name: "keep_last", min: "1", value: s.retention.keep_last ?? "" });
  const keepFor = input({ name: "keep_for", value: s.retention.keep_for ?? "", placeholder: "P30D", autocomplete: "off" });
  const pattern = input({ name: "name_pattern", value: s.name_pattern, autocomplete: "off" });
  const enabled = h("input", { type: "checkbox", name: "enabled", checked: s.enabled });
  const catchUp = h("input", { type: "checkbox", name: "catch_up", checked: s.catch_up });

  const runsList = h("ol#preview-runs");
  const previewNote = h("p.hint#preview-note", { "aria-live": "polite" });
  const cronBox = h(
    "fieldset.cron-fields",
    {},
    h("legend", {}, "When"),
    field("Common times", preset, { hint: "Fills in the five cron fields" }),
    h("div.cron-row", {}, CRON.map((k) => field(CRON_LABELS[k], cron[k], { pointer: `/${k}`, hint: CRON_HINTS[k] }))),
    field("Time zone", zone, { pointer: "/timezone", hint: "IANA zone, e.g. Europe/Berlin" }),
    zones,
  );
  const previewBox = h("section.preview", { "aria-labelledby": "preview-h" }, h("h3#preview-h", {}, "Next five runs"), previewNote, runsList);

  let previewTimer = null;
  let previewSeq = 0;
  const preview = async () => {
    const seq = ++previewSeq;
    const body = { count: 5, timezone: zone.value.trim() || "UTC" };
    for (const k of CRON) body[k] = cron[k].value.trim() || (k === "minute" ? "" : "*");
    clearErrors(cronBox);
    try {
      const answer = await post("/schedules/preview", body);
      if (seq !== previewSeq) return;
      runsList.replaceChildren(...answer.runs.map((r) => h("li", {}, h("time", { datetime: r }, `${new Date(r).toLocaleString(undefined, { timeZone: answer.timezone, dateStyle: "full", timeStyle: "short" })} ${answer.timezone}`))));
      previewNote.textContent = answer.runs.length ? "" : "These fields never match a date.";
    } catch (err) {
      if (seq !== previewSeq) return;
      runsList.replaceChildren();
      previewNote.textContent = "No preview: fix the field marked above.";
      showError(cronBox, err);
    }
  };
  const schedulePreview = () => {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(preview, 300);
  };
  for (const k of CRON) cron[k].addEventListener("input", () => { preset.value = PRESETS.some(([v]) => v === CRON.map((c) => cron[c].value.trim()).join(" ")) ? CRON.map((c) => cron[c].value.trim()).join(" ") : ""; schedulePreview(); });
  zone.addEventListener("input", schedulePreview);
  preset.addEventListener("change", () => {
    if (!preset.value) return;
    preset.value.split(" ").forEach((v, i) => { cron[CRON[i]].value = v; });
    schedulePreview();
  });

  const retention = h(
    "fieldset",
    { dataset: { field: "/retention" } },
    h("legend", {}, "Retention"),
    h("p.field-error", { role: "alert", hidden: true }),
    h("p.hint", {}, "A snapshot is deleted only when every rule given lets it go; give at least one."),
    field("Keep the last", keepLast, { pointer: "/retention/keep_last", hint: "number of snapshots" }),
    field("Keep for", keepFor, { pointer: "/retention/keep_for", hint: "ISO 8601 duration: P7D, PT12H, P1W" }),
  );

  const editor = form(
    [
      h("div.two-col", {},
        h("div", {},
          field("Name", nameIn, { pointer: "/name" }),
          h("fieldset", { dataset: { field: "/target" } }, h("legend", {}, "Snapshot what"), h("p.field-error", { role: "alert", hidden: true }),
            field("Kind", kind, { pointer: "/target/kind" }), field("Target", target, { pointer: "/target/name" })),
          cronBox,
        ),
        h("div", {}, previewBox),
      ),
      retention,
      field("Snapshot names", pattern, { pointer: "/name_pattern", hint: "%Y %m %d %H %M %S at the scheduled time" }),
      h("div.field", {}, h("label", {}, enabled, " Enabled")),
      h("div.field", {}, h("label", {}, catchUp, " Catch up a run missed while slated was down")),
    ],
    async () => {
      const body = { target: { kind: kind.value, name: target.value }, retention: {}, name_pattern: pattern.value.trim(), enabled: enabled.checked, catch_up: catchUp.checked, timezone: zone.value.trim() || "UTC" };
      for (const k of CRON) body[k] = cron[k].value.trim();
      if (keepLast.value !== "") body.retention.keep_last = Number(keepLast.value);
      if (keepFor.value.trim()) body.retention.keep_for = keepFor.value.trim();
      const saved = current ? await patch(`/schedules/${seg(current.name)}`, body) : await post("/schedules", { name: nameIn.value.trim(), ...body });
      status(`Schedule ${saved.name} saved; next run ${saved.next_run ? time(saved.next_run) : "none (disabled)"}.`);
      location.hash = "#/schedules";
    },
    { submit: current ? "Save schedule" : "Create schedule" },
  );
  editor.id = "schedule-editor";
  main.replaceChildren(
    heading(current ? `Schedule ${current.name}` : "New schedule", h("a", { href: "#/schedules" }, "All schedules")),
    section(current ? "Edit" : "Create", editor),
    current ? section("Last result", h("p#last-result", {}, resultText(current.last_result)), h("p", {}, "Next run: ", timeEl(current.next_run))) : null,
  );
  preview();
  return () => clearTimeout(previewTimer);
}
