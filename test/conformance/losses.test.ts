// Cross-entropy, KL divergence, MSE and smooth-L1 on every backend: values and
// accumulated gradients against the f64 reference and finite differences, accumulation
// rules (gradScale, gradScale 0 leaves dz bit-for-bit alone, null dz writes nothing),
// extreme logits and NaN.
import { describe, expect, it } from 'vitest';
import type { Core, Tensor } from '@retort/core-wasm';
import {
  refCrossEntropy, refCrossEntropyGrad, refKl, refKlGrad, refMse, refMseGrad, refSmoothL1, refSmoothL1Grad,
} from '../reference/kernels.js';
import { finiteDifference } from '../reference/finite-difference.js';
import { TestRand } from '../reference/prng.js';
import { BACKENDS, ROW_SHAPES, TEMPERATURES, TOL, expectBitIdentical, expectClose, gradientReference, expectScalarClose, f32, i32, maxAbs, useCore } from './helpers.js';

/** Runs `body` and asserts the first `bytes` bytes of linear memory (where a null pointer points) did not change. */
function expectNoWriteAtZero(core: Core, bytes: number, body: () => void): void {
  const before = core.views.u8.slice(0, bytes);
  body();
  expect(Buffer.from(core.views.u8.slice(0, bytes)).equals(Buffer.from(before)), 'memory at offset 0 untouched').toBe(true);
}

/** A gradient buffer full of -0: `dz += 0 * g` would turn it into +0, so "not touched" is observable. */
function negativeZeros(core: Core, n: number): Tensor<'f32'> {
  return core.alloc(n).set(new Float32Array(n).fill(-0));
}

describe.each(BACKENDS)('losses [%s]', (backend) => {
  const core = useCore(backend);

  for (const [rows, cols] of ROW_SHAPES) {
    it(`crossEntropy ${rows}x${cols}: value, gradient (FD), accumulation with gradScale`, () => {
      const rand = new TestRand(rows * 131 + cols);
      const z = rand.logits(rows * cols), y = rand.labels(rows, cols), dz0 = rand.f32(rows * cols);
      const fd = gradientReference((zs) => refCrossEntropy(zs, y, rows, cols), z, refCrossEntropyGrad(z, y, rows, cols), 1e-4, 'CE');
      const tz = f32(core(), z), ty = i32(core(), y), tdz = f32(core(), dz0);
      const gs = 0.7;
      const L = core().crossEntropy(tdz, tz, ty, rows, cols, gs);
      expectScalarClose(L, refCrossEntropy(z, y, rows, cols), TOL.lossValue, 'CE value', 1 + maxAbs(z));
      expectClose(tdz.toArray(), Float64Array.from(fd, (g, i) => dz0[i]! + gs * g), TOL.lossGrad, 'CE dz', gs * maxAbs(fd));
      expect(core().crossEntropy(null, tz, ty, rows, cols), 'same value without a gradient').toBe(L);
    });

    it(`klDivergence ${rows}x${cols}: value and gradient (FD) at every T; exactly 0 for identical inputs`, () => {
      const rand = new TestRand(rows * 137 + cols);
      const z = rand.logits(rows * cols), v = rand.logits(rows * cols), dz0 = rand.f32(rows * cols);
      const tz = f32(core(), z), tv = f32(core(), v);
      for (const T of TEMPERATURES) {
        const fd = gradientReference((zs) => refKl(zs, v, rows, cols, T), z, refKlGrad(z, v, rows, cols, T), 1e-4 * T, `KL T=${T}`);
        const tdz = f32(core(), dz0);
        const L = core().klDivergence(tdz, tz, tv, rows, cols, T, 1.5);
        expectScalarClose(L, refKl(z, v, rows, cols, T), TOL.lossValue, `KL value T=${T}`, 1 + maxAbs(z) / T + maxAbs(v) / T);
        expect(L, 'KL >= 0').toBeGreaterThanOrEqual(-1e-6);
        expectClose(tdz.toArray(), Float64Array.from(fd, (g, i) => dz0[i]! + 1.5 * g), TOL.lossGrad, `KL dz T=${T}`, 1.5 * maxAbs(fd));
        const same = negativeZeros(core(), rows * cols);
        expect(core().klDivergence(same, tz, tz, rows, cols, T), `KL(z||z) === 0 at T=${T}`).toBe(0);
        expect(maxAbs(same.toArray()), 'gradient of KL(z||z) is 0').toBeLessThanOrEqual(1e-12);
      }
    });
  }

  it('gradScale 0 leaves dz bit-for-bit untouched; a null dz writes nothing (CE, KL)', () => {
    const rows = 3, cols = 17;
    const rand = new TestRand(4);
    const tz = f32(core(), rand.logits(rows * cols)), tv = f32(core(), rand.logits(rows * cols));
    const ty = i32(core(), rand.labels(rows, cols));
    const dz = negativeZeros(core(), rows * cols);
    core().crossEntropy(dz, tz, ty, rows, cols, 0);
    core().klDivergence(dz, tz, tv, rows, cols, 2, 0);
    expectBitIdentical(dz.toArray(), new Float32Array(rows * cols).fill(-0), 'dz after gradScale 0');
    expectNoWriteAtZero(core(), rows * cols * 4 + 64, () => {
      core().crossEntropy(null, tz, ty, rows, cols);
      core().klDivergence(null, tz, tv, rows, cols, 2);
    });
  });

  it('logits of +-1e4: finite CE and KL values and gradients, close to the reference', () => {
    const rows = 4, cols = 129;
    const rand = new TestRand(12);
    const big = (): Float32Array => Float32Array.from({ length: rows * cols }, () => (rand.next() < 0.5 ? -1e4 : 1e4) * rand.uniform(0.5, 1));
    const z = big(), v = big(), y = rand.labels(rows, cols);
    const tz = f32(core(), z), tv = f32(core(), v), ty = i32(core(), y);
    const dz = core().alloc(rows * cols);
    const ce = core().crossEntropy(dz, tz, ty, rows, cols);
    expect(Number.isFinite(ce)).toBe(true);
    expectScalarClose(ce, refCrossEntropy(z, y, rows, cols), TOL.lossValue, 'CE +-1e4', 1e4);
    for (const g of dz.toArray()) expect(Number.isFinite(g)).toBe(true);
    expectClose(dz.toArray(), refCrossEntropyGrad(z, y, rows, cols), TOL.lossGrad, 'CE dz +-1e4');
    for (const T of TEMPERATURES) {
      dz.view().fill(0);
      const kl = core().klDivergence(dz, tz, tv, rows, cols, T);
      expect(Number.isFinite(kl), `KL finite at T=${T}`).toBe(true);
      expectScalarClose(kl, refKl(z, v, rows, cols, T), TOL.lossValue, `KL +-1e4 T=${T}`, 1 + 2e4 / T);
      for (const g of dz.toArray()) expect(Number.isFinite(g)).toBe(true);
      // probabilities at |x/T| ~ 2e4 carry ~|x/T| u relative error from rounding x/T
      expectClose(dz.toArray(), refKlGrad(z, v, rows, cols, T), { ...TOL.lossGrad, atol: TOL.lossGrad.atol + 4e4 / T * 2 ** -24 },
        `KL dz +-1e4 T=${T}`);
    }
  });

  it('NaN logits give a NaN loss (CE; KL with NaN in student or teacher)', () => {
    const rows = 2, cols = 7;
    const rand = new TestRand(6);
    const z = rand.logits(rows * cols), v = rand.logits(rows * cols);
    const zn = Float32Array.from(z); zn[cols + 2] = NaN;
    const vn = Float32Array.from(v); vn[3] = NaN;
    const ty = i32(core(), [1, 5]);
    expect(core().crossEntropy(null, f32(core(), zn), ty, rows, cols)).toBeNaN();
    expect(core().klDivergence(null, f32(core(), zn), f32(core(), v), rows, cols, 2)).toBeNaN();
    expect(core().klDivergence(null, f32(core(), z), f32(core(), vn), rows, cols, 2)).toBeNaN();
  });

  for (const n of [1, 3, 17, 129, 1000]) {
    it(`mseLoss and smoothL1Loss n=${n}: value and accumulated gradient (FD)`, () => {
      const rand = new TestRand(n + 5);
      const p = rand.f32(n, -3, 3), t = rand.f32(n, -3, 3), dp0 = rand.f32(n);
      const tp = f32(core(), p), tt = f32(core(), t);
      const cases = [
        ['mse', refMse, refMseGrad, (d: Tensor<'f32'> | null, s: number) => core().mseLoss(d, tp, tt, n, s)],
        ['smoothL1', refSmoothL1, refSmoothL1Grad, (d: Tensor<'f32'> | null, s: number) => core().smoothL1Loss(d, tp, tt, n, s)],
      ] as const;
      for (const [name, ref, refGrad, run] of cases) {
        const fd = gradientReference((ps) => ref(ps, t, n), p, refGrad(p, t, n), 1e-5, name, 1000);
        const tdp = f32(core(), dp0);
        const L = run(tdp, -2);
        expectScalarClose(L, ref(p, t, n), TOL.regressionValue, `${name} value`);
        expectClose(tdp.toArray(), Float64Array.from(refGrad(p, t, n), (g, i) => dp0[i]! - 2 * g), TOL.regressionGrad, `${name} dp`);
        expectClose(tdp.toArray(), Float64Array.from(fd, (g, i) => dp0[i]! - 2 * g), { rtol: 1e-5, atol: 1e-6 }, `${name} dp vs FD`);
        expect(run(null, 1), `${name} without gradient`).toBe(L);
      }
    });
  }

  it('smoothL1 around |d| = 1 (both branches, the seam, and just either side)', () => {
    const d = [-3, -1.001, -1, -0.999, -0.5, 0, 0.5, 0.999, 1, 1.001, 3, 1 + 2 ** -23, 1 - 2 ** -24];
    const n = d.length;
    const t = new Float32Array(n);
    const p = Float32Array.from(d);
    const tdp = core().alloc(n);
    const L = core().smoothL1Loss(tdp, f32(core(), p), f32(core(), t), n);
    expectScalarClose(L, refSmoothL1(p, t, n), TOL.regressionValue, 'smoothL1 value at the seam');
    const fd = finiteDifference((ps) => refSmoothL1(ps, t, n), p, 1e-7);
    expectClose(tdp.toArray(), fd, { rtol: 1e-6, atol: 1e-6 }, 'smoothL1 grad vs FD at the seam');
    expectClose(tdp.toArray(), refSmoothL1Grad(p, t, n), TOL.regressionGrad, 'smoothL1 grad at the seam');
  });

  it('gradScale 0 leaves dp untouched; null dp writes nothing (MSE, smooth-L1)', () => {
    const n = 17;
    const rand = new TestRand(10);
    const tp = f32(core(), rand.f32(n)), tt = f32(core(), rand.f32(n));
    const dp = negativeZeros(core(), n);
    core().mseLoss(dp, tp, tt, n, 0);
    core().smoothL1Loss(dp, tp, tt, n, 0);
    expectBitIdentical(dp.toArray(), new Float32Array(n).fill(-0), 'dp after gradScale 0');
    expectNoWriteAtZero(core(), n * 4 + 64, () => {
      core().mseLoss(null, tp, tt, n);
      core().smoothL1Loss(null, tp, tt, n);
    });
  });
});
