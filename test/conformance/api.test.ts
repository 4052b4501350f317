// The validation boundary of the typed API (core.ts) on every backend: every bad argument
// is a RangeError naming it, before any kernel runs, so a wrong size never writes into a
// neighbour; freed tensors and stray raw offsets are refused; memory growth keeps old
// tensors and kernels right; the convenience forms match the reference and free their temporaries.
import { describe, expect, it } from 'vitest';
import { loadCore, type Core } from '@retort/core-wasm';
import { refKd, refKdGrad, refLogSoftmax, refSgemm, refSgemmAbsScale, refSoftmax } from '../reference/kernels.js';
import { TestRand } from '../reference/prng.js';
import { BACKENDS, TOL, expectClose, expectScalarClose, f32, i32, maxAbs, useCore } from './helpers.js';

const CANARY = -123.25;

function expectRangeError(fn: () => unknown, names: RegExp): void {
  let err: unknown;
  try { fn(); } catch (e) { err = e; }
  expect(err, `expected a RangeError matching ${names}`).toBeInstanceOf(RangeError);
  expect((err as Error).message).toMatch(names);
}

describe.each(BACKENDS)('api validation [%s]', (backend) => {
  const core = useCore(backend);

  it('a buffer shorter than its sizes is a RangeError naming it', () => {
    const c = core();
    const x = c.alloc(12), y = c.alloc(11), a = c.alloc(6), b = c.alloc(6), cc = c.alloc(4), lab = c.allocI32(3);
    expectRangeError(() => c.softmaxRows(y, x, 3, 4), /\by\b/);
    expectRangeError(() => c.logSoftmaxRows(x, y, 3, 4), /\bx\b/);
    expectRangeError(() => c.sgemm(false, false, 2, 2, 4, 1, a, b, 0, cc), /\bA\b/);
    expectRangeError(() => c.sgemm(false, false, 3, 2, 2, 1, a, b, 0, cc), /\bC\b/);
    expectRangeError(() => c.sgemm(false, false, 2, 2, 3, 1, a, b, 0, cc, { ldb: 4 }), /\bB\b/);
    expectRangeError(() => c.sgemm(false, false, 2, 2, 3, 1, a, b, 0, cc, { lda: 2 }), /lda/);
    expectRangeError(() => c.crossEntropy(y, x, lab, 3, 4), /gradient/);
    expectRangeError(() => c.crossEntropy(null, x, lab, 4, 3), /labels/);
    expectRangeError(() => c.klDivergence(null, x, y, 3, 4, 1), /\bv\b/);
    expectRangeError(() => c.mseLoss(null, y, x, 12), /\bp\b/);
    expectRangeError(() => c.biasAdd(x, a, 1, 7), /\bb\b/);
    expectRangeError(() => c.adamwStep(x, x, y, x, 12, { lr: 1, step: 1 }), /\bv\b/);
    expectRangeError(() => c.crossEntropy(null, x, c.alloc(3), 3, 4), /labels/); // f32 tensor where i32 labels go
  });

  it('negative, non-integer and NaN sizes are RangeErrors naming the size', () => {
    const c = core();
    const x = c.alloc(16), y = c.alloc(16);
    for (const bad of [-1, 2.5, NaN, Infinity]) {
      expectRangeError(() => c.softmaxRows(y, x, bad, 4), /rows/);
      expectRangeError(() => c.softmaxRows(y, x, 4, bad), /cols/);
      expectRangeError(() => c.sgemm(false, false, bad, 1, 1, 1, x, x, 0, y), /\bm\b/);
      expectRangeError(() => c.fill(x, bad, 0), /\bn\b/);
      expectRangeError(() => c.alloc(bad), /length/);
    }
  });

  it('temperature <= 0 or NaN, alpha outside [0, 1], and labels outside [0, classes) are refused', () => {
    const c = core();
    const z = c.alloc(6), v = c.alloc(6), lab = i32(c, [0, 2]);
    for (const T of [0, -1, NaN, Infinity]) {
      expectRangeError(() => c.softmaxRows(z, v, 2, 3, T), /temperature/);
      expectRangeError(() => c.klDivergence(null, z, v, 2, 3, T), /temperature/);
      expectRangeError(() => c.distillationLoss(null, z, v, lab, 2, 3, { temperature: T, alpha: 0.5 }), /temperature/);
    }
    for (const alpha of [-0.01, 1.01, NaN]) {
      expectRangeError(() => c.distillationLoss(null, z, v, lab, 2, 3, { temperature: 2, alpha }), /alpha/);
    }
    for (const bad of [[0, 3], [-1, 0], [2, 99]]) {
      expectRangeError(() => c.crossEntropy(null, z, i32(c, bad), 2, 3), /labels\[\d\]/);
      expectRangeError(() => c.distillationLoss(null, z, v, i32(c, bad), 2, 3, { temperature: 2, alpha: 0.5 }), /labels\[\d\]/);
    }
    expectRangeError(() => c.distillationLoss(null, z, v, null, 2, 3, { temperature: 2, alpha: 0.5 }), /labels/);
  });

  it('a freed tensor is refused, also after its address was handed out again', () => {
    const c = core();
    const t = c.fromArray([1, 2, 3, 4]), out = c.alloc(4);
    c.free(t);
    expectRangeError(() => c.softmaxRows(out, t, 1, 4), /freed/);
    expectRangeError(() => t.view(), /freed/);
    expectRangeError(() => c.free(t), /freed/);
    const reused = c.fromArray([5, 6, 7, 8]);
    expect(reused.ptr, 'first fit hands the same address out again').toBe(t.ptr);
    expectRangeError(() => c.softmaxRows(out, t, 1, 4), /freed/);
    c.softmaxRows(out, reused, 1, 4);
    expect(out.toArray()[3]).toBeGreaterThan(0.5);
  });

  it('a tensor of another core is refused (same offset and generation notwithstanding)', async () => {
    const other = await loadCore({ backend });
    const mine = core().fromArray([9, 9, 9, 9]);
    const foreign = other.fromArray([1, 2, 3, 4]);
    expectRangeError(() => core().fill(foreign, 4, 0), /another core/);
    expectRangeError(() => core().free(foreign), /another core/);
    expect(Array.from(mine.toArray())).toEqual([9, 9, 9, 9]);
    expect(Array.from(foreign.toArray())).toEqual([1, 2, 3, 4]);
  });

  it('raw offsets must lie inside one live allocation, aligned, with room for the sizes', () => {
    const c = core();
    const t = c.alloc(8), out = c.alloc(8);
    const gone = c.alloc(8); const gonePtr = gone.ptr; c.free(gone);
    expectRangeError(() => c.fill(t.ptr + 2, 1, 0), /\bx\b.*aligned/);
    expectRangeError(() => c.fill(t.ptr + 16, 8, 0), /\bx\b/);
    expectRangeError(() => c.fill(1 << 30, 1, 0), /not inside a live allocation/);
    expectRangeError(() => c.fill(-4, 1, 0), /\bx\b/);
    expectRangeError(() => c.fill(gonePtr, 1, 0), /not inside a live allocation/);
    expectRangeError(() => c.softmaxRows(out.ptr, t.ptr + 4, 1, 8), /\bx\b/);
    c.fill(t.ptr + 16, 4, 3);
    expect(Array.from(t.toArray())).toEqual([0, 0, 0, 0, 3, 3, 3, 3]);
  });

  it('an oversized op is refused before it runs: neighbouring tensors keep their canaries', () => {
    const c = core();
    const before = c.fromArray(new Float32Array(32).fill(CANARY));
    const x = c.fromArray(new TestRand(1).f32(12)), y = c.alloc(12), lab = i32(c, [0, 1, 2]);
    const after = c.fromArray(new Float32Array(32).fill(CANARY));
    const attempts: (() => unknown)[] = [
      () => c.softmaxRows(y, x, 4, 4), () => c.fill(y, 13, 1), () => c.fill(y.ptr, 20, 1),
      () => c.sgemm(false, false, 4, 4, 3, 1, x, x, 0, y), () => c.sgemm(false, false, 3, 4, 3, 1, x, x, 0, y, { ldc: 5 }),
      () => c.crossEntropy(y, c.alloc(16), lab, 3, 5), () => c.reluBackward(y, x, x, 16),
      () => c.adamwStep(y, y, y, x, 13, { lr: 1, step: 1 }), () => c.rngUniform(y, c.createRng(1), 13),
      () => c.dropoutMask(y, c.createRng(1), 14, 0.5), () => c.biasBackward(y, x, 1, 13),
    ];
    for (const attempt of attempts) {
      expect(attempt).toThrow(RangeError);
      for (const v of before.toArray()) expect(v).toBe(CANARY);
      for (const v of after.toArray()) expect(v).toBe(CANARY);
      for (const v of y.toArray()) expect(v).toBe(0);
    }
  });

  it('memory grows between ops: old tensors survive (fresh views) and kernels see new memory', async () => {
    const c = await loadCore({ backend, initialPages: 1 });
    const rand = new TestRand(3);
    const M = 9, N = 11, K = 13;
    const A = rand.f32(M * K), B = rand.f32(K * N);
    const ta = f32(c, A), tc = c.alloc(M * N);
    c.sgemm(false, true, M, M, K, 1, ta, ta, 0, c.alloc(M * M)); // a kernel call before growth (JS backends cache views)
    const bytes = c.memory.buffer.byteLength;
    const big = c.alloc((16 << 20) / 4); // 16 MiB: forces memory.grow
    expect(c.memory.buffer.byteLength).toBeGreaterThan(bytes);
    big.view().fill(1);
    const tb = f32(c, B); // lives above the old end of memory
    expect(tb.ptr + tb.byteLength).toBeGreaterThan(bytes);
    expect(Array.from(ta.view())).toEqual(Array.from(A));
    c.sgemm(false, false, M, N, K, 1, ta, tb, 0, tc);
    const g = { transA: false, transB: false, M, N, K, alpha: 1, A, lda: K, B, ldb: N, beta: 0, C: new Float32Array(M * N), ldc: N };
    expectClose(tc.toArray(), refSgemm(g), { rtol: 0, atol: TOL.gemm.atol * (K + 4) }, 'sgemm after growth', refSgemmAbsScale(g));
    const out = c.alloc(N);
    c.softmaxRows(out, tb.ptr + 4 * N, 1, N, 2); // a raw offset in the new memory
    expectClose(out.toArray(), refSoftmax(B.subarray(N, 2 * N), 1, N, 2), TOL.softmax, 'softmax after growth', 1);
    c.free(big);
  });
});

describe.each(BACKENDS)('convenience forms [%s]', (backend) => {
  const core = useCore(backend);

  it('matmul in all four transpose forms; wrong lengths refused; temporaries freed', () => {
    const c: Core = core();
    const rand = new TestRand(4);
    const [m, k, n] = [5, 7, 3];
    const inUse = c.bytesInUse;
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        const A = rand.f32(m * k), B = rand.f32(k * n);
        const out = c.matmul(A, B, m, k, n, { transA, transB });
        const g = { transA, transB, M: m, N: n, K: k, alpha: 1, A, lda: transA ? m : k, B, ldb: transB ? k : n, beta: 0,
          C: new Float32Array(m * n), ldc: n };
        expectClose(out, refSgemm(g), { rtol: 0, atol: TOL.gemm.atol * (k + 4) }, `matmul ${transA}/${transB}`, refSgemmAbsScale(g));
      }
    }
    expectRangeError(() => c.matmul(new Float32Array(34), new Float32Array(21), m, k, n), /\bA\b/);
    expectRangeError(() => c.matmul(new Float32Array(35), new Float32Array(22), m, k, n), /\bB\b/);
    expect(c.bytesInUse).toBe(inUse);
  });

  it('softmax and log-softmax at several T', () => {
    const x = new TestRand(5).logits(3 * 17);
    for (const T of [0.5, 1, 4, 50]) {
      expectClose(core().softmax(x, 3, 17, { temperature: T }), refSoftmax(x, 3, 17, T), TOL.softmax, `softmax T=${T}`, 1);
      expectClose(core().softmax(x, 3, 17, { temperature: T, log: true }), refLogSoftmax(x, 3, 17, T), TOL.logSoftmax,
        `logSoftmax T=${T}`, 1 + maxAbs(x) / T);
    }
    expectRangeError(() => core().softmax(x, 3, 16), /logits/);
    expectRangeError(() => core().softmax(x, 3, 17, { temperature: 0 }), /temperature/);
  });

  it('kdLoss with labels, without labels when alpha = 1, and refusing what it must', () => {
    const c = core();
    const rows = 4, cols = 9;
    const rand = new TestRand(6);
    const student = rand.logits(rows * cols), teacher = rand.logits(rows * cols), labels = Array.from(rand.labels(rows, cols));
    const inUse = c.bytesInUse;
    for (const [alpha, T, scaleT2] of [[0, 1, true], [0.3, 4, true], [0.7, 2, false], [1, 20, true]] as const) {
      const o = { T, alpha, scaleT2 };
      const r = c.kdLoss({ student, teacher, labels, rows, cols, temperature: T, alpha, scaleT2 });
      expectScalarClose(r.loss, refKd(student, teacher, labels, rows, cols, o), TOL.lossValue, `kdLoss ${JSON.stringify(o)}`,
        (1 - alpha) * (1 + maxAbs(student)) + alpha * (scaleT2 ? T * T : 1) * (1 + 2 * maxAbs(student) / T));
      expectClose(r.grad, refKdGrad(student, teacher, labels, rows, cols, o), TOL.lossGrad, `kdLoss grad ${JSON.stringify(o)}`);
    }
    const soft = c.kdLoss({ student, teacher, rows, cols, temperature: 3, alpha: 1 });
    expectScalarClose(soft.loss, refKd(student, teacher, null, rows, cols, { T: 3, alpha: 1, scaleT2: true }), TOL.lossValue,
      'kdLoss alpha=1 without labels', 9 * (1 + 2 * maxAbs(student) / 3));
    expectRangeError(() => c.kdLoss({ student, teacher, rows, cols, temperature: 3, alpha: 0.5 }), /labels/);
    expectRangeError(() => c.kdLoss({ student, teacher, labels: [0, 1, 2, 9], rows, cols, temperature: 3, alpha: 0.5 }), /labels\[3\]/);
    expectRangeError(() => c.kdLoss({ student, teacher, labels: [0, 1, 2.5, 0], rows, cols, temperature: 3, alpha: 0.5 }), /labels\[2\]/);
    expectRangeError(() => c.kdLoss({ student, teacher: teacher.subarray(1), labels, rows, cols, temperature: 3, alpha: 0.5 }), /teacher/);
    expectRangeError(() => c.kdLoss({ student, teacher, labels, rows, cols, temperature: 3, alpha: 2 }), /alpha/);
    expect(c.bytesInUse, 'temporaries freed, also after a refused call').toBe(inUse);
  });
});
