// Interleaved timing of several contenders on one case, in one thread.
//
// Why interleaved: CPU frequency, thermal state, GC pressure and the neighbours on a
// shared machine drift over seconds. Timing contender A for ten seconds and then B
// for ten seconds bakes that drift into the ratio A/B. Here every repetition visits
// every contender once (round-robin, the starting contender rotating so that no one
// always runs right after the same neighbour), so drift hits all of them alike, and
// the median of the samples discards the outliers (GC, preemption).
//
// A sample times `callsPerSample` back-to-back calls, chosen so that one sample lasts
// about `sampleMs`: the timer's resolution (5 µs to 100 µs in browsers) and the cost
// of reading it stay negligible for microsecond kernels. Slow contenders get fewer
// samples (never fewer than minReps) so that the suite's wall time stays bounded.

import type { Stat, TimingOptions } from './types.js';

export interface Timed {
  activate?(): void | Promise<void>;
  run(): void;
}

const MAX_CALLS_PER_SAMPLE = 1 << 20;

/** Per-call statistics for each of `items`, in order. */
export async function measureInterleaved(items: readonly Timed[], opts: TimingOptions,
                                         now: () => number): Promise<Stat[]> {
  const n = items.length;
  // Warm-up, round-robin: JIT tiers, caches, tfjs's first-call kernel setup.
  const warmCalls = new Array<number>(n).fill(0);
  const warmTime = new Array<number>(n).fill(0);
  for (let busy = true; busy;) {
    busy = false;
    for (let i = 0; i < n; i++) {
      const it = items[i]!;
      const done = warmCalls[i]! >= opts.maxWarmupCalls
        || (warmCalls[i]! >= opts.warmupCalls && warmTime[i]! >= opts.warmupMs);
      if (done) continue;
      busy = true;
      await it.activate?.();
      const t0 = now();
      it.run();
      warmTime[i]! += now() - t0;
      warmCalls[i]! += 1;
    }
  }

  // Calibration: one timed call each (after warm-up), which also estimates the cost of a sample.
  const calls = new Array<number>(n);
  const reps = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const it = items[i]!;
    await it.activate?.();
    let k = 1;
    let t = 0;
    // Small kernels: grow the batch until it is long enough to estimate reliably.
    for (;;) {
      const t0 = now();
      for (let j = 0; j < k; j++) it.run();
      t = (now() - t0) / k;
      if (k * t >= Math.min(opts.sampleMs, 1) || k >= MAX_CALLS_PER_SAMPLE) break;
      k *= 4;
    }
    const perCall = Math.max(t, 1e-6);
    calls[i] = Math.min(MAX_CALLS_PER_SAMPLE, Math.max(1, Math.round(opts.sampleMs / perCall)));
    const perSample = perCall * calls[i]!;
    reps[i] = Math.max(opts.minReps, Math.min(opts.maxReps, Math.floor(opts.budgetMs / perSample)));
  }

  const samples: number[][] = items.map(() => []);
  const maxReps = Math.max(...reps);
  for (let r = 0; r < maxReps; r++) {
    for (let s = 0; s < n; s++) {
      const i = (r + s) % n;
      if (r >= reps[i]!) continue;
      const it = items[i]!;
      const k = calls[i]!;
      await it.activate?.();
      const t0 = now();
      for (let j = 0; j < k; j++) it.run();
      samples[i]!.push((now() - t0) / k);
    }
  }
  return samples.map((s, i) => summarize(s, calls[i]!));
}

export function summarize(samples: readonly number[], callsPerSample: number): Stat {
  const sorted = [...samples].sort((x, y) => x - y);
  const m = sorted.length;
  const median = m === 0 ? NaN
    : m % 2 === 1 ? sorted[(m - 1) / 2]! : (sorted[m / 2 - 1]! + sorted[m / 2]!) / 2;
  return {
    medianMs: median,
    minMs: sorted[0] ?? NaN,
    maxMs: sorted[m - 1] ?? NaN,
    samples: m,
    callsPerSample,
  };
}

export const TIMING_PRESETS: Record<'quick' | 'full', TimingOptions> = {
  quick: { warmupCalls: 1, warmupMs: 0, maxWarmupCalls: 2, sampleMs: 0.5, maxReps: 3, minReps: 3, budgetMs: 5 },
  full: { warmupCalls: 2, warmupMs: 150, maxWarmupCalls: 200, sampleMs: 10, maxReps: 31, minReps: 5, budgetMs: 2000 },
};
