/**
 * The byte guard in front of `aedes.handle` (docs/components.md "Aedes": there is no maximum packet
 * size, the parser buffers whatever a socket announces). It follows the MQTT framing of the bytes
 * as they stream in, without buffering them, and rejects the connection as soon as
 *
 * - the first packet is not CONNECT [MQTT-3.1.0-1], or
 * - a packet announces more than `maxPacketSize` bytes (fixed header included), or
 * - a remaining length is not a valid variable byte integer (more than 4 bytes) [MQTT-2.2.3], or
 * - a PUBLISH topic name is not well-formed UTF-8 [MQTT-1.5.3-1] or contains U+0000 [MQTT-1.5.3-2]
 *   (mqtt-packet decodes topics lossily and would let these through).
 *
 * Chunks pass through unchanged (no copies); only a PUBLISH topic split across two chunks is
 * copied, into a buffer of the topic's size.
 * @module
 */
import { isUtf8 } from 'node:buffer';
import { Duplex } from 'node:stream';

/** Why the guard dropped a connection (also the `reason` label of `steward_broker_refused_total`). */
export type GuardRejection = 'first_not_connect' | 'packet_too_large' | 'malformed_packet' | 'invalid_topic';

const CONNECT = 1;
const PUBLISH = 3;

const State = { Header: 0, Length: 1, TopicLength: 2, Topic: 3, Body: 4 } as const;
type State = (typeof State)[keyof typeof State];

/**
 * Incremental MQTT framing checker. Feed it every chunk of a connection's inbound bytes, in order.
 * Cost per chunk: O(packets started in the chunk) plus a UTF-8 check of PUBLISH topics.
 */
export class PacketGuard {
  readonly #maxPacketSize: number;
  #state: State = State.Header;
  #first = true;
  #type = 0;
  #length = 0;
  #multiplier = 1;
  #lengthBytes = 0;
  /** Bytes of the current packet's variable header and payload still to come. */
  #remaining = 0;
  #topicLength = 0;
  #topicLengthBytes = 0;
  #topicGot = 0;
  #topicBuf: Buffer | undefined;
  #rejected: GuardRejection | undefined;
  #packets = 0;

  /** @param maxPacketSize - largest whole packet accepted, bytes (fixed header included). */
  constructor(maxPacketSize: number) {
    if (!Number.isInteger(maxPacketSize) || maxPacketSize < 2) throw new RangeError(`maxPacketSize must be an integer >= 2, got ${maxPacketSize}`);
    this.#maxPacketSize = maxPacketSize;
  }

  /** Packets whose fixed header has been read so far. */
  get packets(): number {
    return this.#packets;
  }

  /** The rejection, once there was one (the guard stays rejected). */
  get rejected(): GuardRejection | undefined {
    return this.#rejected;
  }

  /**
   * Inspects the next chunk of the stream.
   * @returns undefined while the stream is acceptable, else why the connection must be dropped
   */
  check(chunk: Uint8Array): GuardRejection | undefined {
    if (this.#rejected) return this.#rejected;
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      switch (this.#state) {
        case State.Body: {
          const take = Math.min(this.#remaining, n - i);
          this.#remaining -= take;
          i += take;
          if (this.#remaining === 0) this.#state = State.Header;
          break;
        }
        case State.Header: {
          const type = chunk[i++]! >> 4;
          if (this.#first && type !== CONNECT) return this.#reject('first_not_connect'); // [MQTT-3.1.0-1]
          this.#first = false;
          this.#packets++;
          this.#type = type;
          this.#length = 0;
          this.#multiplier = 1;
          this.#lengthBytes = 0;
          this.#state = State.Length;
          break;
        }
        case State.Length: {
          const b = chunk[i++]!;
          this.#length += (b & 0x7f) * this.#multiplier;
          this.#multiplier *= 128;
          this.#lengthBytes++;
          if (b & 0x80) {
            if (this.#lengthBytes === 4) return this.#reject('malformed_packet');
            break;
          }
          if (1 + this.#lengthBytes + this.#length > this.#maxPacketSize) return this.#reject('packet_too_large');
          this.#remaining = this.#length;
          if (this.#remaining === 0) {
            this.#state = State.Header;
          } else if (this.#type === PUBLISH) {
            this.#topicLength = 0;
            this.#topicLengthBytes = 0;
            this.#state = State.TopicLength;
          } else {
            this.#state = State.Body;
          }
          break;
        }
        case State.TopicLength: {
          this.#topicLength = (this.#topicLength << 8) | chunk[i++]!;
          this.#remaining--;
          if (++this.#topicLengthBytes < 2) {
            if (this.#remaining === 0) return this.#reject('malformed_packet');
            break;
          }
          if (this.#topicLength > this.#remaining) return this.#reject('malformed_packet');
          if (this.#topicLength === 0) {
            // An empty topic is a protocol error Aedes reports itself.
            this.#state = this.#remaining === 0 ? State.Header : State.Body;
          } else {
            this.#topicGot = 0;
            this.#topicBuf = undefined;
            this.#state = State.Topic;
          }
          break;
        }
        case State.Topic: {
          const need = this.#topicLength - this.#topicGot;
          const take = Math.min(need, n - i);
          let topic: Uint8Array | undefined;
          if (this.#topicGot === 0 && take === need) {
            topic = chunk.subarray(i, i + take); // common case: the whole topic in one chunk, no copy
          } else {
            this.#topicBuf ??= Buffer.allocUnsafe(this.#topicLength);
            this.#topicBuf.set(chunk.subarray(i, i + take), this.#topicGot);
            if (take === need) topic = this.#topicBuf;
          }
          this.#topicGot += take;
          this.#remaining -= take;
          i += take;
          if (topic) {
            this.#topicBuf = undefined;
            if (!isUtf8(topic) || topic.includes(0)) return this.#reject('invalid_topic'); // [MQTT-1.5.3-1], [MQTT-1.5.3-2]
            this.#state = this.#remaining === 0 ? State.Header : State.Body;
          }
          break;
        }
      }
    }
    return undefined;
  }

  #reject(reason: GuardRejection): GuardRejection {
    this.#rejected = reason;
    this.#topicBuf = undefined;
    return reason;
  }
}

/** Options of {@link guardConnection}. */
export interface GuardOptions {
  /** Largest whole packet accepted, bytes. */
  maxPacketSize: number;
  /** Called once, before the connection is destroyed, when the guard rejects it. */
  onReject?: (reason: GuardRejection) => void;
}

/**
 * A duplex that passes `inner`'s bytes through a {@link PacketGuard}: hand it to `aedes.handle`
 * instead of the socket. Inbound chunks are forwarded as they are (same Buffer objects) with
 * back-pressure (the inner stream is paused while this one's buffer is full); writes go straight
 * to `inner`, corked when Aedes writes several chunks at once. On a rejection both streams are
 * destroyed before the offending bytes reach Aedes.
 */
export function guardConnection(inner: Duplex, opts: GuardOptions): Duplex {
  return new GuardedConnection(inner, opts);
}

class GuardedConnection extends Duplex {
  readonly #inner: Duplex;
  readonly #guard: PacketGuard;
  readonly #onReject: ((reason: GuardRejection) => void) | undefined;
  #pendingWrite: ((err?: Error | null) => void) | undefined;

  constructor(inner: Duplex, opts: GuardOptions) {
    super({ allowHalfOpen: false });
    this.#inner = inner;
    this.#guard = new PacketGuard(opts.maxPacketSize);
    this.#onReject = opts.onReject;
    inner.on('data', this.#onData);
    inner.on('drain', this.#onDrain);
    inner.once('end', () => this.push(null));
    inner.on('error', (err: Error) => this.destroy(err));
    inner.once('close', () => {
      if (!this.destroyed) this.destroy();
    });
  }

  readonly #onData = (chunk: Buffer | string): void => {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const reason = this.#guard.check(buf);
    if (reason) {
      this.#inner.off('data', this.#onData);
      try {
        this.#onReject?.(reason);
      } finally {
        this.destroy();
      }
      return;
    }
    if (!this.push(buf)) this.#inner.pause();
  };

  readonly #onDrain = (): void => {
    const cb = this.#pendingWrite;
    this.#pendingWrite = undefined;
    cb?.();
  };

  override _read(): void {
    if (this.#inner.isPaused()) this.#inner.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.#inner.write(chunk)) cb();
    else this.#pendingWrite = cb;
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    const inner = this.#inner;
    let ok = true;
    inner.cork();
    for (const c of chunks) ok = inner.write(c.chunk);
    inner.uncork();
    if (ok) cb();
    else this.#pendingWrite = cb;
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#inner.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const pending = this.#pendingWrite;
    this.#pendingWrite = undefined;
    this.#inner.off('data', this.#onData);
    this.#inner.destroy();
    pending?.(err ?? new Error('connection closed'));
    cb(err);
  }
}
