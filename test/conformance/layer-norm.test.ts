// Layer norm (forward, backward) on every backend, through the validated core.ops: against the
// f64 reference (test/reference/norm.ts), gradients also against central finite differences of
// it; odd shapes, accumulation, rows at +-1e4 with a spread of 1e-2, eps, NaN, aliasing, guard
// elements, the column-chunked backward, and bit-identity across the builds.
import { describe, expect, it } from 'vitest';
import type { Core } from '@retort/core-wasm';
import { refLayerNorm, refLayerNormBackward, refLayerNormStats } from '../reference/norm.js';
import { dot, finiteDifference } from '../reference/finite-difference.js';
import { TestRand } from '../reference/prng.js';
import { BACKENDS, TOL, expectBitIdentical, expectClose, gradientReference, maxAbs, useCore } from './helpers.js';
import { EPS, FD_STEP, ROWS, WIDTHS, activations, e32, guarded, signedScale, yScale } from './norm-helpers.js';

// ---- layer norm --------------------------------------------------------------------------------

interface LnRun { y: Float32Array; mean: Float32Array; rstd: Float32Array; dx: Float32Array; dgamma: Float32Array; dbeta: Float32Array;
  init: { dx: Float32Array; dgamma: Float32Array; dbeta: Float32Array } }

function runLayerNorm(core: Core, rows: number, D: number, x: Float32Array, gamma: Float32Array, beta: Float32Array, dy: Float32Array, eps = EPS): LnRun {
  const rand = new TestRand(rows * 17 + D);
  const init = { dx: rand.f32(rows * D), dgamma: rand.f32(D), dbeta: rand.f32(D) };
  const g = {
    x: guarded(core, x), gamma: guarded(core, gamma), beta: guarded(core, beta), dy: guarded(core, dy),
    y: guarded(core, new Float32Array(rows * D)), mean: guarded(core, new Float32Array(rows)), rstd: guarded(core, new Float32Array(rows)),
    dx: guarded(core, init.dx), dgamma: guarded(core, init.dgamma), dbeta: guarded(core, init.dbeta),
  };
  core.ops.layerNormForward(g.y.ptr, g.mean.ptr, g.rstd.ptr, g.x.ptr, g.gamma.ptr, g.beta.ptr, rows, D, eps);
  core.ops.layerNormBackward(g.dx.ptr, g.dgamma.ptr, g.dbeta.ptr, g.dy.ptr, g.x.ptr, g.mean.ptr, g.rstd.ptr, g.gamma.ptr, rows, D);
  for (const [name, b] of Object.entries(g)) b.check(`layer norm ${rows}x${D} ${name}`);
  return { y: g.y.read(), mean: g.mean.read(), rstd: g.rstd.read(), dx: g.dx.read(), dgamma: g.dgamma.read(), dbeta: g.dbeta.read(), init };
}

function checkLayerNorm(rows: number, D: number, x: Float32Array, gamma: Float32Array, beta: Float32Array, dy: Float32Array, got: LnRun,
                        what: string, fd = true, eps = e32, h = FD_STEP): void {
  const { mean, rstd } = refLayerNormStats(x, rows, D, eps);
  const xhat = Float64Array.from(x, (v, i) => (v - mean[Math.floor(i / D)]!) * rstd[Math.floor(i / D)]!);
  expectClose(got.y, refLayerNorm(x, gamma, beta, rows, D, eps), TOL.normForward, `${what}: y`,
    yScale((i) => xhat[i]!, (i) => gamma[i % D]!, (i) => beta[i % D]!, rows * D));
  expectClose(got.mean, mean, TOL.normStats, `${what}: saveMean`, 1 + maxAbs(x));
  expectClose(got.rstd, rstd, TOL.normStats, `${what}: saveRstd`);
  const ref = refLayerNormBackward(dy, x, gamma, rows, D, eps);
  const f = (xs: ArrayLike<number>, gs: ArrayLike<number>, bs: ArrayLike<number>): number => dot(dy, refLayerNorm(xs, gs, bs, rows, D, eps));
  const gx = fd ? gradientReference((xs) => f(xs, gamma, beta), x, ref.dx, h, `${what}: dx`) : ref.dx;
  const gg = fd ? finiteDifference((gs) => f(x, gs, beta), gamma) : ref.dgamma;
  if (fd) {
    expectClose(ref.dgamma, gg, TOL.referenceFd, `${what}: reference dgamma vs finite differences`);
    expectClose(ref.dbeta, finiteDifference((bs) => f(x, gamma, bs), beta), TOL.referenceFd, `${what}: reference dbeta vs finite differences`);
  }
  // dx's scale: rstd (|g| + |mean_j g| + |xhat| |mean_j g xhat|), g = dy gamma
  const sg = new Float64Array(rows), sgx = new Float64Array(rows), sabs = new Float64Array(D);
  dy.forEach((d, i) => { const r = Math.floor(i / D); sg[r]! += d * gamma[i % D]!; sgx[r]! += d * gamma[i % D]! * xhat[i]!; sabs[i % D]! += Math.abs(d * xhat[i]!); });
  const dxScale = Float64Array.from(x, (_, i) => {
    const r = Math.floor(i / D);
    return rstd[r]! * (Math.abs(dy[i]! * gamma[i % D]!) + Math.abs(sg[r]! / D) + Math.abs(xhat[i]! * sgx[r]! / D)) + Math.abs(got.init.dx[i]!);
  });
  expectClose(got.dx, Float64Array.from(gx, (v, i) => v + got.init.dx[i]!), TOL.normBackward, `${what}: dx`, dxScale);
  expectClose(got.dgamma, Float64Array.from(gg, (v, j) => v + got.init.dgamma[j]!), TOL.normBackward, `${what}: dgamma`,
    Float64Array.from(sabs, (s, j) => s + Math.abs(got.init.dgamma[j]!)));
  expectBitIdentical(got.dbeta, Float32Array.from(ref.dbeta, (s, j) => got.init.dbeta[j]! + s), `${what}: dbeta`);
}

describe.each(BACKENDS)('layer norm [%s]', (backend) => {
  const core = useCore(backend);

  for (const rows of ROWS) {
    it(`forward + backward, rows=${rows}, D in ${WIDTHS.join(', ')} (accumulation, guards, FD)`, () => {
      for (const D of WIDTHS) {
        const rand = new TestRand(rows * 7 + D * 1009);
        const x = activations(rand, D, rows).map((_, i, a) => a[(i % D) * rows + Math.floor(i / D)]!); // per-row location and spread
        const gamma = signedScale(rand, D), beta = rand.f32(D), dy = rand.f32(rows * D);
        checkLayerNorm(rows, D, x, gamma, beta, dy, runLayerNorm(core(), rows, D, x, gamma, beta, dy), `${rows}x${D}`);
      }
    });
  }

  it('rows at 1e4 with a spread of 1e-2 keep y, dx and dgamma accurate', () => {
    const rows = 3, D = 100;
    const rand = new TestRand(41);
    const x = Float32Array.from({ length: rows * D }, (_, i) => (i < D ? -1e4 : 1e4) + 1e-2 * rand.normal());
    const gamma = signedScale(rand, D), beta = rand.f32(D), dy = rand.f32(rows * D);
    checkLayerNorm(rows, D, x, gamma, beta, dy, runLayerNorm(core(), rows, D, x, gamma, beta, dy), 'offset 1e4', false);
  });

  it('eps: a constant row gives y = beta; a large eps is honoured', () => {
    const rows = 3, D = 17;
    const rand = new TestRand(43);
    const x = rand.f32(rows * D, -2, 2);
    x.fill(-1.5, D, 2 * D);
    const gamma = signedScale(rand, D), beta = rand.f32(D), dy = rand.f32(rows * D);
    for (const eps of [1e-5, 0.5]) {
      const got = runLayerNorm(core(), rows, D, x, gamma, beta, dy, eps);
      // around a constant row the curvature scales like eps^-3/2: the step shrinks with sqrt(eps)
      checkLayerNorm(rows, D, x, gamma, beta, dy, got, `eps=${eps}`, true, Math.fround(eps), 1e-4 * Math.min(1, Math.sqrt(eps)));
      expectBitIdentical(got.y.subarray(D, 2 * D), beta, 'constant row -> beta');
    }
  });

  it('a NaN poisons its own row only; y may alias x', () => {
    const rows = 3, D = 17;
    const rand = new TestRand(47);
    const x = rand.f32(rows * D, -2, 2), gamma = signedScale(rand, D), beta = rand.f32(D);
    const xn = Float32Array.from(x);
    xn[D + 5] = NaN;
    const tx = guarded(core(), xn), ty = guarded(core(), new Float32Array(rows * D));
    const tm = guarded(core(), new Float32Array(rows)), ts = guarded(core(), new Float32Array(rows));
    const tg = guarded(core(), gamma), tb = guarded(core(), beta);
    core().ops.layerNormForward(ty.ptr, tm.ptr, ts.ptr, tx.ptr, tg.ptr, tb.ptr, rows, D, EPS);
    const y = ty.read();
    for (let i = 0; i < rows * D; i++) expect(Number.isNaN(y[i]!), `y[${i}]`).toBe(i >= D && i < 2 * D);
    expect(Array.from(tm.read(), Number.isNaN)).toEqual([false, true, false]);
    core().ops.layerNormForward(tx.ptr, tm.ptr, ts.ptr, tx.ptr, tg.ptr, tb.ptr, rows, D, EPS);
    expectBitIdentical(tx.read(), y, 'in place');
    tx.check('in place x');
  });

  it('rows wider than one scratch chunk of dgamma accumulators (D = 131075)', () => {
    const rows = 2, D = 131075;
    const rand = new TestRand(53);
    const x = rand.f32(rows * D, -3, 3), gamma = signedScale(rand, D), beta = rand.f32(D), dy = rand.f32(rows * D);
    checkLayerNorm(rows, D, x, gamma, beta, dy, runLayerNorm(core(), rows, D, x, gamma, beta, dy), 'wide', false);
  });
});

describe('layer norm across backends', () => {
  const cores = { simd: useCore('simd'), scalar: useCore('scalar'), js: useCore('js') };

  it('simd and scalar agree bit for bit; js has the same statistics and dbeta', () => {
    for (const [rows, D] of [[3, 5], [17, 17], [129, 100]] as const) {
      const rand = new TestRand(rows * D);
      const x = rand.f32(rows * D, -3, 3), gamma = signedScale(rand, D), beta = rand.f32(D), dy = rand.f32(rows * D);
      const [s, c, j] = (['simd', 'scalar', 'js'] as const).map((b) => runLayerNorm(cores[b](), rows, D, x, gamma, beta, dy));
      for (const key of ['y', 'mean', 'rstd', 'dx', 'dgamma', 'dbeta'] as const) expectBitIdentical(c![key], s![key], `layer norm ${rows}x${D} ${key}: scalar vs simd`);
      for (const key of ['mean', 'rstd', 'dbeta'] as const) expectBitIdentical(j![key], s![key], `layer norm ${rows}x${D} ${key}: js vs simd`);
    }
  });

  it('core.ops refuses bad arguments by name', () => {
    const core = cores.js();
    const x = core.alloc(12), y = core.alloc(12), v3 = core.alloc(3), v4 = core.alloc(4), v2 = core.alloc(2);
    expect(() => core.ops.layerNormForward(y, v3, v3, x, v3, v4, 3, 4, EPS)).toThrow(/layerNormForward: gamma holds 3 elements but the sizes need 4/);
    expect(() => core.ops.layerNormForward(y, v2, v3, x, v4, v4, 3, 4, EPS)).toThrow(/layerNormForward: saveMean holds 2/);
    expect(() => core.ops.layerNormForward(y, v3, v3, x, v4, v4, 3, 4, 0)).toThrow(/layerNormForward: eps must be/);
    expect(() => core.ops.layerNormBackward(y, v4, v3, x, x, v3, v3, v4, 3, 4)).toThrow(/layerNormBackward: dbeta holds 3/);
    expect(() => core.ops.layerNormBackward(y, v4, v4, x, x, v3, v3, v4, 4, 4)).toThrow(/layerNormBackward: dx holds 12 elements but the sizes need 16/);
    expect([y, v3].every((t) => t.toArray().every((v) => v === 0)), 'no kernel ran').toBe(true);
  });
});

// The TF.js cross-check of these kernels is in norm-tfjs.test.ts.
