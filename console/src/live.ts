/**
 * The event stream: EventSource reconnects by itself after a network error (waiting the `retry`
 * the server sent); after an HTTP error (e.g. 503 while the API restarts) it gives up, so we
 * reopen it ourselves with a capped backoff. Every (re)connection after the first asks the page
 * to re-read its state, since events sent while we were away are not replayed.
 */
export type LiveStatus = 'connecting' | 'live' | 'reconnecting';

export interface LiveHandlers {
  onStatus(s: LiveStatus): void;
  /** After a reconnection (not the first connection). */
  onReconnect(): void;
  onEvent(name: string, data: unknown): void;
}

export function connectLive(url: string, events: readonly string[], h: LiveHandlers): () => void {
  let es: EventSource | undefined;
  let opened = false;
  let stopped = false;
  let backoff = 1000;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const open = (): void => {
    if (stopped) return;
    h.onStatus(opened ? 'reconnecting' : 'connecting');
    const src = new EventSource(url);
    es = src;
    src.addEventListener('open', () => {
      backoff = 1000;
      h.onStatus('live');
      if (opened) h.onReconnect();
      opened = true;
    });
    src.addEventListener('error', () => {
      if (stopped) return;
      h.onStatus('reconnecting');
      if (src.readyState === EventSource.CLOSED) {
        // The browser gave up (an HTTP error answer): try again ourselves.
        clearTimeout(timer);
        timer = setTimeout(open, backoff);
        backoff = Math.min(backoff * 2, 30_000);
      }
    });
    for (const name of events) {
      src.addEventListener(name, (e) => {
        let data: unknown;
        try {
          data = JSON.parse((e as MessageEvent<string>).data);
        } catch {
          return;
        }
        h.onEvent(name, data);
      });
    }
  };
  open();
  return () => {
    stopped = true;
    clearTimeout(timer);
    es?.close();
  };
}
