import { DEFAULT_RULES_DIR } from '../../rules/index.ts';
import { loadRules } from '../../rules/index.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { allPanels, dashboardQueries } from '../lib/walk.ts';
import { buildDashboards, staleFiles } from './build.ts';
import { DASHBOARDS, DATASOURCE_UID, SCHEMA_VERSION, TAG } from './kit.ts';
import { AQUIFER_RULE } from './limits.ts';
import { AQUIFER_FLOOR_M } from './watershed.ts';

type Any = Record<string, unknown>;
const dashboards = buildDashboards();
const provisioning = join(import.meta.dirname, '..', 'provisioning');

describe('the committed dashboards', () => {
  it('are what the build produces (run npx tsx dashboards/src/build.ts and commit)', () => {
    expect(staleFiles()).toEqual([]);
  });

  it('are the six dashboards, each with its own uid, the steward tag and schemaVersion', () => {
    const ds = Object.values(dashboards);
    expect(ds.map((d) => d.uid).sort()).toEqual(DASHBOARDS.map((d) => d.uid).sort());
    for (const d of ds) {
      expect(d.tags).toEqual([TAG]);
      expect(d.schemaVersion).toBe(SCHEMA_VERSION);
    }
  });
});

describe.each(Object.entries(dashboards))('%s', (_file, d) => {
  const panels = allPanels(d).filter((p) => p.type !== 'row' && p.type !== 'text');

  it('links to every other dashboard, keeping hub and time range; panel links go to existing dashboards', () => {
    const uids = new Set<string>(DASHBOARDS.map((x) => x.uid));
    const targets = (d.links as Any[]).map((l) => /^\/d\/([^?]+)\?/.exec(String(l.url))?.[1]);
    expect(new Set(targets)).toEqual(new Set([...uids].filter((u) => u !== d.uid)));
    for (const l of [...(d.links as Any[]), ...panels.flatMap((p) => (p.links as Any[] | undefined) ?? [])]) {
      expect(uids.has(/^\/d\/([^?]+)\?/.exec(String(l.url))?.[1] ?? '')).toBe(true);
      expect(String(l.url)).toContain('${hub:queryparam}&${__url_time_range}');
    }
  });

  it('every panel has a description, a unit, thresholds and reads the data source variable', () => {
    for (const p of panels) {
      const defaults = (p.fieldConfig as Any).defaults as Any;
      expect(String(p.description).length, String(p.title)).toBeGreaterThan(20);
      expect(defaults.unit, String(p.title)).toBeTruthy();
      expect(((defaults.thresholds as Any).steps as unknown[]).length, String(p.title)).toBeGreaterThan(0);
      expect(p.datasource).toEqual({ type: 'influxdb', uid: '${datasource}' });
    }
  });

  it('has the data source, hub and narrowing variables, and the alerts annotation', () => {
    const vars = ((d.templating as Any).list as Any[]).map((v) => v.name);
    expect(vars.slice(0, 2)).toEqual(['datasource', 'hub']);
    expect(vars).toContain(d.uid === 'steward-pipeline' ? 'role' : 'sensor');
    const ds = ((d.templating as Any).list as Any[])[0] as Any;
    expect((ds.current as Any).value).toBe(DATASOURCE_UID);
    expect(dashboardQueries(d).filter((q) => q.kind === 'annotation').map((q) => q.where)).toEqual(['Alerts']);
  });

  it('ids are unique and panels stay on the 24-column grid without overlapping', () => {
    const all = allPanels(d);
    expect(new Set(all.map((p) => p.id)).size).toBe(all.length);
    const cells = new Set<string>();
    for (const p of all) {
      const g = p.gridPos as { x: number; y: number; w: number; h: number };
      expect(g.x + g.w, String(p.title)).toBeLessThanOrEqual(24);
      for (let x = g.x; x < g.x + g.w; x++)
        for (let y = g.y; y < g.y + g.h; y++) {
          expect(cells.has(`${x},${y}`), `${String(p.title)} overlaps at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
    }
  });
});

describe('the aquifer floor', () => {
  it('is the rules\' value: the aquifer floor and the battery reserve come from rules/defaults (Grafana, console and alerts agree)', () => {
    const loaded = loadRules([DEFAULT_RULES_DIR]);
    if (!loaded.ok) throw new Error('demo rules do not load');
    const byId = new Map(loaded.ruleSet.rules.map((r) => [r.rule.id, r.rule as Any]));
    expect(AQUIFER_FLOOR_M).toBe(byId.get('aquifer-depletion')?.floor);
    const e = dashboards['energy.json'] as Any;
    const soc = allPanels(e).find((x) => x.title === 'Battery state of charge') as Any;
    const steps = (((soc.fieldConfig as Any).defaults as Any).thresholds as Any).steps as Array<{ value: number | null }>;
    const battery = byId.get('battery-low') as { below: number; hysteresis: number };
    expect(steps.map((x) => x.value)).toEqual([null, battery.below, battery.below + battery.hysteresis]);
    // Every panel of a metric a threshold rule watches: red below the rule's limit, orange until it resolves.
    for (const [file, title, id] of [
      ['soil-carbon.json', 'Soil moisture', 'soil-moisture-low'],
      ['watershed.json', 'River stage', 'river-stage-low'],
      ['watershed.json', 'Dissolved oxygen', 'river-oxygen-low'],
    ] as const) {
      const p = allPanels(dashboards[file] as Any).find((x) => x.title === title) as Any;
      const r = byId.get(id) as { below: number; hysteresis: number };
      const band = (((p.fieldConfig as Any).defaults as Any).thresholds as Any).steps as Array<{ color: string; value: number | null }>;
      expect(band, `${title} in ${file}`).toEqual([
        { color: 'red', value: null },
        { color: 'orange', value: r.below },
        { color: 'green', value: r.below + r.hysteresis },
      ]);
    }
  });

  it('is one value: threshold of the level panels, region shading, and the days-to-floor constant', () => {
    const w = dashboards['watershed.json'] as Any;
    const floorVar = ((w.templating as Any).list as Any[]).find((v) => v.name === 'aquifer_floor') as Any;
    expect(floorVar.query).toBe(String(AQUIFER_FLOOR_M));
    for (const [file, title] of [
      ['watershed.json', 'Aquifer level against its safe minimum'],
      ['commons-overview.json', 'Water: aquifer level'],
    ] as const) {
      const p = allPanels(dashboards[file] as Any).find((x) => x.title === title) as Any;
      const steps = (((p.fieldConfig as Any).defaults as Any).thresholds as Any).steps as Array<{ color: string; value: number | null }>;
      expect(steps).toEqual([
        { color: 'red', value: null },
        { color: 'green', value: AQUIFER_FLOOR_M },
      ]);
    }
    // Days to the floor and the trend are the depletion rule's own evaluations, not a second fit.
    for (const title of ['Projected days to the floor', "Level trend (the alert's fit)"]) {
      const days = dashboardQueries(w).find((q) => q.where === title);
      expect(days?.query).toContain(`FROM "rule_evaluations"`);
      expect(days?.query).toContain(`"rule" = '${AQUIFER_RULE}'`);
    }
  });
});

describe('provisioning', () => {
  it('the data source is InfluxDB in InfluxQL mode, uid steward-influxdb, from INFLUX_URL and INFLUX_DATABASE', () => {
    const text = readFileSync(join(provisioning, 'datasources', 'steward.yaml'), 'utf8');
    const doc = parseYaml(text) as { apiVersion: number; datasources: Any[] };
    expect(doc.apiVersion).toBe(1);
    expect(doc.datasources).toHaveLength(1);
    const ds = doc.datasources[0] as Any;
    expect(ds).toMatchObject({ uid: DATASOURCE_UID, type: 'influxdb', access: 'proxy', url: '${INFLUX_URL}' });
    expect((ds.jsonData as Any).dbName).toBe('${INFLUX_DATABASE}');
    expect((ds.jsonData as Any).version).toBeUndefined();
  });

  it('the commented alternatives (1.x with a user, 2.x with a DBRP mapping and token, 3.x) are valid and keep the uid', () => {
    const text = readFileSync(join(provisioning, 'datasources', 'steward.yaml'), 'utf8');
    const blocks = text
      .split('\n')
      .filter((l) => /^# {2}[ -]/.test(l))
      .map((l) => l.slice(3))
      .join('\n')
      .split(/\n(?=- name:)/);
    expect(blocks).toHaveLength(3);
    const parsed = blocks.map((b) => (parseYaml(b) as Any[])[0] as Any);
    for (const b of parsed) expect(b).toMatchObject({ uid: DATASOURCE_UID, type: 'influxdb', url: '${INFLUX_URL}', jsonData: { dbName: '${INFLUX_DATABASE}' } });
    expect(parsed.map((b) => (b.secureJsonData as Any).password ?? (b.secureJsonData as Any).httpHeaderValue1)).toEqual([
      '${INFLUX_PASSWORD}',
      'Token ${INFLUX_TOKEN}',
      'Bearer ${INFLUX_TOKEN}',
    ]);
  });

  it('the dashboard provider loads the files from one folder into "Steward"', () => {
    const doc = parseYaml(readFileSync(join(provisioning, 'dashboards', 'steward.yaml'), 'utf8')) as { providers: Any[] };
    expect(doc.providers).toHaveLength(1);
    expect(doc.providers[0]).toMatchObject({ type: 'file', folder: 'Steward', options: { path: '/var/lib/grafana/dashboards/steward' } });
  });
});
