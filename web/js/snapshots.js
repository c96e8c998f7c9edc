/*
 * snapshots.js - what volumes and VMs share about snapshots: the rollback
 * confirmation, which says exactly what will be lost.
 *
 * Rolling back to snapshot S loses every write made since S was taken; the
 * server refuses (409) while newer snapshots exist unless delete_newer is
 * sent, which deletes them. So the dialog names those newer snapshots, and
 * the console sends delete_newer only when there are some.
 */
import { h, confirmDialog, time } from "./ui.js";

/* The snapshots taken after snap, oldest first. */
export function newerThan(snap, all) {
  const t = Date.parse(snap.created_at);
  return all
    .filter((s) => s.name !== snap.name && (Date.parse(s.created_at) > t || (Date.parse(s.created_at) === t && (s.id ?? 0) > (snap.id ?? 0))))
    .sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at));
}

/*
 * confirmRollback(what, snap, all) -> null when cancelled, else the request
 * body ({delete_newer}); what: "volume vm1" or "VM web (2 volumes)".
 */
export async function confirmRollback(what, snap, all) {
  const newer = newerThan(snap, all);
  const lines = [
    h("p", {}, `Everything written to ${what} since ${time(snap.created_at)} will be lost: it goes back to snapshot “${snap.name}”.`),
  ];
  if (newer.length) {
    lines.push(
      h("p", {}, `These ${newer.length} newer snapshot${newer.length > 1 ? "s" : ""} will be deleted too:`),
      h("ul.lost", {}, newer.map((s) => h("li", {}, `${s.name} (${time(s.created_at)})`))),
    );
  } else {
    lines.push(h("p", {}, "No snapshot is deleted."));
  }
  lines.push(h("p", {}, "This cannot be undone. Take a snapshot first if you may want the current data back."));
  const ok = await confirmDialog(`Roll ${what} back to “${snap.name}”?`, lines, "Roll back");
  return ok ? { delete_newer: newer.length > 0 } : null;
}
