import { describe, expect, it } from 'vitest';
import type { Principal } from '../registry/index.ts';
import { aclFor, canPublish, canReceive, canSubscribe, clientIdProblem, filterWithin, identifierProblem, isValidFilter, sessionOwner, type BrokerPrincipal } from './acl.ts';

const device: Principal = { type: 'device', hub: 'north', domain: 'water', sensor: 'well-1', username: 'north.well-1', createdAt: 0 };
const account = (role: 'service' | 'hub' | 'steward' | 'technician', hub?: string): Principal => ({ type: 'account', name: `${role}-acct`, role, createdAt: 0, ...(hub ? { hub } : {}) });
const anonymous: BrokerPrincipal = { type: 'anonymous' };

describe('filterWithin', () => {
  it.each([
    // [filter, pattern, within]
    ['a/b', 'a/b', true],
    ['a/b', 'a/c', false],
    ['a/b', 'a/+', true],
    ['a/+', 'a/b', false],
    ['a/+', 'a/+', true],
    ['a/#', 'a/+', false], // a/# matches a/b/c
    ['a/+/c', 'a/#', true],
    ['a', 'a/#', true], // # matches the parent level
    ['a/#', 'a/#', true],
    ['a/b/#', 'a/#', true],
    ['a/#', 'a/b/#', false],
    ['#', 'csm/#', false],
    ['csm/#', 'csm/v1/+/alerts/#', false],
    ['+/v1/h/alerts/x', 'csm/v1/+/alerts/#', false],
    ['csm/+/h/alerts/x', 'csm/v1/+/alerts/#', false],
    ['csm/v1/h/alerts/r/s', 'csm/v1/+/alerts/#', true],
    ['csm/v1/+/alerts/#', 'csm/v1/+/alerts/#', true],
    ['csm/v1/h/alerts', 'csm/v1/+/alerts/#', true],
    ['csm/v1/h/rejected', 'csm/v1/+/rejected', true],
    ['csm/v1/+/rejected', 'csm/v1/+/rejected', true],
    ['csm/v1/h/rejected/x', 'csm/v1/+/rejected', false],
    ['csm/v1/h', 'csm/v1/+/rejected', false],
    ['a/b', 'a/b/c', false],
    ['a/b/c', 'a/b', false],
    ['a//b', 'a/+/b', true], // + matches the empty level
    ['#', '#', true],
    ['+/x', '#', true],
    // [MQTT-4.7.2-1]: wildcards in the first level never match $-topics
    ['$SYS/broker', '#', false],
    ['$SYS/#', '#', false],
    ['$SYS/x', '+/x', false],
    ['$SYS/x', '$SYS/#', true],
    ['$SYS/#', '$SYS/#', true],
    ['x/$y', 'x/+', true], // only the first level is special
    // invalid filters are within nothing
    ['a/#/b', '#', false],
    ['a/b#', '#', false],
    ['a+/b', '#', false],
    ['', '#', false],
    ['a\u0000b', '#', false],
  ])('%s within %s: %s', (filter, pattern, within) => {
    expect(filterWithin(filter, pattern)).toBe(within);
  });

  it('validates filter syntax', () => {
    for (const ok of ['#', '+', 'a/+/b', 'a/#', '/', '+/+', 'a//b']) expect(isValidFilter(ok), ok).toBe(true);
    for (const bad of ['', 'a/#/b', '#/a', 'a#', 'a/b+', '++', 'a/\u0000']) expect(isValidFilter(bad), bad).toBe(false);
  });
});

describe('publish ACL', () => {
  it('lets a device publish only its own data and status topics', () => {
    const acl = aclFor(device);
    expect(canPublish(acl, 'csm/v1/north/water/well-1/data')).toBe(true);
    expect(canPublish(acl, 'csm/v1/north/water/well-1/status')).toBe(true);
    for (const t of [
      'csm/v1/north/water/well-2/data',
      'csm/v1/north/energy/well-1/data',
      'csm/v1/south/water/well-1/data',
      'csm/v1/north/water/well-1/data/x',
      'csm/v1/north/water/well-1/cmd',
      'csm/v1/north/rejected',
      'csm/v1/north/alerts/r/s',
      'public/v1/north/x',
      'csm/v1/north/water/+/data',
      'csm/v1/north/water/#',
      '$SYS/x',
    ]) {
      expect(canPublish(acl, t), t).toBe(false);
    }
  });

  it('lets service accounts publish under csm/ and public/ only, never $ or wildcards', () => {
    const acl = aclFor(account('service'));
    for (const t of ['csm/v1/north/rejected', 'csm/v1/north/alerts/low/well-1', 'public/v1/north/water', 'csm/v1/a/water/b/data']) expect(canPublish(acl, t), t).toBe(true);
    for (const t of ['$SYS/x', 'other/x', 'csm/+/x', 'csm/#', 'public/#', 'publicx/y', '']) expect(canPublish(acl, t), t).toBe(false);
  });

  it('lets hub, steward, technician and anonymous publish nothing', () => {
    for (const p of [account('hub'), account('steward'), account('technician'), anonymous, account('hub', 'north')]) {
      const acl = aclFor(p);
      for (const t of ['public/v1/north/x', 'csm/v1/north/alerts/r/s', 'csm/v1/north/water/well-1/data']) expect(canPublish(acl, t)).toBe(false);
    }
  });
});

describe('subscribe ACL', () => {
  it('refuses every subscription of a device', () => {
    const acl = aclFor(device);
    for (const f of ['#', 'csm/#', 'csm/v1/north/water/well-1/data', 'csm/v1/north/water/well-1/status', 'public/#']) expect(canSubscribe(acl, f), f).toBe(false);
  });

  it('lets a service account subscribe to anything valid', () => {
    const acl = aclFor(account('service'));
    for (const f of ['#', 'csm/v1/+/+/+/data', '$SYS/#', 'x']) expect(canSubscribe(acl, f), f).toBe(true);
    expect(canSubscribe(acl, 'a/#/b')).toBe(false);
  });

  it('lets a technician read rejected, alerts and public only', () => {
    const acl = aclFor(account('technician'));
    for (const f of ['csm/v1/+/rejected', 'csm/v1/north/rejected', 'csm/v1/+/alerts/#', 'csm/v1/north/alerts/low/+', 'public/#', 'public/v1/north/#']) expect(canSubscribe(acl, f), f).toBe(true);
    for (const f of ['#', 'csm/#', 'csm/v1/#', 'csm/v1/+/+', 'csm/v1/+/+/+/data', 'csm/v1/north/water/well-1/data', '+/v1/north/rejected', 'csm/+/north/rejected', '$SYS/#', 'csm/v1/north/+/+/status']) {
      expect(canSubscribe(acl, f), f).toBe(false);
    }
  });

  it('scopes a hub account to its own hub when it has one', () => {
    const scoped = aclFor(account('hub', 'north'));
    expect(canSubscribe(scoped, 'csm/v1/north/alerts/#')).toBe(true);
    expect(canSubscribe(scoped, 'csm/v1/south/alerts/#')).toBe(false);
    expect(canSubscribe(scoped, 'csm/v1/+/alerts/#')).toBe(false);
    expect(canSubscribe(scoped, 'public/#')).toBe(true);
    expect(canSubscribe(scoped, 'csm/v1/north/rejected')).toBe(false);
    const regional = aclFor(account('hub'));
    expect(canSubscribe(regional, 'csm/v1/+/alerts/#')).toBe(true);
    expect(canSubscribe(regional, 'csm/v1/+/+/+/data')).toBe(false);
  });

  it('lets a steward read alerts, device status and public, never raw data', () => {
    const acl = aclFor(account('steward'));
    for (const f of ['csm/v1/+/alerts/#', 'csm/v1/+/+/+/status', 'csm/v1/north/water/well-1/status', 'public/#']) expect(canSubscribe(acl, f), f).toBe(true);
    for (const f of ['csm/v1/+/+/+/data', 'csm/v1/+/+/+/+', 'csm/v1/#', 'csm/v1/north/rejected']) expect(canSubscribe(acl, f), f).toBe(false);
  });

  it('lets anonymous readers subscribe under public/ only, and forwards them nothing else', () => {
    const acl = aclFor(anonymous);
    expect(canSubscribe(acl, 'public/#')).toBe(true);
    expect(canSubscribe(acl, 'public/v1/north/+')).toBe(true);
    for (const f of ['#', '+/#', '+/v1/north/water', 'csm/#', '$SYS/#']) expect(canSubscribe(acl, f), f).toBe(false);
    expect(canReceive(acl, 'public/v1/north/water')).toBe(true);
    expect(canReceive(acl, 'csm/v1/north/water/well-1/data')).toBe(false);
    expect(canReceive(acl, '$SYS/broker/x')).toBe(false);
  });
});

describe('identifiers and sessions', () => {
  it('refuses ids with + # / or control characters, and over-long ids (CVE-2017-7650)', () => {
    for (const bad of ['+', '#', 'a/b', 'north.+', 'x#', 'a\u0000', 'a\nb', 'x'.repeat(130)]) expect(identifierProblem(bad), bad).toBeDefined();
    for (const ok of ['north.well-1', 'steward-ingest', '', 'x'.repeat(129)]) expect(identifierProblem(ok), ok).toBeUndefined();
  });

  it('binds a device to its username as client id and keeps dotted ids for devices', () => {
    expect(clientIdProblem(device, 'north.well-1')).toBeUndefined();
    expect(clientIdProblem(device, 'north.well-2')).toBeDefined();
    expect(clientIdProblem(device, 'anything')).toBeDefined();
    expect(clientIdProblem(account('service'), 'steward-ingest')).toBeUndefined();
    expect(clientIdProblem(account('service'), 'north.well-1')).toBeDefined();
    expect(clientIdProblem(anonymous, 'north.well-1')).toBeDefined();
    expect(sessionOwner(device)).not.toBe(sessionOwner(account('service')));
    expect(sessionOwner(anonymous)).toBe('anonymous');
  });
});
