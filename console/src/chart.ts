/**
 * Charts with uPlot (small, canvas, fast for thousands of points). Every chart is a <figure>:
 * the canvas has role="img" and an aria-label summarising the series, the figcaption says the
 * same in words, and a visually hidden table carries the numbers for screen readers.
 */
import type { VNode } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { dateTime, fmt, isoOf, stats, unitLabel, withUnit } from './format.ts';
import { html } from './html.ts';

export interface Line {
  label: string;
  values: ReadonlyArray<number | null>;
  color: string;
  /** Dashed (for a limit). */
  dash?: boolean;
  fill?: string;
  width?: number;
}

export interface Limit {
  value: number;
  label: string;
  color: string;
}

interface PlotProps {
  ts: readonly number[];
  lines: readonly Line[];
  limits?: readonly Limit[];
  height: number;
  /** Sparkline: no axes, no legend, no cursor. */
  spark?: boolean;
  unit: string;
  ariaLabel: string;
  /** Bumped when the data arrays were changed in place. */
  version?: number;
}

function limitsPlugin(limits: readonly Limit[], spark: boolean): uPlot.Plugin {
  return {
    hooks: {
      draw: (u: uPlot) => {
        const ctx = u.ctx;
        for (const l of limits) {
          const y = u.valToPos(l.value, 'y', true);
          if (!Number.isFinite(y)) continue;
          ctx.save();
          ctx.strokeStyle = l.color;
          ctx.lineWidth = Math.max(1, devicePixelRatio);
          ctx.setLineDash([5 * devicePixelRatio, 4 * devicePixelRatio]);
          ctx.beginPath();
          ctx.moveTo(u.bbox.left, y);
          ctx.lineTo(u.bbox.left + u.bbox.width, y);
          ctx.stroke();
          if (!spark) {
            ctx.fillStyle = l.color;
            ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
            ctx.textAlign = 'right';
            ctx.fillText(l.label, u.bbox.left + u.bbox.width - 4, y - 4 * devicePixelRatio);
          }
          ctx.restore();
        }
      },
    },
  };
}

function build(el: HTMLElement, p: PlotProps): uPlot {
  const limitValues = (p.limits ?? []).map((l) => l.value);
  const opts: uPlot.Options = {
    width: Math.max(120, el.clientWidth),
    height: p.height,
    padding: p.spark ? [4, 2, 4, 2] : [12, 8, 0, 0],
    legend: { show: !p.spark, live: !p.spark },
    cursor: p.spark ? { show: false } : { drag: { x: false, y: false } },
    select: { show: false, left: 0, top: 0, width: 0, height: 0 },
    scales: {
      x: { time: true },
      y: {
        range: (_u, min, max) => {
          let lo = Math.min(min, ...limitValues);
          let hi = Math.max(max, ...limitValues);
          if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
          if (lo === hi) {
            lo -= Math.abs(lo) * 0.05 || 1;
            hi += Math.abs(hi) * 0.05 || 1;
          }
          const pad = (hi - lo) * 0.08;
          return [lo - pad, hi + pad];
        },
      },
    },
    axes: p.spark
      ? [{ show: false }, { show: false }]
      : [
          { stroke: '#4a5451', grid: { stroke: '#e3e7e4', width: 1 }, ticks: { stroke: '#cfd6d2', width: 1 } },
          {
            stroke: '#4a5451',
            grid: { stroke: '#e3e7e4', width: 1 },
            ticks: { stroke: '#cfd6d2', width: 1 },
            size: 56,
            // The unit on the axis itself: a chart read without its caption still says what it shows.
            ...(p.unit ? { label: p.unit, labelSize: 18, labelFont: '12px system-ui, sans-serif' } : {}),
            values: (_u, splits) => splits.map((v) => (p.unit === 'W' && Math.abs(v) >= 1000 ? `${fmt(v / 1000)}k` : fmt(v))),
          },
        ],
    series: [
      { value: (_u, v) => (v === null ? '–' : dateTime(v * 1000)) },
      ...p.lines.map((l) => ({
        label: l.label,
        stroke: l.color,
        width: l.width ?? (p.spark ? 1.5 : 2),
        ...(l.fill ? { fill: l.fill } : {}),
        ...(l.dash ? { dash: [6, 4] } : {}),
        points: { show: false },
        spanGaps: false,
        value: (_u: uPlot, v: number | null) => (v === null ? '–' : withUnit(v, p.unit)),
      })),
    ],
    plugins: p.limits?.length ? [limitsPlugin(p.limits, !!p.spark)] : [],
  };
  return new uPlot(opts, dataOf(p), el);
}

function dataOf(p: PlotProps): uPlot.AlignedData {
  return [p.ts.map((t) => t / 1000), ...p.lines.map((l) => l.values as Array<number | null>)];
}

/** The uPlot canvas, sized to its container and resized with it. */
export function Plot(p: PlotProps): VNode {
  const ref = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = `${p.lines.map((l) => l.label + l.color).join('|')}|${(p.limits ?? []).map((l) => l.value).join(',')}|${p.height}|${p.spark ? 1 : 0}|${p.unit}`;
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    plot.current = build(el, p);
    const ro = new ResizeObserver(() => {
      const w = Math.max(120, el.clientWidth);
      if (plot.current && Math.abs(plot.current.width - w) > 1) plot.current.setSize({ width: w, height: p.height });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [shape]);
  useEffect(() => {
    plot.current?.setData(dataOf(p));
  }, [p.ts, p.ts.length, p.version, p.lines]);
  return html`<div class=${p.spark ? 'plot plot-spark' : 'plot'} ref=${ref} role="img" aria-label=${p.ariaLabel}></div>`;
}

/** Daily min/mean/max of a series, for the text alternative of a sparkline. */
export function dailySummary(ts: readonly number[], values: ReadonlyArray<number | null>): Array<{ day: string; min: number; mean: number; max: number }> {
  const days = new Map<string, number[]>();
  ts.forEach((t, i) => {
    const v = values[i];
    if (v === null || v === undefined) return;
    const d = new Date(t).toLocaleDateString('en-GB', { weekday: 'short', day: 'numeric', month: 'short' });
    const arr = days.get(d) ?? [];
    arr.push(v);
    days.set(d, arr);
  });
  return [...days.entries()].map(([day, vs]) => ({ day, ...(stats(vs) as { min: number; mean: number; max: number }) }));
}

/** Words for a series: range, newest value, and where it stands against its limits. */
export function describeSeries(label: string, ts: readonly number[], values: readonly number[], unit: string, extra = ''): string {
  if (!values.length) return `${label}: no data in this range.`;
  const s = stats(values) as { min: number; max: number; mean: number };
  const last = values[values.length - 1] as number;
  return `${label} from ${dateTime(ts[0] as number)} to ${dateTime(ts[ts.length - 1] as number)}: between ${withUnit(s.min, unit)} and ${withUnit(s.max, unit)}, mean ${withUnit(s.mean, unit)}, now ${withUnit(last, unit)}.${extra ? ` ${extra}` : ''}`;
}

/**
 * A sparkline figure: the plot (one or more lines on one scale) and a visually hidden table of
 * daily values (minimum, mean and maximum of one line; the daily mean of each of several).
 */
export function Sparkline(p: { ts: readonly number[]; lines: readonly Line[]; unit: string; label: string; limits?: readonly Limit[]; summary: string; version?: number }): VNode {
  const single = p.lines.length === 1;
  const perLine = p.lines.map((l) => dailySummary(p.ts, l.values));
  const days = perLine[0]?.map((r) => r.day) ?? [];
  const u = unitLabel(p.unit) || 'value';
  const empty = !p.ts.length;
  return html`<figure class="spark">
    ${!empty
      ? html`<${Plot} ts=${p.ts} lines=${p.lines} limits=${p.limits} height=${52} spark=${true} unit=${p.unit} ariaLabel=${p.summary} version=${p.version} />`
      : html`<div class="plot plot-spark plot-empty" role="img" aria-label=${p.summary}>no data yet</div>`}
    <div class="visually-hidden">
      <table>
        <caption>${p.label}: ${single ? `daily minimum, mean and maximum (${u})` : `daily means (${u})`}</caption>
        <thead><tr><th scope="col">Day</th>${single ? html`<th scope="col">Minimum</th><th scope="col">Mean</th><th scope="col">Maximum</th>` : p.lines.map((l) => html`<th scope="col">${l.label}</th>`)}</tr></thead>
        <tbody>${days.map(
          (day, i) => html`<tr><th scope="row">${day}</th>${single
            ? html`<td>${fmt(perLine[0]![i]!.min)}</td><td>${fmt(perLine[0]![i]!.mean)}</td><td>${fmt(perLine[0]![i]!.max)}</td>`
            : perLine.map((rows) => html`<td>${fmt(rows.find((r) => r.day === day)?.mean)}</td>`)}</tr>`,
        )}</tbody>
      </table>
    </div>
  </figure>`;
}

/** A full chart with axes and legend, its caption, and its data as a table (hidden unless asked for). */
export function TimeChart(p: { ts: readonly number[]; lines: readonly Line[]; unit: string; caption: string; summary: string; limits?: readonly Limit[]; height?: number; version?: number; showTable?: boolean; maxRows?: number }): VNode {
  const maxRows = p.maxRows ?? 500;
  const step = Math.max(1, Math.ceil(p.ts.length / maxRows));
  const idx: number[] = [];
  for (let i = 0; i < p.ts.length; i += step) idx.push(i);
  return html`<figure class="chart">
    <${Plot} ts=${p.ts} lines=${p.lines} limits=${p.limits} height=${p.height ?? 280} unit=${p.unit} ariaLabel=${p.summary} version=${p.version} />
    <figcaption>${p.caption}</figcaption>
    <div class=${p.showTable ? 'table-wrap' : 'visually-hidden'} tabindex=${p.showTable ? 0 : -1} role="region" aria-label="Data of the chart">
      <table>
        <caption>${p.caption}${step > 1 ? ` (every ${step}th of ${p.ts.length} points)` : ''}</caption>
        <thead><tr><th scope="col">Time</th>${p.lines.map((l) => html`<th scope="col">${l.label} (${unitLabel(p.unit) || 'value'})</th>`)}</tr></thead>
        <tbody>
          ${idx.map((i) => html`<tr><th scope="row"><time datetime=${isoOf(p.ts[i] as number)}>${dateTime(p.ts[i] as number)}</time></th>${p.lines.map((l) => html`<td>${fmt(l.values[i] ?? null)}</td>`)}</tr>`)}
        </tbody>
      </table>
    </div>
  </figure>`;
}
