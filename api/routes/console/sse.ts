/**
 * Server-Sent Events framing (WHATWG HTML, "Server-sent events", §9.2.6 "Interpreting an event
 * stream"): an event is `event:`/`data:`/`id:` lines ended by a blank line; a line starting with
 * `:` is a comment the browser ignores (our heartbeat); `retry:` sets the reconnection delay.
 */

/**
 * One event. `data` is serialised as JSON, which never contains a raw line break (JSON escapes
 * them), so it always fits one `data:` line; `name` must be a single line without `:`.
 *
 * @throws TypeError when `name` contains a line break or a colon
 */
export function formatEvent(name: string, data: unknown, id?: string): string {
  if (/[\r\n:]/.test(name)) throw new TypeError(`event name ${JSON.stringify(name)} must be one line without ":"`);
  const json = JSON.stringify(data);
  return `${id === undefined ? '' : `id: ${id.replace(/[\r\n]/g, '')}\n`}event: ${name}\ndata: ${json}\n\n`;
}

/** A comment line (ignored by EventSource; keeps proxies and NATs from closing an idle stream). */
export function formatComment(text: string): string {
  return `: ${text.replace(/[\r\n]+/g, ' ')}\n\n`;
}

/** Tells the browser how long to wait before reconnecting, ms. */
export function formatRetry(ms: number): string {
  return `retry: ${Math.max(0, Math.round(ms))}\n\n`;
}

/** An event as a client parses it (for tests and tools). */
export interface ParsedEvent {
  event: string;
  data: string;
  id?: string;
}

/**
 * Incremental parser of an event stream, as a browser reads it: feed it chunks, get complete
 * events; comments and `retry:` are reported separately. Used by the tests and `steward` tools.
 */
export class EventStreamParser {
  #buf = '';
  #data: string[] = [];
  #event = '';
  #id: string | undefined;
  readonly comments: string[] = [];
  retry: number | undefined;

  /** Feeds a chunk; returns the events it completed. */
  push(chunk: string): ParsedEvent[] {
    this.#buf += chunk;
    const out: ParsedEvent[] = [];
    let nl: number;
    while ((nl = this.#buf.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.#buf.slice(0, nl);
      const sepLen = this.#buf.startsWith('\r\n', nl) ? 2 : 1;
      this.#buf = this.#buf.slice(nl + sepLen);
      if (line === '') {
        if (this.#data.length) {
          const e: ParsedEvent = { event: this.#event || 'message', data: this.#data.join('\n') };
          if (this.#id !== undefined) e.id = this.#id;
          out.push(e);
        }
        this.#data = [];
        this.#event = '';
        continue;
      }
      if (line.startsWith(':')) {
        this.comments.push(line.slice(1).trimStart());
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'data') this.#data.push(value);
      else if (field === 'event') this.#event = value;
      else if (field === 'id') this.#id = value;
      else if (field === 'retry' && /^\d+$/.test(value)) this.retry = Number(value);
    }
    return out;
  }
}
