/**
 * Entry point of the Steward console: reads the hub's state from the API, keeps it current from
 * the event stream (/api/v1/stream), and renders the views.
 */
import { render } from 'preact';
import './styles.css';
import { App } from './app.ts';
import { html } from './html.ts';
import { getState, refresh, restoreSession, startLive } from './state.ts';

async function main(): Promise<void> {
  const root = document.getElementById('app');
  if (!root) return;
  root.textContent = '';
  render(html`<${App} />`, root);
  await Promise.all([refresh(), restoreSession()]);
  startLive(getState().config?.stream.url ?? '/api/v1/stream');
  // A first load that failed (API restarting) is retried until it works.
  setInterval(() => {
    if (getState().loadError) void refresh();
  }, 5000);
}

void main();
