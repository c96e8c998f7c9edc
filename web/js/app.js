/*
 * app.js - the console's shell: the login page, the hash router
 * (#/volumes/NAME ...) and log out.
 *
 * Each view module exports render(main, ...params) and may return a cleanup
 * function; the router calls it before the next view renders, which is how
 * the dashboard's 1-second polling stops when one leaves it.
 */
import { login, logout, setToken, setUnauthorizedHandler, token, ApiError, get } from "./api.js";
import { h, field, input, form, status } from "./ui.js";
import * as dashboard from "./dashboard.js";
import * as volumes from "./volumes.js";
import * as vms from "./vms.js";
import * as schedules from "./schedules.js";
import * as hosts from "./hosts.js";
import * as iscsi from "./iscsi.js";
import * as nfs from "./nfs.js";
import * as qos from "./qos.js";
import * as events from "./events.js";
import * as tasks from "./tasks.js";

const ROUTES = {
  dashboard: dashboard.render,
  volumes: volumes.render,
  vms: vms.render,
  schedules: schedules.render,
  hosts: hosts.render,
  iscsi: iscsi.render,
  nfs: nfs.render,
  qos: qos.render,
  events: events.render,
  tasks: tasks.render,
};

const main = document.getElementById("main");
let cleanup = null;
let renderSeq = 0;

function stopView() {
  if (typeof cleanup === "function") cleanup();
  cleanup = null;
}

async function route() {
  stopView();
  status("");
  const seq = ++renderSeq;
  if (!token()) {
    showLogin();
    return;
  }
  document.getElementById("top").hidden = false;
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  const name = parts[0] || "dashboard";
  const view = ROUTES[name];
  if (!view) {
    location.hash = "#/dashboard";
    return;
  }
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.getAttribute("href") === `#/${name}`) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  main.replaceChildren(h("p.loading", {}, "Loading…"));
  try {
    const done = await view(main, ...parts.slice(1));
    if (seq !== renderSeq) {
      if (typeof done === "function") done();
      return;
    }
    cleanup = done;
  } catch (err) {
    if (seq !== renderSeq) return;
    main.replaceChildren(h("p.form-error", { role: "alert" }, err instanceof ApiError ? err.message : String(err)));
  }
  const h1 = main.querySelector("h1");
  if (h1 && document.activeElement === document.body) h1.focus({ preventScroll: true });
}

function showLogin(message) {
  stopView();
  document.getElementById("top").hidden = true;
  const user = input({ name: "user", value: "admin", autocomplete: "username", required: true });
  const password = input({ type: "password", name: "password", autocomplete: "current-password", required: true });
  const pwForm = form(
    [field("User", user, { pointer: "/user" }), field("Password", password, { pointer: "/password" })],
    async () => {
      await login(user.value, password.value);
      enter();
    },
    { submit: "Log in", cls: "login-form" },
  );
  pwForm.id = "login-form";
  const tok = input({ type: "password", name: "token", autocomplete: "off", spellcheck: "false" });
  const tokForm = form(
    [field("API token", tok, { hint: "A token from slatectl or the admin-token file" })],
    async () => {
      setToken(tok.value.trim());
      try {
        await get("/pools");
      } catch (err) {
        setToken(null);
        throw err instanceof ApiError && err.status === 401 ? new Error("That token is not valid (expired or revoked?).") : err;
      }
      enter();
    },
    { submit: "Use token", cls: "login-form" },
  );
  tokForm.id = "token-form";
  main.replaceChildren(
    h(
      "div.login",
      {},
      h("h1", { tabindex: "-1" }, "Slate console"),
      message ? h("p.notice", { role: "status" }, message) : null,
      h("section.card", { "aria-labelledby": "login-h" }, h("h2#login-h", {}, "Log in"), pwForm),
      h("section.card", { "aria-labelledby": "token-h" }, h("h2#token-h", {}, "Or paste a token"), tokForm),
    ),
  );
  user.value ? password.focus() : user.focus();
}

function enter() {
  if (!location.hash || location.hash === "#/" || location.hash === "#/login") location.hash = "#/dashboard";
  else route();
}

setUnauthorizedHandler(() => {
  setToken(null);
  showLogin("Your session ended (the token expired or was revoked). Log in again.");
});

document.getElementById("logout").addEventListener("click", async () => {
  stopView();
  try {
    await logout();
  } catch {
    /* the token is dropped either way */
  }
  showLogin("You are logged out.");
});

window.addEventListener("hashchange", route);
route();
