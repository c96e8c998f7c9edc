/*
 * console.mjs - the web console end to end: Debian's chromium, headless,
 * driven by playwright-core (web/node_modules) against a real slated.
 *
 *     node console.mjs URL ADMIN_PASSWORD ISCSI_PORTAL ARTIFACT_DIR
 *
 * Logs in (a wrong password first), creates a volume and a snapshot, a
 * schedule with its cron preview, maps the volume as a LUN of a new target,
 * runs iscsi-perf against it and watches the live graphs' data change, rolls
 * back and clones from the snapshot, deletes, logs out. Prints "ok"/"FAIL"
 * lines and "N passed, N failed"; every wait is bounded, and a watchdog ends
 * the run after 110 s whatever hangs.
 */
import { createRequire } from "node:module";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const require = createRequire(new URL("../../web/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const [URL_BASE, PASSWORD, PORTAL, ARTIFACTS] = process.argv.slice(2);
const TARGET_IQN = "iqn.2026-12.dev.slate:console";
const INITIATOR = "iqn.2026-12.dev.test:console";
let passed = 0;
let failed = 0;

function check(name, cond, detail = "") {
  if (cond) {
    passed++;
    console.log(`ok   ${name}`);
  } else {
    failed++;
    console.log(`FAIL ${name}${detail ? `: ${detail}` : ""}`);
  }
}

/* step(name, fn): fn's exception is one FAIL line, and the run goes on. */
async function step(name, fn) {
  if (finishing) return;
  try {
    const result = await fn();
    check(name, result !== false);
  } catch (err) {
    check(name, false, String(err.message || err).split("\n")[0]);
    // what the page showed when the step failed, beside the other artifacts
    await page?.screenshot({ path: join(ARTIFACTS, `failed-${passed + failed}.png`), timeout: 5000 }).catch(() => {});
  }
}

const userDataDir = mkdtempSync(join(tmpdir(), "slate-console-chromium-"));
mkdirSync(ARTIFACTS, { recursive: true });
let context = null;
let page = null;
let perf = null;
let finishing = false;
const finish = async (code) => {
  if (finishing) return;
  finishing = true;
  if (perf && perf.exitCode === null) perf.kill("SIGKILL");
  if (context) await Promise.race([context.close().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
  rmSync(userDataDir, { recursive: true, force: true });
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(code ?? (failed ? 1 : 0));
};
const watchdog = setTimeout(() => {
  console.log("FAIL the console test finished within 110 s (watchdog)");
  failed++;
  finish(1);
}, 110000);

try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    timeout: 30000,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    viewport: { width: 1366, height: 768 },
  });
} catch (err) {
  check("chromium starts", false, String(err.message).split("\n")[0]);
  await finish(1);
}
check("chromium starts", true);

page = context.pages()[0] || (await context.newPage());
page.setDefaultTimeout(10000);
page.setDefaultNavigationTimeout(15000);
const pageErrors = [];
page.on("pageerror", (err) => pageErrors.push(err.message));
page.on("console", (msg) => {
  // 4xx answers the test provokes on purpose are logged by chromium as
  // "Failed to load resource"; anything else (CSP, exceptions) is an error
  if (msg.type() === "error" && !/Failed to load resource/.test(msg.text())) pageErrors.push(msg.text());
});

const shot = (name) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
const text = (sel) => page.locator(sel).first().innerText({ timeout: 10000 });
const go = async (hash, headingText) => {
  await page.evaluate((h) => { location.hash = h; }, hash);
  await page.locator("main h1", { hasText: headingText }).waitFor({ timeout: 10000 });
};
const chartData = (id) =>
  page.locator(`#${id}`).evaluate((el) => ({ points: Number(el.dataset.points), max: Number(el.dataset.max), latest: JSON.parse(el.dataset.latest) }));

// ---- log in --------------------------------------------------------------------
await step("the console loads with a login form", async () => {
  await page.goto(URL_BASE);
  await page.locator("#login-form").waitFor();
});
await step("a wrong password is refused with a visible message", async () => {
  await page.fill("#login-form input[name=user]", "admin");
  await page.fill("#login-form input[name=password]", "not-the-password");
  await page.click("#login-form button[type=submit]");
  const msg = page.locator("#login-form [role=alert]:visible");
  await msg.first().waitFor();
  const t = await msg.first().innerText();
  if (!/wrong user name or password/i.test(t)) throw new Error(`message: ${t}`);
  if (await page.locator("#top").isVisible()) throw new Error("the console opened");
});
await step("log in as admin with the keyboard alone", async () => {
  await page.fill("#login-form input[name=password]", "");
  await page.focus("#login-form input[name=user]");
  await page.keyboard.press("Tab");
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press("Enter");
  await page.locator("main h1", { hasText: "Dashboard" }).waitFor();
  await page.locator("#top").waitFor();
});
await step("the dashboard shows the pool's capacity, used and saved space", async () => {
  const cap = await text("#pool-capacity");
  await text("#pool-used");
  await text("#pool-saved");
  return /GiB|TiB/.test(cap);
});
await step("the live graphs fill with 1-second points", async () => {
  await page.waitForFunction(() => Number(document.querySelector("#chart-iops")?.dataset.points) >= 2, null, { timeout: 10000 });
});

// ---- volume, errors next to their field, snapshot ----------------------------------
await step("a bad volume name is refused next to the Name field", async () => {
  await go("#/volumes", "Volumes");
  await page.getByLabel("Name", { exact: true }).fill("a/b");
  await page.getByLabel("Size", { exact: true }).fill("64");
  await page.getByLabel("Size unit").selectOption("MiB");
  await page.click("#volume-create button[type=submit]");
  const err = page.locator('#volume-create [data-field="/name"] .field-error');
  await err.waitFor();
  return /name/i.test(await err.innerText()) && (await page.getByLabel("Name", { exact: true }).getAttribute("aria-invalid")) === "true";
});
await step("create a volume", async () => {
  await page.getByLabel("Name", { exact: true }).fill("console-vol");
  await page.click("#volume-create button[type=submit]");
  await page.locator("main h1", { hasText: "Volume console-vol" }).waitFor();
  return /64\.0 MiB/.test(await text("#volume-facts"));
});
await step("take a snapshot and see it listed", async () => {
  await page.getByLabel("Snapshot name").fill("snap1");
  await page.click("#snapshot-create button[type=submit]");
  await page.locator("#snapshot-list tbody tr", { hasText: "snap1" }).waitFor();
});
await step("a second snapshot is listed after the first", async () => {
  await page.getByLabel("Snapshot name").fill("snap2");
  await page.click("#snapshot-create button[type=submit]");
  await page.locator("#snapshot-list tbody tr", { hasText: "snap2" }).waitFor();
  return (await page.locator("#snapshot-list tbody tr").count()) === 2;
});
await shot("volume-snapshots").catch(() => {});

// ---- schedule with its cron preview --------------------------------------------------
await step("the schedule editor previews the next five runs", async () => {
  await go("#/schedules/new", "New schedule");
  await page.getByLabel("Name", { exact: true }).fill("console-nightly");
  await page.getByLabel("Kind").selectOption("volume");
  await page.getByLabel("Target", { exact: true }).selectOption("console-vol");
  await page.getByLabel("Minute").fill("15");
  await page.getByLabel("Hour").fill("3");
  await page.getByLabel("Time zone").fill("Europe/Berlin");
  await page.waitForFunction(() => {
    const runs = [...document.querySelectorAll("#preview-runs time")].map((t) => t.dateTime);
    return runs.length === 5 && runs.every((r) => new Date(r).getUTCMinutes() === 15);
  }, null, { timeout: 10000 });
});
await step("a bad cron field shows the server's message under it", async () => {
  await page.getByLabel("Hour").fill("25");
  const err = page.locator('#schedule-editor [data-field="/hour"] .field-error');
  await err.waitFor();
  if (!/25/.test(await err.innerText())) throw new Error(await err.innerText());
  await page.getByLabel("Hour").fill("3");
  await page.waitForFunction(() => document.querySelectorAll("#preview-runs li").length === 5, null, { timeout: 10000 });
  return err.isHidden();
});
await shot("schedule-editor").catch(() => {});
await step("create the schedule and see its next run", async () => {
  await page.getByLabel("Keep the last").fill("3");
  await page.click("#schedule-editor button[type=submit]");
  const row = page.locator("#schedule-list tbody tr", { hasText: "console-nightly" });
  await row.waitFor();
  const next = await row.locator(".next-run time").getAttribute("datetime");
  const t = Date.parse(next);
  return t > Date.now() && new Date(t).getUTCMinutes() === 15;
});

await step("disable and enable the schedule from the list", async () => {
  const row = () => page.locator("#schedule-list tbody tr", { hasText: "console-nightly" });
  await row().getByLabel("Schedule console-nightly enabled").uncheck();
  await page.locator("#schedule-list tbody tr", { hasText: "console-nightly" }).locator(".next-run", { hasText: "disabled" }).waitFor();
  await row().getByLabel("Schedule console-nightly enabled").check();
  await row().locator(".next-run time").waitFor();
});
await step("run the schedule now; its last result names the snapshot", async () => {
  await page.getByRole("button", { name: "Run schedule console-nightly now" }).click();
  await page.locator("#schedule-list tbody tr", { hasText: "console-nightly" }).locator(".result-ok", { hasText: /ok .*→ \S+/ }).waitFor();
});
await step("a full copy runs as a task whose progress reaches 100%", async () => {
  await go("#/volumes/console-vol", "Volume console-vol");
  await page.getByLabel("Copy name").fill("console-copy");
  await page.getByRole("button", { name: "Copy", exact: true }).click();
  await page.locator('.task[data-state="succeeded"]').waitFor({ timeout: 20000 });
  return (await page.locator(".task progress").getAttribute("value")) === "100";
});

await step("the copy moves to pool fast as a task; the volume list then names its pool", async () => {
  await go("#/volumes/console-copy", "Volume console-copy");
  await page.getByLabel("Move to pool").selectOption("fast");
  await page.getByRole("button", { name: "Move", exact: true }).click();
  await page.locator('#volume-move + .tasks .task[data-state="succeeded"]').waitFor({ timeout: 30000 });
  await go("#/volumes", "Volumes"); // the list shows each volume's pool
  const row = page.locator("#volume-list tbody tr", { hasText: "console-copy" });
  const cells = await row.locator("td, th").allInnerTexts();
  if (cells[1] !== "fast") console.error("row:", JSON.stringify(cells));
  return cells[1] === "fast";
});

// ---- QoS policy, VM ----------------------------------------------------------------
await step("create a QoS policy", async () => {
  await go("#/qos", "QoS");
  await page.getByLabel("Name", { exact: true }).fill("gold");
  await page.getByLabel("Shares", { exact: true }).fill("2000");
  await page.getByLabel("Limit IOPS", { exact: true }).fill("100");
  await page.getByLabel("Reservation IOPS", { exact: true }).fill("500");
  await page.getByRole("button", { name: "Create policy" }).click();
  // reservation above the limit: the server's reason, under its field
  const err = page.locator('[data-field="/reservation_iops"] .field-error:visible');
  await err.waitFor();
  await page.getByLabel("Limit IOPS", { exact: true }).fill("0");
  await page.getByRole("button", { name: "Create policy" }).click();
  await page.locator("#qos-policies tbody tr", { hasText: "gold" }).waitFor();
});
await step("QoS control is turned on and off from the console, and its state shows", async () => {
  const controller = page.locator("main section", { hasText: "Controller" });
  await controller.getByText("Off.", { exact: true }).waitFor();
  await page.getByLabel("QoS control").selectOption("true");
  await page.getByRole("button", { name: "Save settings" }).click();
  await controller.getByText(/^On: L /).waitFor();
  await page.getByLabel("QoS control").selectOption("false");
  await page.getByRole("button", { name: "Save settings" }).click();
  await controller.getByText("Off.", { exact: true }).waitFor();
  return true;
});
await step("create a VM of the volume with that policy; the volume shows its QoS", async () => {
  await go("#/vms", "VMs");
  await page.getByLabel("Name", { exact: true }).fill("console-vm");
  await page.getByLabel(/console-vol/).check();
  await page.getByLabel("QoS policy").selectOption("gold");
  await page.getByRole("button", { name: "Create VM" }).click();
  await page.locator("main h1", { hasText: "VM console-vm" }).waitFor();
  await go("#/volumes", "Volumes");
  const row = page.locator("#volume-list tbody tr", { hasText: "console-vol" });
  return /gold \(VM console-vm\)/.test(await row.innerText());
});

// ---- a LUN, real IO, the graphs move --------------------------------------------------
await step("create a target and map the volume as its LUN 0", async () => {
  await go("#/iscsi", "iSCSI");
  await page.getByLabel("IQN", { exact: true }).fill(TARGET_IQN);
  await page.click("#target-create button[type=submit]");
  const card = page.locator(`article.target[data-iqn="${TARGET_IQN}"]`);
  await card.waitFor();
  await card.getByLabel("LUN", { exact: true }).fill("0");
  await card.getByLabel("Volume").selectOption("console-vol");
  await card.locator(".lun-map button[type=submit]").click();
  await page.locator(`article.target[data-iqn="${TARGET_IQN}"] tbody tr`, { hasText: "console-vol" }).waitFor();
});
let before = { points: 0, max: 0, latest: {} };
await step("the dashboard's graphs are idle before the IO", async () => {
  await go("#/dashboard", "Dashboard");
  await page.waitForFunction(() => Number(document.querySelector("#chart-iops")?.dataset.points) >= 2, null, { timeout: 10000 });
  before = await chartData("chart-iops");
  return before.max === 0;
});
await step("iscsi-perf runs against the LUN", async () => {
  perf = spawn("iscsi-perf", ["-t", "10", "-i", INITIATOR, `iscsi://${PORTAL}/${TARGET_IQN}/0`], { stdio: "ignore" });
  await new Promise((r) => setTimeout(r, 300));
  return perf.exitCode === null;
});
await step("the IOPS graph's data goes above 0 and moves on", async () => {
  await page.waitForFunction(() => Number(document.querySelector("#chart-iops")?.dataset.max) > 0, null, { timeout: 15000 });
  const after = await chartData("chart-iops");
  return after.latest.time !== before.latest.time && after.max > 0;
});
await step("the MiB/s and latency graphs show the IO too", async () => {
  await page.waitForFunction(() => ["chart-mibs", "chart-latency"].every((id) => Number(document.getElementById(id).dataset.max) > 0), null, { timeout: 10000 });
});
await step("the hosts page lists the iSCSI session with its window", async () => {
  await go("#/hosts", "Hosts and sessions");
  const row = page.locator("#iscsi-sessions tbody tr", { hasText: INITIATOR });
  await row.waitFor({ timeout: 10000 });
  const cells = await row.locator("td").allInnerTexts();
  return /^\d+$/.test(cells[2].replace(/[,.\s]/g, ""));
});
await step("back on the dashboard, the graphs still show the IO", async () => {
  await go("#/dashboard", "Dashboard");
  await page.waitForFunction(() => Number(document.querySelector("#chart-iops")?.dataset.max) > 0, null, { timeout: 10000 });
});
// a few seconds of IO in the picture (the graph keeps two minutes)
await page.waitForTimeout(3000);
await shot("dashboard").catch(() => {});
await step("the host's own series can be chosen and shows its IOPS", async () => {
  await page.waitForFunction((h) => [...document.querySelectorAll("#series option")].some((o) => o.value === `host:${h}`), INITIATOR, { timeout: 10000 });
  await page.getByLabel("Show").selectOption(`host:${INITIATOR}`);
  await page.waitForFunction(() => Number(document.querySelector("#chart-iops")?.dataset.max) > 0, null, { timeout: 10000 });
});
await step("the VM's series shows the IO of its volume", async () => {
  await page.getByLabel("Show").selectOption("vm:console-vm");
  await page.waitForFunction(() => Number(document.querySelector("#chart-iops")?.dataset.max) > 0, null, { timeout: 10000 });
});
await step("iscsi-perf finishes without an error", async () => {
  if (perf.exitCode === null) await new Promise((r) => { perf.once("exit", r); setTimeout(r, 15000); });
  return perf.exitCode === 0;
});

// ---- rollback, clone, delete ------------------------------------------------------
await step("rollback says which newer snapshots and which data will be lost", async () => {
  await go("#/volumes/console-vol", "Volume console-vol");
  const rollback = page.getByRole("button", { name: "Roll console-vol back to snap1" });
  await rollback.click();
  const dlg = page.locator("dialog.confirm[open]");
  await dlg.waitFor();
  // Escape cancels; focus starts on Cancel, so Enter would cancel too
  await page.keyboard.press("Escape");
  await dlg.waitFor({ state: "detached" });
  if ((await page.locator("#snapshot-list tbody tr").count()) < 2) throw new Error("Escape rolled back");
  await rollback.click();
  await dlg.waitFor();
  const t = await dlg.innerText();
  if (!/snap2/.test(t) || !/written to volume console-vol since/.test(t)) throw new Error(t);
  await dlg.getByRole("button", { name: "Roll back" }).click();
  await page.locator("#snapshot-list tbody tr", { hasText: "snap2" }).waitFor({ state: "detached" });
  return (await page.locator("#snapshot-list tbody tr").count()) === 1;
});
await step("clone a volume from the snapshot", async () => {
  await page.getByLabel("Clone of snap1 named").fill("console-clone");
  await page.locator("#snapshot-list tbody tr", { hasText: "snap1" }).getByRole("button", { name: "Clone" }).click();
  await page.locator("main h1", { hasText: "Volume console-clone" }).waitFor();
  return /snapshot #/.test(await text("#volume-facts"));
});
await step("delete the clone after a confirmation", async () => {
  await page.click("#volume-delete");
  const dlg = page.locator("dialog.confirm[open]");
  await dlg.getByRole("button", { name: "Delete volume" }).click();
  await page.locator("main h1", { hasText: /^Volumes$/ }).waitFor();
  return (await page.locator("#volume-list tbody tr", { hasText: "console-clone" }).count()) === 0;
});
await step("a volume a LUN uses cannot be deleted; the reason is shown", async () => {
  await go("#/volumes/console-vol", "Volume console-vol");
  await page.click("#volume-delete");
  await page.locator("dialog.confirm[open]").getByRole("button", { name: "Delete volume" }).click();
  const err = page.locator(".danger-zone .form-error");
  await err.waitFor();
  return (await err.innerText()).length > 0;
});

// ---- log out ------------------------------------------------------------------------
const tokenBefore = await page.evaluate(() => sessionStorage.getItem("slate-token")).catch(() => "");
await step("log out returns to the login form", async () => {
  await page.click("#logout");
  await page.locator("#login-form").waitFor();
  return !(await page.locator("#top").isVisible());
});
await step("the logged-out token is refused", async () => {
  const status = await page.evaluate(async (tok) => (await fetch("/api/v1/volumes", { headers: { Authorization: `Bearer ${tok}` } })).status, tokenBefore);
  return status === 401;
});
await step("after a reload the console still asks to log in", async () => {
  await page.reload();
  await page.locator("#login-form").waitFor();
});
check("no script errors or CSP violations in the page", pageErrors.length === 0, pageErrors.slice(0, 3).join(" | "));

clearTimeout(watchdog);
await finish();
