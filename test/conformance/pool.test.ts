// maxPool2d / avgPool2d / globalAvgPool forward and backward on every backend against the f64
// reference (test/reference/conv.ts) and, for the backward kernels, central finite differences
// of the reference forward. Max pooling is a selection, so its values and argmax are compared
// exactly, with ties (first maximum wins), NaN (the first NaN wins), and all-negative inputs
// under 'same' padding (padding never wins). Outputs sit between canaries; the backward kernels
// accumulate onto random contents.
import { describe, expect, it } from 'vitest';
import { encodeGeometry, type Core, type ConvGeometry, type Tensor } from '@retort/core-wasm';
import {
  convGeometry, inputSize, outputSize, refAvgPool, refAvgPoolBackward, refGlobalAvgPool, refGlobalAvgPoolBackward,
  refMaxPool, refMaxPoolBackward,
} from '../reference/conv.js';
import { dot, finiteDifference } from '../reference/finite-difference.js';
import { TestRand } from '../reference/prng.js';
import { BACKENDS, TOL, expectBitIdentical, expectClose, f32, i32, useCore, type Tol } from './helpers.js';

const CANARY = 12345.5;
const MARGIN = 8;

/** A pooling geometry: C channels in and out, no groups. */
const pool = (B: number, H: number, W: number, C: number, K: number, S: number, padding: 'same' | 'valid' | number,
              KW = K, SW = S): ConvGeometry => convGeometry(B, H, W, C, C, K, KW, S, SW, padding);

const CASES: [name: string, g: ConvGeometry][] = [
  ['2x2 stride 2 valid, odd sizes', pool(2, 5, 7, 3, 2, 2, 'valid')],
  ['3x3 stride 2 same (asymmetric padding)', pool(3, 7, 6, 5, 3, 2, 'same')],
  ['3x3 stride 1 same (overlapping windows)', pool(1, 5, 5, 17, 3, 1, 'same')],
  ['1x1 window', pool(1, 3, 4, 4, 1, 1, 'valid')],
  ['one channel, 1x1 image', pool(1, 1, 1, 1, 3, 2, 'same')],
  ['2x2 stride 3 (gaps between windows)', pool(2, 8, 8, 7, 2, 3, 'valid')],
  ['3x2 window, strides 2 and 1, explicit padding 1', pool(1, 6, 5, 9, 3, 2, 1, 2, 1)],
  ['5x5 stride 1 same, batch 3', pool(3, 6, 7, 8, 5, 1, 'same')],
];

/** Windows that can cover one input position: ceil(KH/SH) * ceil(KW/SW). */
const coverage = (g: ConvGeometry): number => Math.ceil(g.KH / g.SH) * Math.ceil(g.KW / g.SW);
/** n + 2 roundings of the per-element scale. */
const poolTol = (n: number, fd = false): Tol => ({ rtol: 0, atol: TOL.pool.atol * (n + 2) + (fd ? 1e-9 : 0) });

function guarded(core: Core, n: number, values: ArrayLike<number> | number, dtype: 'f32' | 'i32' = 'f32'): { t: Tensor; ptr: number } {
  const t = dtype === 'f32' ? core.alloc(n + 2 * MARGIN) : core.allocI32(n + 2 * MARGIN);
  t.view().fill(dtype === 'f32' ? CANARY : -7);
  if (typeof values === 'number') t.view().fill(values, MARGIN, MARGIN + n);
  else t.view().set(values, MARGIN);
  return { t, ptr: t.ptr + 4 * MARGIN };
}

function inside(g: { t: Tensor }, n: number, what: string, dtype: 'f32' | 'i32' = 'f32'): Float32Array | Int32Array {
  const all = g.t.toArray() as Float32Array | Int32Array;
  const canary = dtype === 'f32' ? CANARY : -7;
  for (let i = 0; i < MARGIN; i++) {
    expect(all[i], `${what}: canary before`).toBe(canary);
    expect(all[MARGIN + n + i], `${what}: canary after`).toBe(canary);
  }
  return all.slice(MARGIN, MARGIN + n);
}

/** Distinct values at least 1/(4n) apart in [-1, 1): no window has two within a finite-difference step. */
function distinct(rand: TestRand, n: number): Float32Array {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) { const j = rand.int(i + 1); [order[i], order[j]] = [order[j]!, order[i]!]; }
  return Float32Array.from(order, (k) => -1 + (2 * k + 1) / (2 * n));
}

describe.each(BACKENDS)('pooling [%s]', (backend) => {
  const core = useCore(backend);

  for (const [name, g] of CASES) {
    const nIn = inputSize(g), nOut = outputSize(g);

    it(`${name}: maxPool2dForward is exact: values, argmax (first maximum on ties), padding never wins`, () => {
      const rand = new TestRand(nIn * 13 + nOut);
      const inputs: [string, Float32Array][] = [
        ['random', rand.f32(nIn)],
        ['ties', Float32Array.from({ length: nIn }, () => rand.int(3))],
        ['all negative', rand.f32(nIn, -2, -1)],
      ];
      const tg = i32(core(), encodeGeometry(g));
      for (const [kind, x] of inputs) {
        const tx = f32(core(), x);
        const y = guarded(core(), nOut, NaN), am = guarded(core(), nOut, -1, 'i32');
        core().ops.maxPool2dForward(y.ptr, am.ptr, tx, tg);
        const ref = refMaxPool(g, x);
        expectBitIdentical(inside(y, nOut, 'y'), Float32Array.from(ref.y), `max ${kind}`);
        expect(Array.from(inside(am, nOut, 'argmax', 'i32')), `argmax ${kind}`).toEqual(Array.from(ref.argmax));
        expectBitIdentical(tx.toArray(), x, 'x unchanged');
      }
    });

    it(`${name}: maxPool2dForward propagates NaN (the first NaN of a window wins)`, () => {
      const rand = new TestRand(nIn * 17 + 1);
      const x = rand.f32(nIn);
      for (let i = 0; i < nIn; i += 5) x[i] = NaN;
      if (nIn > 2) x[nIn - 1] = 10; // a large value after a NaN does not displace it
      const y = core().alloc(nOut), am = core().allocI32(nOut);
      core().ops.maxPool2dForward(y, am, f32(core(), x), i32(core(), encodeGeometry(g)));
      const ref = refMaxPool(g, x);
      const got = y.toArray();
      for (let i = 0; i < nOut; i++) {
        expect(Number.isNaN(got[i]!), `NaN at output ${i}`).toBe(Number.isNaN(ref.y[i]!));
        if (!Number.isNaN(ref.y[i]!)) expect(got[i], `value at output ${i}`).toBe(ref.y[i]);
      }
      expect(Array.from(am.toArray()), 'argmax').toEqual(Array.from(ref.argmax));
    });

    it(`${name}: maxPool2dBackward scatters dy to argmax and accumulates (finite differences)`, () => {
      const rand = new TestRand(nIn * 19 + 2);
      const x = distinct(rand, nIn), dy = rand.f32(nOut), dx0 = rand.f32(nIn);
      const tg = i32(core(), encodeGeometry(g));
      const am = core().allocI32(nOut);
      core().ops.maxPool2dForward(core().alloc(nOut), am, f32(core(), x), tg);
      const fd = finiteDifference((xs) => dot(dy, refMaxPool(g, xs).y), x, 1 / (16 * nIn));
      const ref = refMaxPoolBackward(g, dy, refMaxPool(g, x).argmax);
      expectClose(ref, fd, TOL.referenceFd, 'reference max-pool gradient vs finite differences');
      const dx = guarded(core(), nIn, dx0);
      core().ops.maxPool2dBackward(dx.ptr, f32(core(), dy), am, tg);
      const scale = refMaxPoolBackward(g, dy.map(Math.abs), refMaxPool(g, x).argmax).map((s, i) => s + Math.abs(dx0[i]!));
      expectClose(inside(dx, nIn, 'dx'), fd.map((v, i) => v + dx0[i]!), poolTol(coverage(g), true), `max backward ${name}`, scale);
    });

    it(`${name}: avgPool2dForward averages the inside positions only`, () => {
      const rand = new TestRand(nIn * 23 + 3);
      const x = rand.f32(nIn);
      const y = guarded(core(), nOut, NaN);
      core().ops.avgPool2dForward(y.ptr, f32(core(), x), i32(core(), encodeGeometry(g)));
      expectClose(inside(y, nOut, 'y'), refAvgPool(g, x), poolTol(g.KH * g.KW), `avg ${name}`, refAvgPool(g, x.map(Math.abs)));
    });

    it(`${name}: avgPool2dBackward accumulates dy / count (finite differences)`, () => {
      const rand = new TestRand(nIn * 29 + 4);
      const x = rand.f32(nIn), dy = rand.f32(nOut), dx0 = rand.f32(nIn);
      const fd = finiteDifference((xs) => dot(dy, refAvgPool(g, xs)), x);
      expectClose(refAvgPoolBackward(g, dy), fd, TOL.referenceFd, 'reference avg-pool gradient vs finite differences');
      const dx = guarded(core(), nIn, dx0);
      core().ops.avgPool2dBackward(dx.ptr, f32(core(), dy), i32(core(), encodeGeometry(g)));
      const scale = refAvgPoolBackward(g, dy.map(Math.abs)).map((s, i) => s + Math.abs(dx0[i]!));
      expectClose(inside(dx, nIn, 'dx'), fd.map((v, i) => v + dx0[i]!), poolTol(coverage(g), true), `avg backward ${name}`, scale);
    });
  }

  for (const [B, HW, C] of [[1, 1, 1], [3, 7, 5], [2, 49, 17], [1, 9, 33], [2, 4, 16]] as const) {
    it(`globalAvgPool B=${B} HW=${HW} C=${C}: forward mean, backward accumulates dy / HW (finite differences)`, () => {
      const rand = new TestRand(B * 1000 + HW * 10 + C);
      const x = rand.f32(B * HW * C), dy = rand.f32(B * C), dx0 = rand.f32(B * HW * C);
      const y = guarded(core(), B * C, NaN);
      core().ops.globalAvgPoolForward(y.ptr, f32(core(), x), B, HW, C);
      expectClose(inside(y, B * C, 'y'), refGlobalAvgPool(B, HW, C, x), poolTol(HW), 'global avg', refGlobalAvgPool(B, HW, C, x.map(Math.abs)));
      const fd = finiteDifference((xs) => dot(dy, refGlobalAvgPool(B, HW, C, xs)), x);
      expectClose(refGlobalAvgPoolBackward(B, HW, C, dy), fd, TOL.referenceFd, 'reference global-avg gradient vs finite differences');
      const dx = guarded(core(), B * HW * C, dx0);
      core().ops.globalAvgPoolBackward(dx.ptr, f32(core(), dy), B, HW, C);
      const scale = refGlobalAvgPoolBackward(B, HW, C, dy.map(Math.abs)).map((s, i) => s + Math.abs(dx0[i]!));
      expectClose(inside(dx, B * HW * C, 'dx'), fd.map((v, i) => v + dx0[i]!), poolTol(2, true), 'global avg backward', scale);
    });
  }

  it('is deterministic: the same inputs give the same bits', () => {
    const g = pool(3, 7, 6, 5, 3, 2, 'same');
    const rand = new TestRand(99);
    const x = rand.f32(inputSize(g)), dy = rand.f32(outputSize(g)), dx0 = rand.f32(inputSize(g));
    const tx = f32(core(), x), tdy = f32(core(), dy), tg = i32(core(), encodeGeometry(g));
    const run = (): Float32Array[] => {
      const ym = core().alloc(outputSize(g)), am = core().allocI32(outputSize(g)), ya = core().alloc(outputSize(g));
      const dxm = f32(core(), dx0), dxa = f32(core(), dx0);
      core().ops.maxPool2dForward(ym, am, tx, tg);
      core().ops.maxPool2dBackward(dxm, tdy, am, tg);
      core().ops.avgPool2dForward(ya, tx, tg);
      core().ops.avgPool2dBackward(dxa, tdy, tg);
      return [ym.toArray(), dxm.toArray(), ya.toArray(), dxa.toArray()];
    };
    const a = run(), b = run();
    a.forEach((v, k) => expectBitIdentical(b[k]!, v, `run 2 vs run 1, output ${k}`));
  });

  it('validated ops name the argument at fault', () => {
    const g = pool(2, 5, 5, 3, 3, 2, 'same');
    const x = core().alloc(inputSize(g)), y = core().alloc(outputSize(g)), am = core().allocI32(outputSize(g));
    const geom = i32(core(), encodeGeometry(g));
    expect(() => core().ops.maxPool2dForward(y, core().allocI32(outputSize(g) - 1), x, geom))
      .toThrow(/maxPool2dForward: argmax holds 53 elements but the sizes need 54/);
    expect(() => core().ops.maxPool2dForward(y, am, x, i32(core(), encodeGeometry({ ...g, OC: 4 }))))
      .toThrow(/maxPool2dForward: geometry OC = 4 must equal C = 3 for pooling/);
    expect(() => core().ops.avgPool2dBackward(x, y, i32(core(), encodeGeometry({ ...g, G: 3, OC: 3 }))))
      .toThrow(/avgPool2dBackward: geometry G = 3 must be 1 for pooling/);
    expect(() => core().ops.avgPool2dForward(y, x, i32(core(), encodeGeometry({ ...g, PL: 3 }))))
      .toThrow(/avgPool2dForward: geometry PL = 3 must be smaller than KW = 3/);
    expect(() => core().ops.maxPool2dBackward(core().alloc(10), y, am, geom))
      .toThrow(/maxPool2dBackward: dx holds 10 elements but the sizes need 150/);
    expect(() => core().ops.globalAvgPoolForward(y, x, 2, 0, 3)).toThrow(/globalAvgPoolForward: HW must be at least 1, got 0/);
    expect(() => core().ops.globalAvgPoolBackward(core().alloc(5), y, 2, 1, 3))
      .toThrow(/globalAvgPoolBackward: dx holds 5 elements but the sizes need 6/);
  });
});
