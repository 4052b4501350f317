// Threads against one thread, side by side in one run: sgemm at the student's shapes, teacher
// soft-label caching (a teacher's forward pass over a large batch, as `retort distill` caches
// it), and the MLP / CNN / Transformer steps the step benchmark timed with the threaded simd
// contenders beside the one-thread ones (./cli.ts adds them). The same bits on every count
// (packages/core-wasm/src/threads/parallel.ts) is what makes the comparison one of speed only.
import type { Core } from '@retort/core-wasm';
import type { TargetResult } from '@retort/core-wasm/bench';
import { createModel } from '../model/index.js';

export interface ThreadRow {
  /** What was timed. */
  what: string;
  /** Milliseconds per call on 1, 2, ... threads (keys: thread counts). */
  ms: Record<string, number>;
  /** ms on one thread / ms on t threads, per t > 1. */
  speedup: Record<string, number>;
  /** ms of tfjs-backend-wasm (one thread) / ms of ours on t threads, where measured. */
  vsTfjsWasm?: Record<string, number>;
}

export interface ThreadsBenchResult {
  schema: 'retort-threads-bench/1';
  counts: number[];
  rows: ThreadRow[];
  targets: TargetResult[];
  /** Why tfjs-backend-wasm appears with one thread only. */
  tfjsThreads: string;
}

/** Medians of interleaved rounds: each round calls every function in turn for about `roundMs`. */
export function interleavedMedians(fns: ReadonlyArray<() => void>, rounds: number, roundMs: number): number[] {
  for (const f of fns) f(); // warm
  const times: number[][] = fns.map(() => []);
  for (let r = 0; r < rounds; r++) {
    fns.forEach((f, i) => {
      let calls = 0;
      const t0 = performance.now();
      let t = t0;
      do { f(); calls++; t = performance.now(); } while (t - t0 < roundMs);
      times[i]!.push((t - t0) / calls);
    });
  }
  return times.map((ts) => ts.sort((a, b) => a - b)[ts.length >> 1]!);
}

function row(what: string, counts: readonly number[], ms: readonly number[], tfjs?: number): ThreadRow {
  const out: ThreadRow = { what, ms: {}, speedup: {} };
  counts.forEach((t, i) => { out.ms[t] = ms[i]!; if (t > 1) out.speedup[t] = ms[0]! / ms[i]!; });
  if (tfjs !== undefined) {
    out.vsTfjsWasm = {};
    counts.forEach((t, i) => { out.vsTfjsWasm![t] = tfjs / ms[i]!; });
  }
  return out;
}

/**
 * Times sgemm (NN, TN, NT at (128, 784, 800)) and a teacher's forward pass over `cacheRows`
 * rows on `cores` (one per thread count, the first with one thread), interleaved.
 */
export function runThreadsKernels(cores: readonly Core[], o: { quick: boolean }): ThreadRow[] {
  const counts = cores.map((c) => c.threads);
  const rounds = o.quick ? 3 : 7, roundMs = o.quick ? 20 : 150;
  const rows: ThreadRow[] = [];
  const [M, K, N] = o.quick ? [64, 196, 200] : [128, 784, 800];
  for (const [tA, tB, label] of [[0, 0, 'NN'], [1, 0, 'TN'], [0, 1, 'NT']] as const) {
    // C (m x n) = op(A) op(B) with the shapes of the student's layers: X W, Xᵀ dY, dY Wᵀ
    const [m, n, k] = label === 'NN' ? [M, N, K] : label === 'TN' ? [K, N, M] : [M, K, N];
    const fns = cores.map((core) => {
      const a = core.alloc(m * k), b = core.alloc(k * n), c = core.alloc(m * n);
      core.kernels.fill(a.ptr, m * k, 0.5);
      core.kernels.fill(b.ptr, k * n, 0.25);
      const lda = tA ? m : k, ldb = tB ? k : n;
      return () => core.kernels.sgemm(tA, tB, m, n, k, 1, a.ptr, lda, b.ptr, ldb, 0, c.ptr, n);
    });
    rows.push(row(`sgemm ${label} (${m}, ${k}, ${n})`, counts, interleavedMedians(fns, rounds, roundMs)));
  }
  const teacher = o.quick ? 'mlp:784-256-256-10' : 'mlp:784-1200-1200-10';
  const cacheRows = o.quick ? 256 : 2048;
  const fns = cores.map((core) => {
    const model = createModel(core, teacher);
    const x = core.alloc(cacheRows * 784);
    core.kernels.fill(x.ptr, cacheRows * 784, 0.1);
    model.plan(cacheRows);
    return () => { model.forward(x, cacheRows, 'eval'); };
  });
  rows.push(row(`teacher caching: ${teacher} forward, ${cacheRows} rows`, counts, interleavedMedians(fns, rounds, roundMs)));
  return rows;
}

/** A row from a step benchmark's entries: contender 'simd' and 'simd-Nt'. */
export function stepRow(what: string, counts: readonly number[], msOf: (contender: string) => number | undefined): ThreadRow | null {
  const ms = counts.map((t) => msOf(t === 1 ? 'simd' : `simd-${t}t`));
  if (ms.some((v) => v === undefined || !Number.isFinite(v))) return null;
  return row(what, counts, ms as number[], msOf('tfjs-wasm'));
}

export function threadsTargets(rows: readonly ThreadRow[]): TargetResult[] {
  const find = (prefix: string) => rows.find((r) => r.what.startsWith(prefix));
  const mlp = find('MLP step'), cnn = find('CNN step');
  const sp = (r: ThreadRow | undefined) => r?.speedup['2'];
  const target = (name: string, requirement: string, v: number | undefined, min: number): TargetResult => (v === undefined
    ? { name, requirement, measured: 'not measured', status: 'not measured' }
    : { name, requirement, measured: `${v.toFixed(2)}x`, status: v >= min ? 'pass' : 'fail' });
  return [
    target('MLP step, 2 threads vs 1', '>= 1.8x', sp(mlp), 1.8),
    target('CNN step, 2 threads vs 1', '>= 1.8x', sp(cnn), 1.8),
    target('MLP step, 2 threads vs tfjs-backend-wasm', '>= 8x (tfjs on one thread: its threaded build does not start in Node)', mlp?.vsTfjsWasm?.['2'], 8),
  ];
}

export function formatThreadsReport(r: ThreadsBenchResult): string {
  const out = [`Threads (same bits on every count; one run, interleaved medians), counts ${r.counts.join(', ')}:`];
  for (const x of r.rows) {
    const ms = r.counts.map((t) => `${t}t ${x.ms[t]!.toFixed(3)} ms`).join(', ');
    const sp = r.counts.filter((t) => t > 1).map((t) => `${t}t ${x.speedup[t]!.toFixed(2)}x`).join(', ');
    const tf = x.vsTfjsWasm ? `; vs tfjs-wasm (1 thread): ${r.counts.map((t) => `${t}t ${x.vsTfjsWasm![t]!.toFixed(1)}x`).join(', ')}` : '';
    out.push(`  ${x.what}: ${ms}; speed-up ${sp}${tf}`);
  }
  out.push(`  tfjs: ${r.tfjsThreads}`);
  out.push('', 'Targets (threads):');
  for (const t of r.targets) out.push(`  [${t.status}] ${t.name}: ${t.measured} (${t.requirement})`);
  return out.join('\n');
}
