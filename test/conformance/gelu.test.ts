// GELU (exact erf form) forward/backward and the residual add on every backend, through the
// validated core.ops: against the f64 reference (test/reference/norm.ts, whose erf is itself
// checked against known values here), the gradient also against central differences of it;
// a dense grid of [-14, 14] (the left tail in relative terms), +-Inf, NaN, signed zeros, odd
// sizes, accumulation, aliasing, guard elements, and simd == scalar bit for bit.
import { describe, expect, it } from 'vitest';
import type { Core } from '@retort/core-wasm';
import { refErf, refErfc, refGelu, refGeluBackward, refPhi, refPhiDensity } from '../reference/norm.js';
import { TestRand } from '../reference/prng.js';
import { BACKENDS, TOL, expectBitIdentical, expectClose, useCore } from './helpers.js';
import { guarded } from './norm-helpers.js';

const SIZES = [1, 3, 4, 17, 129, 1000];
/** Every 1e-3 of [-14, 14] as f32, plus points near the ends and zero. */
const GRID = Float32Array.from([
  ...Array.from({ length: 28001 }, (_, i) => -14 + i * 1e-3), -13.25, -13.2, 13.2, 1e-30, -1e-30, 1e-7, -1e-7, 0.75, -0.7518,
]);

/** |dy| (|Phi| + |x phi|) + |dx0|: the magnitudes behind one backward element (the two terms cancel near x = -0.75). */
function backwardScale(x: ArrayLike<number>, dy: ArrayLike<number>, dx0: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, (v, i) => (Number.isFinite(v) ? Math.abs(dy[i]!) * (refPhi(v) + Math.abs(v * refPhiDensity(v))) : Math.abs(dy[i]!)) + Math.abs(dx0[i]!));
}

/** Central differences of the elementwise reference: d/dx_i <dy, gelu(x)> = dy_i gelu'(x_i). */
function geluFd(x: ArrayLike<number>, dy: ArrayLike<number>, h = 1e-5): Float64Array {
  const plus = refGelu(Float64Array.from(x, (v) => v + h)), minus = refGelu(Float64Array.from(x, (v) => v - h));
  return Float64Array.from(x, (_, i) => dy[i]! * (plus[i]! - minus[i]!) / (2 * h));
}

describe('the f64 erf / GELU reference', () => {
  it('matches known values (mpmath, 30 digits) to 1e-14 relative', () => {
    const known: [number, number, number][] = [ // z, erf(z), erfc(z)
      [0.1, 0.1124629160182849, 0.8875370839817151], [0.5, 0.52049987781304654, 0.47950012218695346],
      [1, 0.84270079294971487, 0.15729920705028513], [2, 0.99532226501895273, 0.0046777349810472658],
      [2.4999, 0.99959283009966655, 0.00040716990033345138], [2.5, 0.99959304798255504, 0.00040695201744495894],
      [3, 0.99997790950300141, 2.2090496998585441e-5], [4, 0.9999999845827421, 1.5417257900280019e-8],
      [6, 1, 2.1519736712498913e-17], [10, 1, 2.0884875837625448e-45], [26, 1, 5.6631924088561428e-296],
    ];
    for (const [z, erf, erfc] of known) {
      expect(Math.abs(refErf(z) / erf - 1), `erf(${z})`).toBeLessThan(1e-14);
      expect(Math.abs(refErf(-z) / -erf - 1), `erf(-${z})`).toBeLessThan(1e-14);
      // erfc below 2.5 is 1 - erf: up to 4 digits of erfc's own lost there (erfc(2.5) = 4e-4)
      expect(Math.abs(refErfc(z) / erfc - 1), `erfc(${z})`).toBeLessThan(z < 2.5 ? 1e-12 : 1e-14);
    }
    const gelu: [number, number, number][] = [ // x, GELU(x), GELU'(x)
      [-12, -2.1317785344932148e-32, -2.5578956616748956e-31], [-8, -4.9767684594174273e-15, -3.979607261086796e-14],
      [-3, -0.0040496940948902836, -0.011945647204183927], [-1, -0.15865525393145705, -0.083315470587686298],
      [1, 0.84134474606854295, 1.0833154705876863], [3, 2.9959503059051097, 1.0119456472041839],
    ];
    for (const [x, y, g] of gelu) {
      expect(Math.abs(refGelu([x])[0]! / y - 1), `GELU(${x})`).toBeLessThan(1e-13);
      expect(Math.abs(refGeluBackward([1], [x])[0]! / g - 1), `GELU'(${x})`).toBeLessThan(1e-12);
    }
    expect(refErf(NaN)).toBeNaN();
  });
});

describe.each(BACKENDS)('GELU and residual add [%s]', (backend) => {
  const core = useCore(backend);

  for (const n of SIZES) {
    it(`geluForward / geluBackward n=${n}: reference, FD, accumulation, in place, guards`, () => {
      const rand = new TestRand(n * 11 + 5);
      const x = rand.f32(n, -6, 6), dy = rand.f32(n), dx0 = rand.f32(n);
      const tx = guarded(core(), x), ty = guarded(core(), new Float32Array(n)), tdy = guarded(core(), dy), tdx = guarded(core(), dx0);
      core().ops.geluForward(ty.ptr, tx.ptr, n);
      expectClose(ty.read(), refGelu(x), TOL.gelu, `gelu n=${n}`, 1);
      const ref = refGeluBackward(dy, x);
      expectClose(ref, geluFd(x, dy), TOL.referenceFd, `reference GELU' vs finite differences n=${n}`);
      core().ops.geluBackward(tdx.ptr, tdy.ptr, tx.ptr, n);
      expectClose(tdx.read(), Float64Array.from(ref, (g, i) => g + dx0[i]!), TOL.geluBackward, `gelu backward n=${n}`, backwardScale(x, dy, dx0));
      const y = ty.read();
      core().ops.geluForward(tx.ptr, tx.ptr, n);
      expectBitIdentical(tx.read(), y, `gelu in place n=${n}`);
      for (const [name, g] of [['x', tx], ['y', ty], ['dy', tdy], ['dx', tdx]] as const) g.check(`gelu n=${n} ${name}`);
    });
  }

  it('a dense grid of [-14, 14]: relative accuracy in the left tail, where 1 + erf(x/sqrt2) cancels in f32', () => {
    const n = GRID.length;
    const rand = new TestRand(3);
    const dy = rand.f32(n, 0.5, 2), dx0 = rand.f32(n);
    const ty = core().alloc(n), tdx = core().fromArray(dx0), tx = core().fromArray(GRID);
    core().ops.geluForward(ty, tx, n);
    const y = ty.toArray();
    expectClose(y, refGelu(GRID), TOL.gelu, 'gelu grid', 1);
    for (const x of [-5.5, -8, -10, -12]) {
      const i = GRID.findIndex((v) => Math.abs(v - x) < 5e-4);
      const want = refGelu([GRID[i]!])[0]!;
      expect(Math.abs(y[i]! / want - 1), `GELU(${GRID[i]}) = ${want} to a few ulp`).toBeLessThan(TOL.gelu.rtol);
    }
    core().ops.geluBackward(tdx, core().fromArray(dy), tx, n);
    expectClose(tdx.toArray(), Float64Array.from(refGeluBackward(dy, GRID), (g, i) => g + dx0[i]!), TOL.geluBackward, 'gelu backward grid',
      backwardScale(GRID, dy, dx0));
  });

  it('ends: GELU(+Inf) = +Inf, GELU(-Inf) = -0, NaN stays NaN, signed zeros; derivative 1 at +Inf, 0 at -Inf', () => {
    const x = Float32Array.from([Infinity, -Infinity, NaN, 0, -0, 40, -40, 13.5, -13.5]);
    const ty = core().alloc(x.length), tx = core().fromArray(x);
    core().ops.geluForward(ty, tx, x.length);
    const y = Array.from(ty.toArray());
    expect(y[0]).toBe(Infinity);
    expect(Object.is(y[1], -0), `GELU(-Inf) = ${y[1]}`).toBe(true);
    expect(y[2]).toBeNaN();
    expect(Object.is(y[3], 0) && Object.is(y[4], -0), 'GELU(+-0) = +-0').toBe(true);
    expect(y[5]).toBe(40);
    expect(y[6] === 0).toBe(true);
    expect(y[7]).toBe(13.5);
    expect(Math.abs(y[8]!)).toBeLessThan(1e-38);
    const tdx = core().fromArray(new Float32Array(x.length).fill(0.25));
    core().ops.geluBackward(tdx, core().fromArray(new Float32Array(x.length).fill(2)), tx, x.length);
    const dx = Array.from(tdx.toArray());
    expect([dx[0], dx[1], dx[3], dx[4], dx[5], dx[6]]).toEqual([2.25, 0.25, 1.25, 1.25, 2.25, 0.25]);
    expect(dx[2]).toBeNaN();
  });

  for (const n of SIZES) {
    it(`addForward n=${n}: one f32 add (bitwise), y aliasing a or b, guards`, () => {
      const rand = new TestRand(n + 99);
      const a = rand.f32(n, -1e3, 1e3), b = rand.f32(n, -1, 1);
      const want = Float32Array.from(a, (v, i) => v + b[i]!);
      const ta = guarded(core(), a), tb = guarded(core(), b), ty = guarded(core(), new Float32Array(n));
      core().ops.addForward(ty.ptr, ta.ptr, tb.ptr, n);
      expectBitIdentical(ty.read(), want, `add n=${n}`);
      core().ops.addForward(ta.ptr, ta.ptr, tb.ptr, n);
      expectBitIdentical(ta.read(), want, `add into a n=${n}`);
      core().ops.addForward(tb.ptr, ta.ptr, tb.ptr, n);
      expectBitIdentical(tb.read(), Float32Array.from(want, (v, i) => v + b[i]!), `add into b n=${n}`);
      for (const [name, g] of [['a', ta], ['b', tb], ['y', ty]] as const) g.check(`add n=${n} ${name}`);
    });
  }

  it('addForward propagates NaN and Inf', () => {
    const a = Float32Array.from([NaN, Infinity, Infinity, 1, -Infinity]), b = Float32Array.from([1, 1, -Infinity, NaN, -1]);
    const ty = core().alloc(5);
    core().ops.addForward(ty, core().fromArray(a), core().fromArray(b), 5);
    const y = Array.from(ty.toArray());
    expect([Number.isNaN(y[0]), y[1], Number.isNaN(y[2]), Number.isNaN(y[3]), y[4]]).toEqual([true, Infinity, true, true, -Infinity]);
  });
});

describe('GELU across backends', () => {
  const cores = { simd: useCore('simd'), scalar: useCore('scalar'), js: useCore('js') };

  it('simd and scalar agree bit for bit (forward and backward, the dense grid); js within twice the reference bound of them', () => {
    const n = GRID.length;
    const rand = new TestRand(8);
    const dy = rand.f32(n), dx0 = rand.f32(n);
    const run = (c: Core): [Float32Array, Float32Array] => {
      const ty = c.alloc(n), tx = c.fromArray(GRID), tdx = c.fromArray(dx0);
      c.ops.geluForward(ty, tx, n);
      c.ops.geluBackward(tdx, c.fromArray(dy), tx, n);
      return [ty.toArray(), tdx.toArray()];
    };
    const [ys, gs] = run(cores.simd()), [yc, gc] = run(cores.scalar()), [yj, gj] = run(cores.js());
    expectBitIdentical(yc, ys, 'gelu forward scalar vs simd');
    expectBitIdentical(gc, gs, 'gelu backward scalar vs simd');
    const [ys2] = run(cores.simd());
    expectBitIdentical(ys2, ys, 'gelu forward rerun');
    // js evaluates the same function in f64: both are within TOL.gelu of f64, so within twice it of each other
    expectClose(yj, ys, { ...TOL.gelu, rtol: 2 * TOL.gelu.rtol }, 'gelu js vs simd', 1);
    expectClose(gj, gs, { ...TOL.geluBackward, atol: 2 * TOL.geluBackward.atol }, 'gelu backward js vs simd', backwardScale(GRID, dy, dx0));
  });

  it('core.ops refuses bad sizes by name', () => {
    const c = cores.js();
    const x = c.alloc(4), y = c.alloc(3);
    expect(() => c.ops.geluForward(y, x, 4)).toThrow(/geluForward: y holds 3 elements but the sizes need 4/);
    expect(() => c.ops.geluBackward(x, x, y, 4)).toThrow(/geluBackward: x holds 3/);
    expect(() => c.ops.addForward(x, x, y, 4)).toThrow(/addForward: b holds 3/);
    expect(() => c.ops.addForward(x, x, x, -1)).toThrow(/addForward: n must be a non-negative integer/);
  });
});
