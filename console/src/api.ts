/**
 * The API as the page uses it: JSON over fetch, the steward's token (sessionStorage, never
 * localStorage: it goes when the tab closes) as a bearer header, errors as `ApiFailure` with the
 * API's own message.
 */
import type { Alert, ConsoleConfig, HistoryEntry, LatestReading, Principal, Rejection, Sensor, Series, Silence, SiteRichness } from './types.ts';

const TOKEN_KEY = 'steward.token';

export class ApiFailure extends Error {
  readonly status: number;
  readonly code: string | undefined;
  constructor(message: string, status: number, code?: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function getToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string | null): void {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage disabled: the token lives only in memory for this page
  }
}

async function request<T>(method: string, path: string, opts: { body?: unknown; auth?: boolean; token?: string | null } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = opts.token !== undefined ? opts.token : opts.auth ? getToken() : null;
  if (token) headers.authorization = `Bearer ${token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: opts.body === undefined ? null : JSON.stringify(opts.body), cache: 'no-store' });
  } catch {
    throw new ApiFailure('the hub cannot be reached (network error)', 0);
  }
  const text = await res.text();
  let body: unknown = undefined;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON
  }
  if (!res.ok) {
    const b = (body ?? {}) as { message?: string; code?: string };
    throw new ApiFailure(b.message ?? `${res.status} ${res.statusText}`, res.status, b.code);
  }
  return body as T;
}

const qs = (params: Record<string, string | number | undefined | null>): string => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
};

export const api = {
  config: () => request<ConsoleConfig>('GET', '/api/v1/console/config'),
  session: (token: string) => request<{ principal: Principal | null }>('GET', '/api/v1/console/session', { token }),
  sensors: (hub?: string) => request<{ sensors: Sensor[] }>('GET', `/api/v1/sensors${qs({ hub })}`),
  latest: (openData: boolean, hub?: string) => request<{ readings: LatestReading[] }>('GET', `/api/v1/${openData ? 'public/' : ''}readings/latest${qs({ hub })}`),
  series: (openData: boolean, q: { hub?: string; sensor: string; metric: string; from: number; to: number; window?: string; agg?: string }) =>
    request<Series>('GET', `/api/v1/${openData ? 'public/' : ''}readings${qs({ ...q, from: Math.floor(q.from), to: Math.ceil(q.to) })}`),
  biodiversity: (hub?: string) => request<{ since: string; sites: SiteRichness[] }>('GET', `/api/v1/console/biodiversity${qs({ hub })}`),
  alerts: (q: { state?: string; hub?: string; severity?: string; limit?: number }) => request<{ alerts: Alert[] }>('GET', `/api/v1/alerts${qs(q)}`),
  alert: (id: string) => request<{ alert: Alert; history: HistoryEntry[] }>('GET', `/api/v1/alerts/${encodeURIComponent(id)}`),
  ack: (id: string, comment?: string) => request<{ alert: Alert }>('POST', `/api/v1/alerts/${encodeURIComponent(id)}/ack`, { auth: true, body: comment ? { comment } : {} }),
  silences: () => request<{ silences: Silence[] }>('GET', '/api/v1/silences?status=all'),
  silence: (body: { matchers: Record<string, string>; comment: string; duration: string }) => request<{ silence: Silence }>('POST', '/api/v1/silences', { auth: true, body }),
  endSilence: (id: string) => request<{ silence: Silence }>('DELETE', `/api/v1/silences/${encodeURIComponent(id)}`, { auth: true }),
  rejections: (hub?: string) => request<{ rejections: Rejection[]; next: number | null }>('GET', `/api/v1/rejections${qs({ hub, limit: 50 })}`, { auth: true }),
};
