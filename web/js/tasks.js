/*
 * tasks.js - long operations (volume copies, scrubs): the task list, and
 * trackTask(), which shows one task's progress bar until it ends.
 *
 * A task is polled every 500 ms while it runs; the poll stops when the
 * element leaves the page (the view changed) or the task ends.
 */
import { get, listAll } from "./api.js";
import { h, table, timeEl, heading, section, status } from "./ui.js";

function progressBar(task) {
  return h(
    "progress",
    { max: "100", value: String(task.progress_pct), "aria-label": `${task.kind} of ${task.object}: ${task.progress_pct}%` },
    `${task.progress_pct}%`,
  );
}

function stateText(task) {
  return task.state === "running" ? `${task.progress_pct}%` : task.state + (task.result ? `: ${task.result}` : "");
}

/*
 * trackTask(task, box, onDone?): show the task in box (a progress bar and
 * its state) and poll it until it ends; onDone(task) then.
 */
export function trackTask(task, box, onDone) {
  const line = h("div.task", { dataset: { task: String(task.id), state: task.state } });
  box.append(line);
  const show = (t) => {
    line.dataset.state = t.state;
    line.replaceChildren(
      h("span", {}, `${t.kind} of ${t.object}`),
      progressBar(t),
      h(`span.task-state.state-${t.state}`, { role: t.state === "running" ? null : "status" }, stateText(t)),
    );
  };
  show(task);
  const poll = async () => {
    if (!line.isConnected) return;
    try {
      const t = await get(`/tasks/${task.id}`);
      show(t);
      if (t.state === "running") setTimeout(poll, 500);
      else {
        status(`${t.kind} of ${t.object}: ${t.state}`);
        if (onDone) onDone(t);
      }
    } catch (err) {
      line.append(h("span.form-error", { role: "alert" }, err.message));
    }
  };
  if (task.state === "running") setTimeout(poll, 500);
  else if (onDone) onDone(task);
}

export async function render(main) {
  const box = h("div");
  let timer = null;
  let stopped = false;
  const refresh = async () => {
    const items = await listAll("/tasks");
    items.sort((a, b) => b.id - a.id);
    box.replaceChildren(
      table(
        "Tasks, newest first",
        ["Id", "Kind", "Object", "Progress", "State", "Started", "Finished"],
        items.map((t) => [String(t.id), t.kind, t.object, progressBar(t), stateText(t), timeEl(t.created_at), timeEl(t.finished_at)]),
        { empty: "No tasks yet." },
      ),
    );
    if (!stopped && items.some((t) => t.state === "running")) timer = setTimeout(() => refresh().catch(() => {}), 1000);
  };
  await refresh();
  main.replaceChildren(heading("Tasks"), section("Long operations", h("p.hint", {}, "Copies and scrubs run in the background; their progress updates here."), box));
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
