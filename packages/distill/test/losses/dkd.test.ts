// Decoupled KD (src/losses/dkd.ts) against (1) an independent TF.js f32 formula written the way the
// paper's reference code does it (softmax, masked sums, -1000·mask for the non-target softmax) with
// its gradient from tf.grad, (2) central finite differences of a plain f64 reference, (3) the
// paper's identity KL(q||p) = TCKD + (1 - q_g)·NCKD (also against the core's own klDivergence
// kernel), and (4) extreme logits. DKD is pure TypeScript, but it runs on logits held in each
// backend's module memory (views of core tensors) and is cross-checked against that backend's KL.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { loadCore, type Core } from '@retort/core-wasm';
import { dkdLoss, dkdParts, type DkdOptions } from '../../src/losses/dkd.js';
import { rand, gauss } from '../helpers/random.js';
import { expectClose, maxAbs } from '../helpers/close.js';

const BACKENDS = ['simd', 'scalar', 'js'] as const;
const U = 2 ** -24;
const T_VALUES = [0.5, 1, 4, 20, 50];
const SHAPES: readonly (readonly [number, number])[] = [[1, 2], [1, 10], [7, 3], [7, 17], [33, 2], [33, 10], [33, 17]];

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});



function labelsOf(r: () => number, rows: number, cols: number): Int32Array {
  return Int32Array.from({ length: rows }, () => Math.floor(r() * cols));
}


/** z, v, dz in the core's module memory; the returned arrays are views (taken after every allocation). */
function onCore(core: Core, z: Float32Array, v: Float32Array, dz0?: Float32Array) {
  const tz = core.fromArray(z), tv = core.fromArray(v), tdz = core.alloc(z.length);
  if (dz0) tdz.set(dz0);
  return { z: tz.view(), v: tv.view(), dz: tdz.view(), tz, tv, tdz };
}

// ---- an f64 reference, written directly from the definitions (probabilities, not log-sum-exps) ----

interface RefRow { tckd: number; nckd: number; kl: number; qg: number }

function refRow(z: ArrayLike<number>, v: ArrayLike<number>, o: number, cols: number, g: number, T: number): RefRow {
  const softmax = (x: ArrayLike<number>): number[] => {
    let m = -Infinity;
    for (let j = 0; j < cols; j++) m = Math.max(m, x[o + j]! / T);
    const e = Array.from({ length: cols }, (_, j) => Math.exp(x[o + j]! / T - m));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((x) => x / s);
  };
  const p = softmax(z), q = softmax(v);
  const xlog = (a: number, b: number): number => (a === 0 ? 0 : a * Math.log(a / b));
  let p1 = 0, q1 = 0, kl = 0;
  for (let j = 0; j < cols; j++) {
    kl += xlog(q[j]!, p[j]!);
    if (j !== g) { p1 += p[j]!; q1 += q[j]!; }
  }
  const tckd = xlog(q[g]!, p[g]!) + xlog(q1, p1);
  let nckd = 0;
  for (let j = 0; j < cols; j++) if (j !== g) nckd += xlog(q[j]! / q1, p[j]! / p1);
  return { tckd, nckd, kl, qg: q[g]! };
}

function refLoss(z: ArrayLike<number>, v: ArrayLike<number>, y: Int32Array, rows: number, cols: number, o: DkdOptions): number {
  const w = o.scaleT2 === false ? 1 : o.temperature ** 2;
  let s = 0;
  for (let r = 0; r < rows; r++) {
    const row = refRow(z, v, r * cols, cols, y[r]!, o.temperature);
    s += o.alpha * row.tckd + o.beta * row.nckd;
  }
  return w * s / rows;
}

// ---- the TF.js formula, after the paper's reference implementation (mdistiller's dkd_loss) ----

function tfDkd(z: tf.Tensor2D, v: tf.Tensor2D, gt: tf.Tensor2D, rows: number, o: DkdOptions): tf.Scalar {
  const T = o.temperature;
  const other = tf.sub(1, gt);
  const ps = tf.softmax(tf.div(z, T)), pt = tf.softmax(tf.div(v, T));
  // cat_mask: [p_g, Σ_{j≠g} p_j]
  const bs = tf.stack([tf.sum(tf.mul(ps, gt), 1), tf.sum(tf.mul(ps, other), 1)], 1);
  const bt = tf.stack([tf.sum(tf.mul(pt, gt), 1), tf.sum(tf.mul(pt, other), 1)], 1);
  const tckd = tf.sum(tf.mul(bt, tf.sub(tf.log(bt), tf.log(bs))));
  const lqh = tf.logSoftmax(tf.sub(tf.div(v, T), tf.mul(gt, 1000)));
  const lph = tf.logSoftmax(tf.sub(tf.div(z, T), tf.mul(gt, 1000)));
  const nckd = tf.sum(tf.mul(tf.exp(lqh), tf.sub(lqh, lph)));
  const w = o.scaleT2 === false ? 1 : T * T;
  return tf.div(tf.mul(tf.add(tf.mul(tckd, o.alpha), tf.mul(nckd, o.beta)), w), rows) as tf.Scalar;
}

function tfValueAndGrad(z: Float32Array, v: Float32Array, y: Int32Array, rows: number, cols: number, o: DkdOptions): { value: number; grad: Float32Array } {
  return tf.tidy(() => {
    const vt = tf.tensor2d(v, [rows, cols]);
    const gt = tf.cast(tf.oneHot(tf.tensor1d(y, 'int32'), cols), 'float32') as tf.Tensor2D;
    const r = tf.valueAndGrad((zt: tf.Tensor) => tfDkd(zt as tf.Tensor2D, vt, gt, rows, o))(tf.tensor2d(z, [rows, cols]));
    return { value: r.value.dataSync()[0]!, grad: r.grad.dataSync() as Float32Array };
  });
}

describe.each(BACKENDS)('dkdLoss [%s]', (backend) => {
  let core: Core;
  beforeAll(async () => { core = await loadCore({ backend }); });

  it('value and gradient match the TF.js formula and tf.grad (odd sizes, T from 0.5 to 50)', () => {
    const r = rand(1);
    for (const [rows, cols] of SHAPES) {
      const z = gauss(r, rows * cols, 3), v = gauss(r, rows * cols, 3), y = labelsOf(r, rows, cols);
      for (const T of T_VALUES) {
        const o: DkdOptions = { alpha: 0.7, beta: 2.5, temperature: T };
        const m = onCore(core, z, v);
        const L = dkdLoss(m.dz, m.z, m.v, y, rows, cols, o);
        const want = tfValueAndGrad(z, v, y, rows, cols, o);
        const what = `${rows}x${cols} T=${T}`;
        // TF.js is f32: its log-softmax / log of probabilities err by ~u (1 + max|z/T| + log cols) per
        // term, and the loss sums such terms weighted by w (alpha + beta) / rows per row. Bound: 4u of
        // that scale plus 1e-6 relative (observed worst: ~13% of the bound over all shapes, T and
        // backends). A wrong term or factor is O(1e-2..1) of the loss.
        const scale = T * T * (o.alpha + o.beta) * (1 + maxAbs(z) / T + Math.log(cols));
        expectClose([L], [want.value], 4 * U, 1e-6, scale, `value ${what}`);
        // gradient entries are differences of probabilities times w (alpha + beta) / (rows T):
        // f32 error ~ u (1 + max|z/T|) of that; same 4u + 1e-6 relative bound.
        const gscale = T * (o.alpha + o.beta) / rows * (1 + maxAbs(z) / T);
        expectClose(m.dz, want.grad, 4 * U, 1e-6, gscale, `grad ${what}`);
        core.free(m.tz); core.free(m.tv); core.free(m.tdz);
      }
    }
    expect(tf.memory().numTensors, 'no tf tensors leak').toBeLessThan(50);
  });

  it('gradient matches central finite differences of an f64 reference', () => {
    const r = rand(2);
    for (const [rows, cols] of [[1, 2], [7, 3], [7, 17], [33, 10]] as const) {
      const z = gauss(r, rows * cols, 3), v = gauss(r, rows * cols, 3), y = labelsOf(r, rows, cols);
      for (const T of T_VALUES) {
        for (const o of [{ alpha: 1, beta: 8, temperature: T }, { alpha: 0.3, beta: 0, temperature: T, scaleT2: false }] as DkdOptions[]) {
          const m = onCore(core, z, v);
          const L = dkdLoss(m.dz, m.z, m.v, y, rows, cols, o, 1);
          const got = Float32Array.from(m.dz);
          const zz = Float64Array.from(z);
          // the loss is a smooth function of z/T with O(1) derivatives in those units: step 1e-4 T
          // gives a truncation error ~1e-9 of the gradient scale and f64 roundoff ~1e-11.
          const h = 1e-4 * T;
          const fd = Float64Array.from(z, (zi, i) => {
            zz[i] = zi + h; const fp = refLoss(zz, v, y, rows, cols, o);
            zz[i] = zi - h; const fm = refLoss(zz, v, y, rows, cols, o);
            zz[i] = zi;
            return (fp - fm) / (2 * h);
          });
          const what = `${rows}x${cols} T=${T} alpha=${o.alpha} beta=${o.beta}`;
          // the value: f64 throughout on both sides (different formulas): 1e-12 relative
          expectClose([L], [refLoss(z, v, y, rows, cols, o)], 1e-12, 1e-10, 1, `value ${what}`);
          // our gradient is f64 rounded once to f32 (u relative per entry) and the FD error is
          // ~1e-9 of max|grad|: a bound of 1e-6 · max|grad| + 2u |grad_i| leaves a wide margin and
          // still catches any missing term (O(1e-2..1) of max|grad| for these inputs).
          expectClose(got, fd, 1e-6, 2 * U, maxAbs(fd), `grad vs FD ${what}`);
          // softmax shift invariance: every row's gradient sums to ~0
          for (let i = 0; i < rows; i++) {
            let s = 0, a = 0;
            for (let j = 0; j < cols; j++) { s += got[i * cols + j]!; a += Math.abs(got[i * cols + j]!); }
            expect(Math.abs(s)).toBeLessThanOrEqual(4 * cols * U * a + 1e-30);
          }
          core.free(m.tz); core.free(m.tv); core.free(m.tdz);
        }
      }
    }
  });

  it('decomposition: KL(q||p) = TCKD + (1 - q_g)·NCKD, and DKD(alpha = 1, beta = 1 - q_g) is the KD loss of the core', () => {
    const r = rand(3);
    for (const [rows, cols] of [[7, 3], [33, 17], [1, 2]] as const) {
      const z = gauss(r, rows * cols, 3), v = gauss(r, rows * cols, 3), y = labelsOf(r, rows, cols);
      for (const T of T_VALUES) {
        const parts = dkdParts(z, v, y, rows, cols, T);
        for (let i = 0; i < rows; i++) {
          const ref = refRow(z, v, i * cols, cols, y[i]!, T);
          // two f64 evaluations of the same quantities by different formulas: 1e-12 relative to 1 + max|z/T|
          const s = 1 + maxAbs(z) / T;
          expectClose([parts.teacherTarget[i]!], [ref.qg], 1e-13, 1e-12, 1, `q_g row ${i} T=${T}`);
          expectClose([parts.tckd[i]!, parts.nckd[i]!], [ref.tckd, ref.nckd], 1e-12, 1e-10, s, `parts row ${i} T=${T}`);
          expectClose([parts.tckd[i]! + (1 - parts.teacherTarget[i]!) * parts.nckd[i]!], [ref.kl], 1e-12, 1e-10, s,
            `KL identity row ${i} ${rows}x${cols} T=${T}`);
          expect(parts.tckd[i]!).toBeGreaterThanOrEqual(-1e-12);
          expect(parts.nckd[i]!).toBeGreaterThanOrEqual(-1e-12);

          // row i alone through the core's KL kernel (f32): loss T²·KL and gradient (p - q)/T
          const zi = z.subarray(i * cols, (i + 1) * cols), vi = v.subarray(i * cols, (i + 1) * cols);
          const m = onCore(core, zi, vi);
          const tdk = core.alloc(cols);
          const kl = core.klDivergence(tdk, m.tz, m.tv, 1, cols, T);
          const dz = m.tdz.view();
          const o = { alpha: 1, beta: 1 - parts.teacherTarget[i]!, temperature: T };
          const L = dkdLoss(dz, m.tz.view(), m.tv.view(), y.subarray(i, i + 1), 1, cols, o);
          // the core's f32 KL: error ~ u (1 + max|z/T|) per log term (the conformance suite's lossValue bound)
          expectClose([L / (T * T)], [kl], 2e-6, 1e-5, 1 + (maxAbs(zi) + maxAbs(vi)) / T, `KD row ${i} T=${T}`);
          // with beta = 1 - q_g held constant the DKD gradient is the KD gradient: dz (w = T²) = T² (p - q)/T
          expectClose(dz, Float32Array.from(tdk.view(), (g) => g * T * T), 4e-6, 1e-5, T * (1 + maxAbs(zi) / T),
            `KD grad row ${i} T=${T}`);
          core.free(m.tz); core.free(m.tv); core.free(m.tdz); core.free(tdk);
        }
      }
    }
  });

  it('is linear in (alpha, beta), matches the parts, honours scaleT2, and gradients accumulate and scale', () => {
    const r = rand(4);
    const rows = 7, cols = 10, T = 4;
    const z = gauss(r, rows * cols, 3), v = gauss(r, rows * cols, 3), y = labelsOf(r, rows, cols);
    const base = gauss(r, rows * cols, 0.1);
    const run = (o: DkdOptions, gradScale = 1, times = 1) => {
      const m = onCore(core, z, v, base);
      let L = 0;
      for (let t = 0; t < times; t++) L = dkdLoss(m.dz, m.z, m.v, y, rows, cols, o, gradScale);
      const dz = Float64Array.from(m.dz, (g, i) => g - base[i]!);
      core.free(m.tz); core.free(m.tv); core.free(m.tdz);
      return { L, dz };
    };
    const t = run({ alpha: 1, beta: 0, temperature: T });
    const n = run({ alpha: 0, beta: 1, temperature: T });
    const both = run({ alpha: 0.6, beta: 3, temperature: T });
    const parts = dkdParts(z, v, y, rows, cols, T);
    const mean = (a: Float64Array): number => a.reduce((s, x) => s + x, 0) / rows;
    expect(t.L).toBeCloseTo(T * T * mean(parts.tckd), 12);
    expect(n.L).toBeCloseTo(T * T * mean(parts.nckd), 12);
    expectClose([both.L], [0.6 * t.L + 3 * n.L], 1e-14, 1e-12, 1, 'linear value');
    // the differences from `base` carry the rounding of base + g in f32: 2u (|base| + |g|)
    const gs = maxAbs(both.dz) + maxAbs(base);
    expectClose(both.dz, Float64Array.from(t.dz, (g, i) => 0.6 * g + 3 * n.dz[i]!), 8 * U, 0, gs, 'linear grad');
    expect(maxAbs(both.dz)).toBeGreaterThan(1e-3);

    const noT2 = run({ alpha: 0.6, beta: 3, temperature: T, scaleT2: false });
    expectClose([noT2.L * T * T], [both.L], 1e-14, 1e-12, 1, 'scaleT2: false value');
    expectClose(Float64Array.from(noT2.dz, (g) => g * T * T), both.dz, 8 * U * T * T, 0, gs, 'scaleT2: false grad');

    const twice = run({ alpha: 0.6, beta: 3, temperature: T }, 1, 2);
    expectClose(twice.dz, Float64Array.from(both.dz, (g) => 2 * g), 8 * U, 0, gs, 'accumulates (+=)');
    const scaled = run({ alpha: 0.6, beta: 3, temperature: T }, -0.25);
    expectClose(scaled.dz, Float64Array.from(both.dz, (g) => -0.25 * g), 8 * U, 0, gs, 'gradScale');
    expect(scaled.L).toBe(both.L);
    // dz = null: the same value, no gradient work
    const m = onCore(core, z, v);
    expect(dkdLoss(null, m.z, m.v, y, rows, cols, { alpha: 0.6, beta: 3, temperature: T })).toBe(both.L);
  });

  it('extreme logits (|z|, |v| from 1e3 to 1e4): finite loss and gradient, exact where known', () => {
    const r = rand(5);
    for (const T of [0.5, 1, 4, 50]) {
      for (const [rows, cols] of [[7, 3], [33, 17], [5, 2]] as const) {
        const big = (): number => (r() < 0.5 ? -1 : 1) * 10 ** (3 + r());
        const z = Float32Array.from({ length: rows * cols }, big), v = Float32Array.from({ length: rows * cols }, big);
        const y = labelsOf(r, rows, cols);
        const m = onCore(core, z, v);
        const L = dkdLoss(m.dz, m.z, m.v, y, rows, cols, { alpha: 1, beta: 8, temperature: T });
        expect(Number.isFinite(L), `loss T=${T} ${rows}x${cols}`).toBe(true);
        expect(L).toBeGreaterThan(0);
        for (const g of m.dz) expect(Number.isFinite(g)).toBe(true);
        const parts = dkdParts(z, v, y, rows, cols, T);
        for (const a of [parts.tckd, parts.nckd, parts.teacherTarget]) for (const x of a) expect(Number.isFinite(x)).toBe(true);
        core.free(m.tz); core.free(m.tv); core.free(m.tdz);
      }
      // one row worked by hand: z = [1e4, -1e4, 0], v = [-1e4, 1e4, 0], label 0.
      // p_g ≈ 1, q_g ≈ 0: TCKD = -log(1 - p_g) = lse(a) - lseN(a) = 1e4/T (to f64 precision);
      // p̂ = [0, 1] over classes {1, 2}, q̂ = [1, 0]: NCKD = -log p̂_1 = 1e4/T + log(1 + e^{-1e4/T}).
      // gradient (units of w/T): class 0: alpha (p_g - q_g) = alpha; class 1: alpha p̂_1 (q_g - p_g) + beta (p̂_1 - q̂_1) = -beta;
      // class 2: alpha · 1 · (0 - 1) + beta (1 - 0) = beta - alpha.
      const z = Float32Array.of(1e4, -1e4, 0), v = Float32Array.of(-1e4, 1e4, 0), y = Int32Array.of(0);
      const m = onCore(core, z, v);
      const alpha = 1.5, beta = 0.25;
      const L = dkdLoss(m.dz, m.z, m.v, y, 1, 3, { alpha, beta, temperature: T });
      const a = 1e4 / T;
      expectClose([L], [T * T * (alpha * a + beta * (a + Math.log1p(Math.exp(-a))))], 0, 1e-12, 1, `hand-worked loss T=${T}`);
      expectClose(m.dz, [alpha * T, -beta * T, (beta - alpha) * T], 0, 2 * U, 1, `hand-worked grad T=${T}`);
      core.free(m.tz); core.free(m.tv); core.free(m.tdz);
    }
  });

  it('rejects bad arguments with RangeErrors naming them', () => {
    const z = new Float32Array(6), v = new Float32Array(6), y = Int32Array.of(0, 2);
    const o: DkdOptions = { alpha: 1, beta: 1, temperature: 1 };
    expect(() => dkdLoss(null, z, v, y, 2, 3, o)).not.toThrow();
    const cases: [() => unknown, RegExp][] = [
      [() => dkdLoss(null, z, v, y, 0, 3, o), /^dkdLoss: rows/],
      [() => dkdLoss(null, z, v, y, 6, 1, o), /^dkdLoss: cols/],
      [() => dkdLoss(null, z, v, y, 2, 4, o), /^dkdLoss: z holds 6/],
      [() => dkdLoss(null, z, new Float32Array(5), y, 2, 3, o), /^dkdLoss: v holds 5/],
      [() => dkdLoss(new Float32Array(5), z, v, y, 2, 3, o), /^dkdLoss: dz holds 5/],
      [() => dkdLoss(null, z, v, Int32Array.of(0), 2, 3, o), /^dkdLoss: labels holds 1/],
      [() => dkdLoss(null, z, v, Int32Array.of(0, 3), 2, 3, o), /^dkdLoss: labels\[1\] = 3/],
      [() => dkdLoss(null, z, v, Int32Array.of(-1, 0), 2, 3, o), /^dkdLoss: labels\[0\] = -1/],
      [() => dkdLoss(null, z, v, y, 2, 3, { ...o, temperature: 0 }), /^dkdLoss: temperature/],
      [() => dkdLoss(null, z, v, y, 2, 3, { ...o, temperature: Infinity }), /^dkdLoss: temperature/],
      [() => dkdLoss(null, z, v, y, 2, 3, { ...o, alpha: -1 }), /^dkdLoss: alpha/],
      [() => dkdLoss(null, z, v, y, 2, 3, { ...o, beta: NaN }), /^dkdLoss: beta/],
      [() => dkdLoss(null, z, v, y, 2, 3, o, Infinity), /^dkdLoss: gradScale/],
      [() => dkdParts(z, v, y, 2, 3, -1), /^dkdParts: temperature/],
    ];
    for (const [f, re] of cases) expect(f).toThrow(RangeError), expect(f).toThrow(re);
  });
});
