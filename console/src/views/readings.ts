/** Readings: pick a sensor, a metric and a range; the chart follows live readings. */
import type { VNode } from 'preact';
import { useState } from 'preact/hooks';
import { TimeChart, describeSeries } from '../chart.ts';
import { COMMONS, thresholdsFor } from '../commons.ts';
import { DOMAIN_LABEL, metricLabel, windowFor } from '../format.ts';
import { fitTrend } from '../trend.ts';
import { useSeries } from '../hooks.ts';
import { html } from '../html.ts';
import { useStore } from '../state.ts';

const RANGES: Array<[string, string, number]> = [
  ['6h', '6 hours', 6 * 3_600_000],
  ['24h', '24 hours', 86_400_000],
  ['7d', '7 days', 7 * 86_400_000],
  ['30d', '30 days', 30 * 86_400_000],
];
const DOMAIN_COLOR: Record<string, string> = { water: '#1f6fb2', energy: '#b86e00', soil: '#7a5230', biodiversity: '#2e7d32' };

function setParams(p: Record<string, string>): void {
  const q = new URLSearchParams(p);
  history.replaceState(null, '', `#/readings?${q.toString()}`);
}

export function Readings(p: { params: URLSearchParams }): VNode {
  const s = useStore();
  const hub = s.hub;
  const order = ['water', 'energy', 'soil', 'biodiversity'];
  const sensors = s.sensors.filter((x) => x.hub === hub).sort((a, b) => order.indexOf(a.domain) - order.indexOf(b.domain) || a.sensor.localeCompare(b.sensor));
  const metricsOf = (sensor: string): string[] => [...s.latest.values()].filter((r) => r.hub === hub && r.sensor === sensor).map((r) => r.metric).sort();
  const withData = sensors.filter((x) => metricsOf(x.sensor).length);
  // Default: the first stock the overview shows (the aquifer), else the first sensor with data.
  const stocks = COMMONS.flatMap((c) => c.stocks.map((x) => x.metric));
  const firstStock = stocks.map((m) => withData.find((x) => metricsOf(x.sensor).includes(m))).find(Boolean);
  const [sensor, setSensor] = useState(p.params.get('sensor') ?? firstStock?.sensor ?? withData[0]?.sensor ?? '');
  const metrics = metricsOf(sensor);
  const [metricWanted, setMetric] = useState(p.params.get('metric') ?? metrics.find((m) => stocks.includes(m)) ?? '');
  const metric = metrics.includes(metricWanted) ? metricWanted : (metrics[0] ?? '');
  const [range, setRange] = useState(p.params.get('range') ?? '24h');
  const [agg, setAgg] = useState<'mean' | 'min' | 'max' | 'sum'>((p.params.get('agg') as 'mean') ?? 'mean');
  const [showTable, setShowTable] = useState(false);
  const rangeMs = (RANGES.find((r) => r[0] === range) ?? RANGES[1]!)[2];
  const win = windowFor(rangeMs, 300);
  const info = sensors.find((x) => x.sensor === sensor);
  const { series, unit, loading, error, truncated } = useSeries(hub && sensor && metric ? { hub, sensor, metric, rangeMs, window: win, agg, epoch: s.epoch } : null);
  const ts = series?.ts ?? [];
  const values = series?.values ?? [];
  const reading = s.latest.get(`${hub}/${sensor}/${metric}`);
  const limits = reading ? thresholdsFor(s.config?.thresholds ?? [], reading).filter((t) => t.kind !== 'rate').map((t) => ({ value: t.value, label: t.label, color: t.severity === 'critical' ? '#b3261e' : '#a15c00' })) : [];
  // A trend only over ranges long enough to take out daily cycles: 24-hour means over the range shown.
  const trend = rangeMs >= 3 * 86_400_000 ? fitTrend(ts, values, unit, { windowMs: rangeMs, smoothMs: 86_400_000, minPoints: 12, minSpanMs: rangeMs / 4 }) : undefined;
  const label = `${metricLabel(metric)} at ${sensor}`;
  const caption = `${label}, ${agg} per ${win.label} over the last ${(RANGES.find((r) => r[0] === range) ?? RANGES[1]!)[1]}${trend ? `; ${trend.words} (fit over ${trend.over})` : ''}.`;
  const summary = describeSeries(`${label} (${agg} per ${win.label})`, ts, values, unit, trend ? `Trend: ${trend.words} (fit over ${trend.over}).` : '');
  const update = (patch: Record<string, string>): void => setParams({ sensor, metric, range, agg, ...patch });
  return html`<h1 tabindex="-1">Readings</h1>
    <form class="picker" onSubmit=${(e: Event) => e.preventDefault()}>
      <label>Sensor
        <select value=${sensor} onChange=${(e: Event) => {
          const v = (e.currentTarget as HTMLSelectElement).value;
          setSensor(v);
          update({ sensor: v, metric: '' });
        }}>
          ${['water', 'energy', 'soil', 'biodiversity'].map((d) => {
            const group = withData.filter((x) => x.domain === d);
            return group.length ? html`<optgroup label=${DOMAIN_LABEL[d]}>${group.map((x) => html`<option value=${x.sensor}>${x.sensor}${x.site ? ` (${x.site})` : ''}</option>`)}</optgroup>` : null;
          })}
        </select>
      </label>
      <label>Metric
        <select value=${metric} onChange=${(e: Event) => {
          const v = (e.currentTarget as HTMLSelectElement).value;
          setMetric(v);
          update({ metric: v });
        }}>
          ${metrics.map((m) => html`<option value=${m}>${metricLabel(m)}</option>`)}
        </select>
      </label>
      <label>Range
        <select value=${range} onChange=${(e: Event) => {
          const v = (e.currentTarget as HTMLSelectElement).value;
          setRange(v);
          update({ range: v });
        }}>
          ${RANGES.map(([k, l]) => html`<option value=${k}>${l}</option>`)}
        </select>
      </label>
      <label>Per ${win.label}
        <select value=${agg} onChange=${(e: Event) => {
          const v = (e.currentTarget as HTMLSelectElement).value as typeof agg;
          setAgg(v);
          update({ agg: v });
        }}>
          <option value="mean">mean</option><option value="min">minimum</option><option value="max">maximum</option><option value="sum">sum</option>
        </select>
      </label>
    </form>
    ${!sensor || !metric
      ? html`<p class="muted">No readings yet.</p>`
      : loading && !series
        ? html`<p class="muted" role="status">Loading ${label}…</p>`
        : error
          ? html`<p role="alert">Could not read ${label}: ${error}</p>`
          : html`<${TimeChart} ts=${ts} lines=${[{ label: metricLabel(metric), values, color: DOMAIN_COLOR[info?.domain ?? 'water'] ?? '#1f6fb2' }]} unit=${unit} caption=${caption} summary=${summary} limits=${limits} version=${series?.version} showTable=${showTable} />
            ${truncated ? html`<p class="note">The range holds more points than one answer carries; widen the window.</p>` : null}
            <button type="button" class="secondary" aria-expanded=${showTable ? 'true' : 'false'} onClick=${() => setShowTable(!showTable)}>${showTable ? 'Hide' : 'Show'} the data as a table</button>`}`;
}
