/*
 * iscsi.js - iSCSI: targets with their LUNs, ACL and CHAP (secrets are
 * write-only: the API shows only the CHAP user), portals and discovery CHAP.
 * Changes apply to the running target at once (new targets serve, removed
 * ones close their sessions); portals from the next start.
 */
import { get, post, patch, put, del, listAll, seg } from "./api.js";
import { h, field, input, select, form, button, run, table, bytes, heading, section, status, confirmDialog, uid } from "./ui.js";

const splitList = (s) => s.split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);

/* CHAP user + secret fields; pointer "/chap" or "/mutual_chap". */
function chapFields(legend, pointer, current) {
  const user = input({ name: `${pointer}-user`, autocomplete: "off", value: current?.user || "" });
  const secret = input({ type: "password", name: `${pointer}-secret`, autocomplete: "new-password" });
  const box = h(
    "fieldset",
    { dataset: { field: pointer } },
    h("legend", {}, legend),
    h("p.field-error", { role: "alert", hidden: true }),
    field("User", user, { pointer: `${pointer}/user` }),
    field("Secret", secret, { pointer: `${pointer}/secret`, hint: current ? "Set: leave empty to keep; both empty removes it" : "12 to 64 characters" }),
  );
  /* value(): undefined keeps the current setting; {user:"",secret:""} clears */
  const value = () => {
    const u = user.value.trim();
    const s = secret.value;
    if (!u && !s) return current ? { user: "", secret: "" } : undefined;
    if (current && u === current.user && !s) return undefined;
    return { user: u, secret: s };
  };
  return { box, value };
}

function targetCard(t, volumes, reload) {
  const path = `/targets/${seg(t.iqn)}`;
  const lunNo = input({ type: "number", name: "lun", min: "0", max: "255", value: String(t.luns.reduce((m, l) => Math.max(m, l.lun + 1), 0)), size: "4" });
  const vol = select(volumes.map((v) => [v.name, `${v.name} (${bytes(v.size_bytes)})`]), { name: "volume" });
  const mapForm = form([field("LUN", lunNo, { pointer: "/lun" }), field("Volume", vol, { pointer: "/volume" })], async () => {
    await post(`${path}/luns`, { lun: Number(lunNo.value), volume: vol.value });
    status(`LUN ${lunNo.value} of ${t.iqn} maps ${vol.value}.`);
    await reload();
  }, { submit: "Map LUN", cls: "inline" });
  mapForm.classList.add("lun-map");

  const lunRows = t.luns.map((l) => {
    const actions = h("div.row-actions", {}, h("p.form-error", { role: "alert", hidden: true }));
    actions.prepend(button("Unmap", () => run(actions, async () => {
      if (!(await confirmDialog(`Unmap LUN ${l.lun}?`, [`Initiators of ${t.iqn} lose ${l.volume} at once; the volume itself stays.`], "Unmap"))) return;
      await del(`${path}/luns/${l.lun}`);
      status(`LUN ${l.lun} of ${t.iqn} unmapped.`);
      await reload();
    }), { "aria-label": `Unmap LUN ${l.lun} of ${t.iqn}` }));
    return [String(l.lun), l.volume, bytes(l.size_bytes), actions];
  });

  const acl = input({ name: "acl", value: t.acl.join(", "), autocomplete: "off" });
  const chap = chapFields("CHAP (initiator authenticates)", "/chap", t.chap);
  const mutual = chapFields("Mutual CHAP (target authenticates)", "/mutual_chap", t.mutual_chap);
  const access = form([field("Allowed initiators (ACL)", acl, { pointer: "/acl", hint: "IQNs separated by commas; empty allows any" }), h("div.two-col", {}, chap.box, mutual.box)], async () => {
    const body = { acl: splitList(acl.value) };
    if (chap.value() !== undefined) body.chap = chap.value();
    if (mutual.value() !== undefined) body.mutual_chap = mutual.value();
    await patch(path, body);
    status(`Access of ${t.iqn} saved.`);
    await reload();
  }, { submit: "Save access" });

  const danger = h("div.row-actions", {}, h("p.form-error", { role: "alert", hidden: true }));
  danger.prepend(button("Delete target…", () => run(danger, async () => {
    if (!(await confirmDialog(`Delete target ${t.iqn}?`, ["Its sessions are closed at once; its volumes stay."], "Delete target"))) return;
    await del(path);
    status(`Target ${t.iqn} deleted.`);
    await reload();
  }), { class: "danger" }));

  const headId = uid("tgt");
  return h(
    "article.target.card",
    { "aria-labelledby": headId, dataset: { iqn: t.iqn } },
    h("h3", { id: headId }, t.iqn),
    h("p.hint", {}, `ACL: ${t.acl.length ? t.acl.join(", ") : "any initiator"} · CHAP: ${t.chap ? t.chap.user : "off"} · mutual CHAP: ${t.mutual_chap ? t.mutual_chap.user : "off"}`),
    table(`LUNs of ${t.iqn}`, ["LUN", "Volume", "Size", "Actions"], lunRows, { empty: "No LUNs mapped." }),
    mapForm,
    h("details", {}, h("summary", {}, "Access: ACL and CHAP"), access),
    danger,
  );
}

export async function render(main) {
  const reload = () => render(main);
  const [targets, volumes, portals, discovery] = await Promise.all([listAll("/targets"), listAll("/volumes"), listAll("/portals"), get("/iscsi-discovery")]);

  const iqn = input({ name: "iqn", required: true, autocomplete: "off", placeholder: "iqn.2026-12.dev.slate:vm1", size: "36" });
  const acl = input({ name: "acl", autocomplete: "off" });
  const chap = chapFields("CHAP", "/chap", null);
  const create = form([field("IQN", iqn, { pointer: "/iqn" }), field("Allowed initiators (ACL)", acl, { pointer: "/acl", hint: "IQNs separated by commas; empty allows any" }), chap.box], async () => {
    const body = { iqn: iqn.value.trim(), acl: splitList(acl.value) };
    if (chap.value()) body.chap = chap.value();
    const t = await post("/targets", body);
    status(`Target ${t.iqn} created.`);
    await reload();
  }, { submit: "Create target" });
  create.id = "target-create";

  const portal = input({ name: "portal", required: true, placeholder: "192.0.2.10:3260", autocomplete: "off" });
  const portalForm = form([field("Portal (address:port)", portal, { pointer: "/portal" })], async () => {
    await post("/portals", { portal: portal.value.trim() });
    status(`Portal ${portal.value.trim()} added (used from the next start).`);
    await reload();
  }, { submit: "Add portal", cls: "inline" });
  const portalRows = portals.map((p) => {
    const actions = h("div.row-actions", {}, h("p.form-error", { role: "alert", hidden: true }));
    actions.prepend(button("Remove", () => run(actions, async () => {
      await del(`/portals/${seg(p.portal)}`);
      status(`Portal ${p.portal} removed.`);
      await reload();
    }), { "aria-label": `Remove portal ${p.portal}` }));
    return [p.portal, actions];
  });

  const dChap = chapFields("Discovery CHAP", "/chap", discovery.chap);
  const dMutual = chapFields("Discovery mutual CHAP", "/mutual_chap", discovery.mutual_chap);
  const discForm = form([h("div.two-col", {}, dChap.box, dMutual.box)], async () => {
    const body = {};
    if (dChap.value() !== undefined) body.chap = dChap.value();
    if (dMutual.value() !== undefined) body.mutual_chap = dMutual.value();
    await put("/iscsi-discovery", body);
    status("Discovery CHAP saved.");
    await reload();
  }, { submit: "Save discovery CHAP" });

  main.replaceChildren(
    heading("iSCSI"),
    section("Targets", targets.length ? h("div.targets", {}, targets.map((t) => targetCard(t, volumes, reload))) : h("p.empty", {}, "No targets yet.")),
    section("New target", create),
    section("Portals", h("p.hint", {}, "Addresses slated listens on for iSCSI; changes apply from the next start."), table("Portals", ["Portal", "Actions"], portalRows, { empty: "None configured: slated uses its --iscsi address." }), portalForm),
    section("Discovery", discForm),
  );
}
