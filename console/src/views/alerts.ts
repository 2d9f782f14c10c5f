/**
 * Alerts: firing and pending first, then recently resolved; silences. Signed-in stewards can
 * acknowledge (no more re-notifications this episode) and silence (hold notifications back).
 */
import type { VNode } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiFailure, api } from '../api.ts';
import { ago, dateTime } from '../format.ts';
import { useTicker } from '../hooks.ts';
import { html } from '../html.ts';
import { type State, hubNow, refreshAlerts, update, useStore } from '../state.ts';
import type { Alert, HistoryEntry, Silence } from '../types.ts';

const SEVERITY_ORDER = { critical: 0, warning: 1, info: 2 } as const;
const STATE_ORDER = { firing: 0, pending: 1, resolved: 2, inactive: 3 } as const;

export function sortAlerts(a: Alert, b: Alert): number {
  return STATE_ORDER[a.state] - STATE_ORDER[b.state] || SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] || b.updatedAt.localeCompare(a.updatedAt);
}

export function activeAlerts(s: State, hub?: string | null): Alert[] {
  return [...s.alerts.values()].filter((a) => (a.state === 'firing' || a.state === 'pending') && (!hub || a.hub === hub)).sort(sortAlerts);
}

const ruleTitle = (a: Alert): string => a.rule.replace(/-/g, ' ').replace(/^./, (c) => c.toUpperCase());

function Since(p: { a: Alert; now: number }): VNode {
  const t = p.a.state === 'resolved' ? p.a.resolvedAt : (p.a.firedAt ?? p.a.activeAt);
  const label = p.a.state === 'resolved' ? 'resolved' : p.a.state === 'pending' ? 'pending since' : 'firing since';
  // Alert times are sensor time (the hub's clock: a scenario's simulated time), a deadman's the wall clock.
  const now = p.a.kind === 'deadman' ? p.now : hubNow(p.now);
  return t ? html`<span>${label} <time datetime=${t} title=${t}>${dateTime(t)}</time> (${ago(Date.parse(t), now)})</span>` : html`<span>${p.a.state}</span>`;
}

/** Compact list for the overview. */
export function AlertSummaryList(p: { alerts: Alert[] }): VNode {
  const now = useTicker(30_000);
  return html`<ul class="alert-summary">
    ${p.alerts.map(
      (a) => html`<li key=${a.id} class=${`alert-line sev-${a.severity} state-${a.state}`} data-alert-id=${a.id}>
        <span class=${`sev sev-${a.severity}`}>${a.severity}</span>
        <span class="alert-text"><strong>${ruleTitle(a)}</strong> · ${a.summary || a.message}</span>
        <span class="alert-meta muted small"><${Since} a=${a} now=${now} />${a.acknowledged ? ` · acknowledged by ${a.acknowledged.by}` : ''}</span>
        <a class="alert-link small" href=${`#/alerts?focus=${encodeURIComponent(a.id)}`}>Details<span class="visually-hidden"> of ${ruleTitle(a)} at ${a.subject}</span></a>
      </li>`,
    )}
  </ul>`;
}

function History(p: { id: string }): VNode {
  const [h, setH] = useState<HistoryEntry[] | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const load = (e: Event): void => {
    if ((e.currentTarget as HTMLDetailsElement).open && !h)
      api
        .alert(p.id)
        .then((r) => setH(r.history))
        .catch((x: unknown) => setErr(x instanceof ApiFailure ? x.message : String(x)));
  };
  return html`<details class="history" onToggle=${load}>
    <summary>History</summary>
    ${err ? html`<p role="alert">${err}</p>` : !h ? html`<p class="muted small">Loading…</p>` : html`<ol class="history-list">
      ${h.map((e) => html`<li><time datetime=${e.at}>${dateTime(e.at)}</time> ${e.event}${e.to ? ` → ${e.to}` : ''}${e.by ? ` by ${e.by}` : ''}: <span class="muted">${e.message}</span></li>`)}
    </ol>`}
  </details>`;
}

function SilenceForm(p: { a: Alert; onDone: (msg: string) => void; onCancel: () => void }): VNode {
  const [duration, setDuration] = useState('4h');
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<string | null>(null);
  const id = p.a.id.replace(/[^a-z0-9]/gi, '-');
  const first = useRef<HTMLSelectElement>(null);
  useEffect(() => first.current?.focus(), []);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setErr(null);
    try {
      await api.silence({ matchers: { hub: p.a.hub, rule: p.a.rule, subject: p.a.subject }, comment: comment.trim(), duration });
      await refreshAlerts();
      p.onDone(`Silenced ${ruleTitle(p.a)} at ${p.a.subject} for ${duration}.`);
    } catch (x) {
      setErr(x instanceof ApiFailure ? x.message : String(x));
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="inline-form" onSubmit=${submit} aria-label=${`Silence ${ruleTitle(p.a)} at ${p.a.subject}`}>
    <label for=${`dur-${id}`}>For</label>
    <select id=${`dur-${id}`} ref=${first} value=${duration} onChange=${(e: Event) => setDuration((e.currentTarget as HTMLSelectElement).value)}>
      <option value="1h">1 hour</option><option value="4h">4 hours</option><option value="1d">1 day</option><option value="7d">1 week</option>
    </select>
    <label for=${`why-${id}`}>Reason</label>
    <input id=${`why-${id}`} required maxlength="1000" value=${comment} placeholder="e.g. pump under repair" onInput=${(e: Event) => setComment((e.currentTarget as HTMLInputElement).value)} />
    <button type="submit" disabled=${busy}>Silence</button>
    <button type="button" class="secondary" onClick=${p.onCancel}>Cancel</button>
    ${err ? html`<p class="form-error" role="alert">${err}</p>` : null}
  </form>`;
}

function AlertCard(p: { a: Alert; canWrite: boolean; now: number; focus: boolean }): VNode {
  const { a } = p;
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<string | null>(null);
  const [silencing, setSilencing] = useState(false);
  const ackable = (a.state === 'firing' || a.state === 'pending') && !a.acknowledged;
  const ack = async (): Promise<void> => {
    setBusy(true);
    setErr(null);
    try {
      const r = await api.ack(a.id);
      update((s) => {
        s.alerts.set(r.alert.id, r.alert);
        s.announcement = `Acknowledged: ${ruleTitle(r.alert)} at ${r.alert.subject}.`;
      });
    } catch (x) {
      setErr(x instanceof ApiFailure ? x.message : String(x));
    } finally {
      setBusy(false);
    }
  };
  const hid = `alert-${a.id.replace(/[^a-z0-9]/gi, '-')}`;
  return html`<li class=${`alert-card sev-${a.severity} state-${a.state}${p.focus ? ' focused' : ''}`} data-alert-id=${a.id} aria-labelledby=${hid}>
    <div class="alert-card-head">
      <span class=${`sev sev-${a.severity}`}>${a.severity}</span>
      <h3 id=${hid}>${ruleTitle(a)} <span class="where">${a.subject} · hub ${a.hub}</span></h3>
      <span class=${`state-badge state-${a.state}`}>${a.state}</span>
    </div>
    <p class="alert-message">${a.message}</p>
    <p class="alert-meta muted small">
      <${Since} a=${a} now=${p.now} />
      ${a.acknowledged ? html` · <span class="acked">acknowledged by ${a.acknowledged.by} <time datetime=${a.acknowledged.at}>${ago(Date.parse(a.acknowledged.at), p.now)}</time>${a.acknowledged.comment ? `: “${a.acknowledged.comment}”` : ''}</span>` : null}
      ${a.silencedBy.length ? html` · <span class="silenced">silenced</span>` : null}
    </p>
    ${p.canWrite
      ? html`<div class="actions">
          ${ackable ? html`<button type="button" onClick=${ack} disabled=${busy}>Acknowledge<span class="visually-hidden"> ${ruleTitle(a)} at ${a.subject}</span></button>` : null}
          ${a.state !== 'resolved' && !silencing ? html`<button type="button" class="secondary" onClick=${() => setSilencing(true)}>Silence…<span class="visually-hidden"> ${ruleTitle(a)} at ${a.subject}</span></button>` : null}
        </div>
        ${silencing ? html`<${SilenceForm} a=${a} onCancel=${() => setSilencing(false)} onDone=${(msg: string) => {
          setSilencing(false);
          update((s) => void (s.announcement = msg));
        }} />` : null}`
      : null}
    ${err ? html`<p class="form-error" role="alert">${err}</p>` : null}
    <${History} id=${a.id} />
  </li>`;
}

function SilenceRow(p: { s: Silence; canWrite: boolean; now: number }): VNode {
  const [err, setErr] = useState<string | null>(null);
  const end = async (): Promise<void> => {
    try {
      await api.endSilence(p.s.id);
      await refreshAlerts();
      update((s) => void (s.announcement = 'Silence ended.'));
    } catch (x) {
      setErr(x instanceof ApiFailure ? x.message : String(x));
    }
  };
  const m = p.s.matchers;
  const what = [m.rule && `rule ${m.rule}`, m.subject && `subject ${m.subject}`, m.hub && `hub ${m.hub}`, m.severity && `severity ${m.severity}`].filter(Boolean).join(', ');
  return html`<li class=${`silence silence-${p.s.status}`}>
    <span><strong>${what}</strong> — “${p.s.comment}” (${p.s.createdBy})</span>
    <span class="muted small">${p.s.status === 'expired' ? `ended ${ago(Date.parse(p.s.expiredAt ?? p.s.endsAt), p.now)}` : `${p.s.status} until ${dateTime(p.s.endsAt)}`}</span>
    ${p.canWrite && p.s.status !== 'expired' ? html`<button type="button" class="secondary small" onClick=${end}>End silence<span class="visually-hidden"> for ${what}</span></button>` : null}
    ${err ? html`<p class="form-error" role="alert">${err}</p>` : null}
  </li>`;
}

export function Alerts(p: { params: URLSearchParams }): VNode {
  const s = useStore();
  const now = useTicker(30_000);
  const [show, setShow] = useState(p.params.get('state') ?? 'active');
  const [severity, setSeverity] = useState('');
  const focus = p.params.get('focus');
  if (!s.config?.features.alerts) return html`<h1 tabindex="-1">Alerts</h1><p>This API does not serve alerts (the rules engine does not run in this process).</p>`;
  const canWrite = s.principal?.role === 'steward';
  const all = [...s.alerts.values()].filter((a) => (!s.hub || a.hub === s.hub) && (!severity || a.severity === severity)).sort(sortAlerts);
  const active = all.filter((a) => a.state === 'firing' || a.state === 'pending');
  const resolved = all.filter((a) => a.state === 'resolved').slice(0, 50);
  const silences = s.silences.filter((x) => x.status !== 'expired' || now - Date.parse(x.expiredAt ?? x.endsAt) < 86_400_000);
  return html`<h1 tabindex="-1">Alerts${s.hub ? ` for hub ${s.hub}` : ''}</h1>
    ${!canWrite ? html`<p class="note">Sign in with a steward token to acknowledge or silence alerts.</p>` : null}
    <form class="filters" onSubmit=${(e: Event) => e.preventDefault()}>
      <label>Show <select value=${show} onChange=${(e: Event) => setShow((e.currentTarget as HTMLSelectElement).value)}>
        <option value="active">Firing and pending</option><option value="resolved">Recently resolved</option><option value="all">All</option>
      </select></label>
      <label>Severity <select value=${severity} onChange=${(e: Event) => setSeverity((e.currentTarget as HTMLSelectElement).value)}>
        <option value="">Any</option><option value="critical">Critical</option><option value="warning">Warning</option><option value="info">Info</option>
      </select></label>
    </form>
    ${show !== 'resolved'
      ? html`<section aria-labelledby="alerts-active-h"><h2 id="alerts-active-h">Firing and pending <span class="count">${active.length}</span></h2>
        ${active.length ? html`<ul class="alert-cards">${active.map((a) => html`<${AlertCard} key=${a.id} a=${a} canWrite=${canWrite} now=${now} focus=${a.id === focus} />`)}</ul>` : html`<p class="all-clear"><span aria-hidden="true">✓</span> Nothing is firing or pending.</p>`}
      </section>`
      : null}
    ${show !== 'active'
      ? html`<section aria-labelledby="alerts-resolved-h"><h2 id="alerts-resolved-h">Recently resolved <span class="count">${resolved.length}</span></h2>
        ${resolved.length ? html`<ul class="alert-cards">${resolved.map((a) => html`<${AlertCard} key=${a.id} a=${a} canWrite=${canWrite} now=${now} focus=${a.id === focus} />`)}</ul>` : html`<p class="muted">None.</p>`}
      </section>`
      : null}
    ${s.config.features.silences
      ? html`<section aria-labelledby="silences-h"><h2 id="silences-h">Silences</h2>
        ${silences.length ? html`<ul class="silences">${silences.map((x) => html`<${SilenceRow} key=${x.id} s=${x} canWrite=${canWrite} now=${now} />`)}</ul>` : html`<p class="muted">No silence is active.</p>`}
      </section>`
      : null}`;
}
