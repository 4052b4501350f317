// Threads keep the bits: every kernel that runs in parts (PARALLEL_KERNELS) gives the same
// output bits on 2, 3 and 4 threads as on one, on both wasm builds, at odd sizes above the
// size where the pool cuts a call (so the parts and a tail are exercised, and the test checks
// that the call really was cut). A helper that fails its part fails the call with one error
// naming it; a closed pool leaves a core that still computes, on one thread, the same bits.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KERNELS, PARALLEL_KERNELS, PARTS_PER_THREAD, controlBytes, encodeGeometry, loadCore, ownParts, partCount, startParts, takePart, type ConvGeometry, type Core, type KernelName } from '@retort/core-wasm';
import { TestRand } from '../reference/prng.js';
import './helpers.js'; // enables relaxed SIMD under Node 20

/** A convolution geometry (square kernel K, stride S, padding P each side) as case scalars. */
function conv(B: number, H: number, C: number, OC: number, K: number, S: number, P: number, G = 1): Record<string, number> {
  const O = Math.floor((H + 2 * P - K) / S) + 1;
  return { B, H, W: H, C, OH: O, OW: O, OC, KH: K, KW: K, SH: S, SW: S, PT: P, PL: P, G, workElems: 0 };
}
// the paths of assembly/kernels/conv.ts: the gather engine (3x3 same), LeNet's narrow layers
// (one input channel), pointwise GEMMs, depthwise loops, strided and valid layers (scatter,
// stride phases), a fringe of input channels (C = 5) and odd channel counts; odd batches
const GENERAL = conv(19, 13, 8, 16, 3, 1, 1), NARROW = conv(41, 28, 1, 6, 5, 1, 0), POINTWISE = conv(97, 9, 16, 24, 1, 1, 0);
const DEPTHWISE = conv(203, 17, 8, 16, 3, 2, 1, 8), STRIDED = conv(37, 15, 8, 16, 3, 2, 1), VALID = conv(23, 14, 6, 16, 3, 1, 0);
const FRINGE = conv(75, 12, 5, 21, 3, 2, 1), NARROW2 = conv(17, 12, 6, 16, 5, 1, 0), FEW = conv(37, 13, 8, 6, 3, 1, 1);
const POOL = { ...conv(37, 24, 16, 16, 2, 2, 0) }, POOL3 = { ...conv(29, 23, 12, 12, 3, 2, 1) };

/** Scalars of one call per kernel; buffers come from the descriptor's extents, filled at random. */
const CASES: Partial<Record<KernelName, Array<Record<string, number>>>> = {
  sgemm: [
    { transA: 0, transB: 0, M: 128, N: 800, K: 784, alpha: 1, lda: 784, ldb: 800, beta: 0, ldc: 800 },
    { transA: 1, transB: 0, M: 784, N: 800, K: 128, alpha: 1, lda: 784, ldb: 800, beta: 1, ldc: 800 },
    { transA: 0, transB: 1, M: 128, N: 784, K: 800, alpha: 0.5, lda: 800, ldb: 800, beta: 1, ldc: 784 },
    { transA: 1, transB: 1, M: 9, N: 1003, K: 301, alpha: 1, lda: 9, ldb: 301, beta: 0, ldc: 1003 }, // columns
    { transA: 0, transB: 0, M: 67, N: 133, K: 259, alpha: -1.5, lda: 261, ldb: 135, beta: 0.25, ldc: 137 }, // strides
  ],
  fill: [{ n: 300_007, value: 0.75 }],
  scale: [{ n: 300_007, alpha: -1.25 }],
  axpy: [{ n: 300_007, alpha: 0.3 }],
  normalizeU8: [{ n: 300_007, mean: 0.1307, std: 0.3081 }],
  reluForward: [{ n: 300_007 }],
  reluBackward: [{ n: 300_007 }],
  dropoutForward: [{ n: 300_007 }],
  dropoutBackward: [{ n: 300_007 }],
  geluForward: [{ n: 300_007 }],
  geluBackward: [{ n: 300_007 }],
  addForward: [{ n: 300_007 }],
  sgdStep: [{ n: 300_007, lr: 0.05, momentum: 0.9, weightDecay: 1e-4, nesterov: 1 }],
  adamwStep: [{ n: 300_007, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 3 }],
  biasAdd: [{ rows: 1117, cols: 131 }],
  argmaxRows: [{ rows: 1117, cols: 131 }],
  softmaxRows: [{ rows: 1117, cols: 131, T: 4 }],
  logSoftmaxRows: [{ rows: 1117, cols: 131, T: 0.5 }],
  softmaxBackward: [{ rows: 1117, cols: 131, T: 2 }],
  layerNormForward: [{ rows: 1117, D: 131, eps: 1e-5 }],
  embeddingForward: [{ rows: 2111, D: 67, V: 300 }],
  conv2dForward: [GENERAL, NARROW, POINTWISE, DEPTHWISE, STRIDED, VALID, FRINGE, NARROW2],
  conv2dBackwardData: [GENERAL, NARROW, POINTWISE, DEPTHWISE, STRIDED, VALID, FRINGE, NARROW2],
  // a depthwise layer's filter gradient is not cut (parallel.ts)
  conv2dBackwardFilter: [GENERAL, NARROW, POINTWISE, STRIDED, VALID, FRINGE, NARROW2, FEW, conv(247, 9, 16, 7, 1, 1, 0)],
  maxPool2dForward: [POOL, POOL3],
  maxPool2dBackward: [POOL, POOL3],
  avgPool2dForward: [POOL, POOL3],
  avgPool2dBackward: [POOL, POOL3],
  globalAvgPoolForward: [{ B: 53, HW: 49, C: 64 }],
  globalAvgPoolBackward: [{ B: 53, HW: 49, C: 64 }],
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
    const t = core.allocOf(a.dtype, Math.max(1, elems));
    if (a.name === 'geom') {
      core.views.i32.set(encodeGeometry(scalars as unknown as ConvGeometry), t.ptr >>> 2);
      return t.ptr; // read, not written: not compared
    }
    const view = core.views.of(a.dtype).subarray(t.ptr / (a.dtype === 'u8' || a.dtype === 'i8' ? 1 : 4), t.ptr / (a.dtype === 'u8' || a.dtype === 'i8' ? 1 : 4) + elems);
    for (let i = 0; i < elems; i++) {
      if (a.name === 'ids') view[i] = i % 17 === 0 ? -1 : rand.int(scalars.V!);
      else if (a.name === 'argmax') view[i] = rand.int(scalars.H! * scalars.W!); // a position in the image
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

describe.each(['simd', 'scalar', 'relaxed'] as const)('threads keep the bits [%s]', (backend) => {
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

  it('core.oneThread keeps every call on the calling thread (sync and async), with the same bits, and then cuts again', async () => {
    const core = cores.get(2)!;
    const scalars = CASES.sgemm![0]!;
    const ref = setUp(cores.get(1)!, 'sgemm', scalars, 77);
    (cores.get(1)!.kernels.sgemm as unknown as (...a: number[]) => void)(...ref.args);
    const want = bytesOf(cores.get(1)!, ref.buffers);
    const run = setUp(core, 'sgemm', scalars, 77);
    const call = () => (core.kernels.sgemm as unknown as (...a: number[]) => void)(...run.args);
    const before = core.parallelCalls;
    core.oneThread(call);
    await core.oneThread(async () => { await Promise.resolve(); call(); });
    expect(core.parallelCalls).toBe(before);
    expect(() => core.oneThread(() => { throw new Error('inside'); })).toThrow('inside');
    call();
    expect(core.parallelCalls).toBe(before + 1); // the pool is back after each, even after a throw
    // the first call (beta 0) overwrote C: its bits are the one-thread ones
    const got = bytesOf(core, run.buffers);
    got.forEach((g, b) => expect(Buffer.compare(Buffer.from(g), Buffer.from(want[b]!)), `buffer ${b}`).toBe(0));
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

describe('how the threads share a call\'s parts', () => {
  it('every thread owns an equal run of consecutive parts; part counts are multiples of the threads', () => {
    for (const size of [2, 3, 4, 7]) {
      for (let parts = 1; parts <= size * PARTS_PER_THREAD; parts++) {
        const runs = Array.from({ length: size }, (_, t) => ownParts(t, parts, size));
        expect(runs[0]![0]).toBe(0);
        expect(runs[size - 1]![1]).toBe(parts);
        runs.forEach(([s, e], t) => {
          if (t > 0) expect(s).toBe(runs[t - 1]![1]);
          expect(e - s).toBeGreaterThanOrEqual(Math.floor(parts / size));
          expect(e - s).toBeLessThanOrEqual(Math.ceil(parts / size));
        });
      }
      const budget = { threads: size, maxParts: size * PARTS_PER_THREAD };
      for (const work of [0, 1, 1e5, 1e6, 1e7, 1e9]) {
        const p = partCount(work, 1e6, budget);
        expect(p % size).toBe(0);
        expect(p).toBeGreaterThanOrEqual(size);
        expect(p).toBeLessThanOrEqual(size * PARTS_PER_THREAD);
      }
    }
  });

  it('a thread takes its own parts in order, then the parts the others have not started, each part once', () => {
    // the control block's counters, driven by hand: thread 1 is slow and takes one part only
    const size = 3, parts = 12;
    const ctl = new Int32Array(controlBytes(size) / 4);
    startParts(ctl, parts, size);
    const taken: number[][] = [[], [], []];
    taken[1]!.push(takePart(ctl, 1, parts, size));
    for (let i = takePart(ctl, 0, parts, size); i >= 0; i = takePart(ctl, 0, parts, size)) {
      taken[0]!.push(i);
      if (taken[0]!.length === 6) for (let j = 0; j < 4; j++) taken[2]!.push(takePart(ctl, 2, parts, size));
    }
    expect(taken[1]).toEqual([4]);
    expect(taken[2]).toEqual([8, 9, 10, 11]); // its own run
    expect(taken[0]).toEqual([0, 1, 2, 3, 5, 6, 7]); // its own, then thread 1's unstarted parts
    expect(takePart(ctl, 1, parts, size)).toBe(-1);
    expect(takePart(ctl, 2, parts, size)).toBe(-1);
  });

  it('a slow helper: the calling thread takes its parts, and the bits are those of one thread', async () => {
    const one = await loadCore({ backend: 'simd' });
    const slow = await loadCore({ backend: 'simd', threads: 2, slowHelperMs: 40 });
    const scalars = CASES.sgemm![0]!;
    const ref = setUp(one, 'sgemm', scalars, 5);
    (one.kernels.sgemm as unknown as (...a: number[]) => void)(...ref.args);
    const run = setUp(slow, 'sgemm', scalars, 5);
    const [mine0, its0] = slow.partsRun() as [number, number];
    (slow.kernels.sgemm as unknown as (...a: number[]) => void)(...run.args);
    const [mine, its] = slow.partsRun() as [number, number];
    expect(slow.parallelCalls).toBe(1);
    // (128, 784, 800) is cut into several parts per thread; the helper sleeps through all of them
    expect(mine - mine0).toBeGreaterThan(2);
    expect(its - its0).toBe(0);
    const got = bytesOf(slow, run.buffers), want = bytesOf(one, ref.buffers);
    got.forEach((g, b) => expect(Buffer.compare(Buffer.from(g), Buffer.from(want[b]!)), `buffer ${b}`).toBe(0));
    slow.close();
  });
});

describe('thread pool failures and close', () => {
  it('a helper that fails its part fails the call with one error naming the thread and kernel', async () => {
    const core = await loadCore({ backend: 'simd', threads: 2, failHelperOnJob: 1 });
    const n = 300_007, x = core.alloc(n);
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
