// sgdStep and adamwStep on every backend: several steps with fresh gradients, params and
// optimizer state compared after every step against the f64 reference (abi.ts formulas).
import { describe, expect, it } from 'vitest';
import { refAdamWStep, refSgdStep, type AdamWRef, type SgdRef } from '../reference/kernels.js';
import { TestRand } from '../reference/prng.js';
import { BACKENDS, TOL, U, expectBitIdentical, expectClose, f32, useCore } from './helpers.js';

const SIZES = [1, 3, 17, 129, 1000];
const STEPS = 5;

const SGD: SgdRef[] = [
  { lr: 0.1, momentum: 0, weightDecay: 0, nesterov: false },
  { lr: 0.05, momentum: 0.9, weightDecay: 0, nesterov: false },
  { lr: 0.05, momentum: 0.9, weightDecay: 1e-2, nesterov: true },
  { lr: 0.2, momentum: 0.5, weightDecay: 0.1, nesterov: false },
  { lr: 0.1, momentum: 0, weightDecay: 0.05, nesterov: true },
];

const ADAMW: Omit<AdamWRef, 'step'>[] = [
  { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 },
  { lr: 3e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 },
  { lr: 1e-1, beta1: 0.5, beta2: 0.9, eps: 1e-3, weightDecay: 0.1 },
  { lr: 1e-2, beta1: 0, beta2: 0.99, eps: 1e-6, weightDecay: 0 },
];

describe.each(BACKENDS)('optimizers [%s]', (backend) => {
  const core = useCore(backend);

  for (const n of SIZES) {
    it(`sgdStep n=${n}: ${STEPS} steps for each of momentum 0 / 0.9 / 0.5, nesterov, weight decay`, () => {
      for (const [k, o] of SGD.entries()) {
        const rand = new TestRand(n * 10 + k);
        const p0 = rand.f32(n, -2, 2), vel0 = o.momentum === 0 ? rand.f32(n) : new Float32Array(n);
        const tp = f32(core(), p0), tv = f32(core(), vel0), tg = core().alloc(n);
        const p = Float64Array.from(p0), vel = Float64Array.from(vel0);
        const what = JSON.stringify(o);
        for (let step = 1; step <= STEPS; step++) {
          const g = rand.f32(n, -1, 1);
          tg.set(g);
          core().sgdStep(tp, tv, tg, n, o);
          refSgdStep(p, vel, g, o);
          expectClose(tp.toArray(), p, TOL.optimizer, `params after step ${step}, ${what}`);
          if (o.momentum === 0) expectBitIdentical(tv.toArray(), vel0, `velocity untouched with momentum 0, ${what}`);
          else expectClose(tv.toArray(), vel, TOL.optimizer, `velocity after step ${step}, ${what}`);
        }
      }
    });

    it(`adamwStep n=${n}: ${STEPS} steps (bias correction, decoupled weight decay) for several settings`, () => {
      for (const [k, o] of ADAMW.entries()) {
        const rand = new TestRand(n * 20 + k);
        const p0 = rand.f32(n, -2, 2);
        const tp = f32(core(), p0), tm = core().alloc(n), tv = core().alloc(n), tg = core().alloc(n);
        const p = Float64Array.from(p0), m = new Float64Array(n), v = new Float64Array(n);
        const what = JSON.stringify(o);
        for (let step = 1; step <= STEPS; step++) {
          // gradients spanning magnitudes, with a sign flip now and then, so m/sqrt(v) is not always +-1
          const g = Float32Array.from({ length: n }, () => rand.normal() * 10 ** rand.uniform(-3, 1));
          tg.set(g);
          core().adamwStep(tp, tm, tv, tg, n, { ...o, step });
          refAdamWStep(p, m, v, g, { ...o, step });
          expectClose(tp.toArray(), p, TOL.optimizer, `params after step ${step}, ${what}`);
          // The moments get the same tolerance as the parameters: the wasm builds receive the betas
          // as f64 and form 1 - beta before rounding, so v does not drift by u / (1 - beta2).
          expectClose(tm.toArray(), m, TOL.optimizer, `m after step ${step}, ${what}`);
          expectClose(tv.toArray(), v, TOL.optimizer, `v after step ${step}, ${what}`);
        }
      }
    });
  }

  it('the step number matters (bias correction is applied, not assumed 1)', () => {
    const n = 8;
    const g = new TestRand(3).f32(n);
    const run = (step: number): Float32Array => {
      const tp = core().alloc(n), tm = core().alloc(n), tv = core().alloc(n), tg = f32(core(), g);
      core().adamwStep(tp, tm, tv, tg, n, { lr: 0.1, step });
      return tp.toArray();
    };
    const a = run(1), b = run(10);
    const p = new Float64Array(n), m = new Float64Array(n), v = new Float64Array(n);
    refAdamWStep(p, m, v, g, { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 10 });
    expectClose(b, p, TOL.optimizer, 'fresh state at step 10');
    expect(Array.from(a)).not.toEqual(Array.from(b));
  });
});
