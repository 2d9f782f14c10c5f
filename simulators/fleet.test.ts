import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DOMAINS } from '../core/ids.ts';
import { metricDef } from '../core/catalogue.ts';
import { SIMULATORS, getSimulator } from './all.ts';
import { demoFleet, fleetEntry, validateFleet } from './fleet.ts';

describe('registry and demo fleet', () => {
  it('registers every simulator folder (and nothing else), each emitting catalogue metrics of its own domain', () => {
    // The registry is the list: a folder with an index.ts is a simulator, `_template/` is not registered.
    const dir = fileURLToPath(new URL('.', import.meta.url));
    const folders = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith('_') && existsSync(join(dir, e.name, 'index.ts')))
      .map((e) => e.name);
    expect(Object.keys(SIMULATORS).sort()).toEqual(folders.sort());
    expect(Object.keys(SIMULATORS).length).toBeGreaterThanOrEqual(12);
    for (const def of Object.values(SIMULATORS)) {
      expect(def.description.length).toBeGreaterThan(20);
      for (const m of def.metrics) expect(metricDef(m)?.domain, `${def.kind}.${m}`).toBe(def.domain);
      expect(def.configSchema.safeParse({}).success, `${def.kind} has defaults for everything`).toBe(true);
      expect(def.configSchema.safeParse({ nonsense: 1 }).success, `${def.kind} rejects unknown keys`).toBe(false);
    }
    expect(() => getSimulator('teapot')).toThrow(expect.objectContaining({ code: 'SIM_ERR_UNKNOWN_KIND' }));
    expect(() => getSimulator('__proto__')).toThrow(expect.objectContaining({ code: 'SIM_ERR_UNKNOWN_KIND' }));
  });

  it('gives a demo hub 20–25 valid sensors across all four commons', () => {
    const fleet = demoFleet('demo');
    expect(fleet.length).toBeGreaterThanOrEqual(20);
    expect(fleet.length).toBeLessThanOrEqual(25);
    expect(() => validateFleet('demo', fleet)).not.toThrow();
    // Registering a simulator is enough for it to be in the demo.
    expect(new Set(fleet.map((e) => e.kind))).toEqual(new Set(Object.keys(SIMULATORS)));
    for (const d of DOMAINS) expect(fleet.some((e) => e.domain === d), d).toBe(true);
    const households = fleet.filter((e) => e.kind === 'household-meter').map((e) => e.config?.householdId);
    expect(households).toHaveLength(6);
    expect(new Set(households).size).toBe(6);
    expect(demoFleet('other').filter((e) => e.kind === 'household-meter').map((e) => e.config?.householdId)).not.toEqual(households);
  });

  it('refuses broken fleets with coded errors', () => {
    const ok = fleetEntry('rain-1', 'rain-gauge', 'roof');
    expect(() => validateFleet('demo', [ok, ok])).toThrow(expect.objectContaining({ code: 'SIM_ERR_DUPLICATE_SENSOR' }));
    expect(() => validateFleet('demo', [{ ...ok, sensor: 'Bad/Id' }])).toThrow(expect.objectContaining({ code: 'SIM_ERR_CONFIG' }));
    expect(() => validateFleet('demo', [{ ...ok, config: { tipMm: -1 } }])).toThrow(/tipMm/);
    expect(() => validateFleet('demo', [{ ...ok, domain: 'soil' }])).toThrow(expect.objectContaining({ code: 'SIM_ERR_CONFIG' }));
    expect(() => validateFleet('Demo Hub', [ok])).toThrow(expect.objectContaining({ code: 'SIM_ERR_CONFIG' }));
    expect(() => fleetEntry('x', 'teapot', 'y')).toThrow(expect.objectContaining({ code: 'SIM_ERR_UNKNOWN_KIND' }));
  });
});
