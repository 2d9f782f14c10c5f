/**
 * Building blocks of the Steward dashboards: panels, InfluxQL targets, template variables, links
 * and the alerts annotation, each producing plain Grafana dashboard JSON (classic model,
 * schemaVersion {@link SCHEMA_VERSION}). The dashboards are written in TypeScript so shared parts
 * (variables, links, annotation, units) are defined once; `npx tsx dashboards/src/build.ts`
 * writes dashboards/json/*.json, which is what Grafana provisions and what the tests check.
 */

/** Grafana 12's dashboard schema version (migration v41); Grafana 11 and later load it. */
export const SCHEMA_VERSION = 41;

/** Every Steward dashboard carries this tag; the provisioning folder holds only these. */
export const TAG = 'steward';

/** Uid of the provisioned InfluxDB data source (provisioning/datasources/steward.yaml). */
export const DATASOURCE_UID = 'steward-influxdb';

/** Panels read the data source chosen in the `datasource` variable (default: the provisioned one). */
export const DS = { type: 'influxdb', uid: '${datasource}' } as const;

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type Obj = { [k: string]: Json };

export interface GridPos {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** A raw InfluxQL query of a panel. */
export interface Target {
  refId: string;
  datasource: typeof DS;
  query: string;
  rawQuery: true;
  resultFormat: 'time_series' | 'table';
  /** Legend name; `$tag_<name>` and `$col` as in Grafana's InfluxDB data source. */
  alias?: string;
}

/** Collapses whitespace so queries can be written over several lines. */
export function q(strings: TemplateStringsArray, ...values: Array<string | number>): string {
  return String.raw({ raw: strings }, ...values)
    .replace(/\s+/g, ' ')
    .trim();
}

/** One raw-mode InfluxQL target. */
export function target(refId: string, query: string, opts: { alias?: string; format?: Target['resultFormat'] } = {}): Target {
  const t: Target = { refId, datasource: DS, query, rawQuery: true, resultFormat: opts.format ?? 'time_series' };
  if (opts.alias !== undefined) t.alias = opts.alias;
  return t;
}

/** The `WHERE` filter every reading panel applies: time range and the hub/site/sensor variables. */
export function scope(vars: ReadonlyArray<'hub' | 'site' | 'sensor' | 'role'> = ['hub', 'site', 'sensor']): string {
  return ['$timeFilter', ...vars.map((v) => `"${v}" =~ /^$${v}$/`)].join(' AND ');
}

/**
 * The query most reading panels show: one aggregate per interval, one series per tag value
 * (legend `$tag_<by>`). `select` is the aggregate, e.g. `mean("soil_moisture")`; `where` the
 * filter, usually {@link scope}'s.
 */
export function seriesBy(where: string, from: string, select: string, by: string, fill: 'null' | 'none' | '0' = 'null'): Target {
  return target('A', `SELECT ${select} FROM "${from}" WHERE ${where} GROUP BY time($__interval), "${by}" fill(${fill})`, { alias: `$tag_${by}` });
}

/** One aggregate over the whole time range per tag value (legend `$tag_<by>`). */
export function totalBy(where: string, from: string, select: string, by: string): Target {
  return target('A', `SELECT ${select} FROM "${from}" WHERE ${where} GROUP BY "${by}"`, { alias: `$tag_${by}` });
}

/** A threshold step; `null` value is the base (-Infinity). */
export interface Step {
  color: string;
  value: number | null;
}

export const thresholds = (...steps: Step[]): Obj => ({ mode: 'absolute', steps: steps as unknown as Json[] });

/** Base green: "no threshold crossed". */
export const base = (color = 'green'): Step => ({ color, value: null });

/** Low is bad: red below `orange`, orange below `green`, green from there. */
export const redBelow = (orange: number, green: number): Obj => thresholds({ color: 'red', value: null }, { color: 'orange', value: orange }, { color: 'green', value: green });

/** High is bad: green below `orange`, orange below `red`, red from there. */
export const redAbove = (orange: number, red: number): Obj => thresholds(base(), { color: 'orange', value: orange }, { color: 'red', value: red });

/** Low is bad and a rule watches it: red below its limit, orange until it clears (limits.ts). */
export const ruleBand = (l: { limit: number; clear: number }): Obj => redBelow(l.limit, l.clear);

/**
 * A link to another Steward dashboard, keeping the hub and the time range. Grafana's schema types
 * panel links as full dashboard links, so both kinds use this shape.
 */
export function dashLink(title: string, uid: string): Obj {
  return {
    title,
    type: 'link',
    url: `/d/${uid}?\${hub:queryparam}&\${__url_time_range}`,
    icon: 'external link',
    tooltip: `Open ${title}`,
    tags: [],
    asDropdown: false,
    targetBlank: false,
    includeVars: false,
    keepTime: false,
  };
}

interface PanelCommon {
  title: string;
  description: string;
  gridPos: GridPos;
  targets: Target[];
  unit: string;
  decimals?: number;
  min?: number;
  max?: number;
  thresholds?: Obj;
  overrides?: Obj[];
  links?: Obj[];
  /** Panel-relative time range (e.g. `7d`), as Grafana's "Relative time" query option. */
  timeFrom?: string;
  /** Lower limit of `$__interval` for this panel (e.g. `1h`). */
  interval?: string;
  transformations?: Obj[];
  mappings?: Obj[];
  noValue?: string;
}

let nextId = 1;

/** Resets panel ids (called at the start of each dashboard). */
export function resetIds(): void {
  nextId = 1;
}

function panelBase(type: string, p: PanelCommon, options: Obj, custom?: Obj, color?: Obj): Obj {
  const defaults: Obj = { unit: p.unit };
  if (color) defaults.color = color;
  if (custom) defaults.custom = custom;
  if (p.decimals !== undefined) defaults.decimals = p.decimals;
  if (p.min !== undefined) defaults.min = p.min;
  if (p.max !== undefined) defaults.max = p.max;
  defaults.thresholds = p.thresholds ?? thresholds(base());
  if (p.mappings) defaults.mappings = p.mappings as Json[];
  if (p.noValue !== undefined) defaults.noValue = p.noValue;
  const panel: Obj = {
    id: nextId++,
    type,
    title: p.title,
    description: p.description,
    datasource: DS,
    gridPos: p.gridPos as unknown as Obj,
    fieldConfig: { defaults, overrides: (p.overrides ?? []) as Json[] },
    options,
    targets: p.targets as unknown as Json[],
  };
  if (p.links) panel.links = p.links as Json[];
  if (p.timeFrom) panel.timeFrom = p.timeFrom;
  if (p.interval) panel.interval = p.interval;
  if (p.transformations) panel.transformations = p.transformations as Json[];
  return panel;
}

export interface TimeseriesOpts extends PanelCommon {
  /** How thresholds are drawn (`line+area` shades the region under a safe minimum). */
  thresholdsStyle?: 'off' | 'line' | 'dashed' | 'area' | 'line+area' | 'dashed+area';
  drawStyle?: 'line' | 'bars' | 'points';
  stack?: boolean;
  fillOpacity?: number;
  axisLabel?: string;
  legendCalcs?: string[];
}

export function timeseries(o: TimeseriesOpts): Obj {
  const custom: Obj = {
    drawStyle: o.drawStyle ?? 'line',
    lineWidth: 1,
    lineInterpolation: 'linear',
    fillOpacity: o.fillOpacity ?? (o.drawStyle === 'bars' ? 80 : 10),
    gradientMode: 'none',
    showPoints: 'never',
    pointSize: 4,
    spanNulls: true,
    axisPlacement: 'auto',
    axisLabel: o.axisLabel ?? '',
    scaleDistribution: { type: 'linear' },
    stacking: { mode: o.stack ? 'normal' : 'none', group: 'A' },
    thresholdsStyle: { mode: o.thresholdsStyle ?? 'off' },
  };
  const options: Obj = {
    legend: { showLegend: true, displayMode: 'list', placement: 'bottom', calcs: (o.legendCalcs ?? []) as Json[] },
    tooltip: { mode: 'multi', sort: 'none' },
  };
  return panelBase('timeseries', o, options, custom, { mode: 'palette-classic' });
}

export interface StatOpts extends PanelCommon {
  /** Reducer: `lastNotNull` (current value), `mean`, `sum`, … */
  calc?: string;
  graph?: boolean;
  colorMode?: 'value' | 'background' | 'none';
  textMode?: 'auto' | 'value' | 'value_and_name' | 'name';
}

export function stat(o: StatOpts): Obj {
  const options: Obj = {
    reduceOptions: { calcs: [o.calc ?? 'lastNotNull'], fields: '', values: false },
    orientation: 'auto',
    textMode: o.textMode ?? 'auto',
    colorMode: o.colorMode ?? 'value',
    graphMode: o.graph === false ? 'none' : 'area',
    justifyMode: 'auto',
    wideLayout: true,
    showPercentChange: false,
    percentChangeColorMode: 'standard',
  };
  return panelBase('stat', o, options, undefined, { mode: 'thresholds' });
}

export interface BarGaugeOpts extends PanelCommon {
  calc?: string;
}

export function bargauge(o: BarGaugeOpts): Obj {
  const options: Obj = {
    reduceOptions: { calcs: [o.calc ?? 'lastNotNull'], fields: '', values: false },
    orientation: 'horizontal',
    displayMode: 'gradient',
    valueMode: 'color',
    namePlacement: 'auto',
    showUnfilled: true,
    sizing: 'auto',
    minVizWidth: 8,
    minVizHeight: 16,
    maxVizHeight: 300,
    legend: { showLegend: false, displayMode: 'list', placement: 'bottom', calcs: [] },
  };
  return panelBase('bargauge', o, options, undefined, { mode: 'thresholds' });
}

export interface TableOpts extends PanelCommon {
  sortBy?: Array<{ displayName: string; desc: boolean }>;
}

export function table(o: TableOpts): Obj {
  const options: Obj = { showHeader: true, frameIndex: 0, cellHeight: 'sm', sortBy: (o.sortBy ?? []) as unknown as Json[] };
  const custom: Obj = { align: 'auto', cellOptions: { type: 'auto' }, inspect: false, filterable: false };
  return panelBase('table', o, options, custom, { mode: 'thresholds' });
}

/** A markdown note (no query). */
export function text(title: string, gridPos: GridPos, content: string): Obj {
  return {
    id: nextId++,
    type: 'text',
    title,
    gridPos: gridPos as unknown as Obj,
    options: { mode: 'markdown', content, code: { language: 'markdown', showLineNumbers: false, showMiniMap: false } },
  };
}

/** A section heading row (not collapsed, so its panels sit in the dashboard's panel list). */
export function row(title: string, y: number): Obj {
  return { id: nextId++, type: 'row', title, collapsed: false, gridPos: { x: 0, y, w: 24, h: 1 }, panels: [] };
}

/** Override the unit, axis side or draw style of one series by its display name. */
export function overrideByName(name: string, properties: Record<string, Json>): Obj {
  return { matcher: { id: 'byName', options: name }, properties: Object.entries(properties).map(([id, value]) => ({ id, value })) };
}

/** One series always in the same colour. */
export const fixedColor = (name: string, color: string): Obj => overrideByName(name, { color: { mode: 'fixed', fixedColor: color } });

/** Override by a regex over display names. */
export function overrideByRegex(pattern: string, properties: Record<string, Json>): Obj {
  return { matcher: { id: 'byRegexp', options: pattern }, properties: Object.entries(properties).map(([id, value]) => ({ id, value })) };
}

// ---------------------------------------------------------------------------
// Variables

/** The data source picker; defaults to the provisioned Steward InfluxDB. */
export function datasourceVariable(): Obj {
  return {
    name: 'datasource',
    label: 'Data source',
    type: 'datasource',
    query: 'influxdb',
    current: { text: 'Steward InfluxDB', value: DATASOURCE_UID },
    hide: 0,
    includeAll: false,
    multi: false,
    refresh: 1,
    regex: '',
    skipUrlSync: false,
    options: [],
  };
}

/**
 * A tag-value query variable (`SHOW TAG VALUES …`), multi-select with All. All is sent as the
 * regex `.*` (`/^.*$/` in the queries) rather than a list of every value, which stays short and
 * also matches series written after the variable was refreshed.
 */
export function tagVariable(name: string, label: string, query: string, opts: { includeAll?: boolean; current?: string } = {}): Obj {
  const includeAll = opts.includeAll ?? true;
  const current = opts.current ?? (includeAll ? '$__all' : '');
  const v: Obj = {
    name,
    label,
    type: 'query',
    datasource: DS,
    query,
    definition: query,
    refresh: 1,
    sort: 1,
    multi: true,
    includeAll,
    current: current === '$__all' ? { text: ['All'], value: ['$__all'] } : { text: current, value: current },
    hide: 0,
    regex: '',
    skipUrlSync: false,
    options: [],
  };
  if (includeAll) v.allValue = '.*';
  return v;
}

/** A hidden constant (e.g. a safe minimum), used in queries as `${name:raw}`. */
export function constantVariable(name: string, label: string, value: string, description: string): Obj {
  return {
    name,
    label,
    description,
    type: 'constant',
    query: value,
    current: { text: value, value },
    hide: 2,
    skipUrlSync: false,
    options: [{ text: value, value, selected: true }],
  };
}

/** A text box with a default (e.g. a threshold a steward may change), used in queries as `${name:raw}`. */
export function textboxVariable(name: string, label: string, value: string, description: string): Obj {
  return {
    name,
    label,
    description,
    type: 'textbox',
    query: value,
    current: { text: value, value },
    hide: 0,
    skipUrlSync: false,
    options: [{ text: value, value, selected: true }],
  };
}

/** hub → site → sensor variables over the given measurements, each narrowing the next. */
export function scopeVariables(measurements: readonly string[]): Obj[] {
  const from = measurements.map((m) => `"${m}"`).join(', ');
  return [
    datasourceVariable(),
    tagVariable('hub', 'Hub', `SHOW TAG VALUES FROM ${from} WITH KEY = "hub"`),
    tagVariable('site', 'Site', `SHOW TAG VALUES FROM ${from} WITH KEY = "site" WHERE "hub" =~ /^$hub$/`),
    tagVariable('sensor', 'Sensor', `SHOW TAG VALUES FROM ${from} WITH KEY = "sensor" WHERE "hub" =~ /^$hub$/ AND "site" =~ /^$site$/`),
  ];
}

// ---------------------------------------------------------------------------
// Annotations and links

/** Grafana's own annotations (the built-in one every dashboard has). */
export function builtInAnnotation(): Obj {
  return {
    builtIn: 1,
    datasource: { type: 'grafana', uid: '-- Grafana --' },
    enable: true,
    hide: true,
    iconColor: 'rgba(0, 211, 255, 1)',
    name: 'Annotations & Alerts',
    type: 'dashboard',
  };
}

/**
 * Alerts from the rules engine as annotations: each time an alert of the selected hub starts
 * firing, a marker with its message; tags name the rule and severity. The target is in the shape
 * Grafana's InfluxDB data source migrates annotations to (`prepareAnnotation`).
 */
export function alertsAnnotation(query: string): Obj {
  return {
    name: 'Alerts',
    datasource: DS,
    enable: true,
    hide: false,
    iconColor: 'red',
    target: {
      refId: 'Alerts',
      query,
      rawQuery: true,
      queryType: 'tags',
      fromAnnotations: true,
      textColumn: 'message',
      tagsColumn: 'rule,severity',
      titleColumn: '',
      timeEndColumn: '',
      name: 'Alerts',
      limit: 100,
      matchAny: false,
      tags: [],
      type: 'tags',
    },
  };
}

/** The Steward dashboards, for the links bar. */
export const DASHBOARDS = [
  { uid: 'steward-overview', title: 'Commons overview' },
  { uid: 'steward-watershed', title: 'Watershed' },
  { uid: 'steward-energy', title: 'Energy' },
  { uid: 'steward-soil-carbon', title: 'Soil carbon' },
  { uid: 'steward-biodiversity', title: 'Biodiversity' },
  { uid: 'steward-pipeline', title: 'Pipeline health' },
] as const;

export type DashboardUid = (typeof DASHBOARDS)[number]['uid'];

/** Links to every other Steward dashboard, keeping the hub and the time range. */
export function dashboardLinks(self: DashboardUid): Obj[] {
  return DASHBOARDS.filter((d) => d.uid !== self).map((d) => dashLink(d.title, d.uid));
}

export interface DashboardOpts {
  uid: DashboardUid;
  title: string;
  description: string;
  time: { from: string; to: string };
  refresh?: string;
  variables: Obj[];
  annotations: Obj[];
  panels: Obj[];
}

/** A complete dashboard in Grafana's classic JSON model. */
export function dashboard(o: DashboardOpts): Obj {
  return {
    uid: o.uid,
    title: o.title,
    description: o.description,
    tags: [TAG],
    timezone: 'browser',
    editable: true,
    graphTooltip: 1,
    fiscalYearStartMonth: 0,
    liveNow: false,
    refresh: o.refresh ?? '1m',
    schemaVersion: SCHEMA_VERSION,
    version: 1,
    time: o.time,
    timepicker: { refresh_intervals: ['30s', '1m', '5m', '15m', '1h'] },
    templating: { list: o.variables as Json[] },
    annotations: { list: [builtInAnnotation(), ...o.annotations] as Json[] },
    links: dashboardLinks(o.uid) as Json[],
    panels: o.panels as Json[],
  };
}
