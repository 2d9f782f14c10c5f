/** The page shell: header with the views, live state and sign-in; the current view; announcements. */
import type { VNode } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiFailure } from './api.ts';
import { isReplay } from './clock.ts';
import { ago, dateTime, fmt, isoOf } from './format.ts';
import { useTicker } from './hooks.ts';
import { html } from './html.ts';
import { hubNow, setHub, signIn, signOut, useStore } from './state.ts';
import { Alerts, activeAlerts } from './views/alerts.ts';
import { Overview } from './views/overview.ts';
import { Readings } from './views/readings.ts';
import { Sensors } from './views/sensors.ts';

type Route = 'overview' | 'alerts' | 'readings' | 'sensors';
const ROUTES: Array<[Route, string]> = [
  ['overview', 'Overview'],
  ['alerts', 'Alerts'],
  ['readings', 'Readings'],
  ['sensors', 'Sensors'],
];

function parseHash(): { route: Route; params: URLSearchParams } {
  const h = location.hash.replace(/^#\/?/, '');
  const [path, query] = h.split('?');
  const route = (ROUTES.find(([r]) => r === path)?.[0] ?? 'overview') as Route;
  return { route, params: new URLSearchParams(query ?? '') };
}

function useRoute(): { route: Route; params: URLSearchParams } {
  const [r, setR] = useState(parseHash());
  useEffect(() => {
    const on = (): void => setR(parseHash());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return r;
}

function LiveIndicator(): VNode {
  const s = useStore();
  const now = useTicker(10_000);
  const words = s.live === 'live' ? 'Live' : s.live === 'connecting' ? 'Connecting…' : 'Reconnecting…';
  const clock = s.config?.clock;
  // A scenario replaying last month: say which clock the page's times are on.
  const replay = isReplay(clock, s.clockAt, now);
  const scenario = clock?.scenario && clock.scenario !== 'normal' ? `Scenario ${clock.scenario}` : null;
  const sim = replay
    ? html`<span class="sim-clock small">${scenario ?? 'Replay'}: simulated time <time datetime=${isoOf(hubNow(now))}>${dateTime(hubNow(now))}</time> (${fmt(clock?.rate ?? 1)}× real time)</span>`
    : scenario
      ? html`<span class="sim-clock small">${scenario}</span>`
      : null;
  return html`<p class=${`live live-${s.live}`} title=${s.lastEventAt ? `last update ${ago(Math.min(s.lastEventAt, now), now)}` : 'no update yet'}>
    <span class="dot" aria-hidden="true"></span> ${words}${s.live === 'live' && s.lastEventAt ? html`<span class="muted small"> · updated ${ago(Math.min(s.lastEventAt, now), now)}</span>` : null}
    ${sim ? html` · ${sim}` : null}
  </p>`;
}

function SignIn(): VNode {
  const s = useStore();
  const [open, setOpen] = useState(false);
  const [token, setTokenText] = useState('');
  const [err, setErr] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const opener = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (open) input.current?.focus();
  }, [open]);
  if (s.principal) {
    return html`<div class="signin">
      <span class="who">Signed in as <strong>${s.principal.name}</strong> <span class="muted">(${s.principal.role})</span></span>
      <button type="button" class="secondary small" onClick=${signOut}>Sign out</button>
    </div>`;
  }
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setErr(null);
    try {
      await signIn(token);
      setTokenText('');
      setOpen(false);
    } catch (x) {
      setErr(x instanceof ApiFailure && x.status === 401 ? 'That token is not valid.' : x instanceof ApiFailure ? x.message : String(x));
    } finally {
      setBusy(false);
    }
  };
  const close = (): void => {
    setOpen(false);
    setErr(null);
    opener.current?.focus();
  };
  return html`<div class="signin">
    ${!open
      ? html`<button type="button" class="secondary small" ref=${opener} aria-expanded="false" onClick=${() => setOpen(true)}>Steward sign-in</button>`
      : html`<form class="signin-form" onSubmit=${submit} onKeyDown=${(e: KeyboardEvent) => e.key === 'Escape' && close()}>
          <label for="token">Access token</label>
          <input id="token" ref=${input} type="password" autocomplete="off" spellcheck="false" required minlength="16" value=${token} onInput=${(e: Event) => setTokenText((e.currentTarget as HTMLInputElement).value)} aria-describedby="token-help" />
          <button type="submit" disabled=${busy}>Sign in</button>
          <button type="button" class="secondary" onClick=${close}>Cancel</button>
          <p id="token-help" class="small muted">Kept in this tab only; closing it signs you out.</p>
          ${err ? html`<p class="form-error" role="alert">${err}</p>` : null}
        </form>`}
  </div>`;
}

export function App(): VNode {
  const s = useStore();
  const { route, params } = useRoute();
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);
  useEffect(() => {
    // Move focus to the new view's heading (not on first load): screen readers announce it.
    if (first.current) {
      first.current = false;
      return;
    }
    (main.current?.querySelector('h1') as HTMLElement | null)?.focus();
  }, [route]);
  useEffect(() => {
    document.title = `${ROUTES.find((r) => r[0] === route)?.[1] ?? ''} · ${s.hub ? `hub ${s.hub} · ` : ''}${s.config?.title ?? 'Steward console'}`;
  }, [route, s.hub, s.config]);
  const firing = activeAlerts(s, s.hub).filter((a) => a.state === 'firing').length;
  let view: VNode;
  if (!s.config && !s.loadError) view = html`<p class="muted" role="status">Loading…</p>`;
  else if (route === 'alerts') view = html`<${Alerts} params=${params} />`;
  else if (route === 'readings') view = html`<${Readings} params=${params} />`;
  else if (route === 'sensors') view = html`<${Sensors} />`;
  else view = html`<${Overview} />`;
  return html`<a class="skip" href="#main" onClick=${(e: Event) => {
      e.preventDefault();
      main.current?.focus();
    }}>Skip to content</a>
    <header class="top">
      <div class="brand">
        <img src="/assets/favicon.svg" alt="" width="28" height="28" />
        <span class="brand-name">${s.config?.title ?? 'Steward console'}</span>
        ${s.hubs.length > 1
          ? html`<label class="hub-pick">Hub <select value=${s.hub ?? ''} onChange=${(e: Event) => setHub((e.currentTarget as HTMLSelectElement).value)}>${s.hubs.map((h) => html`<option value=${h}>${h}</option>`)}</select></label>`
          : s.hub
            ? html`<span class="hub-name">hub ${s.hub}</span>`
            : null}
      </div>
      <nav aria-label="Views">
        <ul>
          ${ROUTES.map(
            ([r, label]) => html`<li><a href=${`#/${r}`} aria-current=${r === route ? 'page' : undefined}>${label}${r === 'alerts' && firing ? html` <span class="pill" aria-label=${`${firing} firing`}>${firing}</span>` : null}</a></li>`,
          )}
        </ul>
      </nav>
      <div class="top-right">
        <${LiveIndicator} />
        <${SignIn} />
      </div>
    </header>
    <div class="visually-hidden" aria-live="polite" role="status">${s.announcement}</div>
    ${s.loadError ? html`<p class="banner" role="alert">${s.loadError} Retrying when the connection comes back.</p>` : null}
    <main id="main" ref=${main} tabindex="-1">${view}</main>
    <footer class="foot small muted">
      ${s.config?.features.openData ? html`Open data, filtered by the hub's <a href="/api/v1/privacy/policy?format=text">privacy policy</a>. ` : 'Data after the privacy boundary. '}
      <a href="/openapi.json">API</a> · values in canonical units (<a href="/api/v1/catalogue">catalogue</a>).
    </footer>`;
}
