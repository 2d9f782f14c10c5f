/**
 * What the overview shows of each commons (docs/contract.md: stocks, regeneration, extraction), and how
 * a stock stands against the limits the rules watch.
 */
import { withUnit } from './format.ts';
import type { Trend } from './trend.ts';
import type { Alert, Domain, LatestReading, Threshold } from './types.ts';

export interface StockSpec {
  metric: string;
  /** What the stock is, in the commons' words. */
  label: string;
  /** Trend rate per day or per year (slow stocks such as soil carbon). */
  per: 'day' | 'year';
}

export interface CommonsSpec {
  domain: Domain;
  title: string;
  /** One line on what the stock is and what moves it. */
  blurb: string;
  color: string;
  stocks: StockSpec[];
}

export const COMMONS: readonly CommonsSpec[] = [
  {
    domain: 'water',
    title: 'Water',
    blurb: 'Stock: the aquifer and the beck. Regeneration: rain and recharge. Extraction: the wells.',
    color: '#1f6fb2',
    stocks: [
      { metric: 'groundwater_level', label: 'Aquifer level', per: 'day' },
      { metric: 'river_stage', label: 'River stage', per: 'day' },
    ],
  },
  {
    domain: 'energy',
    title: 'Energy',
    blurb: 'Stock: the hub battery. Regeneration: solar and wind. Extraction: community demand.',
    color: '#b86e00',
    stocks: [{ metric: 'battery_soc', label: 'Battery charge', per: 'day' }],
  },
  {
    domain: 'soil',
    title: 'Soil',
    blurb: 'Stock: soil water and soil organic carbon. Regeneration: rain, roots and residues. Extraction: drying and respiration.',
    color: '#7a5230',
    stocks: [
      { metric: 'soil_moisture', label: 'Soil moisture', per: 'day' },
      { metric: 'soil_organic_carbon', label: 'Soil organic carbon', per: 'year' },
    ],
  },
  {
    domain: 'biodiversity',
    title: 'Biodiversity',
    blurb: 'Stock: the species the monitors hear and people see. Decline shows as fewer species and detections.',
    color: '#2e7d32',
    stocks: [],
  },
];

/**
 * Kinds the overview presents through the stocks and cards above (or leaves to the Readings view by
 * choice: the sonde's chemistry, the rain gauge, household meters). A sensor of any other kind (a
 * newly added simulator or device) gets a generic card per metric in its commons: nothing to edit
 * here for it to show.
 */
export const OVERVIEW_KINDS: ReadonlySet<string> = new Set([
  'acoustic-monitor',
  'battery',
  'citizen-observation',
  'community-demand',
  'groundwater',
  'household-meter',
  'rain-gauge',
  'river',
  'soil',
  'solar',
  'water-quality',
  'wind',
]);

/** Metrics the commons' own cards show besides its stocks (generation vs demand; species per site). */
const CARD_METRICS: Readonly<Record<Domain, readonly string[]>> = {
  water: [],
  soil: [],
  energy: ['pv_power', 'wind_power', 'demand_power'],
  biodiversity: ['count', 'confidence'],
};

/**
 * The latest readings of a hub's commons that no stock or card of the overview shows: those of a
 * kind outside OVERVIEW_KINDS whose metric is not already a stock of the commons. Sorted by sensor
 * then metric.
 */
export function otherReadings(latest: Iterable<LatestReading>, hub: string, spec: CommonsSpec): LatestReading[] {
  const shown = new Set([...spec.stocks.map((x) => x.metric), ...CARD_METRICS[spec.domain]]);
  const out: LatestReading[] = [];
  for (const r of latest) if (r.hub === hub && r.domain === spec.domain && !OVERVIEW_KINDS.has(r.kind) && !shown.has(r.metric)) out.push(r);
  return out.sort((a, b) => a.sensor.localeCompare(b.sensor) || a.metric.localeCompare(b.metric));
}

export function thresholdsFor(all: readonly Threshold[], r: Pick<LatestReading, 'hub' | 'sensor' | 'site' | 'metric'>): Threshold[] {
  return all.filter((t) => t.metric === r.metric && (!t.hubs || t.hubs.includes(r.hub)) && (!t.sensors || t.sensors.includes(r.sensor)) && (!t.sites || t.sites.includes(r.site)));
}

export interface Standing {
  level: 'ok' | 'near' | 'bad' | 'unknown';
  /** Short badge text. */
  badge: string;
  /** A sentence on where the stock stands. */
  words: string;
}

const perWords = (perMs: number): string => (Math.abs(perMs - 365 * 86_400_000) < 86_400_000 ? 'a year' : perMs === 86_400_000 ? 'a day' : `per ${Math.round(perMs / 86_400_000)} days`);

/**
 * Where a stock stands. The badge is the state of the alerts the rules raise about it (firing:
 * "Alert", pending: "Pending", else "OK"), not a second check of the limits here; the sentence
 * gives the margins to the limits the rules watch, for a depletion floor from the fitted level and
 * (as the rule projects it) the days until the floor at the current rate.
 */
export function standing(value: number, unit: string, limits: readonly Threshold[], trend: Trend | undefined, alerts: readonly Alert[]): Standing {
  const firing = alerts.filter((a) => a.state === 'firing');
  const pending = alerts.filter((a) => a.state === 'pending');
  const level: Standing['level'] = firing.length ? 'bad' : pending.length ? 'near' : limits.length ? 'ok' : 'unknown';
  const badge = firing.length ? 'Alert' : pending.length ? 'Pending' : limits.length ? 'OK' : 'No limit set';
  if (!limits.length) return { level, badge, words: firing[0]?.summary ?? 'No rule sets a limit for this stock.' };
  const parts: string[] = [];
  for (const t of limits) {
    const below = t.direction === 'below';
    if (t.kind === 'rate') {
      const perMs = t.perMs ?? 86_400_000;
      const limitWords = t.value < 0 ? `falling faster than ${withUnit(-t.value, unit === '%' ? 'points' : unit)} ${perWords(perMs)}` : `rising faster than ${withUnit(t.value, unit === '%' ? 'points' : unit)} ${perWords(perMs)}`;
      parts.push(firing.some((a) => a.rule === t.rule) ? `changing faster than the limit (${limitWords})` : `a rule warns when it is ${limitWords}`);
      continue;
    }
    // A depletion floor is judged on the fitted level of the smoothed series (as the rule does: a
    // pumped well's daily drawdown is not depletion); a threshold on the value itself.
    const v = t.kind === 'floor' && trend && Number.isFinite(trend.level) ? trend.level : value;
    const margin = below ? v - t.value : t.value - v;
    const name = t.kind === 'floor' ? 'safe minimum' : below ? 'lower limit' : 'upper limit';
    if (margin < 0) {
      parts.push(`${withUnit(Math.abs(margin), unit)} ${below ? 'under' : 'over'} the ${name} of ${withUnit(t.value, unit)}`);
      continue;
    }
    let words = `${withUnit(margin, unit)} ${below ? 'above' : 'below'} the ${name} of ${withUnit(t.value, unit)}`;
    if (t.kind === 'floor' && trend && trend.direction === 'falling') {
      const days = trend.daysToFloor ?? margin / Math.abs(trend.perDay);
      if (days < 365) words += `; reaches it in about ${days < 2 ? `${Math.max(1, Math.round(days * 24))} hours` : `${Math.round(days)} days`} at this rate${trend.projectedDate ? ` (on ${trend.projectedDate})` : ''}`;
    }
    parts.push(words);
  }
  const sentence = parts.join('; ');
  return { level, badge, words: sentence.charAt(0).toUpperCase() + sentence.slice(1) + '.' };
}
