/**
 * What a kind sees of one subject (kinds/types.ts `SubjectView`), read from the window store: the
 * members' newest values, their windows (combined per aggregation step for a group), when they
 * were last heard from, and the species detected.
 */
import type { Member, SubjectView } from './kinds/types.ts';
import { type Compiled, sensorKey, seriesKey, type Subject } from './ruleset.ts';
import type { Point } from './series.ts';
import type { AggregateFn } from './spec.ts';
import type { SeenEntry, WindowStore } from './windows.ts';

function aggregate(fn: AggregateFn, values: readonly number[]): number {
  switch (fn) {
    case 'sum':
      return values.reduce((a, b) => a + b, 0);
    case 'min':
      return Math.min(...values);
    case 'max':
      return Math.max(...values);
    default:
      return values.reduce((a, b) => a + b, 0) / values.length;
  }
}

export function subjectView(w: WindowStore, c: Compiled, s: Subject): SubjectView {
  const members = [...s.members.values()];
  const { latest, series, seen, detections } = w;
  const rule = c.rule;
  const scope = c.scope;
  const fn = c.fn;
  const window = 'window' in rule ? rule.window : 3_600_000;
  return {
    hub: s.hub,
    subject: s.subject,
    scope,
    fn,
    members,
    latestTs(metrics) {
      let max: number | undefined;
      for (const m of members) {
        if (metrics.includes('species')) {
          const t = detections.get(sensorKey(m.hub, m.sensor))?.at(-1)?.ts;
          if (t !== undefined && (max === undefined || t > max)) max = t;
        }
        for (const metric of metrics) {
          const key = seriesKey(m.hub, m.sensor, metric);
          const t = series.get(key)?.latestTs ?? latest.get(key)?.ts;
          if (t !== undefined && (max === undefined || t > max)) max = t;
        }
      }
      return max;
    },
    instant(metric) {
      const vals: Point[] = [];
      for (const m of members) {
        const p = latest.get(seriesKey(m.hub, m.sensor, metric));
        if (p) vals.push(p);
      }
      if (!vals.length) return undefined;
      if (scope === 'sensor' || !fn) {
        const p = vals.reduce((a, b) => (b.ts > a.ts ? b : a));
        return { ts: p.ts, value: p.value, n: 1 };
      }
      const newest = Math.max(...vals.map((v) => v.ts));
      const fresh = vals.filter((v) => v.ts >= newest - (rule.aggregate?.stale ?? 3_600_000));
      return { ts: newest, value: aggregate(fn, fresh.map((v) => v.value)), n: fresh.length };
    },
    points(metric, from, to) {
      if (scope === 'sensor' || !fn) {
        const m = members[0];
        return m ? (series.get(seriesKey(m.hub, m.sensor, metric))?.range(from, to) ?? []) : [];
      }
      // fn across members of each member's mean per step; the point sits at the mean time of its readings.
      const step = rule.aggregate?.step ?? Math.max(1000, Math.floor(window / 60));
      const buckets = new Map<number, { perMember: number[]; tsSum: number; n: number }>();
      for (const m of members) {
        const pts = series.get(seriesKey(m.hub, m.sensor, metric))?.range(from, to) ?? [];
        const mine = new Map<number, { sum: number; n: number; tsSum: number }>();
        for (const p of pts) {
          const b = Math.floor(p.ts / step);
          const e = mine.get(b) ?? { sum: 0, n: 0, tsSum: 0 };
          e.sum += p.value;
          e.n++;
          e.tsSum += p.ts;
          mine.set(b, e);
        }
        for (const [b, e] of mine) {
          const agg = buckets.get(b) ?? { perMember: [], tsSum: 0, n: 0 };
          agg.perMember.push(e.sum / e.n);
          agg.tsSum += e.tsSum;
          agg.n += e.n;
          buckets.set(b, agg);
        }
      }
      return [...buckets.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([, b]) => ({ ts: Math.round(b.tsSum / b.n), value: aggregate(fn, b.perMember) }));
    },
    memberPoints(metric, from, to, filter) {
      return members.filter((m) => !filter || filter(m)).map((member) => ({ member, points: series.get(seriesKey(member.hub, member.sensor, metric))?.range(from, to) ?? [] }));
    },
    lastSeen() {
      let best: SeenEntry | undefined;
      let gap: number | undefined;
      for (const m of members) {
        const e = seen.get(sensorKey(m.hub, m.sensor));
        if (!e) continue;
        if (!best || e.at > best.at) best = e;
        if (e.gap !== undefined && (gap === undefined || e.gap < gap)) gap = e.gap;
      }
      if (!best) return undefined;
      const out: { at: number; member: Member; gapMs?: number; never?: boolean } = { at: best.at, member: best.member };
      if (gap !== undefined) out.gapMs = gap;
      if (best.never) out.never = true;
      return out;
    },
    species(from, to) {
      const counts = new Map<string, number>();
      for (const m of members) {
        for (const d of detections.get(sensorKey(m.hub, m.sensor)) ?? []) {
          if (d.ts < from || d.ts > to) continue;
          counts.set(d.species, (counts.get(d.species) ?? 0) + d.count);
        }
      }
      return counts;
    },
  };
}
