/**
 * Summarises a V8 CPU profile (`node --cpu-prof`, e.g. the ingest profile of
 * `bench/pipeline.ts --profile`): self time by function and by source area (our folders, each
 * package under node_modules, Node internals, native/GC/idle).
 *
 *   node --import tsx bench/profile-summary.ts bench/results/<run>/ingest-profile [--top 25]
 *
 * Given a directory, it reads the largest `.cpuprofile` in it: Node writes one per thread, and
 * tsx's module loader runs in a worker thread whose profile is small.
 * @module
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Where a frame's code lives: `ingest/`, `node_modules/mqtt`, `node:internal`, `(native)`. */
export function area(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return `node_modules/${nm[1]}`;
  if (url.startsWith('node:')) return url.startsWith('node:internal') ? 'node:internal' : url;
  const ours = /\/(core|broker|ingest|storage|registry|privacy|telemetry|bench|tests|api|simulators|cli)\//.exec(url);
  return ours ? `${ours[1]}/` : url;
}

/** Self time (ms) per function and per area, largest first. */
export function summarise(p: Profile): { totalMs: number; functions: Array<[string, number]>; areas: Array<[string, number]> } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const fns = new Map<string, number>();
  const areas = new Map<string, number>();
  let total = 0;
  for (const [id, us] of self) {
    const n = byId.get(id);
    if (!n) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    // Paths from the repository root; the compiled roles' (.tmp/bench-build/) as their sources'.
    const file = url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, '').replace(/^.*\/work\/[^/]+\//, '').replace(/^\.tmp\/bench-build\//, '');
    const key = `${functionName || '(anonymous)'} ${file ? `${file}:${lineNumber + 1}` : ''}`.trim();
    fns.set(key, (fns.get(key) ?? 0) + us / 1000);
    const a = area(url, functionName);
    areas.set(a, (areas.get(a) ?? 0) + us / 1000);
    total += us / 1000;
  }
  const sorted = (m: Map<string, number>): Array<[string, number]> => [...m.entries()].sort((a, b) => b[1] - a[1]);
  return { totalMs: total, functions: sorted(fns), areas: sorted(areas) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } });
  let file = positionals[0];
  if (!file) {
    process.stderr.write('usage: node --import tsx bench/profile-summary.ts FILE.cpuprofile|DIR [--top N]\n');
    process.exit(2);
  }
  if (statSync(file).isDirectory()) {
    const dir = file;
    const biggest = readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => ({ f: join(dir, f), size: statSync(join(dir, f)).size }))
      .sort((a, b) => b.size - a.size)[0];
    if (!biggest) throw new Error(`no .cpuprofile in ${dir}`);
    file = biggest.f;
  }
  const s = summarise(JSON.parse(readFileSync(file, 'utf8')) as Profile);
  const top = Number(values.top);
  const pct = (ms: number): string => `${((ms / s.totalMs) * 100).toFixed(1)}%`;
  process.stdout.write(`profile ${file}: ${(s.totalMs / 1000).toFixed(1)} s sampled\n\n| area | self ms | share |\n|---|---|---|\n`);
  for (const [a, ms] of s.areas.slice(0, top)) process.stdout.write(`| ${a} | ${Math.round(ms)} | ${pct(ms)} |\n`);
  process.stdout.write(`\n| function | self ms | share |\n|---|---|---|\n`);
  for (const [f, ms] of s.functions.slice(0, top)) process.stdout.write(`| \`${f}\` | ${Math.round(ms)} | ${pct(ms)} |\n`);
}
