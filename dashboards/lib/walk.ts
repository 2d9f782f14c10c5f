/**
 * Every InfluxQL query a dashboard holds (panel targets, template variables, annotations), with
 * what Grafana needs to run it: the panel's relative time override, minimum interval and width.
 */

/** Where a query lives in a dashboard, and how Grafana would run it. */
export interface DashboardQuery {
  dashboard: string;
  kind: 'panel' | 'variable' | 'annotation';
  /** Panel title, variable name or annotation name. */
  where: string;
  refId?: string;
  query: string;
  /** Panel type (panels only). */
  panelType?: string;
  /** Panel `timeFrom` (e.g. `7d`): the panel's own relative range. */
  timeFrom?: string;
  /** Panel `interval`: lower limit of `$__interval`. */
  minInterval?: string;
  /** Panel `maxDataPoints`, else its width in pixels on a 1920 px screen. */
  maxDataPoints?: number;
}

type Any = Record<string, unknown>;

const isObj = (v: unknown): v is Any => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Panels at any depth (rows hold panels when collapsed). */
export function allPanels(dashboard: Any): Any[] {
  const out: Any[] = [];
  const visit = (list: unknown): void => {
    if (!Array.isArray(list)) return;
    for (const p of list) {
      if (!isObj(p)) continue;
      out.push(p);
      visit(p.panels);
    }
  };
  visit(dashboard.panels);
  return out;
}

/** Query variables of a dashboard (`type: query`), in order. */
export function queryVariables(dashboard: Any): Any[] {
  const t = dashboard.templating;
  const list = isObj(t) && Array.isArray(t.list) ? t.list : [];
  return list.filter((v): v is Any => isObj(v) && v.type === 'query');
}

/** Every raw InfluxQL query in `dashboard`. Throws if a panel target is not in raw mode (the tests only prove raw queries). */
export function dashboardQueries(dashboard: Any): DashboardQuery[] {
  const name = String(dashboard.title ?? dashboard.uid);
  const out: DashboardQuery[] = [];
  for (const p of allPanels(dashboard)) {
    if (!Array.isArray(p.targets)) continue;
    for (const t of p.targets) {
      if (!isObj(t)) continue;
      if (t.rawQuery !== true || typeof t.query !== 'string') {
        throw new Error(`${name} / ${String(p.title)} / ${String(t.refId)}: only raw InfluxQL queries are allowed`);
      }
      const gp = isObj(p.gridPos) ? p.gridPos : {};
      const q: DashboardQuery = { dashboard: name, kind: 'panel', where: String(p.title), refId: String(t.refId), query: t.query, panelType: String(p.type) };
      if (typeof p.timeFrom === 'string') q.timeFrom = p.timeFrom;
      if (typeof p.interval === 'string') q.minInterval = p.interval;
      q.maxDataPoints = typeof p.maxDataPoints === 'number' ? p.maxDataPoints : Math.round(((Number(gp.w) || 24) / 24) * 1920);
      out.push(q);
    }
  }
  for (const v of queryVariables(dashboard)) {
    const text = typeof v.query === 'string' ? v.query : isObj(v.query) ? v.query.query : undefined;
    if (typeof text !== 'string') throw new Error(`${name} / variable ${String(v.name)}: no query text`);
    out.push({ dashboard: name, kind: 'variable', where: String(v.name), query: text });
  }
  const ann = isObj(dashboard.annotations) && Array.isArray(dashboard.annotations.list) ? dashboard.annotations.list : [];
  for (const a of ann) {
    if (!isObj(a) || a.builtIn === 1) continue;
    const t = isObj(a.target) ? a.target : undefined;
    const text = t?.query ?? a.query;
    if (typeof text !== 'string') throw new Error(`${name} / annotation ${String(a.name)}: no query text`);
    out.push({ dashboard: name, kind: 'annotation', where: String(a.name), query: text });
  }
  return out;
}
