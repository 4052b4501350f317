// The fused distillation loss (abi.ts kdLoss, core.distillationLoss) on every backend:
// every T x alpha x scaleT2, value and accumulated gradient against the f64 reference and
// finite differences; alpha = 1 never reads labels; the T^2 factor; extremes and NaN.
import { describe, expect, it } from 'vitest';
import { refCrossEntropy, refCrossEntropyGrad, refKd, refKdGrad, refKl, refKlGrad, type KdArgs } from '../reference/kernels.js';
import { TestRand } from '../reference/prng.js';
import { BACKENDS, TEMPERATURES, TOL, expectBitIdentical, expectClose, gradientReference, expectScalarClose, f32, i32, maxAbs, useCore } from './helpers.js';

const ALPHAS = [0, 0.3, 1] as const;

/** The f32 error scale of the KD value: its CE part and its alpha*w*KL part, each as in TOL.lossValue. */
function kdScale(z: Float32Array, v: Float32Array, o: KdArgs): number {
  const w = o.scaleT2 ? o.T * o.T : 1;
  return (1 - o.alpha) * (1 + maxAbs(z)) + o.alpha * w * (1 + (maxAbs(z) + maxAbs(v)) / o.T);
}

describe.each(BACKENDS)('distillation loss [%s]', (backend) => {
  const core = useCore(backend);

  for (const [rows, cols] of [[1, 1], [1, 3], [3, 17], [2, 129], [2, 1000]] as const) {
    it(`${rows}x${cols}: value and gradient (FD) for T in {${TEMPERATURES}}, alpha in {${ALPHAS}}, scaleT2 on/off`, () => {
      const rand = new TestRand(rows * 1009 + cols);
      const z = rand.logits(rows * cols), v = rand.logits(rows * cols), y = rand.labels(rows, cols), dz0 = rand.f32(rows * cols);
      const tz = f32(core(), z), tv = f32(core(), v), ty = i32(core(), y);
      // The loss is linear in its two parts, so its FD gradient is assembled from FD gradients of
      // the reference CE (step 1e-4) and KL (step 1e-4 T: its derivatives scale like T^-k).
      const fdCe = gradientReference((zs) => refCrossEntropy(zs, y, rows, cols), z, refCrossEntropyGrad(z, y, rows, cols), 1e-4, 'CE');
      for (const T of TEMPERATURES) {
        const fdKl = gradientReference((zs) => refKl(zs, v, rows, cols, T), z, refKlGrad(z, v, rows, cols, T), 1e-4 * T, `KL T=${T}`);
        for (const alpha of ALPHAS) {
          for (const scaleT2 of [true, false]) {
            const o = { T, alpha, scaleT2 };
            const what = `T=${T} alpha=${alpha} scaleT2=${scaleT2}`;
            const w = scaleT2 ? T * T : 1;
            const fd = Float64Array.from(fdCe, (g, i) => (1 - alpha) * g + alpha * w * fdKl[i]!);
            expectClose(refKdGrad(z, v, y, rows, cols, o), fd, TOL.referenceFd, `reference KD grad vs FD, ${what}`);
            const tdz = f32(core(), dz0);
            const gs = 0.5;
            const L = core().distillationLoss(tdz, tz, tv, ty, rows, cols, { temperature: T, alpha, scaleT2, gradScale: gs });
            expectScalarClose(L, refKd(z, v, y, rows, cols, o), TOL.lossValue, `KD value ${what}`, kdScale(z, v, o));
            expectClose(tdz.toArray(), Float64Array.from(fd, (g, i) => dz0[i]! + gs * g), TOL.lossGrad, `KD dz ${what}`, gs * maxAbs(fd));
            core().free(tdz);
          }
        }
      }
    });
  }

  it('composes from CE and KL exactly as documented: (1-a) CE + a T^2 KL, scaleT2 off drops T^2', () => {
    const rows = 3, cols = 17, T = 4;
    const rand = new TestRand(21);
    const z = rand.logits(rows * cols), v = rand.logits(rows * cols), y = rand.labels(rows, cols);
    const tz = f32(core(), z), tv = f32(core(), v), ty = i32(core(), y);
    const ce = core().crossEntropy(null, tz, ty, rows, cols);
    const kl = core().klDivergence(null, tz, tv, rows, cols, T);
    for (const alpha of ALPHAS) {
      const on = core().distillationLoss(null, tz, tv, ty, rows, cols, { temperature: T, alpha });
      const off = core().distillationLoss(null, tz, tv, ty, rows, cols, { temperature: T, alpha, scaleT2: false });
      expectScalarClose(on, (1 - alpha) * ce + alpha * T * T * kl, TOL.lossValue, `alpha=${alpha} T^2 on`, kdScale(z, v, { T, alpha, scaleT2: true }));
      expectScalarClose(off, (1 - alpha) * ce + alpha * kl, TOL.lossValue, `alpha=${alpha} T^2 off`, kdScale(z, v, { T, alpha, scaleT2: false }));
    }
    expectScalarClose(ce, refCrossEntropy(z, y, rows, cols), TOL.lossValue, 'CE', 1 + maxAbs(z));
    expectScalarClose(kl, refKl(z, v, rows, cols, T), TOL.lossValue, 'KL', 1 + (maxAbs(z) + maxAbs(v)) / T);
  });

  it('alpha = 1 does not read labels (null labels, or labels full of garbage)', () => {
    const rows = 3, cols = 5, T = 2;
    const rand = new TestRand(22);
    const z = rand.logits(rows * cols), v = rand.logits(rows * cols);
    const tz = f32(core(), z), tv = f32(core(), v);
    const d1 = core().alloc(rows * cols), d2 = core().alloc(rows * cols);
    const L1 = core().distillationLoss(d1, tz, tv, null, rows, cols, { temperature: T, alpha: 1 });
    // raw kernel with labels pointing at out-of-range values: must not be read
    const garbage = i32(core(), [-7, 1 << 30, 99]);
    const L2 = core().kernels.kdLoss(d2.ptr, tz.ptr, tv.ptr, garbage.ptr, rows, cols, T, 1, 1, 1);
    expect(L2).toBe(L1);
    expectBitIdentical(d2.toArray(), d1.toArray(), 'dz with garbage labels');
    expectScalarClose(L1, refKd(z, v, null, rows, cols, { T, alpha: 1, scaleT2: true }), TOL.lossValue, 'alpha=1 value',
      kdScale(z, v, { T, alpha: 1, scaleT2: true }));
  });

  it('identical student and teacher with alpha = 1: loss exactly 0 at every T', () => {
    const z = new TestRand(23).logits(2 * 129);
    const tz = f32(core(), z);
    for (const T of TEMPERATURES) {
      expect(core().distillationLoss(null, tz, tz, null, 2, 129, { temperature: T, alpha: 1 })).toBe(0);
    }
  });

  it('logits of +-1e4: finite value and gradient close to the reference; NaN logits give NaN', () => {
    const rows = 3, cols = 33;
    const rand = new TestRand(24);
    const big = (): Float32Array => Float32Array.from({ length: rows * cols }, () => (rand.next() < 0.5 ? -1e4 : 1e4) * rand.uniform(0.5, 1));
    const z = big(), v = big(), y = rand.labels(rows, cols);
    const tz = f32(core(), z), tv = f32(core(), v), ty = i32(core(), y);
    for (const T of TEMPERATURES) {
      for (const alpha of ALPHAS) {
        const o = { T, alpha, scaleT2: true };
        const dz = core().alloc(rows * cols);
        const L = core().distillationLoss(dz, tz, tv, ty, rows, cols, { temperature: T, alpha });
        expect(Number.isFinite(L), `finite at T=${T} alpha=${alpha}`).toBe(true);
        for (const g of dz.toArray()) expect(Number.isFinite(g)).toBe(true);
        expectScalarClose(L, refKd(z, v, y, rows, cols, o), TOL.lossValue, `KD +-1e4 T=${T} alpha=${alpha}`, kdScale(z, v, o));
        const g = refKdGrad(z, v, y, rows, cols, o);
        expectClose(dz.toArray(), g, { ...TOL.lossGrad, atol: TOL.lossGrad.atol + 4e4 / T * 2 ** -24 }, `KD dz +-1e4 T=${T} alpha=${alpha}`);
      }
    }
    const zn = Float32Array.from(z); zn[4] = NaN;
    expect(core().distillationLoss(null, f32(core(), zn), tv, ty, rows, cols, { temperature: 2, alpha: 0.3 })).toBeNaN();
    expect(core().distillationLoss(null, f32(core(), zn), tv, null, rows, cols, { temperature: 2, alpha: 1 })).toBeNaN();
  });
});
