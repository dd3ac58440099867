// uPlot charts sized to their container, colours from the theme's CSS variables.
import uPlot from "../vendor/uplot/uPlot.esm.js";
import { h } from "./dom.js";

const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
export const palette = () => ["--s1", "--s2", "--s3", "--s4", "--s5", "--s6"].map(css);

/**
 * A line (or bar) chart. `x` is seconds since the epoch; `series` is [{label, values, fmt}].
 * Returns {el, destroy}.
 */
export function lineChart(title, x, series, { bars = false, height = 200, yFmt = (v) => String(v) } = {}) {
  const el = h("figure.chart", { "aria-label": title }, h("figcaption", null, title));
  const colors = palette();
  const fg = css("--fg");
  const grid = css("--line");
  const opts = {
    width: 400,
    height,
    legend: { show: true },
    cursor: { focus: { prox: 16 } },
    scales: { x: { time: true } },
    axes: [
      { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
      { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, values: (u, vals) => vals.map(yFmt), size: 72 },
    ],
    series: [
      {},
      ...series.map((s, i) => ({
        label: s.label,
        stroke: colors[i % colors.length],
        width: 2,
        fill: bars ? colors[i % colors.length] + "99" : undefined,
        paths: bars ? uPlot.paths.bars({ size: [0.8, 40] }) : undefined,
        // Sparse series (a few busy buckets in a long range) show their points and span gaps.
        points: { show: s.values.filter((v) => v !== null && v !== undefined).length < 40, size: 5 },
        spanGaps: true,
        value: (u, v) => (v === null || v === undefined ? "—" : yFmt(v)),
      })),
    ],
  };
  const data = [x, ...series.map((s) => s.values)];
  let plot = null;
  let ro = null;
  requestAnimationFrame(() => {
    if (!el.isConnected) return;
    opts.width = Math.max(200, el.clientWidth - 4);
    plot = new uPlot(opts, data, el);
    ro = new ResizeObserver(() => plot && plot.setSize({ width: Math.max(200, el.clientWidth - 4), height }));
    ro.observe(el);
  });
  return {
    el,
    destroy() {
      if (ro) ro.disconnect();
      if (plot) plot.destroy();
    },
  };
}
