/**
 * The page's state: what the API said, kept current by the event stream. One small observable
 * store (no framework beyond Preact's hooks); views subscribe with `useStore()`.
 */
import { useEffect, useState } from 'preact/hooks';
import { ApiFailure, api, getToken, setToken } from './api.ts';
import { hubTime } from './clock.ts';
import { type LiveStatus, connectLive } from './live.ts';
import type { Alert, AlertStreamEvent, ConsoleConfig, LatestReading, Principal, Sensor, Silence, SiteRichness } from './types.ts';

export interface State {
  config: ConsoleConfig | null;
  /** Wall clock (this browser's) when `config.clock` arrived. */
  clockAt: number;
  principal: Principal | null;
  hubs: string[];
  hub: string | null;
  sensors: Sensor[];
  /** Newest value per `hub/sensor/metric`. */
  latest: Map<string, LatestReading>;
  alerts: Map<string, Alert>;
  silences: Silence[];
  biodiversity: SiteRichness[] | null;
  live: LiveStatus;
  /** Wall clock of the last event received. */
  lastEventAt: number | null;
  /** Bumped on every re-read (views refetch their series). */
  epoch: number;
  loadError: string | null;
  /** Polite screen-reader announcement (new alerts, connection changes). */
  announcement: string;
}

type Listener = () => void;

const state: State = {
  config: null,
  clockAt: 0,
  principal: null,
  hubs: [],
  hub: null,
  sensors: [],
  latest: new Map(),
  alerts: new Map(),
  silences: [],
  biodiversity: null,
  live: 'connecting',
  lastEventAt: null,
  epoch: 0,
  loadError: null,
  announcement: '',
};
const listeners = new Set<Listener>();
let scheduled = false;

export function getState(): State {
  return state;
}

/** Applies a change and re-renders subscribers once per animation frame. */
export function update(fn: (s: State) => void): void {
  fn(state);
  if (scheduled) return;
  scheduled = true;
  const run = (): void => {
    scheduled = false;
    for (const l of [...listeners]) l();
  };
  if (typeof requestAnimationFrame === 'function' && document.visibilityState === 'visible') requestAnimationFrame(run);
  else setTimeout(run, 50);
}

/** Re-renders the calling component when the state changes. */
export function useStore(): State {
  const [, setTick] = useState(0);
  useEffect(() => {
    const l = (): void => setTick((t) => t + 1);
    listeners.add(l);
    return () => {
      listeners.delete(l);
    };
  }, []);
  return state;
}

/** Now on the hub's clock (a scenario's simulated time while it replays; else the wall clock). */
export function hubNow(wall = Date.now()): number {
  return hubTime(state.config?.clock, state.clockAt, wall);
}

export const latestKey = (hub: string, sensor: string, metric: string): string => `${hub}/${sensor}/${metric}`;

// ── live series (sparklines and charts) ────────────────────────────────────────────────────

/** A series shown on the page; live readings of its sensor and metric extend it. */
export interface LiveSeries {
  hub: string;
  sensor: string;
  metric: string;
  /** Aggregation window, ms (0 = raw points). */
  windowMs: number;
  agg: 'mean' | 'sum' | 'min' | 'max' | 'last';
  /** Range kept, ms before the newest point (0 = keep all). */
  keepMs: number;
  ts: number[];
  values: number[];
  /** Readings folded into the last window (for a running mean). */
  lastCount: number;
  version: number;
}

const liveSeries = new Set<LiveSeries>();

export function trackSeries(s: LiveSeries): () => void {
  liveSeries.add(s);
  return () => {
    liveSeries.delete(s);
  };
}

function extend(s: LiveSeries, r: LatestReading): void {
  const n = s.ts.length;
  const last = n ? (s.ts[n - 1] as number) : -Infinity;
  if (s.windowMs > 0) {
    const bucket = Math.floor(r.ts / s.windowMs) * s.windowMs;
    if (bucket < last) return; // older than what we show: the next re-read has it
    if (bucket === last) {
      const v = s.values[n - 1] as number;
      s.values[n - 1] =
        s.agg === 'sum' ? v + r.value : s.agg === 'min' ? Math.min(v, r.value) : s.agg === 'max' ? Math.max(v, r.value) : s.agg === 'last' ? r.value : (v * s.lastCount + r.value) / (s.lastCount + 1);
      s.lastCount++;
    } else {
      s.ts.push(bucket);
      s.values.push(r.value);
      s.lastCount = 1;
    }
  } else {
    if (r.ts <= last) return;
    s.ts.push(r.ts);
    s.values.push(r.value);
  }
  if (s.keepMs > 0) {
    const cut = (s.ts[s.ts.length - 1] as number) - s.keepMs;
    let i = 0;
    while (i < s.ts.length && (s.ts[i] as number) < cut) i++;
    if (i) {
      s.ts.splice(0, i);
      s.values.splice(0, i);
    }
  }
  s.version++;
}

// ── loading ────────────────────────────────────────────────────────────────────────────────

function message(e: unknown): string {
  return e instanceof ApiFailure ? e.message : (e as Error).message;
}

/** Reads everything the views share. Called at start and after every reconnection. */
export async function refresh(): Promise<void> {
  try {
    // Read again at every refresh: the clock moves (a scenario catches up) and the rules may change.
    const config = await api.config();
    const clockAt = Date.now();
    const [sensors, latest] = await Promise.all([api.sensors(), api.latest(config.features.openData)]);
    const hubs = [...new Set([...sensors.sensors.map((s) => s.hub), ...latest.readings.map((r) => r.hub)])].sort();
    const wanted = new URLSearchParams(location.hash.split('?')[1] ?? '').get('hub');
    const hub = wanted && hubs.includes(wanted) ? wanted : state.hub && hubs.includes(state.hub) ? state.hub : (hubs[0] ?? null);
    const [alerts, silences, bio] = await Promise.all([
      config.features.alerts ? api.alerts(ALL_ALERTS) : Promise.resolve({ alerts: [] as Alert[] }),
      config.features.silences ? api.silences().catch(() => ({ silences: [] as Silence[] })) : Promise.resolve({ silences: [] as Silence[] }),
      api.biodiversity().catch(() => ({ sites: null })),
    ]);
    update((s) => {
      s.config = config;
      s.clockAt = clockAt;
      s.sensors = sensors.sensors;
      s.hubs = hubs;
      s.hub = hub;
      s.latest = new Map(latest.readings.map((r) => [latestKey(r.hub, r.sensor, r.metric), r]));
      s.alerts = new Map(alerts.alerts.map((a) => [a.id, a]));
      s.silences = silences.silences;
      s.biodiversity = bio.sites;
      s.loadError = null;
      s.epoch++;
    });
  } catch (e) {
    update((s) => {
      s.loadError = `Could not read the hub's data: ${message(e)}`;
    });
  }
}

/**
 * Every alert, inactive ones too: an alert record holds its rule's latest evaluation of its
 * subject (a depletion rule's fitted level and rate), which the overview shows as the stock's
 * numbers whether or not the alert fires.
 */
const ALL_ALERTS = { state: 'pending,firing,resolved,inactive', limit: 1000 };

export async function refreshAlerts(): Promise<void> {
  const config = state.config;
  if (!config?.features.alerts) return;
  const [alerts, silences] = await Promise.all([api.alerts(ALL_ALERTS), config.features.silences ? api.silences() : Promise.resolve({ silences: [] as Silence[] })]);
  update((s) => {
    s.alerts = new Map(alerts.alerts.map((a) => [a.id, a]));
    s.silences = silences.silences;
  });
}

let bioTimer: ReturnType<typeof setTimeout> | undefined;
let alertsTimer: ReturnType<typeof setTimeout> | undefined;
/** While readings arrive, alerts are re-read this often: the stream carries their transitions, not each evaluation. */
const ALERTS_REREAD_MS = 10_000;

function onReadings(readings: LatestReading[]): void {
  let biodiversity = false;
  update((s) => {
    for (const r of readings) {
      const k = latestKey(r.hub, r.sensor, r.metric);
      const prev = s.latest.get(k);
      if (!prev || r.ts >= prev.ts) s.latest.set(k, r);
      if (r.domain === 'biodiversity') biodiversity = true;
      for (const ls of liveSeries) if (ls.hub === r.hub && ls.sensor === r.sensor && ls.metric === r.metric) extend(ls, r);
    }
    // A sensor that just reported is online (unless its MQTT status says otherwise).
    const seen = new Map<string, number>();
    for (const r of readings) seen.set(`${r.hub}/${r.sensor}`, Math.max(seen.get(`${r.hub}/${r.sensor}`) ?? 0, r.ts));
    s.sensors = s.sensors.map((x) => {
      const ts = seen.get(`${x.hub}/${x.sensor}`);
      if (ts === undefined || (x.lastSeen !== null && x.lastSeen >= ts)) return x;
      return { ...x, lastSeen: ts, lastSeenTime: new Date(ts).toISOString(), online: x.onlineSource === 'recent-data' ? true : x.online };
    });
    s.lastEventAt = Date.now();
  });
  if (!alertsTimer && state.config?.features.alerts) {
    alertsTimer = setTimeout(() => {
      alertsTimer = undefined;
      refreshAlerts().catch(() => undefined);
    }, ALERTS_REREAD_MS);
  }
  if (biodiversity && !bioTimer) {
    bioTimer = setTimeout(() => {
      bioTimer = undefined;
      void api
        .biodiversity()
        .then((b) => update((s) => void (s.biodiversity = b.sites)))
        .catch(() => undefined);
    }, 5000);
  }
}

function onAlert(e: AlertStreamEvent): void {
  update((s) => {
    const prev = s.alerts.get(e.alert.id);
    if (prev && prev.updatedAt > e.alert.updatedAt) return;
    // Keep the silences the API knows of: the stream's copy may not list them.
    s.alerts.set(e.alert.id, prev && !e.alert.silencedBy.length ? { ...e.alert, silencedBy: prev.silencedBy } : e.alert);
    s.lastEventAt = Date.now();
    if (e.event === 'transition' && e.to === 'firing') s.announcement = `New ${e.alert.severity} alert: ${e.alert.summary || e.alert.message}`;
    else if (e.event === 'transition' && e.to === 'resolved') s.announcement = `Resolved: ${e.alert.summary || e.alert.message}`;
    else if (e.event === 'ack') s.announcement = `Acknowledged by ${e.alert.acknowledged?.by ?? 'a steward'}: ${e.alert.summary || e.alert.message}`;
  });
}

export function startLive(url: string): () => void {
  return connectLive(url, ['reading', 'alert'], {
    onStatus: (st) =>
      update((s) => {
        if (s.live !== st && st === 'reconnecting') s.announcement = 'Live updates interrupted; reconnecting.';
        if (s.live === 'reconnecting' && st === 'live') s.announcement = 'Live updates restored.';
        s.live = st;
      }),
    onReconnect: () => void refresh(),
    onEvent: (name, data) => {
      if (name === 'reading') onReadings((data as { readings: LatestReading[] }).readings ?? []);
      else if (name === 'alert') onAlert(data as AlertStreamEvent);
    },
  });
}

// ── signing in ─────────────────────────────────────────────────────────────────────────────

/** Checks a token and keeps it for this tab. Throws ApiFailure when the API refuses it. */
export async function signIn(token: string): Promise<Principal> {
  const t = token.trim();
  const { principal } = await api.session(t);
  if (!principal) throw new ApiFailure('the API did not recognise a token', 401);
  setToken(t);
  update((s) => {
    s.principal = principal;
    s.announcement = `Signed in as ${principal.name} (${principal.role}).`;
  });
  return principal;
}

export function signOut(): void {
  setToken(null);
  update((s) => {
    s.principal = null;
    s.announcement = 'Signed out.';
  });
}

/** Restores the sign-in of this tab, if its token is still valid. */
export async function restoreSession(): Promise<void> {
  const t = getToken();
  if (!t) return;
  try {
    await signIn(t);
  } catch {
    setToken(null);
  }
}

export function setHub(hub: string): void {
  update((s) => {
    s.hub = hub;
    s.epoch++;
  });
}
