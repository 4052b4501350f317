// The int8 kernels on every backend against the reference (test/reference/int8.ts): quantization
// (weights per output channel, activations per tensor, ties, saturation, NaN/Inf, zero columns),
// the packed weight layout, the int8 GEMM with int32 accumulation at every (m, k, n) in
// {1, 3, 7, 16, 17, 33, 100}^3 (SIMD tails in all three), extremes (+-127, zeros), and the f32
// epilogue. All of these are exact or specified as f32 operations, so every comparison is
// bit for bit, and the three backends must also agree with each other bit for bit. Finally the
// dequantized int8 layer against the f32 GEMM within the quantization error bound derived in
// refInt8ErrorBound.
import { describe, expect, it } from 'vitest';
import { GEMM_I8_MAX_K, loadCore, packedI8Bytes, type Core } from '@retort/core-wasm';
import {
  refDequantizeI8, refGemmI8, refInt8ErrorBound, refPackWeightsI8, refQuantizeI8, refQuantizeWeightsI8, refRoundClamp,
} from '../reference/int8.js';
import { refSgemm, refSgemmAbsScale } from '../reference/kernels.js';
import { TestRand } from '../reference/prng.js';
import { BACKENDS, TOL, expectBitIdentical, fnv1a, maxAbs, useCore } from './helpers.js';

const SIZES = [1, 3, 7, 16, 17, 33, 100] as const;
const CANARY_I8 = 0x5a;

function randomI8(rand: TestRand, n: number, lo = -127, hi = 127): Int8Array {
  return Int8Array.from({ length: n }, () => lo + rand.int(hi - lo + 1));
}

function expectSameInts(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) expect.fail(`${what}: first difference at [${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

/** packed B and C = A . B through the validated API, with canaries after C and around inputs. */
function runGemm(core: Core, A: Int8Array, B: Int8Array, m: number, n: number, k: number): Int32Array {
  const a = core.allocI8(A.length).set(A), b = core.allocI8(B.length).set(B);
  const p = core.allocI8(packedI8Bytes(k, n) + 16);
  p.view().fill(CANARY_I8);
  core.packWeightsI8(p, b, k, n);
  for (const v of p.view().subarray(packedI8Bytes(k, n))) expect(v, 'canary after the packed weights').toBe(CANARY_I8);
  const c = core.allocI32(m * n + 8);
  c.view().fill(-7);
  core.gemmI8(c, a, p, m, n, k);
  const out = c.toArray();
  for (let i = m * n; i < out.length; i++) expect(out[i], 'canary after C').toBe(-7);
  expectSameInts(a.toArray(), A, 'A unchanged');
  core.free(a); core.free(b); core.free(p); core.free(c);
  return out.subarray(0, m * n);
}

describe.each(BACKENDS)('int8 kernels [%s]', (backend) => {
  const core = useCore(backend);

  it('quantizeI8: random values at every size (SIMD tails), ties away from zero, saturation, NaN and Infinity', () => {
    const c = core();
    const rand = new TestRand(11);
    for (const n of [...SIZES, 15, 31, 64, 1000]) {
      for (const scale of [1 / 127, 0.0371, 3]) {
        const xs = rand.f32(n, -150 * scale, 150 * scale); // about 15% of the values saturate
        const x = c.fromArray(xs), q = c.allocI8(n + 16);
        q.view().fill(CANARY_I8);
        c.quantizeI8(q, x, n, scale);
        const out = q.toArray();
        expectSameInts(out.subarray(0, n), refQuantizeI8(xs, scale), `n=${n} scale=${scale}`);
        for (const v of out.subarray(n)) expect(v, 'canary after q').toBe(CANARY_I8);
        c.free(x); c.free(q);
      }
    }
    // scale 0.25 is a power of two, so x / scale is exact and the ties are exact ties
    const special = [0.125, -0.125, 0.375, -0.375, 0.625, -0.625, 31.625, -31.625, 31.875, -31.875, 0, -0,
      1e30, -1e30, Infinity, -Infinity, NaN, 0.12499999, 31.74, -31.76, 2 ** -140];
    const expected = [1, -1, 2, -2, 3, -3, 127, -127, 127, -127, 0, 0, 127, -127, 127, -127, 0, 0, 127, -127, 0];
    for (const reps of [1, 5]) { // 5 copies run through the 16-wide SIMD path as well
      const xs = Array.from({ length: reps }, () => special).flat();
      const x = c.fromArray(xs), q = c.allocI8(xs.length);
      c.quantizeI8(q, x, xs.length, 0.25);
      expectSameInts(q.toArray(), Array.from({ length: reps }, () => expected).flat(), `special values x${reps}`);
    }
    expect(refRoundClamp(2.5), 'reference rounding rule').toBe(3);
  });

  it('quantizeWeightsI8: per-column scales and values match the reference at every shape; zero and tiny columns get scale 1', () => {
    const c = core();
    const rand = new TestRand(12);
    for (const rows of SIZES) {
      for (const cols of SIZES) {
        const w = rand.f32(rows * cols, -2, 2);
        for (let i = 0; i < rows; i++) w[i * cols + (cols - 1)] = 0; // last column all zero
        if (cols > 2) {
          for (let i = 0; i < rows; i++) w[i * cols + 1] = 1e-44 * (i % 2 ? 1 : -1); // max / 127 underflows to 0
          w[(rows - 1) * cols] = -1e4; // one extreme value in column 0: it becomes -127
        }
        const tw = c.fromArray(w), q = c.allocI8(rows * cols + 16), s = c.alloc(cols);
        q.view().fill(CANARY_I8);
        c.quantizeWeightsI8(q, s, tw, rows, cols);
        const ref = refQuantizeWeightsI8(w, rows, cols);
        const out = q.toArray();
        expectSameInts(out.subarray(0, rows * cols), ref.q, `q ${rows}x${cols}`);
        expectBitIdentical(s.toArray(), ref.scales, `scales ${rows}x${cols}`);
        for (const v of out.subarray(rows * cols)) expect(v, 'canary after q').toBe(CANARY_I8);
        const scales = s.toArray();
        expect(scales[cols - 1], 'an all-zero column has scale 1').toBe(1);
        if (cols > 2) {
          expect(scales[1], 'a column whose scale underflows has scale 1').toBe(1);
          expect(out[(rows - 1) * cols], 'the column max maps to -127').toBe(-127);
        }
        // |W - q s| <= s (1/2 + 128u) everywhere: the per-channel rounding bound
        for (let i = 0; i < rows * cols; i++) {
          const j = i % cols;
          expect(Math.abs(w[i]! - out[i]! * scales[j]!)).toBeLessThanOrEqual(scales[j]! * (0.5 + 128 * 2 ** -24));
        }
        c.free(tw); c.free(q); c.free(s);
      }
    }
  });

  it('packWeightsI8 writes exactly the layout of abi.ts, zero padding included', () => {
    const c = core();
    const rand = new TestRand(13);
    for (const k of SIZES) {
      for (const n of SIZES) {
        const B = randomI8(rand, k * n);
        const b = c.allocI8(k * n).set(B), p = c.allocI8(packedI8Bytes(k, n));
        p.view().fill(CANARY_I8); // padding must be written as 0, not left alone
        c.packWeightsI8(p, b, k, n);
        expectSameInts(p.toArray(), refPackWeightsI8(B, k, n), `packed ${k}x${n}`);
        c.free(b); c.free(p);
      }
    }
  });

  it('gemmI8 equals the exact integer product at every (m, k, n) in {1,3,7,16,17,33,100}^3', () => {
    const c = core();
    const rand = new TestRand(14);
    for (const m of SIZES) {
      for (const k of SIZES) {
        for (const n of SIZES) {
          const A = randomI8(rand, m * k), B = randomI8(rand, k * n);
          expectSameInts(runGemm(c, A, B, m, n, k), refGemmI8(A, B, m, n, k), `${m}x${k}x${n}`);
        }
      }
    }
  });

  it('gemmI8 extremes: +-127 everywhere (|acc| = 16129 k), -128, zeros, long k, and k = 0', () => {
    const c = core();
    for (const [m, k, n] of [[5, 1001, 9], [17, 4097, 3], [4, 16, 8], [1, 100, 17]] as const) {
      for (const [av, bv] of [[127, 127], [127, -127], [-127, -127], [-128, -128], [0, 127]] as const) {
        const A = new Int8Array(m * k).fill(av), B = new Int8Array(k * n).fill(bv);
        const out = runGemm(c, A, B, m, n, k);
        expect(Array.from(new Set(out)), `${av} x ${bv}, ${m}x${k}x${n}`).toEqual([av * bv * k]);
      }
    }
    const rand = new TestRand(15);
    const [m, k, n] = [7, 20011, 13]; // a long odd k: the SIMD A-packing runs many 16-byte chunks then a tail
    const A = randomI8(rand, m * k), B = randomI8(rand, k * n);
    expectSameInts(runGemm(c, A, B, m, n, k), refGemmI8(A, B, m, n, k), `${m}x${k}x${n}`);
    expectSameInts(runGemm(c, new Int8Array(0), new Int8Array(0), 3, 5, 0), new Int32Array(15), 'k = 0 writes zeros');
  });

  it('dequantizeI8 is the f32 epilogue of abi.ts bit for bit: with and without bias and ReLU, and in place', () => {
    const c = core();
    const rand = new TestRand(16);
    for (const [rows, cols] of [[1, 1], [3, 7], [17, 33], [100, 17], [2, 1000]] as const) {
      const acc = Int32Array.from({ length: rows * cols }, () => rand.int(2 ** 26) - 2 ** 25); // beyond 2^24: fl(acc) rounds
      const scales = rand.f32(cols, 1e-4, 2e-2), bias = rand.f32(cols, -1, 1);
      const sa = 0.0123;
      const ta = c.allocI32(acc.length).set(acc), ts = c.fromArray(scales), tb = c.fromArray(bias);
      for (const withBias of [true, false]) {
        for (const relu of [false, true]) {
          const y = c.alloc(rows * cols + 4);
          y.view().fill(-3.5);
          c.dequantizeI8(y, ta, ts, withBias ? tb : null, rows, cols, sa, { relu });
          const expected = refDequantizeI8(acc, scales, withBias ? bias : null, rows, cols, sa, relu);
          const out = y.toArray();
          expectBitIdentical(out.subarray(0, rows * cols), expected, `${rows}x${cols} bias=${withBias} relu=${relu}`);
          expect(Array.from(out.subarray(rows * cols)), 'canary after y').toEqual([-3.5, -3.5, -3.5, -3.5]);
          c.free(y);
        }
      }
      // y aliasing acc (raw offset): the in-place form the int8 forward pass uses
      const inPlace = c.allocI32(acc.length).set(acc);
      c.dequantizeI8(inPlace.ptr, inPlace, ts, tb, rows, cols, sa, { relu: true });
      expectBitIdentical(new Float32Array(inPlace.toArray().buffer), refDequantizeI8(acc, scales, bias, rows, cols, sa, true), 'in place');
    }
  });

  it('the dequantized int8 layer is within the derived quantization error bound of the f32 GEMM', () => {
    const c = core();
    const rand = new TestRand(17);
    for (const [m, k, n] of [[7, 100, 33], [33, 17, 16], [16, 784, 10], [3, 1000, 7]] as const) {
      for (const clip of [1, 0.5]) { // clip 0.5: the activation scale saturates the larger half of |x|
        const x = rand.f32(m * k, -1, 1), w = rand.f32(k * n, -0.5, 0.5), bias = rand.f32(n, -1, 1);
        const sa = Math.fround((clip * maxAbs(x)) / 127);
        const tx = c.fromArray(x), tw = c.fromArray(w), tb = c.fromArray(bias);
        const qx = c.allocI8(m * k), qw = c.allocI8(k * n), sw = c.alloc(n), p = c.allocI8(packedI8Bytes(k, n));
        const acc = c.allocI32(m * n), yq = c.alloc(m * n), yf = c.alloc(m * n);
        c.quantizeI8(qx, tx, m * k, sa);
        c.quantizeWeightsI8(qw, sw, tw, k, n);
        c.packWeightsI8(p, qw, k, n);
        c.gemmI8(acc, qx, p, m, n, k);
        c.dequantizeI8(yq, acc, sw, tb, m, n, sa);
        c.sgemm(false, false, m, n, k, 1, tx, tw, 0, yf); // the f32 layer on the same backend
        c.biasAdd(yf, tb, m, n);
        const bound = refInt8ErrorBound(x, w, bias, m, k, n, sa, qx.toArray(), sw.toArray());
        // the f32 GEMM's own rounding (TOL.gemm: (k + 4) u of sum |x||W|, + |b| for the bias add)
        const g = { transA: false, transB: false, M: m, N: n, K: k, alpha: 1, A: x, lda: k, B: w, ldb: n, beta: 0, C: new Float32Array(m * n), ldc: n };
        const gemmScale = refSgemmAbsScale(g);
        const exact = refSgemm(g);
        const a = yq.toArray(), f = yf.toArray();
        for (let i = 0; i < m * n; i++) {
          const j = i % n;
          const limit = bound[i]! + TOL.gemm.atol * (k + 5) * (gemmScale[i]! + Math.abs(bias[j]!));
          const err = Math.abs(a[i]! - f[i]!);
          if (!(err <= limit)) expect.fail(`${m}x${k}x${n} clip ${clip}: [${i}] int8 ${a[i]} vs f32 ${f[i]}, |err| ${err} > bound ${limit}`);
          // and against the exact (f64) layer, with only the int8 bound
          expect(Math.abs(a[i]! - (exact[i]! + bias[j]!))).toBeLessThanOrEqual(bound[i]!);
        }
        for (const t of [tx, tw, tb, qx, qw, sw, p, acc, yq, yf]) c.free(t);
      }
    }
    // The bound is a worst case (every rounding error aligned). Measured (identical on all backends):
    // worst err/bound 0.03-0.30 without clipping (random rounding errors partly cancel, ~sqrt(k) of k),
    // 0.11-0.97 with clip 0.5, where the saturation error, deterministic and one-signed, dominates.
  });

  it('the typed API refuses bad int8 arguments with RangeErrors naming them', () => {
    const c = core();
    const f = c.alloc(64), q = c.allocI8(64), u8 = c.allocU8(64), i32 = c.allocI32(64), p = c.allocI8(packedI8Bytes(4, 4));
    const err = (fn: () => unknown, re: RegExp): void => { expect(fn).toThrow(RangeError); expect(fn).toThrow(re); };
    err(() => c.quantizeI8(u8, f, 8, 1), /\bq\b.*i8/);             // unsigned bytes where int8 goes
    err(() => c.normalizeU8(f, q, 8), /\bx\b.*u8/);                 // and the reverse
    err(() => c.quantizeI8(q, f, 65, 1), /\bq\b/);
    for (const bad of [0, -1, NaN, Infinity, 1e-50, 1e39]) err(() => c.quantizeI8(q, f, 8, bad), /scale/);
    err(() => c.quantizeWeightsI8(q, f, c.fromArray([1, NaN, 2, 3]), 2, 2), /w\[1\]/);
    err(() => c.quantizeWeightsI8(q, c.alloc(1), f, 2, 2), /scales/);
    err(() => c.packWeightsI8(c.allocI8(15), q, 4, 4), /packed/);
    err(() => c.gemmI8(i32, q, p, 4, 4, 5), /packed/);
    err(() => c.gemmI8(i32, q, p, 17, 4, 4), /\bc\b/);
    err(() => c.gemmI8(f, q, p, 4, 4, 4), /\bc\b.*i32/);
    err(() => c.gemmI8(i32, q, p, 1, 1, GEMM_I8_MAX_K + 1), /\bk\b.*131071/);
    err(() => c.dequantizeI8(f, i32, f, null, 4, 4, 0), /inputScale/);
    err(() => c.dequantizeI8(f, i32, f, c.alloc(3), 4, 4, 1), /bias/);
  });
});

describe('int8 kernels agree bit for bit across simd, scalar and js', () => {
  it('a whole quantized layer stack (weights, activations, packing, GEMM, epilogue) gives identical bits', async () => {
    const cores = await Promise.all(BACKENDS.map((backend) => loadCore({ backend })));
    const rand = new TestRand(18);
    const fingerprints = cores.map(() => [] as string[]);
    for (const [m, k, n] of [[1, 1, 1], [3, 7, 16], [17, 33, 100], [100, 100, 7], [16, 17, 33], [33, 1001, 9]] as const) {
      const x = rand.f32(m * k, -3, 3), w = rand.f32(k * n, -1, 1), bias = rand.f32(n, -0.1, 0.1);
      const sa = Math.fround((0.8 * maxAbs(x)) / 127); // some activations saturate
      cores.forEach((c, ci) => {
        const tx = c.fromArray(x), tw = c.fromArray(w), tb = c.fromArray(bias);
        const qx = c.allocI8(m * k), qw = c.allocI8(k * n), sw = c.alloc(n), p = c.allocI8(packedI8Bytes(k, n));
        const acc = c.allocI32(m * n), y = c.alloc(m * n);
        c.quantizeI8(qx, tx, m * k, sa);
        c.quantizeWeightsI8(qw, sw, tw, k, n);
        c.packWeightsI8(p, qw, k, n);
        c.gemmI8(acc, qx, p, m, n, k);
        c.dequantizeI8(y, acc, sw, tb, m, n, sa, { relu: true });
        for (const t of [qx, qw, sw, p, acc, y]) fingerprints[ci]!.push(fnv1a(t.view()));
      });
    }
    expect(fingerprints[1], 'scalar = simd').toEqual(fingerprints[0]);
    expect(fingerprints[2], 'js = simd').toEqual(fingerprints[0]);
  });
});
