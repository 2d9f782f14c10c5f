/** Sensors: online state and last seen; for technicians, the messages ingest refused and why. */
import type { VNode } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiFailure, api } from '../api.ts';
import { DOMAIN_LABEL, ago, dateTime } from '../format.ts';
import { useHubNow } from '../hooks.ts';
import { html } from '../html.ts';
import { useStore } from '../state.ts';
import type { Rejection } from '../types.ts';

function Rejections(p: { hub: string | null }): VNode {
  const s = useStore();
  const [rows, setRows] = useState<Rejection[] | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const role = s.principal?.role;
  useEffect(() => {
    if (role !== 'technician') return;
    api
      .rejections(p.hub ?? undefined)
      .then((r) => setRows(r.rejections))
      .catch((e: unknown) => setErr(e instanceof ApiFailure ? e.message : String(e)));
  }, [role, p.hub, s.epoch]);
  if (!s.config?.features.rejections) return html``;
  return html`<section aria-labelledby="rejections-h">
    <h2 id="rejections-h">Recent rejections</h2>
    ${role !== 'technician'
      ? html`<p class="note">Messages ingest refused, with the reason, are shown to technicians: sign in with a technician token.</p>`
      : err
        ? html`<p role="alert">${err}</p>`
        : !rows
          ? html`<p class="muted" role="status">Loading…</p>`
          : !rows.length
            ? html`<p class="all-clear"><span aria-hidden="true">✓</span> No message was refused.</p>`
            : html`<div class="table-wrap" tabindex="0" role="region" aria-labelledby="rejections-h">
                <table class="data">
                  <thead><tr><th scope="col">When</th><th scope="col">Sensor</th><th scope="col">Code</th><th scope="col">Reason</th></tr></thead>
                  <tbody>${rows.map(
                    (r) => html`<tr key=${r.id}><td><time datetime=${r.receivedTime}>${dateTime(r.receivedAt)}</time></td><td>${r.sensor ?? '–'}</td><td><code>${r.code}</code></td>
                      <td>${r.reason}<details><summary>Payload</summary><pre>${r.payloadEncoding === 'base64' ? `(base64) ${r.payload}` : r.payload}</pre></details></td></tr>`,
                  )}</tbody>
                </table>
              </div>`}
  </section>`;
}

export function Sensors(): VNode {
  const s = useStore();
  // Last readings are sensor time: on the hub's clock (a scenario's simulated time).
  const now = useHubNow(15_000);
  const [domain, setDomain] = useState('');
  const all = s.sensors.filter((x) => !s.hub || x.hub === s.hub);
  const list = all.filter((x) => !domain || x.domain === domain).sort((a, b) => Number(a.online) - Number(b.online) || a.domain.localeCompare(b.domain) || a.sensor.localeCompare(b.sensor));
  const online = all.filter((x) => x.online).length;
  const offline = all.filter((x) => !x.online);
  return html`<h1 tabindex="-1">Sensors${s.hub ? ` of hub ${s.hub}` : ''}</h1>
    <p class="lead">${online} of ${all.length} sensors online.${offline.length ? ` Silent: ${offline.map((x) => x.sensor).join(', ')}.` : ''}</p>
    <form class="filters" onSubmit=${(e: Event) => e.preventDefault()}>
      <label>Commons <select value=${domain} onChange=${(e: Event) => setDomain((e.currentTarget as HTMLSelectElement).value)}>
        <option value="">All</option>${Object.entries(DOMAIN_LABEL).map(([k, v]) => html`<option value=${k}>${v}</option>`)}
      </select></label>
    </form>
    <div class="table-wrap" tabindex="0" role="region" aria-label="Sensors">
      <table class="data sensors">
        <thead><tr><th scope="col">Sensor</th><th scope="col" class="col-wide">Commons</th><th scope="col" class="col-wide">Site</th><th scope="col" class="col-wide">Kind</th><th scope="col">State</th><th scope="col">Last reading</th></tr></thead>
        <tbody>
          ${list.map(
            (x) => html`<tr key=${`${x.hub}/${x.sensor}`} data-sensor=${x.sensor}>
              <th scope="row">${x.sensor}</th><td class="col-wide">${DOMAIN_LABEL[x.domain]}</td><td class="col-wide">${x.site ?? '–'}</td><td class="col-wide">${x.kind ?? '–'}</td>
              <td><span class=${`badge ${x.online ? 'badge-ok' : 'badge-bad'}`} title=${x.onlineSource === 'status' ? 'from its MQTT status' : 'from how recent its data is'}>${x.online ? 'online' : 'offline'}</span></td>
              <td>${x.lastSeen ? html`<time datetime=${x.lastSeenTime} title=${x.lastSeenTime}>${ago(x.lastSeen, now)}</time>` : 'never'}</td>
            </tr>`,
          )}
        </tbody>
      </table>
    </div>
    <${Rejections} hub=${s.hub} />`;
}
