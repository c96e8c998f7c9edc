/*
 * chart.js - a live time-series graph (uPlot) with a text twin.
 *
 * Each chart's element carries data-points (how many points it draws),
 * data-latest (the newest values, JSON) and data-max (the largest value in
 * the window), and holds a visually hidden table of the newest values: what
 * a screen reader reads, and what the end-to-end test asserts on.
 */
import uPlot from "../vendor/uPlot.esm.js";
import { h, uid, number } from "./ui.js";

const COLORS = ["#1f6feb", "#d9480f", "#2b8a3e", "#862e9c"];

export class LiveChart {
  /*
   * title: "IOPS"; unit: shown on the axis; lines: [{label, value: point
   * -> number}]; digits: decimals in the table.
   */
  constructor({ title, unit, lines, digits = 0, id }) {
    this.title = title;
    this.unit = unit;
    this.lines = lines;
    this.digits = digits;
    const captionId = uid("chart");
    this.plotBox = h("div.plot", { "aria-hidden": "true" });
    this.tableBody = h("tbody");
    this.el = h(
      "figure.chart",
      { id, "aria-labelledby": captionId, dataset: { points: "0", max: "0", latest: "{}" } },
      h("figcaption", { id: captionId }, `${title} (${unit})`),
      this.plotBox,
      h(
        "table.visually-hidden",
        {},
        h("caption", {}, `${title}, newest values`),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Series"), h("th", { scope: "col" }, unit))),
        this.tableBody,
      ),
    );
    this.plot = null;
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(this.plotBox);
  }

  width() {
    return Math.max(240, this.plotBox.clientWidth || 400);
  }

  makePlot() {
    const opts = {
      width: this.width(),
      height: 170,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(max * 1.1, 1)] } },
      axes: [{}, { size: 60, label: this.unit, labelSize: 14 }],
      series: [{}, ...this.lines.map((l, i) => ({ label: l.label, stroke: COLORS[i % COLORS.length], width: 1.5 }))],
    };
    this.plot = new uPlot(opts, [[], ...this.lines.map(() => [])], this.plotBox);
  }

  resize() {
    if (this.plot) this.plot.setSize({ width: this.width(), height: 170 });
  }

  /* set(points): the API's points, oldest first. */
  set(points) {
    if (!this.plot) this.makePlot();
    const xs = points.map((p) => Date.parse(p.time) / 1000);
    const ys = this.lines.map((l) => points.map((p) => l.value(p)));
    this.plot.setData([xs, ...ys]);
    let max = 0;
    for (const col of ys) for (const v of col) if (v > max) max = v;
    const last = points[points.length - 1];
    const latest = {};
    if (last) latest.time = last.time;
    this.lines.forEach((l, i) => {
      latest[l.label] = last ? ys[i][ys[i].length - 1] : null;
    });
    this.el.dataset.points = String(points.length);
    this.el.dataset.max = String(max);
    this.el.dataset.latest = JSON.stringify(latest);
    this.tableBody.replaceChildren(
      ...this.lines.map((l) => h("tr", {}, h("th", { scope: "row" }, l.label), h("td", {}, number(latest[l.label], this.digits)))),
    );
  }

  destroy() {
    this.resizeObserver.disconnect();
    if (this.plot) this.plot.destroy();
  }
}
