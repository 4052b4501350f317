// softmaxRows, logSoftmaxRows and softmaxBackward on every backend against the f64
// reference, at every temperature and row shape, with extreme logits and NaN rows.
import { describe, expect, it } from 'vitest';
import { refLogSoftmax, refSoftmax, refSoftmaxBackward } from '../reference/kernels.js';
import { dot } from '../reference/finite-difference.js';
import { TestRand } from '../reference/prng.js';
import { BACKENDS, ROW_SHAPES, TEMPERATURES, TOL, expectClose, f32, gradientReference, maxAbs, useCore } from './helpers.js';

describe.each(BACKENDS)('softmax family [%s]', (backend) => {
  const core = useCore(backend);

  for (const [rows, cols] of ROW_SHAPES) {
    it(`softmaxRows and logSoftmaxRows ${rows}x${cols} at T in ${TEMPERATURES.join(', ')}`, () => {
      const rand = new TestRand(rows * 7919 + cols);
      const x = rand.logits(rows * cols, 4);
      const tx = f32(core(), x), ty = core().alloc(rows * cols);
      for (const T of TEMPERATURES) {
        const argScale = 1 + maxAbs(x) / T;
        core().softmaxRows(ty, tx, rows, cols, T);
        const y = ty.toArray();
        expectClose(y, refSoftmax(x, rows, cols, T), { ...TOL.softmax, rtol: TOL.softmax.rtol * argScale }, `softmax T=${T}`, 1);
        for (let r = 0; r < rows; r++) {
          let s = 0;
          for (let c = 0; c < cols; c++) s += y[r * cols + c]!;
          expect(Math.abs(s - 1), `row ${r} sums to 1 (T=${T})`).toBeLessThanOrEqual(2e-6 * Math.sqrt(cols) + 1e-6);
        }
        core().logSoftmaxRows(ty, tx, rows, cols, T);
        expectClose(ty.toArray(), refLogSoftmax(x, rows, cols, T), TOL.logSoftmax, `logSoftmax T=${T}`, argScale);
      }
    });
  }

  it('y may alias x (in-place softmax)', () => {
    const x = new TestRand(3).logits(3 * 17);
    const t = f32(core(), x);
    core().softmaxRows(t, t, 3, 17, 2);
    expectClose(t.toArray(), refSoftmax(x, 3, 17, 2), { ...TOL.softmax, rtol: TOL.softmax.rtol * 10 }, 'aliased softmax', 1);
  });

  it('logits of +-1e4 give finite probabilities summing to 1 and finite log-probabilities', () => {
    const rand = new TestRand(11);
    const rows = 4, cols = 129;
    const x = Float32Array.from({ length: rows * cols }, () => (rand.next() < 0.5 ? -1e4 : 1e4) * rand.uniform(0.5, 1));
    x[3] = 1e4; x[cols + 5] = -1e4; // exact extremes too
    const tx = f32(core(), x), ty = core().alloc(rows * cols);
    for (const T of TEMPERATURES) {
      core().softmaxRows(ty, tx, rows, cols, T);
      const y = ty.toArray();
      for (const v of y) expect(Number.isFinite(v) && v >= 0 && v <= 1, `p in [0,1] at T=${T}`).toBe(true);
      for (let r = 0; r < rows; r++) {
        const s = y.subarray(r * cols, (r + 1) * cols).reduce((a, b) => a + b, 0);
        expect(Math.abs(s - 1)).toBeLessThan(1e-5);
      }
      // f32 rounding of x/T at |x/T| up to 2e4 moves each exponent by up to |x/T| u
      expectClose(y, refSoftmax(x, rows, cols, T), { rtol: 4 * 2 ** -24 * (1e4 / T) + 1e-5, atol: 1e-6 }, `softmax +-1e4 T=${T}`, 1);
      core().logSoftmaxRows(ty, tx, rows, cols, T);
      const ly = ty.toArray();
      for (const v of ly) expect(Number.isFinite(v) && v <= 0, `log p finite and <= 0 at T=${T}`).toBe(true);
      expectClose(ly, refLogSoftmax(x, rows, cols, T), TOL.logSoftmax, `logSoftmax +-1e4 T=${T}`, 1 + 1e4 / T);
    }
  });

  it('a row with NaN is NaN (softmax and log-softmax); other rows are unaffected', () => {
    const rows = 3, cols = 17;
    const x = new TestRand(13).logits(rows * cols);
    x[cols + 4] = NaN;
    const tx = f32(core(), x), ty = core().alloc(rows * cols);
    for (const log of [false, true]) {
      if (log) core().logSoftmaxRows(ty, tx, rows, cols, 1);
      else core().softmaxRows(ty, tx, rows, cols, 1);
      const y = ty.toArray();
      for (let c = 0; c < cols; c++) expect(y[cols + c], `${log ? 'log' : ''}softmax NaN row [${c}]`).toBeNaN();
      for (const r of [0, 2]) {
        for (let c = 0; c < cols; c++) expect(Number.isFinite(y[r * cols + c]!), `row ${r} finite`).toBe(true);
      }
    }
  });

  for (const [rows, cols] of [[1, 1], [3, 17], [2, 129], [1, 1000]] as const) {
    it(`softmaxBackward ${rows}x${cols} accumulates y (dy - <dy,y>) / T (finite differences)`, () => {
      const rand = new TestRand(rows * 101 + cols);
      const x = rand.logits(rows * cols, 2), dy = rand.f32(rows * cols), dx0 = rand.f32(rows * cols);
      for (const T of TEMPERATURES) {
        const y = Float32Array.from(refSoftmax(x, rows, cols, T));
        // d/dx <dy, softmax(x / T)>, by central differences of the f64 reference
        const fd = gradientReference((xs) => dot(dy, refSoftmax(xs, rows, cols, T)), x,
          refSoftmaxBackward(y, dy, rows, cols, T), 1e-4 * T, `softmaxBackward T=${T}`);
        const expected = Float64Array.from(fd, (g, i) => g + dx0[i]!);
        const tdx = f32(core(), dx0);
        core().softmaxBackward(tdx, f32(core(), y), f32(core(), dy), rows, cols, T);
        expectClose(tdx.toArray(), expected, TOL.softmaxBackward, `softmaxBackward T=${T}`, maxAbs(fd));
      }
    });
  }
});
