// Latency and throughput of a model's forward pass, as the deployment report (Node) and the
// web lab (a worker) measure them: the call is repeated until at least `minSeconds` have
// passed (after one warm-up call), and the median of 5 such rounds is taken. `between` runs
// between rounds (a worker lets its messages through there).
import type { Core } from '@retort/core-wasm';
import type { Model } from '../model/model.js';

export async function medianSeconds(fn: () => void, minSeconds: number, between?: () => Promise<void>): Promise<number> {
  fn();
  const rounds: number[] = [];
  for (let r = 0; r < 5; r++) {
    let calls = 0;
    const t0 = performance.now();
    let t = t0;
    do { fn(); calls++; t = performance.now(); } while (t - t0 < minSeconds * 1000);
    rounds.push((t - t0) / 1000 / calls);
    if (between) await between();
  }
  rounds.sort((a, b) => a - b);
  return rounds[2]!;
}

/** f32 latency (batch 1) and throughput (batch `rows`) of a model's eval forward on resident inputs x (rows × inputs). */
export async function timeMlpForward(core: Core, m: Model, x: Float32Array, rows: number, minSeconds: number,
                                     between?: () => Promise<void>): Promise<{ latencyMs: number; throughput: number }> {
  const tx = core.fromArray(x);
  const previous = m.batchSize;
  try {
    m.plan(1);
    // latency at batch 1 on one thread (a device answering one request); throughput on all
    const latency = await core.oneThread(() => medianSeconds(() => m.forward(tx, 1, 'eval'), minSeconds, between));
    m.plan(rows);
    const perBatch = await medianSeconds(() => m.forward(tx, rows, 'eval'), minSeconds, between);
    return { latencyMs: 1000 * latency, throughput: rows / perBatch };
  } finally {
    core.free(tx);
    if (previous > 0) m.plan(previous);
  }
}
