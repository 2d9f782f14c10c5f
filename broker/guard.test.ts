import { PassThrough, type Duplex } from 'node:stream';
import fc from 'fast-check';
import mqtt from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { PacketGuard, guardConnection, type GuardRejection } from './guard.ts';

const connect = mqtt.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'c1', keepalive: 30, username: 'ingest', password: Buffer.from('secret-pass') });
const publish = (topic: string, size: number, qos: 0 | 1 = 0): Buffer =>
  mqtt.generate({ cmd: 'publish', topic, payload: Buffer.alloc(size, 0x61), qos, retain: false, dup: false, ...(qos ? { messageId: 7 } : {}) });
const subscribe = mqtt.generate({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'csm/#', qos: 1 }] });
const pingreq = mqtt.generate({ cmd: 'pingreq' });
const disconnect = mqtt.generate({ cmd: 'disconnect' });

/** Feeds `bytes` to a fresh guard cut at the given offsets; returns the first rejection. */
function feed(bytes: Buffer, cuts: number[], max = 1024): GuardRejection | undefined {
  const g = new PacketGuard(max);
  let from = 0;
  for (const at of [...cuts.filter((c) => c > 0 && c < bytes.length).sort((a, b) => a - b), bytes.length]) {
    const r = g.check(bytes.subarray(from, at));
    if (r) return r;
    from = at;
  }
  return undefined;
}

/** A topic whose UTF-8 is broken: a lone continuation byte in the middle. */
function publishWithRawTopic(topic: Buffer, payload = Buffer.from('x')): Buffer {
  const body = Buffer.concat([Buffer.from([topic.length >> 8, topic.length & 0xff]), topic, payload]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

describe('PacketGuard', () => {
  it('accepts a valid session cut at every possible single boundary', () => {
    const session = Buffer.concat([connect, subscribe, publish('csm/v1/demo/water/w1/data', 300, 1), pingreq, publish('a/é/ü', 0), disconnect]);
    for (let cut = 0; cut <= session.length; cut++) expect(feed(session, [cut])).toBeUndefined();
    const g = new PacketGuard(1024);
    expect(g.check(session)).toBeUndefined();
    expect(g.packets).toBe(6);
  });

  it('accepts valid sessions under random chunkings (property)', () => {
    const session = Buffer.concat([connect, publish('t/1', 1000), publish('t/ä', 0), publish('x', 200, 1), pingreq]);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: session.length }), { maxLength: 40 }), (cuts) => feed(session, cuts, 1100) === undefined),
      { numRuns: 300 },
    );
  });

  it('refuses a first packet that is not CONNECT, from its first byte', () => {
    expect(feed(publish('t', 10), [])).toBe('first_not_connect');
    const g = new PacketGuard(1024);
    expect(g.check(Buffer.from([0x30]))).toBe('first_not_connect');
    expect(g.check(connect)).toBe('first_not_connect'); // stays rejected
    expect(g.rejected).toBe('first_not_connect');
  });

  it('refuses a packet announcing more than maxPacketSize as soon as its length is known', () => {
    // CONNECT header announcing 100 MB: 0x10 + varint(100_000_000), no body needed.
    const header = Buffer.from([0x10, 0x80, 0xc2, 0xd7, 0x2f]);
    const g = new PacketGuard(262_144);
    expect(g.check(header.subarray(0, 3))).toBeUndefined();
    expect(g.check(header.subarray(3))).toBe('packet_too_large');
    // A later PUBLISH too big; the limit includes the fixed header.
    const ok = publish('t', 1024 - 2 - 3 - 1); // 1 + 2 (varint) + 2 + 1 + payload = 1024 bytes
    expect(ok.length).toBe(1024);
    expect(feed(Buffer.concat([connect, ok]), [connect.length + 2])).toBeUndefined();
    const tooBig = publish('t', 1024 - 2 - 3 - 1 + 1);
    expect(feed(Buffer.concat([connect, tooBig]), [connect.length + 2])).toBe('packet_too_large');
  });

  it('refuses a remaining length longer than four bytes', () => {
    expect(feed(Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x01]), [2, 4], 268_435_455)).toBe('malformed_packet');
  });

  it('refuses a PUBLISH topic that is not UTF-8 or holds U+0000, even split across chunks', () => {
    const bad = Buffer.concat([connect, publishWithRawTopic(Buffer.from([0x61, 0x2f, 0x80, 0x62]))]);
    const nul = Buffer.concat([connect, publishWithRawTopic(Buffer.from([0x61, 0x00, 0x62]))]);
    const surrogate = Buffer.concat([connect, publishWithRawTopic(Buffer.from([0x61, 0xed, 0xa0, 0x80]))]); // U+D800 encoded
    for (let cut = 0; cut <= bad.length; cut++) expect(feed(bad, [cut])).toBe('invalid_topic');
    for (let cut = 0; cut <= nul.length; cut++) expect(feed(nul, [cut])).toBe('invalid_topic');
    expect(feed(surrogate, [])).toBe('invalid_topic');
  });

  it('refuses a topic length running past the packet', () => {
    const body = Buffer.from([0x00, 0x09, 0x61]); // says 9 topic bytes, has 1
    expect(feed(Buffer.concat([connect, Buffer.from([0x30, body.length]), body]), [])).toBe('malformed_packet');
  });
});

describe('guardConnection', () => {
  function pair(max = 1024): { inner: PassThrough; guarded: Duplex; rejections: GuardRejection[]; received: Buffer[] } {
    const inner = new PassThrough();
    const rejections: GuardRejection[] = [];
    const guarded = guardConnection(inner, { maxPacketSize: max, onReject: (r) => rejections.push(r) });
    const received: Buffer[] = [];
    guarded.on('data', (b: Buffer) => received.push(b));
    guarded.on('error', () => undefined);
    return { inner, guarded, rejections, received };
  }

  it('passes chunks through unchanged (same Buffer objects)', async () => {
    const { inner, received } = pair();
    const a = connect.subarray(0, 5);
    const b = connect.subarray(5);
    inner.write(a);
    inner.write(b);
    await new Promise((r) => setImmediate(r));
    expect(received).toHaveLength(2);
    expect(received[0]).toBe(a);
    expect(received[1]).toBe(b);
  });

  it('destroys both sides before an oversized packet reaches the reader', async () => {
    const { inner, guarded, rejections, received } = pair();
    inner.write(connect);
    inner.write(Buffer.from([0x30, 0x80, 0x80, 0x10])); // PUBLISH announcing 256 KiB
    await new Promise((r) => setImmediate(r));
    expect(rejections).toEqual(['packet_too_large']);
    expect(guarded.destroyed).toBe(true);
    expect(inner.destroyed).toBe(true);
    expect(Buffer.concat(received)).toEqual(connect);
  });
});
