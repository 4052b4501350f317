// maxNormColumns on every backend: columns (a unit's incoming weights) whose L2 norm exceeds
// the limit are scaled to it, others are untouched bit for bit; odd shapes (SIMD tails), NaN
// columns, values whose squares overflow f32, and nothing outside the extent is written.
// The kernel sums in f64 and multiplies in f32 on every backend, so all three agree bitwise.
import { describe, expect, it } from 'vitest';
import { loadCore } from '@retort/core-wasm';
import { refMaxNormColumns } from '../reference/kernels.js';
import { TestRand } from '../reference/prng.js';
import { BACKENDS, U, expectBitIdentical, expectClose, f32, fnv1a, useCore } from './helpers.js';

const SHAPES: [rows: number, cols: number][] = [[1, 1], [3, 17], [129, 2], [7, 5], [100, 33], [784, 12]];
const MAX_NORM = 1.5;

/** Weights whose columns have norms spread around MAX_NORM: roughly half are over the limit. */
function weights(rows: number, cols: number, seed: number): Float32Array {
  const rand = new TestRand(seed);
  const w = rand.f32(rows * cols);
  const colScale = Array.from({ length: cols }, () => 2 * MAX_NORM * rand.next() / Math.sqrt(rows / 3));
  for (let i = 0; i < w.length; i++) w[i] = w[i]! * colScale[i % cols]!;
  return w;
}

function columnNorm(w: ArrayLike<number>, rows: number, cols: number, c: number): number {
  let s = 0;
  for (let r = 0; r < rows; r++) s += w[r * cols + c]! ** 2;
  return Math.sqrt(s);
}

describe.each(BACKENDS)('maxNormColumns [%s]', (backend) => {
  const core = useCore(backend);

  for (const [rows, cols] of SHAPES) {
    it(`${rows}x${cols}: over-limit columns scaled to the limit, others untouched, no write past the extent`, () => {
      const w = weights(rows, cols, rows * 31 + cols);
      const guard = 4;
      const tw = core().alloc(rows * cols + guard).set(w);
      tw.set([7, 7, 7, 7], rows * cols);
      core().maxNormColumns(tw, rows, cols, MAX_NORM);
      const out = tw.toArray();
      expect(Array.from(out.subarray(rows * cols)), 'guard').toEqual([7, 7, 7, 7]);
      const got = out.subarray(0, rows * cols);
      const ref = refMaxNormColumns(w, rows, cols, MAX_NORM);
      // One f32 rounding of the factor and one of the product: 2u relative per element.
      expectClose(got, ref, { rtol: 2.5 * U, atol: 0 }, 'maxNormColumns vs f64 reference');
      let scaled = 0;
      for (let c = 0; c < cols; c++) {
        const before = columnNorm(w, rows, cols, c);
        if (before > MAX_NORM) {
          scaled++;
          expect(columnNorm(got, rows, cols, c)).toBeLessThanOrEqual(MAX_NORM * (1 + 4 * U));
        } else {
          for (let r = 0; r < rows; r++) expect(Object.is(got[r * cols + c], w[r * cols + c])).toBe(true);
        }
      }
      if (cols >= 5) expect(scaled, 'the test data has columns over the limit').toBeGreaterThan(0);
    });
  }

  it('NaN column left alone, zero column stays zero, squares beyond f32 range do not overflow', () => {
    const rows = 6, cols = 9;
    const w = weights(rows, cols, 99);
    for (let r = 0; r < rows; r++) { w[r * cols + 1] = 0; w[r * cols + 6] = 3e30 * (r % 2 ? 1 : -1); }
    w[2 * cols + 4] = NaN;
    w[3 * cols + 8] = NaN; // in the scalar tail of the SIMD build
    const tw = f32(core(), w);
    core().maxNormColumns(tw, rows, cols, MAX_NORM);
    const got = tw.toArray();
    const ref = refMaxNormColumns(w, rows, cols, MAX_NORM);
    expectClose(got, ref, { rtol: 2.5 * U, atol: 0 }, 'edge columns', 0);
    for (let r = 0; r < rows; r++) {
      expect(Object.is(got[r * cols + 4], w[r * cols + 4]), 'NaN column untouched').toBe(true);
      expect(got[r * cols + 1]).toBe(0);
      expect(Math.abs(got[r * cols + 6]!)).toBeCloseTo(MAX_NORM / Math.sqrt(rows), 6);
    }
  });

  it('rows or cols of 0 is a no-op; maxNorm must be > 0', () => {
    const tw = f32(core(), [5, 5, 5]);
    core().maxNormColumns(tw, 0, 3, 1);
    core().maxNormColumns(tw, 3, 0, 1);
    expect(Array.from(tw.toArray())).toEqual([5, 5, 5]);
    expect(() => core().maxNormColumns(tw, 1, 3, 0)).toThrow(/maxNorm/);
    expect(() => core().maxNormColumns(tw, 2, 3, 1)).toThrow(/w .*6/);
  });
});

describe('maxNormColumns agrees bit for bit across backends', () => {
  it('simd, scalar and js give the same bits', async () => {
    const results: Float32Array[] = [];
    for (const backend of BACKENDS) {
      const core = await loadCore({ backend });
      for (const [rows, cols] of SHAPES) {
        const tw = f32(core, weights(rows, cols, rows + cols));
        core.maxNormColumns(tw, rows, cols, MAX_NORM);
        results.push(tw.toArray());
      }
    }
    const n = SHAPES.length;
    for (let b = 1; b < BACKENDS.length; b++) {
      for (let s = 0; s < n; s++) {
        expectBitIdentical(results[b * n + s]!, results[s]!, `${BACKENDS[b]} vs ${BACKENDS[0]} ${SHAPES[s]!.join('x')} (${fnv1a(results[s]!)})`);
      }
    }
  });
});
