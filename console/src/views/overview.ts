/**
 * Hub overview: active alerts first, then each commons' stocks against their limits, with a
 * 7-day sparkline and the trend in words.
 */
import type { VNode } from 'preact';
import { useMemo } from 'preact/hooks';
import { type Limit, Sparkline, describeSeries } from '../chart.ts';
import { type CommonsSpec, COMMONS, otherReadings, standing, thresholdsFor } from '../commons.ts';
import { fmt as ruleFmt } from '../../../core/words.ts';
import { ago, fmt, metricLabel, stats, unitLabel, withUnit } from '../format.ts';
import { DEFAULT_TREND, alertTrend, fitTrend, overWords, trendRule } from '../trend.ts';
import { useHubNow, useSeries } from '../hooks.ts';
import { html } from '../html.ts';
import { type State, useStore } from '../state.ts';
import type { Alert, LatestReading, SiteRichness } from '../types.ts';
import { AlertSummaryList, activeAlerts } from './alerts.ts';

const WEEK = 7 * 86_400_000;
const HOUR = { label: '1h', ms: 3_600_000 };
const LIMIT_COLOR = { critical: '#b3261e', warning: '#a15c00', info: '#2c5c8a' } as const;

function readingsOf(s: State, hub: string, metric: string): LatestReading[] {
  const out: LatestReading[] = [];
  for (const r of s.latest.values()) if (r.hub === hub && r.metric === metric) out.push(r);
  return out.sort((a, b) => a.sensor.localeCompare(b.sensor));
}

/** The stock's number as the rules word it (`39.0 m`: what the alert quotes), with the page's unit label. */
function ruleNumber(v: number, unit: string): string {
  const u = unitLabel(unit);
  return u ? `${ruleFmt(v)} ${u}` : ruleFmt(v);
}

function StockRow(p: { spec: { metric: string; label: string; per: 'day' | 'year' }; reading: LatestReading; color: string }): VNode {
  const s = useStore();
  const now = useHubNow(30_000);
  const r = p.reading;
  const limits = thresholdsFor(s.config?.thresholds ?? [], r);
  // The trend is fitted as the rule watching this stock fits it (its window may be longer than the week drawn).
  const rule = trendRule(limits);
  const spec = rule?.trend ?? DEFAULT_TREND;
  const rangeMs = Math.max(WEEK, spec.windowMs + spec.smoothMs);
  const { series, loading, error } = useSeries({ hub: r.hub, sensor: r.sensor, metric: r.metric, rangeMs, window: HOUR, agg: 'mean', epoch: s.epoch });
  const allTs = series?.ts ?? [];
  const allValues = series?.values ?? [];
  // The alerts of the rules that watch this stock, about this sensor or its site, in any state: the
  // rule's own evaluation carries the numbers it judged (an inactive alert too).
  const ofStock = [...s.alerts.values()].filter((a) => a.hub === r.hub && (a.subject === r.sensor || a.subject === r.site) && limits.some((l) => l.rule === a.rule));
  const evaluation = rule ? ofStock.find((a) => a.rule === rule.rule) : undefined;
  const fitted = useMemo(() => fitTrend(allTs, allValues, r.unit, spec, p.spec.per), [series, series?.version, spec.windowMs, spec.smoothMs]);
  const trend = alertTrend(evaluation, r.unit, p.spec.per) ?? fitted;
  const st = standing(r.value, r.unit, limits, trend, ofStock.filter((a) => a.state === 'firing' || a.state === 'pending'));
  // The sparkline shows the last week.
  const cut = (allTs[allTs.length - 1] ?? 0) - WEEK;
  const first = allTs.findIndex((t) => t > cut);
  const ts = first > 0 ? allTs.slice(first) : allTs;
  const values = first > 0 ? allValues.slice(first) : allValues;
  const plotLimits: Limit[] = limits.filter((l) => l.kind !== 'rate').map((l) => ({ value: l.value, label: l.label, color: LIMIT_COLOR[l.severity] }));
  const id = `stock-${r.sensor}-${r.metric}`;
  const trendSentence = trend ? `Trend: ${trend.words} (fit over ${trend.over}).` : `Trend: not yet, it needs ${overWords(spec.windowMs, spec.smoothMs).replace(/^the last /, '')} (at least ${Math.round(spec.minSpanMs / 3_600_000)} hours).`;
  const summary = describeSeries(`${p.spec.label} at ${r.sensor}, hourly means over 7 days`, ts, values, r.unit, `${trendSentence} ${st.words}`);
  const arrow = trend?.direction === 'rising' ? '↗' : trend?.direction === 'falling' ? '↘' : '→';
  // A depletion floor is judged on the fitted level of the smoothed series: that is the stock's number
  // (the one the alert quotes), the newest raw reading beside it.
  const headline = rule?.kind === 'floor' && trend && Number.isFinite(trend.level) && trend.smoothed ? trend.level : undefined;
  return html`<article class=${`stock level-${st.level}`} aria-labelledby=${id} data-metric=${r.metric} data-sensor=${r.sensor}>
    <header class="stock-head">
      <h3 id=${id}>${p.spec.label} <span class="where">${r.sensor}${r.site && r.site !== r.sensor ? ` · ${r.site}` : ''}</span></h3>
      <span class=${`badge badge-${st.level}`}>${st.badge}</span>
    </header>
    <p class="stock-value">${headline !== undefined
      ? html`<data value=${headline} class="value">${ruleNumber(headline, r.unit)}</data> <span class="vs">fitted level of the ${trend?.over.replace(/^.* of /, '') ?? 'means'}</span>`
      : html`<data value=${r.value} class="value">${withUnit(r.value, r.unit)}</data>`}
      ${trend ? html` <span class=${`trend trend-${trend.direction}`}><span aria-hidden="true">${arrow}</span> ${trend.words}</span>` : null}</p>
    <p class="stock-trend muted small">${trend ? `Trend fitted over ${trend.over}${trend.source === 'alert' ? ', as the rule computed it' : ''}.` : trendSentence}</p>
    <p class="stock-limit">${st.words}</p>
    ${loading && !series ? html`<div class="plot plot-spark plot-empty" aria-hidden="true">loading…</div>` : error ? html`<p class="muted small">History: ${error}</p>` : html`<${Sparkline} ts=${ts} lines=${[{ label: p.spec.label, values, color: p.color, fill: `${p.color}1f` }]} unit=${r.unit} label=${`${p.spec.label} at ${r.sensor}`} limits=${plotLimits} summary=${summary} version=${series?.version} />`}
    <p class="updated muted small">${headline !== undefined ? html`Latest reading <data value=${r.value} class="latest">${withUnit(r.value, r.unit)}</data>, ` : 'Last reading '}<time datetime=${new Date(r.ts).toISOString()} title=${new Date(r.ts).toISOString()}>${ago(r.ts, now)}</time></p>
  </article>`;
}

/** Hourly sums of one metric over several sensors, aligned by hour. */
function sumByHour(parts: ReadonlyArray<{ ts: readonly number[]; values: readonly number[] } | null>): { ts: number[]; values: number[] } {
  const m = new Map<number, number>();
  for (const p of parts) p?.ts.forEach((t, i) => m.set(t, (m.get(t) ?? 0) + (p.values[i] as number)));
  const ts = [...m.keys()].sort((a, b) => a - b);
  return { ts, values: ts.map((t) => m.get(t) as number) };
}

/** Two series on one time axis (null where one has no point). */
function align(a: { ts: readonly number[]; values: readonly number[] }, b: { ts: readonly number[]; values: readonly number[] }): { ts: number[]; a: Array<number | null>; b: Array<number | null> } {
  const ts = [...new Set([...a.ts, ...b.ts])].sort((x, y) => x - y);
  const ma = new Map(a.ts.map((t, i) => [t, a.values[i] as number]));
  const mb = new Map(b.ts.map((t, i) => [t, b.values[i] as number]));
  return { ts, a: ts.map((t) => ma.get(t) ?? null), b: ts.map((t) => mb.get(t) ?? null) };
}

function EnergyBalance(p: { hub: string }): VNode | null {
  const s = useStore();
  const pv = readingsOf(s, p.hub, 'pv_power')[0];
  const wind = readingsOf(s, p.hub, 'wind_power')[0];
  const demand = readingsOf(s, p.hub, 'demand_power')[0];
  const q = (r: LatestReading | undefined) => (r ? { hub: r.hub, sensor: r.sensor, metric: r.metric, rangeMs: WEEK, window: HOUR, agg: 'mean' as const, epoch: s.epoch } : null);
  const pvS = useSeries(q(pv));
  const windS = useSeries(q(wind));
  const demS = useSeries(q(demand));
  if (!demand || (!pv && !wind)) return null;
  const gen = sumByHour([pvS.series, windS.series]);
  const dem = { ts: demS.series?.ts ?? [], values: demS.series?.values ?? [] };
  const day = (x: { ts: readonly number[]; values: readonly number[] }): number[] => {
    const last = x.ts[x.ts.length - 1] ?? 0;
    return x.values.filter((_, i) => (x.ts[i] as number) > last - 86_400_000);
  };
  const both = align(gen, dem);
  const g24 = stats(day(gen))?.mean;
  const d24 = stats(day(dem))?.mean;
  const share = g24 !== undefined && d24 ? Math.round((g24 / d24) * 100) : undefined;
  const words =
    g24 !== undefined && d24 !== undefined
      ? `Last 24 hours: local generation averaged ${withUnit(g24, 'W')}, demand ${withUnit(d24, 'W')}${share !== undefined ? ` (${share} % met locally)` : ''}.`
      : 'Generation and demand: waiting for data.';
  const genNow = (pv?.value ?? 0) + (wind?.value ?? 0);
  const version = (pvS.series?.version ?? 0) + (windS.series?.version ?? 0) + (demS.series?.version ?? 0);
  const sumGen = describeSeries('Local generation (solar + wind), hourly means over 7 days', gen.ts, gen.values, 'W');
  const sumDem = describeSeries('Community demand, hourly means over 7 days', dem.ts, dem.values, 'W');
  const level = share === undefined ? 'unknown' : share >= 60 ? 'ok' : share >= 33 ? 'near' : 'bad';
  return html`<article class=${`stock level-${level}`} aria-labelledby="stock-energy-balance" data-metric="pv_power">
    <header class="stock-head">
      <h3 id="stock-energy-balance">Generation vs demand <span class="where">${[pv?.sensor, wind?.sensor].filter(Boolean).join(' + ')} · ${demand.sensor}</span></h3>
      <span class=${`badge badge-${level}`}>${share === undefined ? '–' : `${share} % local`}</span>
    </header>
    <p class="stock-value"><span class="value">${withUnit(genNow, 'W')}</span> <span class="vs">generated now vs</span> <span class="value value-secondary">${withUnit(demand.value, 'W')}</span> <span class="vs">demand</span></p>
    <p class="stock-limit">${words}</p>
    <${Sparkline} ts=${both.ts} lines=${[
      { label: 'Generation', values: both.a, color: '#d08a00', fill: '#d08a001f' },
      { label: 'Demand', values: both.b, color: '#4f5b63', width: 1.5 },
    ]} unit="W" label="Local generation (solar + wind) and community demand, hourly means" summary=${`${sumGen} ${sumDem}`} version=${version} />
    <p class="legend small"><span class="key key-gen" aria-hidden="true"></span> generation <span class="key key-dem" aria-hidden="true"></span> demand</p>
  </article>`;
}

function SiteDiversity(p: { site: string; sensors: LatestReading[]; richness: SiteRichness | undefined; since: string | null }): VNode {
  const s = useStore();
  const first = p.sensors[0] as LatestReading;
  const det = useSeries({ hub: first.hub, sensor: first.sensor, metric: 'count', rangeMs: WEEK, window: HOUR, agg: 'sum', epoch: s.epoch });
  const ts = det.series?.ts ?? [];
  const values = det.series?.values ?? [];
  const rich = p.richness;
  const id = `site-${p.site}`;
  const last = p.sensors.map((r) => r.species).filter(Boolean)[0];
  const summary = describeSeries(`Detections per hour at ${p.site} (${first.sensor}) over 7 days`, ts, values, 'count');
  return html`<article class="stock" aria-labelledby=${id} data-metric="count" data-sensor=${first.sensor}>
    <header class="stock-head">
      <h3 id=${id}>Species at ${p.site} <span class="where">${p.sensors.map((r) => r.sensor).join(', ')}</span></h3>
      ${rich ? html`<span class="badge badge-ok">${rich.richness24h} species / 24 h</span>` : null}
    </header>
    <p class="stock-value">${rich
      ? html`<span class="value">${rich.richness24h}</span> <span class="vs">species in the last 24 h (${rich.richness7d} in 7 days), ${fmt(rich.detections24h)} detections</span>`
      : html`<span class="vs">Species richness appears as detections arrive.</span>`}</p>
    <p class="stock-limit">${rich?.top.length ? `Most detected: ${rich.top.slice(0, 3).map((t) => `${t.species} (${fmt(t.count)})`).join(', ')}.` : last ? `Latest: ${last}.` : ''}</p>
    <${Sparkline} ts=${ts} lines=${[{ label: 'Detections', values, color: '#2e7d32', fill: '#2e7d321f' }]} unit="count" label=${`Detections per hour at ${p.site}`} summary=${summary} version=${det.series?.version} />
  </article>`;
}

function Biodiversity(p: { hub: string }): VNode {
  const s = useStore();
  const bySite = new Map<string, LatestReading[]>();
  for (const r of readingsOf(s, p.hub, 'count')) {
    const arr = bySite.get(r.site) ?? [];
    arr.push(r);
    bySite.set(r.site, arr);
  }
  const rich = new Map((s.biodiversity ?? []).filter((x) => x.hub === p.hub).map((x) => [x.site, x]));
  const sites = [...bySite.keys()].sort((a, b) => (rich.get(b)?.richness24h ?? -1) - (rich.get(a)?.richness24h ?? -1) || a.localeCompare(b));
  if (!sites.length) return html`<p class="muted">No detections yet.</p>`;
  return html`${sites.map((site) => html`<${SiteDiversity} key=${site} site=${site} sensors=${bySite.get(site) ?? []} richness=${rich.get(site)} since=${null} />`)}`;
}

function Commons(p: { spec: CommonsSpec; hub: string }): VNode {
  const s = useStore();
  const { spec } = p;
  const rows = spec.stocks.flatMap((st) => readingsOf(s, p.hub, st.metric).map((r) => ({ st, r })));
  // Any other kind (a new simulator or device): a generic card per metric, its trend and limits as for a stock.
  for (const r of otherReadings(s.latest.values(), p.hub, spec)) rows.push({ st: { metric: r.metric, label: `${metricLabel(r.metric)} (${r.kind})`, per: 'day' }, r });
  const open = [...s.alerts.values()].filter((a) => a.hub === p.hub && a.state === 'firing' && alertDomain(a, s) === spec.domain).length;
  return html`<section class=${`commons commons-${spec.domain}`} aria-labelledby=${`commons-${spec.domain}`} data-domain=${spec.domain} style=${{ '--accent': spec.color }}>
    <header class="commons-head">
      <h2 id=${`commons-${spec.domain}`}>${spec.title}</h2>
      ${open ? html`<a class="badge badge-bad" href="#/alerts">${open} firing</a>` : null}
    </header>
    <p class="commons-blurb">${spec.blurb}</p>
    <div class="stocks">
      ${rows.map(({ st, r }) => html`<${StockRow} key=${`${r.sensor}/${r.metric}`} spec=${st} reading=${r} color=${spec.color} />`)}
      ${spec.domain === 'energy' ? html`<${EnergyBalance} hub=${p.hub} />` : null}
      ${spec.domain === 'biodiversity' ? html`<${Biodiversity} hub=${p.hub} />` : null}
      ${!rows.length && spec.domain !== 'biodiversity' && spec.domain !== 'energy' ? html`<p class="muted">No ${spec.stocks.map((x) => metricLabel(x.metric).toLowerCase()).join(' or ')} readings yet.</p>` : null}
    </div>
  </section>`;
}

/** The domain an alert is about: its subject's sensor domain, else the rule's metric domain. */
export function alertDomain(a: Alert, s: State): string | undefined {
  const sensor = s.sensors.find((x) => x.hub === a.hub && x.sensor === a.subject);
  if (sensor) return sensor.domain;
  const metric = typeof a.facts.metric === 'string' ? a.facts.metric : undefined;
  if (metric) for (const r of s.latest.values()) if (r.metric === metric) return r.domain;
  for (const r of s.latest.values()) if (r.hub === a.hub && r.site === a.subject) return r.domain;
  return undefined;
}

export function Overview(): VNode {
  const s = useStore();
  const hub = s.hub;
  if (!hub) return html`<h1 tabindex="-1">Hub overview</h1><p>No sensor has reported yet. Register one with <code>steward sensors add</code>, or start the simulated fleet.</p>`;
  const active = activeAlerts(s, hub);
  return html`<h1 tabindex="-1">Hub ${hub}: overview</h1>
    <section class="active-alerts" aria-labelledby="active-alerts-h">
      <h2 id="active-alerts-h">Active alerts <span class="count">${active.length}</span></h2>
      ${active.length ? html`<${AlertSummaryList} alerts=${active} />` : html`<p class="all-clear"><span aria-hidden="true">✓</span> No alert is firing or pending for hub ${hub}.</p>`}
    </section>
    <div class="commons-grid">${COMMONS.map((c) => html`<${Commons} key=${c.domain} spec=${c} hub=${hub} />`)}</div>`;
}
