// Elementwise kernels and dense-layer helpers on every backend: fill/scale/axpy,
// normalizeU8 (bit-exact to its f32 spec), argmaxRows (ties, NaN), bias add/backward,
// ReLU and dropout forward/backward (backward kernels accumulate; checked against
// finite differences of the f64 reference).
import { describe, expect, it } from 'vitest';
import {
  refArgmaxRows, refBiasAdd, refBiasBackward, refNormalizeU8, refRelu, refReluBackward,
} from '../reference/kernels.js';
import { dot, finiteDifference } from '../reference/finite-difference.js';
import { TestRand } from '../reference/prng.js';
import { BACKENDS, TOL, U, expectBitIdentical, expectClose, f32, useCore } from './helpers.js';

const SIZES = [1, 3, 4, 17, 129, 1000];
const SHAPES: [number, number][] = [[1, 1], [3, 17], [2, 129], [7, 5], [2, 1000]];

describe.each(BACKENDS)('elementwise and layers [%s]', (backend) => {
  const core = useCore(backend);

  for (const n of SIZES) {
    it(`fill, scale, axpy n=${n} (and nothing past n is written)`, () => {
      const rand = new TestRand(n);
      const x = rand.f32(n + 4, -4, 4), y = rand.f32(n + 4, -4, 4);
      const tx = f32(core(), x), ty = f32(core(), y);
      core().scale(tx, n, -1.25);
      expectClose(tx.toArray(), Float64Array.from(x, (v, i) => (i < n ? v * -1.25 : v)), TOL.elementwise, 'scale',
        Float64Array.from(x, (v) => Math.abs(1.25 * v)));
      const sx = tx.toArray();
      core().axpy(ty, tx, n, 0.75);
      expectClose(ty.toArray(), Float64Array.from(y, (v, i) => (i < n ? v + 0.75 * sx[i]! : v)), TOL.elementwise, 'axpy',
        Float64Array.from(y, (v, i) => Math.abs(v) + Math.abs(0.75 * sx[i]!)));
      core().fill(ty, n, 2.5);
      const filled = ty.toArray();
      for (let i = 0; i < n; i++) expect(filled[i]).toBe(2.5);
      expect(Array.from(filled.subarray(n)), 'fill past n').toEqual(Array.from(y.subarray(n)));
    });
  }

  it('normalizeU8 is bit-identical to its f32 specification (all 256 byte values, odd lengths)', () => {
    const bytes = Uint8Array.from({ length: 256 + 13 }, (_, i) => (i * 7 + 3) % 256);
    const tx = core().allocU8(bytes.length).set(bytes);
    for (const [mean, std] of [[0, 1], [0.1307, 0.3081], [0.5, 0.25]] as const) {
      for (const n of [1, 3, 17, bytes.length]) {
        const ty = core().alloc(n + 4).set(new Float32Array(n + 4).fill(-7));
        core().normalizeU8(ty, tx, n, mean, std);
        const expected = new Float32Array(n + 4).fill(-7);
        expected.set(refNormalizeU8(bytes.subarray(0, n), mean, std));
        expectBitIdentical(ty.toArray(), expected, `normalizeU8 n=${n} mean=${mean} std=${std}`);
      }
    }
  });

  it('argmaxRows: first index on ties, first NaN wins, odd widths', () => {
    const rand = new TestRand(2);
    for (const [rows, cols] of SHAPES) {
      const x = Float32Array.from({ length: rows * cols }, () => rand.int(5)); // many ties
      if (rows > 1 && cols > 3) { x[cols + 2] = NaN; x[cols + 3] = 100; }
      if (rows > 2) { x[2 * cols] = NaN; }
      const out = core().allocI32(rows);
      core().argmaxRows(out, f32(core(), x), rows, cols);
      expect(Array.from(out.toArray()), `argmax ${rows}x${cols}`).toEqual(Array.from(refArgmaxRows(x, rows, cols)));
    }
  });

  for (const [rows, cols] of SHAPES) {
    it(`biasAdd and biasBackward ${rows}x${cols} (backward accumulates; FD)`, () => {
      const rand = new TestRand(rows * 37 + cols);
      const y = rand.f32(rows * cols), b = rand.f32(cols), dy = rand.f32(rows * cols), db0 = rand.f32(cols);
      const ty = f32(core(), y);
      core().biasAdd(ty, f32(core(), b), rows, cols);
      expectClose(ty.toArray(), refBiasAdd(y, b, rows, cols), TOL.elementwise, 'biasAdd',
        Float64Array.from(y, (v, i) => Math.abs(v) + Math.abs(b[i % cols]!)));
      // d/db <dy, y + b>, by finite differences of the reference forward
      const fd = finiteDifference((bs) => dot(dy, refBiasAdd(y, bs, rows, cols)), b);
      expectClose(refBiasBackward(dy, rows, cols), fd, TOL.referenceFd, 'reference biasBackward vs FD');
      const tdb = f32(core(), db0);
      core().biasBackward(tdb, f32(core(), dy), rows, cols);
      const absCol = refBiasBackward(Float64Array.from(dy, Math.abs), rows, cols);
      expectClose(tdb.toArray(), Float64Array.from(fd, (g, c) => g + db0[c]!), { rtol: 0, atol: TOL.biasBackward.atol * (rows + 2) + 1e-8 },
        'biasBackward', Float64Array.from(absCol, (s, c) => s + Math.abs(db0[c]!)));
    });
  }

  for (const n of SIZES) {
    it(`reluForward / reluBackward n=${n} (NaN stays NaN, in place, backward accumulates; FD)`, () => {
      const rand = new TestRand(n * 3 + 1);
      const x = rand.awayFromZero(n), dy = rand.f32(n), dx0 = rand.f32(n);
      const xn = Float32Array.from(x);
      if (n > 2) xn[1] = NaN;
      const tx = f32(core(), xn), ty = core().alloc(n);
      core().reluForward(ty, tx, n);
      expectBitIdentical(ty.toArray(), Float32Array.from(refRelu(xn)), 'relu forward');
      core().reluForward(tx, tx, n);
      expectBitIdentical(tx.toArray(), Float32Array.from(refRelu(xn)), 'relu forward in place');
      const fd = finiteDifference((xs) => dot(dy, refRelu(xs)), x, 1e-4);
      const tdx = f32(core(), dx0);
      core().reluBackward(tdx, f32(core(), dy), f32(core(), refRelu(x)), n);
      expectClose(tdx.toArray(), Float64Array.from(fd, (g, i) => g + dx0[i]!), { rtol: 2 * U, atol: 1e-9 }, 'relu backward vs FD');
      expectBitIdentical(tdx.toArray(), Float32Array.from(refReluBackward(dy, refRelu(x)), (g, i) => Math.fround(g + dx0[i]!)), 'relu backward');
    });

    it(`dropoutForward / dropoutBackward n=${n} with a given mask (backward accumulates; FD)`, () => {
      const rand = new TestRand(n * 5 + 2);
      const x = rand.f32(n), dy = rand.f32(n), dx0 = rand.f32(n);
      const keep = Math.fround(1 / Math.fround(1 - Math.fround(0.3)));
      const mask = Float32Array.from({ length: n }, () => (rand.next() < 0.3 ? 0 : keep));
      const tmask = f32(core(), mask), ty = core().alloc(n), tx = f32(core(), x);
      core().dropoutForward(ty, tx, tmask, n);
      expectBitIdentical(ty.toArray(), Float32Array.from(x, (v, i) => v * mask[i]!), 'dropout forward');
      core().dropoutForward(tx, tx, tmask, n);
      expectBitIdentical(tx.toArray(), ty.toArray(), 'dropout forward in place');
      const fd = finiteDifference((xs) => dot(dy, Float64Array.from(xs, (v, i) => v * mask[i]!)), x);
      const tdx = f32(core(), dx0);
      core().dropoutBackward(tdx, f32(core(), dy), tmask, n);
      expectClose(tdx.toArray(), Float64Array.from(fd, (g, i) => g + dx0[i]!), { rtol: 0, atol: TOL.elementwise.atol + 1e-9 }, 'dropout backward vs FD',
        Float64Array.from(dy, (d, i) => Math.abs(d * mask[i]!) + Math.abs(dx0[i]!)));
    });
  }
});
