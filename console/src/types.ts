import type { AlertMessage as Alert, AlertState, Severity } from '../../core/alert.ts';
import type { Domain } from '../../core/ids.ts';
import type { HubClock } from './clock.ts';

/** Shapes of the API answers the page reads (see api/README.md, rules/README.md, console/plugin.ts). */

export type { Domain } from '../../core/ids.ts';
export type { AlertState, Severity } from '../../core/alert.ts';
/** An alert as the API and the stream show it. */
export type { AlertMessage as Alert } from '../../core/alert.ts';

/** How a rule fits a trend (ms): window, trailing moving average, minimum evidence. */
export interface TrendSpec {
  windowMs: number;
  smoothMs: number;
  minPoints: number;
  minSpanMs: number;
  minR2?: number;
}

export interface Threshold {
  rule: string;
  metric: string;
  direction: 'below' | 'above';
  value: number;
  clearAt?: number;
  kind: 'threshold' | 'floor' | 'rate';
  perMs?: number;
  severity: Severity;
  label: string;
  /** `floor` and `rate`: how the rule fits its trend. */
  trend?: TrendSpec;
  hubs?: string[];
  sensors?: string[];
  sites?: string[];
}

export interface ConsoleConfig {
  title: string;
  thresholds: Threshold[];
  features: { openData: boolean; alerts: boolean; silences: boolean; rejections: boolean };
  stream: { url: string; heartbeatMs: number; retryMs: number };
  /** The clock the hub's data is on (a scenario's simulated clock, else the wall clock). */
  clock: HubClock;
}

export interface Principal {
  name: string;
  role: 'steward' | 'technician';
}

export interface Sensor {
  hub: string;
  domain: Domain;
  sensor: string;
  site: string | null;
  kind: string | null;
  lastSeen: number | null;
  lastSeenTime: string | null;
  online: boolean;
  onlineSource: 'status' | 'recent-data';
}

export interface LatestReading {
  hub: string;
  domain: Domain;
  sensor: string;
  site: string;
  kind: string;
  metric: string;
  value: number;
  unit: string;
  ts: number;
  time: string;
  species?: string;
}

export interface Series {
  hub: string | null;
  sensor: string;
  metric: string;
  unit: string;
  from: number;
  to: number;
  window: string | null;
  agg: string | null;
  truncated: boolean;
  points: Array<{ ts: number; value: number }>;
}

export interface HistoryEntry {
  at: string;
  ts: string | null;
  event: string;
  from: string | null;
  to: string | null;
  episode: number;
  message: string;
  by: string | null;
}

export interface Silence {
  id: string;
  status: 'active' | 'pending' | 'expired';
  matchers: { rule?: string; hub?: string; subject?: string; severity?: Severity };
  createdBy: string;
  comment: string;
  startsAt: string;
  endsAt: string;
  createdAt: string;
  expiredAt?: string;
  expiredBy?: string;
}

export interface Rejection {
  id: number;
  receivedAt: number;
  receivedTime: string;
  topic: string;
  hub?: string;
  sensor?: string;
  code: string;
  reason: string;
  payload: string;
  payloadEncoding: 'utf8' | 'base64';
}

export interface SiteRichness {
  hub: string;
  site: string;
  sensors: string[];
  newest: number;
  richness24h: number;
  richness7d: number;
  detections24h: number;
  top: Array<{ species: string; count: number }>;
}

/** An `alert` event of the stream. */
export interface AlertStreamEvent {
  event: 'transition' | 'ack';
  from: AlertState;
  to: AlertState;
  at: string;
  alert: Alert;
}
