// Batch norm (train forward with running statistics, evaluation forward, backward) on every
// backend, through the validated core.ops: against the f64 reference (test/reference/norm.ts),
// gradients also against central finite differences of it; odd shapes, accumulation, inputs at
// 1e4 with a spread of 1e-2, eps, momentum, NaN, aliasing, guard elements around every buffer,
// the channel-chunked path, and bit-identity across the builds.
import { describe, expect, it } from 'vitest';
import type { Core } from '@retort/core-wasm';
import { refBatchNormBackward, refBatchNormInfer, refBatchNormStats, refBatchNormTrain, refRunningStats } from '../reference/norm.js';
import { dot, finiteDifference } from '../reference/finite-difference.js';
import { TestRand } from '../reference/prng.js';
import { BACKENDS, TOL, expectBitIdentical, expectClose, maxAbs, useCore } from './helpers.js';
import {
  EPS, FD_STEP, MOMENTUM, ROWS, WIDTHS, activations, checkedGradient, e32, guarded, m32, signedScale, yScale,
} from './norm-helpers.js';

// ---- batch norm --------------------------------------------------------------------------------

interface BnCase { rows: number; C: number; x: Float32Array; gamma: Float32Array; beta: Float32Array; dy: Float32Array }

function bnCase(seed: number, rows: number, C: number, x?: Float32Array): BnCase {
  const rand = new TestRand(seed);
  return {
    rows, C, x: x ?? activations(rand, rows, C), gamma: signedScale(rand, C), beta: rand.f32(C),
    dy: rand.f32(rows * C),
  };
}

interface BnRun { y: Float32Array; mean: Float32Array; invstd: Float32Array; runMean: Float32Array; runVar: Float32Array;
  dx: Float32Array; dgamma: Float32Array; dbeta: Float32Array; init: { runMean: Float32Array; runVar: Float32Array; dx: Float32Array; dgamma: Float32Array; dbeta: Float32Array } }

/** Train forward then backward through core.ops, every buffer guarded; the accumulators start non-zero. */
function runBatchNorm(core: Core, k: BnCase, eps = EPS, momentum = MOMENTUM): BnRun {
  const { rows, C } = k;
  const rand = new TestRand(rows * 131 + C);
  const init = { runMean: rand.f32(C), runVar: rand.f32(C, 0.5, 2), dx: rand.f32(rows * C), dgamma: rand.f32(C), dbeta: rand.f32(C) };
  const x = guarded(core, k.x), gamma = guarded(core, k.gamma), beta = guarded(core, k.beta), dy = guarded(core, k.dy);
  const y = guarded(core, new Float32Array(rows * C)), mean = guarded(core, new Float32Array(C)), invstd = guarded(core, new Float32Array(C));
  const rm = guarded(core, init.runMean), rv = guarded(core, init.runVar);
  const dx = guarded(core, init.dx), dgamma = guarded(core, init.dgamma), dbeta = guarded(core, init.dbeta);
  core.ops.batchNormTrainForward(y.ptr, mean.ptr, invstd.ptr, rm.ptr, rv.ptr, x.ptr, gamma.ptr, beta.ptr, rows, C, eps, momentum);
  core.ops.batchNormBackward(dx.ptr, dgamma.ptr, dbeta.ptr, dy.ptr, x.ptr, mean.ptr, invstd.ptr, gamma.ptr, rows, C);
  const all = { x, gamma, beta, dy, y, mean, invstd, rm, rv, dx, dgamma, dbeta };
  for (const [name, g] of Object.entries(all)) g.check(`batch norm ${rows}x${C} ${name}`);
  expectBitIdentical(x.read(), k.x, 'x is not modified');
  return { y: y.read(), mean: mean.read(), invstd: invstd.read(), runMean: rm.read(), runVar: rv.read(), dx: dx.read(),
    dgamma: dgamma.read(), dbeta: dbeta.read(), init };
}

/** Checks a run's forward outputs and running statistics against the f64 reference. */
function checkBatchNormForward(k: BnCase, got: BnRun, what: string, eps = e32, momentum = m32): void {
  const { rows, C, x, gamma, beta } = k;
  const stats = refBatchNormStats(x, rows, C, eps);
  const xhat = (i: number): number => (x[i]! - stats.mean[i % C]!) * stats.invstd[i % C]!;
  expectClose(got.y, refBatchNormTrain(x, gamma, beta, rows, C, eps), TOL.normForward, `${what}: y`,
    yScale(xhat, (i) => gamma[i % C]!, (i) => beta[i % C]!, rows * C));
  expectClose(got.mean, stats.mean, TOL.normStats, `${what}: saveMean`, 1 + maxAbs(x));
  expectClose(got.invstd, stats.invstd, TOL.normStats, `${what}: saveInvstd`);
  const [rm, rv] = refRunningStats(got.init.runMean, got.init.runVar, stats, rows, momentum);
  expectClose(got.runMean, rm, TOL.normStats, `${what}: runMean`, 1 + maxAbs(x));
  expectClose(got.runVar, rv, TOL.normStats, `${what}: runVar`);
}

/**
 * Checks the accumulated gradients: expected = initial + the gradient of <dy, y> (finite differences
 * of the reference, or the reference's closed form checked against them when `fd` is false).
 */
function checkBatchNormBackward(k: BnCase, got: BnRun, what: string, fd = true, h = FD_STEP): void {
  const { rows, C, x, gamma, beta, dy } = k;
  const ref = refBatchNormBackward(dy, x, gamma, rows, C, e32);
  const f = (xs: ArrayLike<number>, gs: ArrayLike<number>, bs: ArrayLike<number>): number => dot(dy, refBatchNormTrain(xs, gs, bs, rows, C, e32));
  // dx's scale: |gamma invstd| (|dy| + |mean_r dy| + |xhat| |mean_r dy xhat|), the terms its f32 steps round
  const { mean, invstd } = refBatchNormStats(x, rows, C, e32);
  const xhat = Float64Array.from(x, (v, i) => (v - mean[i % C]!) * invstd[i % C]!);
  const sdyx = new Float64Array(C), sabs = new Float64Array(C);
  dy.forEach((g, i) => { sdyx[i % C]! += g * xhat[i]!; sabs[i % C]! += Math.abs(g * xhat[i]!); });
  const terms = Float64Array.from(x, (_, i) => {
    const c = i % C;
    return Math.abs(gamma[c]! * invstd[c]!) * (Math.abs(dy[i]!) + Math.abs(ref.dbeta[c]! / rows) + Math.abs(xhat[i]! * sdyx[c]! / rows));
  });
  const gx = fd ? checkedGradient((xs) => f(xs, gamma, beta), x, ref.dx, h, maxAbs(terms), `${what}: dx`) : ref.dx;
  const gg = fd ? finiteDifference((gs) => f(x, gs, beta), gamma) : ref.dgamma;
  if (fd) {
    expectClose(ref.dgamma, gg, TOL.referenceFd, `${what}: reference dgamma vs finite differences`, 1 + maxAbs(sabs));
    expectClose(ref.dbeta, finiteDifference((bs) => f(x, gamma, bs), beta), TOL.referenceFd, `${what}: reference dbeta vs finite differences`);
  }
  const dxScale = Float64Array.from(terms, (t, i) => t + Math.abs(got.init.dx[i]!));
  expectClose(got.dx, Float64Array.from(gx, (g, i) => g + got.init.dx[i]!), TOL.normBackward, `${what}: dx`, dxScale);
  expectClose(got.dgamma, Float64Array.from(gg, (g, c) => g + got.init.dgamma[c]!), TOL.normBackward, `${what}: dgamma`,
    Float64Array.from(sabs, (s, c) => s + Math.abs(got.init.dgamma[c]!)));
  // dbeta is an f64 sum in row order, added once: exactly the reference's sum, rounded once
  expectBitIdentical(got.dbeta, Float32Array.from(ref.dbeta, (s, c) => got.init.dbeta[c]! + s), `${what}: dbeta`);
}

describe.each(BACKENDS)('batch norm [%s]', (backend) => {
  const core = useCore(backend);

  for (const rows of ROWS) {
    it(`train forward + backward, rows=${rows}, C in ${WIDTHS.join(', ')} (running stats, accumulation, guards, FD)`, () => {
      for (const C of WIDTHS) {
        const k = bnCase(rows * 1000 + C, rows, C);
        const got = runBatchNorm(core(), k);
        checkBatchNormForward(k, got, `${rows}x${C}`);
        checkBatchNormBackward(k, got, `${rows}x${C}`);
      }
    });
  }

  it('inputs at 1e4 with a spread of 1e-2: f64 statistics and the two-term mean keep y, dx and dgamma accurate', () => {
    const rows = 129, C = 5;
    const rand = new TestRand(77);
    const x = Float32Array.from({ length: rows * C }, () => 1e4 + 1e-2 * rand.normal());
    const k = bnCase(78, rows, C, x);
    const got = runBatchNorm(core(), k);
    checkBatchNormForward(k, got, 'offset 1e4');
    // x is quantised to ~1e-3 here: finite differences of steps below that would see f32 inputs; use the
    // reference's closed form (checked against FD everywhere else)
    checkBatchNormBackward(k, got, 'offset 1e4', false);
  });

  it('eps: a constant channel gives y = beta (invstd = 1/sqrt(eps)); a large eps is honoured', () => {
    const rows = 17, C = 3;
    const rand = new TestRand(5);
    const x = activations(rand, rows, C);
    for (let r = 0; r < rows; r++) x[r * C + 1] = 2.5; // channel 1 constant
    const k = bnCase(6, rows, C, x);
    for (const eps of [1e-5, 0.5]) {
      const got = runBatchNorm(core(), k, eps);
      checkBatchNormForward(k, got, `eps=${eps}`, Math.fround(eps));
      for (let r = 0; r < rows; r++) expect(got.y[r * C + 1], 'constant channel -> beta').toBe(k.beta[1]);
      expect(got.invstd[1]).toBe(Math.fround(1 / Math.sqrt(Math.fround(eps))));
    }
  });

  it('momentum 0 keeps the running statistics, momentum 1 replaces them; rows = 1 uses the biased variance', () => {
    const k = bnCase(9, 17, 5);
    const keep = runBatchNorm(core(), k, EPS, 0);
    expectBitIdentical(keep.runMean, keep.init.runMean, 'momentum 0 runMean');
    expectBitIdentical(keep.runVar, keep.init.runVar, 'momentum 0 runVar');
    const replace = runBatchNorm(core(), k, EPS, 1);
    const s = refBatchNormStats(k.x, 17, 5, e32);
    expectBitIdentical(replace.runMean, Float32Array.from(s.mean), 'momentum 1 runMean = f32(mean)');
    expectBitIdentical(replace.runVar, Float32Array.from(s.variance, (v) => v * 17 / 16), 'momentum 1 runVar = f32(unbiased var)');
    const one = runBatchNorm(core(), bnCase(10, 1, 5), EPS, 1);
    expect(Array.from(one.runVar), 'rows = 1: variance 0, not 0/0').toEqual([0, 0, 0, 0, 0]);
  });

  it('train forward with y aliasing x gives the same bits as out of place', () => {
    const k = bnCase(12, 17, 5);
    const want = runBatchNorm(core(), k).y;
    const c = core();
    const v = (a: ArrayLike<number>): number => guarded(c, a).ptr;
    const tx = guarded(c, k.x);
    c.ops.batchNormTrainForward(tx.ptr, v(new Float32Array(5)), v(new Float32Array(5)), v(new Float32Array(5)), v(new Float32Array(5)),
      tx.ptr, v(k.gamma), v(k.beta), 17, 5, EPS, MOMENTUM);
    expectBitIdentical(tx.read(), want, 'in place');
    tx.check('in place');
  });

  it('evaluation forward matches the reference; y may alias x', () => {
    for (const [rows, C] of [[1, 1], [3, 5], [17, 17], [129, 100]] as const) {
      const rand = new TestRand(rows + C);
      const x = activations(rand, rows, C), rm = rand.f32(C), rv = rand.f32(C, 0.1, 3), gamma = signedScale(rand, C), beta = rand.f32(C);
      const tx = guarded(core(), x), ty = guarded(core(), new Float32Array(rows * C));
      const args = [guarded(core(), rm).ptr, guarded(core(), rv).ptr, guarded(core(), gamma).ptr, guarded(core(), beta).ptr] as const;
      core().ops.batchNormInferForward(ty.ptr, tx.ptr, ...args, rows, C, EPS);
      ty.check('infer y'); tx.check('infer x');
      const want = refBatchNormInfer(x, rm, rv, gamma, beta, rows, C, e32);
      const scale = yScale((i) => (x[i]! - rm[i % C]!) / Math.sqrt(rv[i % C]! + e32), (i) => gamma[i % C]!, (i) => beta[i % C]!, rows * C);
      expectClose(ty.read(), want, TOL.normForward, `infer ${rows}x${C}`, scale);
      core().ops.batchNormInferForward(tx.ptr, tx.ptr, ...args, rows, C, EPS);
      expectBitIdentical(tx.read(), ty.read(), `infer in place ${rows}x${C}`);
    }
  });

  it('a NaN poisons its own channel only (statistics, y, running stats, dx)', () => {
    const rows = 17, C = 5;
    const k = bnCase(21, rows, C);
    const x = Float32Array.from(k.x);
    x[4 * C + 2] = NaN;
    const got = runBatchNorm(core(), { ...k, x });
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < C; c++) {
        expect(Number.isNaN(got.y[r * C + c]!), `y[${r},${c}]`).toBe(c === 2);
        expect(Number.isNaN(got.dx[r * C + c]!), `dx[${r},${c}]`).toBe(c === 2);
      }
    }
    for (const [name, v] of [['saveMean', got.mean], ['runMean', got.runMean], ['runVar', got.runVar], ['dgamma', got.dgamma]] as const) {
      expect(Array.from(v, Number.isNaN), name).toEqual([false, false, true, false, false]);
    }
    const clean = { ...k, x: Float32Array.from({ length: rows * 2 }, (_, i) => k.x[Math.floor(i / 2) * C + (i % 2)]!) };
    const ref = refBatchNormTrain(clean.x, k.gamma.slice(0, 2), k.beta.slice(0, 2), rows, 2, e32);
    expectClose(Float32Array.from({ length: rows * 2 }, (_, i) => got.y[Math.floor(i / 2) * C + (i % 2)]!), ref,
      TOL.normForward, 'channels 0, 1 unaffected', 4);
  });

  it(`more channels than one scratch chunk holds (C = 52431, rows = 3): the chunked passes agree with the reference`, () => {
    const rows = 3, C = 52431;
    const k = bnCase(31, rows, C);
    const got = runBatchNorm(core(), k);
    checkBatchNormForward(k, got, 'wide');
    checkBatchNormBackward(k, got, 'wide', false);
  });
});

describe('batch norm across backends', () => {
  const cores = { simd: useCore('simd'), scalar: useCore('scalar'), js: useCore('js') };

  it('simd and scalar agree bit for bit; js has the same statistics, running statistics, dgamma and dbeta; reruns repeat', () => {
    for (const [rows, C] of [[3, 5], [17, 17], [129, 100]] as const) {
      const k = bnCase(rows + 3 * C, rows, C);
      const [s, s2, c, j] = [runBatchNorm(cores.simd(), k), runBatchNorm(cores.simd(), k), runBatchNorm(cores.scalar(), k), runBatchNorm(cores.js(), k)];
      for (const key of ['y', 'mean', 'invstd', 'runMean', 'runVar', 'dx', 'dgamma', 'dbeta'] as const) {
        expectBitIdentical(c[key], s[key], `batch norm ${rows}x${C} ${key}: scalar vs simd`);
        expectBitIdentical(s2[key], s[key], `batch norm ${rows}x${C} ${key}: simd rerun`);
      }
      for (const key of ['mean', 'invstd', 'runMean', 'runVar', 'dgamma', 'dbeta'] as const) {
        expectBitIdentical(j[key], s[key], `batch norm ${rows}x${C} ${key}: js vs simd`);
      }
    }
  });

  it('core.ops refuses bad arguments by name', () => {
    const core = cores.js();
    const x = core.alloc(12), y = core.alloc(12), v3 = core.alloc(3), v4 = core.alloc(4);
    expect(() => core.ops.batchNormTrainForward(y, v4, v4, v4, v4, x, v3, v4, 3, 4, EPS, MOMENTUM)).toThrow(/batchNormTrainForward: gamma holds 3 elements but the sizes need 4/);
    expect(() => core.ops.batchNormTrainForward(y, v4, v4, v4, v4, x, v4, v4, 3, 4, 0, MOMENTUM)).toThrow(/batchNormTrainForward: eps must be a finite number > 0/);
    expect(() => core.ops.batchNormTrainForward(y, v4, v4, v4, v4, x, v4, v4, 3, 4, 1e-50, MOMENTUM)).toThrow(/batchNormTrainForward: eps = 1e-50 rounds to 0 in f32/);
    expect(() => core.ops.batchNormTrainForward(y, v4, v4, v4, v4, x, v4, v4, 3, 4, EPS, 1.5)).toThrow(/batchNormTrainForward: momentum must be in \[0, 1\]/);
    expect(() => core.ops.batchNormInferForward(y, x, v4, v3, v4, v4, 3, 4, EPS)).toThrow(/batchNormInferForward: runVar holds 3/);
    expect(() => core.ops.batchNormInferForward(y, x, v4, v4, v4, v4, 3, 4, -1)).toThrow(/batchNormInferForward: eps must be/);
    expect(() => core.ops.batchNormBackward(y, v4, v4, x, x, v4, v3, v4, 3, 4)).toThrow(/batchNormBackward: saveInvstd holds 3/);
    expect([y, v4].every((t) => t.toArray().every((v) => v === 0)), 'no kernel ran').toBe(true);
  });
});

// The TF.js cross-check of these kernels is in norm-tfjs.test.ts.
