// Shared machinery of the conformance suite: the backends under test, the ONE table of
// tolerances (every kernel, forward and gradient separately, each with its reason), and
// the comparison helper. Exclusions (a backend skipping a test) would live here too,
// with a reason each; there are none.

import { beforeAll, expect } from 'vitest';
import { loadCore, type BackendName, type Core, type Tensor } from '@retort/core-wasm';
import { finiteDifference } from '../reference/finite-difference.js';
import { setFlagsFromString } from 'node:v8';

// The relaxed-SIMD build is held to the same tolerances. Node 20 validates relaxed SIMD only
// behind a V8 flag, which can be set at run time before the first module compiles (the CLI does
// the same, packages/cli/src/bin.ts); Node 22+ has it on.
setFlagsFromString('--experimental-wasm-relaxed-simd');
export const BACKENDS: readonly BackendName[] = ['simd', 'scalar', 'js', 'relaxed'];

/** Unit roundoff of f32. */
export const U = 2 ** -24;

/**
 * A bound for |actual_i - expected_i|:  atol * scale_i + rtol * |expected_i|.
 * `scale` is stated by each comparison (default: max_j |expected_j|, i.e. atol is
 * relative to the largest entry); see the comment on each entry for what it is.
 */
export interface Tol { rtol: number; atol: number }

export const TOL = {
  // GEMM: any summation order of K f32 products, plus alpha/beta, has error at most
  // (K + 4) u times sum_k |alpha a b| + |beta c| (Higham's gamma bound). atol is per unit of
  // K + 4 and scale is that abs-sum, per element. A dropped or misindexed term is O(1/K) of it.
  gemm: { rtol: 0, atol: U } as Tol,
  // Copies, fills, one multiply or add per element: at most 2 roundings of the operands'
  // magnitude (scale = |y| + |alpha x| per element). Exact-to-spec ops are compared bitwise.
  elementwise: { rtol: 0, atol: 2.5 * U } as Tol,
  // Column sums over `rows` rows: (rows + 1) u of sum_r |dy| (scale, per column).
  biasBackward: { rtol: 0, atol: U } as Tol,
  // Probabilities <= 1. exp of an argument rounded at |x/T| (relative error ~ |x/T| u, folded
  // into scale = 1 + max|x/T|) and a normaliser summed over up to 1000 f32 terms (typically
  // sqrt(cols) u ~ 1e-6 relative). Absolute floor 1e-7 for the tiny probabilities.
  softmax: { rtol: 4e-6, atol: 1e-7 } as Tol,
  // log_softmax = x/T - lse: absolute error ~ u (|x/T| + |lse|); scale = 1 + max|x/T|.
  logSoftmax: { rtol: 1e-6, atol: 1e-6 } as Tol,
  // y (dy - <dy,y>) / T: a dot product over cols and one cancellation; atol relative to the
  // largest gradient entry. rtol 4u: one rounding of the accumulated (+=) result, which can be
  // far larger than the gradient added to it.
  softmaxBackward: { rtol: 4 * U, atol: 2e-6 } as Tol,
  // Losses are batch means of log-sum-exp differences; error ~ u (|z/T| + log cols) per row,
  // so scale = 1 + max|z/T| (for KD: its CE and alpha*w*KL parts weighted likewise).
  lossValue: { rtol: 1e-5, atol: 2e-6 } as Tol,
  // Loss gradients are differences of probabilities / (T rows): atol relative to the largest
  // gradient entry; rtol 4u for the rounding of the accumulated (+=) result.
  lossGrad: { rtol: 4 * U, atol: 4e-6 } as Tol,
  // MSE / smooth-L1 means of n <= 1000 nonnegative f32 terms: worst case n u = 6e-5 relative,
  // typically far less; 5e-5 relative to the loss. Gradient: 2 or 3 roundings per element.
  regressionValue: { rtol: 5e-5, atol: 0 } as Tol,
  regressionGrad: { rtol: 1e-6, atol: 1e-7 } as Tol,
  // Optimizer state after several f32 steps vs f64: a few roundings per step of O(|p|)
  // quantities; relative to max|p| (and elementwise relative). AdamW's m/sqrt(v) adds a sqrt.
  optimizer: { rtol: 1e-5, atol: 1e-6 } as Tol,
  // Finite differences of the f64 reference are good to ~1e-9 (see finite-difference.ts); this
  // is the bound for checking the REFERENCE's own analytic gradients against them.
  referenceFd: { rtol: 1e-6, atol: 1e-7 } as Tol,
  // rngNormal: abi.ts allows the JS backend's host Math to differ from the module's own math
  // by 1e-6 (of max(1, |value|)); simd vs scalar must be bit-identical.
  rngNormal: { rtol: 1e-6, atol: 1e-6 } as Tol,
  // TF.js is another f32 implementation: twice our bound against f64 (both sides err).
  tfjs: { rtol: 2e-5, atol: 4e-6 } as Tol,
  // Convolution: an output is a sum of n f32 products in some order, plus the += target for the
  // backward kernels: within (n + 4) u of the abs-sum (Higham's gamma bound, as for GEMM), n = K =
  // KH*KW*C/G forward, the taps * OC/G reaching an input backward-data, B*OH*OW backward-filter
  // (summed in blocks of b pixels: b + blocks roundings deep, within n + 4). atol is per unit
  // of n + 4; scale is the per-element abs-sum (refConv2d*AbsScale) plus |old|. A dropped or
  // misplaced product is O(1/n) of that scale: n u is ~1e-5 of it at the largest test n (~1000).
  conv: { rtol: 0, atol: U } as Tol,
  // Average pooling: n <= KH*KW (or HW) f32 terms summed then one division: (n + 2) u of
  // sum|x| / n per element (atol per unit of n + 2, scale that mean of |x|). Backward: dy / n
  // rounded once, added into dx by each window covering it: (windows + 2) u of sum |dy/n| + |dx0|.
  // Max pooling selects (compared bitwise); its backward sums a few dy: as avg backward.
  pool: { rtol: 0, atol: U } as Tol,
  // TF.js convolution and pooling: another f32 summation order, so twice our bound (both sides
  // err within it of the f64 value); same scales as `conv` and `pool`.
  tfjsConv: { rtol: 0, atol: 2 * U } as Tol,
  // Batch / layer norm forward: f64 statistics (exact for our purposes), then y in f32 steps:
  // (x - mean_hi) - mean_lo, * f32(gamma invstd) (or * rstd, * gamma), + beta: up to 6 roundings of
  // magnitudes <= |gamma xhat| + |beta|, the per-element scale. The js backend rounds once.
  normForward: { rtol: 0, atol: 6 * U } as Tol,
  // saveMean, saveInvstd/saveRstd, runMean, runVar: an f64 value rounded to f32 once (rtol u);
  // atol 1e-12 of the scale (1 + max|x| for means) covers the f64 sums themselves.
  normStats: { rtol: U, atol: 1e-12 } as Tol,
  // Norm backward. dx: a few f32 steps on terms bounded by |gamma invstd| (|dy| + |mean dy| +
  // |xhat mean(dy xhat)|) (layer norm: rstd (|dy gamma| + ...)) plus |dx0|, the per-element scale:
  // the centred input (2 roundings), the three-term difference (3), the factor and its product
  // (2), the += (1). dgamma: f64 sums of dy xhat whose xhat carries f32 invstd (and, for layer
  // norm, f32 xhat: 3 roundings), added once; scale sum_r |dy xhat| + |dgamma0|. dbeta is
  // compared bitwise (an f64 sum in row order, rounded once).
  normBackward: { rtol: 0, atol: 8 * U } as Tol,
  // GELU forward: x Phi(x) with Phi from the module's exp and a rational tail, measured within
  // 3.5 ulp relative on a dense grid of [-14, 14] (assembly/math/erf.ts); 4 u relative. atol 1e-37
  // (absolute) for the deep tail, where the wasm builds flush Phi below 2^-126 and results are
  // subnormal or 0.
  gelu: { rtol: 4 * U, atol: 1e-37 } as Tol,
  // GELU backward: dy (Phi + x phi) measured within 4 ulp of |Phi| + |x phi| (the two terms cancel
  // near x = -0.75), one product with dy and the +=: 6 u of |dy| (|Phi| + |x phi|) + |dx0|.
  geluBackward: { rtol: 0, atol: 6 * U } as Tol,
  // TF.js norms (norm-tfjs.test.ts): tf.moments sums a channel's n terms in f32, so its mean is off by
  // up to ~n u |mean| and that error reaches xhat as n u |mean| invstd; the bound is atol per unit of
  // n + 8 times a scale holding |gamma| (|xhat| + 1 + |mean| invstd) + |beta| (forward) or the
  // analogous magnitudes of each gradient term. Ours is ~8 u of it: both sides fit twice u.
  tfjsNorm: { rtol: 0, atol: 2 * U } as Tol,
  // tf.erf (tfjs-backend-cpu) is a 5-term polynomial approximation good to ~1.5e-7 absolute, so TF's
  // GELU = 0.5 x (1 + erf) is within 0.75e-7 |x| plus its roundings (~2 u |x|), ours within 3.5 u
  // |y| <= 3.5 u |x|: 4e-7 of the scale |x|. The gradient likewise, of |dy| (1 + x^2) (erf's error
  // times 1/2, and tf's f32 erf'(x/sqrt2) x/(2 sqrt2) term).
  tfjsGelu: { rtol: 0, atol: 4e-7 } as Tol,
} as const;

/** A Core for the given backend, loaded once per describe block. */
export function useCore(backend: BackendName): () => Core {
  let core: Core | undefined;
  beforeAll(async () => { core = await loadCore({ backend }); });
  return () => {
    if (!core) throw new Error(`the ${backend} core did not load`);
    return core;
  };
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

/**
 * Asserts actual ~ expected within `tol`. NaN must match NaN, and a finite expected value
 * must not come back as +-Infinity. Reports the worst element.
 */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tol, what: string,
                            scale: number | ArrayLike<number> = maxAbs(expected)): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let worst = -1;
  let worstRatio = 0;
  let bad = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(e) || Number.isNaN(a)) {
      if (Number.isNaN(e) !== Number.isNaN(a)) { bad++; if (worstRatio !== Infinity) { worst = i; worstRatio = Infinity; } }
      continue;
    }
    const s = typeof scale === 'number' ? scale : scale[i]!;
    const bound = tol.atol * s + tol.rtol * Math.abs(e);
    const err = Math.abs(a - e);
    const ratio = err === 0 ? 0 : bound === 0 ? Infinity : err / bound;
    if (!(ratio <= 1)) bad++;
    if (!(ratio <= worstRatio) && worstRatio !== Infinity) { worstRatio = ratio; worst = i; }
  }
  if (bad > 0) {
    const i = worst;
    const s = typeof scale === 'number' ? scale : scale[i]!;
    expect.fail(`${what}: ${bad}/${expected.length} elements out of tolerance; worst [${i}] got ${actual[i]} ` +
      `expected ${expected[i]} (|err| = ${Math.abs(actual[i]! - expected[i]!)}, bound ${tol.atol * s + tol.rtol * Math.abs(expected[i]!)})`);
  }
}

export function expectScalarClose(actual: number, expected: number, tol: Tol, what: string, scale = 1): void {
  expectClose([actual], [expected], tol, what, scale);
}

/** Bitwise equality of two f32/u32/i32 arrays (NaN payloads included). */
export function expectBitIdentical(a: ArrayLike<number> & { buffer: ArrayBufferLike; byteOffset: number; byteLength: number },
                                   b: ArrayLike<number> & { buffer: ArrayBufferLike; byteOffset: number; byteLength: number },
                                   what: string): void {
  const ua = new Uint32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
  const ub = new Uint32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  expect(ua.length, `${what}: length`).toBe(ub.length);
  for (let i = 0; i < ua.length; i++) {
    if (ua[i] !== ub[i]) expect.fail(`${what}: first difference at [${i}]: ${a[i]} (0x${ua[i]!.toString(16)}) vs ${b[i]} (0x${ub[i]!.toString(16)})`);
  }
}

/**
 * The gradient to hold a kernel to: central differences of the f64 reference `f` at `x`.
 * Small inputs get a full FD gradient. Above `fullLimit` elements a full FD would cost
 * O(n^2) reference evaluations, so `analytic` (the reference's own gradient formula) is
 * checked against FD on 24 spread coordinates and then stands in for it.
 */
export function gradientReference(f: (x: Float64Array) => number, x: ArrayLike<number>, analytic: ArrayLike<number>,
                                  h: number, what: string, fullLimit = 260): Float64Array {
  const n = x.length;
  if (n <= fullLimit) {
    const fd = finiteDifference(f, x, h);
    expectClose(analytic, fd, TOL.referenceFd, `${what}: reference gradient vs finite differences`);
    return fd;
  }
  const idx = Array.from({ length: 24 }, (_, k) => Math.floor((k * (n - 1)) / 23));
  const fd = finiteDifference(f, x, h, idx);
  const scale = maxAbs(analytic);
  expectClose(idx.map((i) => analytic[i]!), idx.map((i) => fd[i]!), TOL.referenceFd, `${what}: reference gradient vs finite differences (sampled)`, scale);
  return Float64Array.from(analytic);
}

export function f32(core: Core, values: ArrayLike<number>): Tensor<'f32'> { return core.fromArray(values); }

export function i32(core: Core, values: ArrayLike<number>): Tensor<'i32'> {
  return core.allocI32(values.length).set(values);
}

/** FNV-1a over the bytes of a typed array: a compact fingerprint for bit-for-bit comparisons. */
export function fnv1a(a: { buffer: ArrayBufferLike; byteOffset: number; byteLength: number }): string {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

/** Sizes every row-wise kernel is run at: 1, odd, non-multiples of 4 and of tiles, and 1000-wide rows. */
export const ROW_SHAPES: readonly [rows: number, cols: number][] = [[1, 1], [1, 3], [3, 17], [2, 129], [5, 7], [2, 1000]];
export const TEMPERATURES = [0.5, 1, 4, 20, 50] as const;
