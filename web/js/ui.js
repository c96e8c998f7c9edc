/*
 * ui.js - the small DOM toolkit every view uses: element building, labelled
 * form fields whose errors sit next to them, number formats, a confirmation
 * dialog and the status line.
 *
 * Every control is made by field() with a <label for=...>; its error text
 * has an id the control points at with aria-describedby, so a screen reader
 * reads the server's detail with the control it is about.
 */
import { ApiError } from "./api.js";

/* h("tag.class#id", {attrs, on: {click: fn}}, ...children) -> Element */
export function h(spec, attrs = {}, ...children) {
  const [, tag, rest] = spec.match(/^([a-z0-9]+)(.*)$/i);
  const el = document.createElement(tag);
  for (const part of rest.match(/[.#][^.#]+/g) || []) {
    if (part[0] === ".") el.classList.add(part.slice(1));
    else el.id = part.slice(1);
  }
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "on") {
      for (const [ev, fn] of Object.entries(value)) el.addEventListener(ev, fn);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "text") {
      el.textContent = value;
    } else if (key in el && typeof value !== "string") {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : value);
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

let idCounter = 0;
export const uid = (prefix) => `${prefix}-${++idCounter}`;

/*
 * field(label, input, {pointer, hint}) -> a labelled block; pointer is the
 * JSON pointer of the request member the control sets ("/size_bytes"), so
 * showError() can put a problem's detail under it.
 */
export function field(label, input, { pointer, hint } = {}) {
  if (!input.id) input.id = uid("f");
  const errId = `${input.id}-error`;
  const described = [errId];
  let hintEl = null;
  if (hint) {
    hintEl = h("small.hint", { id: `${input.id}-hint` }, hint);
    described.push(hintEl.id);
  }
  input.setAttribute("aria-describedby", described.join(" "));
  return h(
    "div.field",
    { dataset: pointer ? { field: pointer } : {} },
    h("label", { for: input.id }, label),
    input,
    hintEl,
    h("p.field-error", { id: errId, role: "alert", hidden: true }),
  );
}

export const input = (attrs = {}) => h("input", { type: "text", ...attrs });

export function select(options, attrs = {}) {
  const el = h("select", attrs);
  setOptions(el, options);
  return el;
}

/* options: [value] or [[value, text]] */
export function setOptions(el, options, keep = true) {
  const old = el.value;
  el.replaceChildren(
    ...options.map((o) => {
      const [value, text] = Array.isArray(o) ? o : [o, o];
      return h("option", { value }, text);
    }),
  );
  if (keep && options.some((o) => (Array.isArray(o) ? o[0] : o) === old)) el.value = old;
}

export function button(text, onClick, attrs = {}) {
  return h("button", { type: "button", ...attrs, on: { click: onClick } }, text);
}

/* Clear every error shown in a form (or any container). */
export function clearErrors(root) {
  for (const p of root.querySelectorAll(".field-error, .form-error")) {
    p.hidden = true;
    p.textContent = "";
  }
  for (const el of root.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

/*
 * showError(root, err): the problem's detail next to the field its pointer
 * names (or the nearest parent pointer: "/clients/2" -> "/clients"), else in
 * the container's form-level error line.
 */
export function showError(root, err) {
  const problem = err instanceof ApiError ? err.problem : { detail: String(err.message || err) };
  const text = problem.detail || problem.title || "failed";
  let pointer = problem.field || "";
  while (pointer) {
    const block = root.querySelector(`[data-field="${CSS.escape(pointer)}"]`);
    if (block) {
      const p = block.querySelector(":scope > .field-error") || block.querySelector(".field-error");
      p.textContent = text;
      p.hidden = false;
      const control = block.querySelector("input, select, textarea");
      if (control) {
        control.setAttribute("aria-invalid", "true");
        control.focus();
      }
      return;
    }
    const cut = pointer.lastIndexOf("/"); // "/clients/2" -> "/clients" -> done
    pointer = cut > 0 ? pointer.slice(0, cut) : "";
  }
  let line = root.querySelector(":scope > .form-error") || root.querySelector(".form-error");
  if (!line) {
    line = h("p.form-error", { role: "alert" });
    root.prepend(line);
  }
  line.textContent = text;
  line.hidden = false;
}

export const formError = () => h("p.form-error", { role: "alert", hidden: true });

/*
 * form(children, onSubmit, {submit}) -> <form>; onSubmit(formEl) may throw
 * (an ApiError shows next to its field); the button is disabled meanwhile.
 */
export function form(children, onSubmit, { submit = "Save", cls = "" } = {}) {
  const submitBtn = h("button", { type: "submit" }, submit);
  const el = h(`form${cls ? "." + cls.trim().split(/\s+/).join(".") : ""}`, { novalidate: true }, formError(), children, h("div.actions", {}, submitBtn));
  el.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(el);
    submitBtn.disabled = true;
    try {
      await onSubmit(el);
    } catch (err) {
      showError(el, err);
    } finally {
      submitBtn.disabled = false;
    }
  });
  return el;
}

/* run(container, fn): an action button's call; its error shows in container. */
export async function run(container, fn) {
  clearErrors(container);
  try {
    return await fn();
  } catch (err) {
    showError(container, err);
    return undefined;
  }
}

/*
 * confirmDialog(title, lines, confirmText) -> Promise<boolean>, a modal
 * <dialog>: Escape or Cancel answer false; focus starts on Cancel.
 */
export function confirmDialog(title, lines, confirmText = "Confirm") {
  return new Promise((resolve) => {
    const titleId = uid("dlg");
    const cancel = h("button", { type: "button" }, "Cancel");
    const ok = h("button.danger", { type: "button" }, confirmText);
    const dlg = h(
      "dialog.confirm",
      { "aria-labelledby": titleId },
      h("h2", { id: titleId }, title),
      lines.map((l) => (l instanceof Node ? l : h("p", {}, l))),
      h("div.actions", {}, cancel, ok),
    );
    const finish = (answer) => {
      dlg.close();
      dlg.remove();
      resolve(answer);
    };
    cancel.addEventListener("click", () => finish(false));
    ok.addEventListener("click", () => finish(true));
    dlg.addEventListener("cancel", (ev) => {
      ev.preventDefault();
      finish(false);
    });
    document.body.append(dlg);
    dlg.showModal();
    cancel.focus();
  });
}

/* The status line at the top (aria-live): what the last action did. */
export function status(text) {
  const el = document.getElementById("status");
  if (!el) return;
  el.textContent = text;
  el.hidden = !text;
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
export function bytes(n) {
  if (n === null || n === undefined) return "—";
  let i = 0;
  let v = n;
  while (Math.abs(v) >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i ? v.toFixed(v < 10 ? 2 : 1) : v} ${UNITS[i]}`;
}

export function time(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

export function timeEl(iso) {
  return iso ? h("time", { datetime: iso, title: iso }, time(iso)) : "—";
}

export function number(n, digits = 0) {
  return n === null || n === undefined ? "—" : Number(n).toLocaleString(undefined, { maximumFractionDigits: digits });
}

/* A table from column heads and rows of cells; caption for screen readers. */
export function table(caption, heads, rows, { empty = "None yet.", id } = {}) {
  if (!rows.length) return h("p.empty", { id }, empty);
  return h(
    "table",
    { id },
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, heads.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((c, i) => (i === 0 ? h("th", { scope: "row" }, c) : h("td", {}, c)))))),
  );
}

/* Parse "20G", "512M", "4096" (bytes), or a number with a unit select. */
export function sizeBytes(value, unit) {
  const n = Number(value);
  if (value === "" || !isFinite(n)) return NaN;
  const mult = { B: 1, KiB: 1024, MiB: 1 << 20, GiB: 1 << 30, TiB: 2 ** 40 }[unit] || 1;
  return Math.round(n * mult);
}

/* A number input with a unit select, as one labelled field. */
export function sizeField(label, pointer, { value = "", unit = "GiB", bytes: current } = {}) {
  if (current) {
    // the largest unit that shows the size as a whole number, at most TiB
    unit = "MiB";
    for (const u of ["GiB", "TiB"]) if (current % sizeBytes(1, u) === 0) unit = u;
    value = String(current / sizeBytes(1, unit));
  }
  const num = input({ type: "number", min: "0", step: "any", value, required: true, inputmode: "decimal" });
  const units = select(["MiB", "GiB", "TiB"], { "aria-label": `${label} unit` });
  units.value = unit;
  const block = field(label, num, { pointer });
  num.after(units);
  block.classList.add("size");
  return { block, bytes: () => sizeBytes(num.value, units.value), num, units };
}

export function heading(text, ...extra) {
  return h("div.view-head", {}, h("h1", { tabindex: "-1" }, text), extra);
}

export function section(title, ...children) {
  const id = uid("sec");
  return h("section.card", { "aria-labelledby": id }, h("h2", { id }, title), children);
}
