// Threads against one thread, side by side in one run: sgemm at the student's shapes, teacher
// soft-label caching (a teacher's forward pass over a large batch, as `retort distill` caches
// it), and the MLP / CNN / Transformer training steps. The same bits on every count
// (packages/core-wasm/src/threads/parallel.ts) is what makes the comparison one of speed only.
//
// The steps are timed here as training runs them, back to back: interleaved rounds of
// consecutive steps on one core count, then the next (runThreadsStep). The step tables
// (./step.ts, ./cnn-step.ts) time one step per sample, round-robin over every contender, so
// each threaded step there starts after another contender's 100-300 ms step: helpers asleep
// and both cores' caches holding the other contender's data, which never happens between two
// steps of one run. Both speed-ups are reported (`speedup`, and `roundRobinSpeedup` from the
// step tables); the targets read the back-to-back one.
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
  /** Steps: the speed-up from the step table's round-robin medians (see the header), per t > 1. */
  roundRobinSpeedup?: Record<string, number>;
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

/** One training step made ready on a core (a step benchmark contender's prepared step). */
export interface PreparedThreadStep { step(): unknown; dispose(): void }

/**
 * Times training steps back to back on every core (one per thread count, the first with one
 * thread): `prepare` makes the same step ready on each, from the same initial parameters; the
 * rounds interleave the cores, and each round runs consecutive steps for about `roundMs`.
 * `msOf` gives the step table's round-robin medians per contender ('simd', 'simd-Nt',
 * 'tfjs-wasm'), for the round-robin speed-up and the ratio to tfjs-backend-wasm (both sides of
 * that ratio from the same table).
 */
export function runThreadsStep(what: string, cores: readonly Core[], prepare: (core: Core) => PreparedThreadStep,
  msOf: (contender: string) => number | undefined, o: { quick: boolean }): ThreadRow {
  const counts = cores.map((c) => c.threads);
  const steps = cores.map(prepare);
  try {
    const ms = interleavedMedians(steps.map((s) => () => { s.step(); }), o.quick ? 3 : 7, o.quick ? 20 : 400);
    const out = row(what, counts, ms);
    const table = counts.map((t) => msOf(t === 1 ? 'simd' : `simd-${t}t`));
    if (table.every((v) => v !== undefined && Number.isFinite(v))) {
      out.roundRobinSpeedup = {};
      counts.forEach((t, i) => { if (t > 1) out.roundRobinSpeedup![t] = table[0]! / table[i]!; });
      const tfjs = msOf('tfjs-wasm');
      if (tfjs !== undefined && Number.isFinite(tfjs)) {
        out.vsTfjsWasm = {};
        counts.forEach((t, i) => { out.vsTfjsWasm![t] = tfjs / table[i]!; });
      }
    }
    return out;
  } finally {
    for (const s of steps) s.dispose();
  }
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
  const out = [`Threads (same bits on every count; one run, interleaved medians; steps back to back as in training), counts ${r.counts.join(', ')}:`];
  for (const x of r.rows) {
    const ms = r.counts.map((t) => `${t}t ${x.ms[t]!.toFixed(3)} ms`).join(', ');
    const sp = r.counts.filter((t) => t > 1).map((t) => `${t}t ${x.speedup[t]!.toFixed(2)}x`).join(', ');
    const rr = x.roundRobinSpeedup ? ` (round-robin table: ${r.counts.filter((t) => t > 1).map((t) => `${t}t ${x.roundRobinSpeedup![t]!.toFixed(2)}x`).join(', ')})` : '';
    const tf = x.vsTfjsWasm ? `; vs tfjs-wasm (1 thread, both from the step table): ${r.counts.map((t) => `${t}t ${x.vsTfjsWasm![t]!.toFixed(1)}x`).join(', ')}` : '';
    out.push(`  ${x.what}: ${ms}; speed-up ${sp}${rr}${tf}`);
  }
  out.push(`  tfjs: ${r.tfjsThreads}`);
  out.push('', 'Targets (threads):');
  for (const t of r.targets) out.push(`  [${t.status}] ${t.name}: ${t.measured} (${t.requirement})`);
  return out.join('\n');
}
