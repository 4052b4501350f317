// Threads keep the bits: every kernel that runs in parts (PARALLEL_KERNELS) gives the same
// output bits on 2, 3 and 4 threads as on one, on both wasm builds, at odd sizes above the
// size where the pool cuts a call (so the parts and a tail are exercised, and the test checks
// that the call really was cut). A helper that fails its part fails the call with one error
// naming it; a closed pool leaves a core that still computes, on one thread, the same bits.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KERNELS, PARALLEL_KERNELS, loadCore, type Core, type KernelName } from '@retort/core-wasm';
import { TestRand } from '../reference/prng.js';

/** Scalars of one call per kernel; buffers come from the descriptor's extents, filled at random. */
const CASES: Partial<Record<KernelName, Array<Record<string, number>>>> = {
  sgemm: [
    { transA: 0, transB: 0, M: 128, N: 800, K: 784, alpha: 1, lda: 784, ldb: 800, beta: 0, ldc: 800 },
    { transA: 1, transB: 0, M: 784, N: 800, K: 128, alpha: 1, lda: 784, ldb: 800, beta: 1, ldc: 800 },
    { transA: 0, transB: 1, M: 128, N: 784, K: 800, alpha: 0.5, lda: 800, ldb: 800, beta: 1, ldc: 784 },
    { transA: 1, transB: 1, M: 9, N: 1003, K: 301, alpha: 1, lda: 9, ldb: 301, beta: 0, ldc: 1003 }, // columns
    { transA: 0, transB: 0, M: 67, N: 133, K: 129, alpha: -1.5, lda: 131, ldb: 135, beta: 0.25, ldc: 137 }, // strides
  ],
  fill: [{ n: 100_003, value: 0.75 }],
  scale: [{ n: 100_003, alpha: -1.25 }],
  axpy: [{ n: 100_003, alpha: 0.3 }],
  normalizeU8: [{ n: 100_003, mean: 0.1307, std: 0.3081 }],
  reluForward: [{ n: 100_003 }],
  reluBackward: [{ n: 100_003 }],
  dropoutForward: [{ n: 100_003 }],
  dropoutBackward: [{ n: 100_003 }],
  geluForward: [{ n: 100_003 }],
  geluBackward: [{ n: 100_003 }],
  addForward: [{ n: 100_003 }],
  sgdStep: [{ n: 100_003, lr: 0.05, momentum: 0.9, weightDecay: 1e-4, nesterov: 1 }],
  adamwStep: [{ n: 100_003, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 3 }],
  biasAdd: [{ rows: 517, cols: 131 }],
  argmaxRows: [{ rows: 517, cols: 131 }],
  softmaxRows: [{ rows: 517, cols: 131, T: 4 }],
  logSoftmaxRows: [{ rows: 517, cols: 131, T: 0.5 }],
  softmaxBackward: [{ rows: 517, cols: 131, T: 2 }],
  layerNormForward: [{ rows: 517, D: 131, eps: 1e-5 }],
  embeddingForward: [{ rows: 1031, D: 67, V: 300 }],
};

/** Allocates and fills a call's buffers in `core` (same contents for the same seed); returns its args and outputs. */
function setUp(core: Core, name: KernelName, scalars: Record<string, number>, seed: number): { args: number[]; buffers: Array<{ ptr: number; bytes: number }> } {
  const rand = new TestRand(seed);
  const d = KERNELS[name];
  const buffers: Array<{ ptr: number; bytes: number }> = [];
  const args = d.args.map((a) => {
    if (a.kind !== 'buffer') {
      const v = scalars[a.name];
      if (v === undefined) throw new Error(`case for ${name} lacks ${a.name}`);
      return v;
    }
    const elems = a.extent(scalars);
    const t = core.allocOf(a.dtype, elems);
    const view = core.views.of(a.dtype).subarray(t.ptr / (a.dtype === 'u8' || a.dtype === 'i8' ? 1 : 4), t.ptr / (a.dtype === 'u8' || a.dtype === 'i8' ? 1 : 4) + elems);
    for (let i = 0; i < elems; i++) {
      if (a.name === 'ids') view[i] = i % 17 === 0 ? -1 : rand.int(scalars.V!);
      else if (a.name === 'saveRstd' || a.name === 'v' || a.name === 'mask') view[i] = rand.uniform(0, 2); // non-negative state
      else if (a.dtype === 'u8') view[i] = rand.int(256);
      else if (a.dtype === 'f32') view[i] = rand.normal() * 3;
      else view[i] = rand.int(1000);
    }
    buffers.push({ ptr: t.ptr, bytes: t.byteLength });
    return t.ptr;
  });
  return { args, buffers };
}

const bytesOf = (core: Core, bufs: Array<{ ptr: number; bytes: number }>): Uint8Array[] =>
  bufs.map((b) => core.views.u8.slice(b.ptr, b.ptr + b.bytes));

describe.each(['simd', 'scalar'] as const)('threads keep the bits [%s]', (backend) => {
  const cores = new Map<number, Core>();
  beforeAll(async () => {
    for (const t of [1, 2, 3, 4]) cores.set(t, await loadCore({ backend, threads: t }));
  });
  afterAll(() => { for (const c of cores.values()) c.close(); });

  it('every cut kernel has a case here', () => {
    expect(PARALLEL_KERNELS.filter((k) => !CASES[k])).toEqual([]);
  });

  it.each(PARALLEL_KERNELS.flatMap((k) => (CASES[k] ?? []).map((c, i) => [k, i, c] as const)))('%s case %i', (name, i, scalars) => {
    const one = cores.get(1)!;
    const ref = setUp(one, name, scalars, 1000 + i);
    (one.kernels[name] as unknown as (...a: number[]) => void)(...ref.args);
    const want = bytesOf(one, ref.buffers);
    for (const t of [2, 3, 4]) {
      const core = cores.get(t)!;
      const before = core.parallelCalls;
      const run = setUp(core, name, scalars, 1000 + i);
      (core.kernels[name] as unknown as (...a: number[]) => void)(...run.args);
      expect(core.parallelCalls, `${name} was cut on ${t} threads`).toBe(before + 1);
      const got = bytesOf(core, run.buffers);
      got.forEach((g, b) => expect(Buffer.compare(Buffer.from(g), Buffer.from(want[b]!)), `${name} buffer ${b}, ${t} threads`).toBe(0));
    }
  });

  it('a small call stays on the calling thread', () => {
    const core = cores.get(2)!;
    const before = core.parallelCalls;
    const a = core.alloc(16 * 16);
    core.kernels.sgemm(0, 0, 16, 16, 16, 1, a.ptr, 16, a.ptr, 16, 0, core.alloc(256).ptr, 16);
    core.kernels.reluForward(a.ptr, a.ptr, 256);
    expect(core.parallelCalls).toBe(before);
  });
});

describe('thread pool failures and close', () => {
  it('a helper that fails its part fails the call with one error naming the thread and kernel', async () => {
    const core = await loadCore({ backend: 'simd', threads: 2, failHelperOnJob: 1 });
    const n = 100_003, x = core.alloc(n);
    expect(() => core.kernels.fill(x.ptr, n, 1)).toThrow(/helper thread 1: fill: injected failure/);
    expect(core.threads).toBe(1); // the pool closed itself: the core goes on alone
    core.kernels.fill(x.ptr, n, 2);
    expect(x.toArray().every((v) => v === 2)).toBe(true);
    core.close();
  });

  it('close() stops the helpers; the core keeps computing the same bits on one thread', async () => {
    const core = await loadCore({ backend: 'scalar', threads: 3 });
    expect(core.threads).toBe(3);
    const one = await loadCore({ backend: 'scalar' });
    const run = (c: Core): Uint8Array => {
      const s = CASES.sgemm![0]!;
      const r = setUp(c, 'sgemm', s, 7);
      (c.kernels.sgemm as unknown as (...a: number[]) => void)(...r.args);
      return bytesOf(c, r.buffers)[2]!;
    };
    const before = run(core);
    core.close();
    core.close(); // idempotent
    expect(core.threads).toBe(1);
    const calls = core.parallelCalls;
    const after = run(core);
    expect(core.parallelCalls).toBe(calls);
    expect(Buffer.compare(Buffer.from(after), Buffer.from(before))).toBe(0);
    expect(Buffer.compare(Buffer.from(run(one)), Buffer.from(before))).toBe(0);
  });

  it('the js backend runs on one thread whatever is asked; bad thread counts are refused', async () => {
    expect((await loadCore({ backend: 'js', threads: 4 })).threads).toBe(1);
    await expect(loadCore({ backend: 'simd', threads: 0 })).rejects.toThrow(/threads must be an integer from 1 to 256, got 0/);
    await expect(loadCore({ backend: 'simd', threads: 1.5 })).rejects.toThrow(/threads must be an integer/);
  });
});
