import { describe, expect, it } from 'vitest';
import { loadCore } from '@retort/core-wasm';
import { createOptimizer, parseOptimizerConfig } from '../../src/optim/optimizer.js';

const BACKENDS = ['simd', 'scalar', 'js'] as const;

function expectAll(got: Float32Array, want: number[], digits = 6): void {
  expect(got.length).toBe(want.length);
  want.forEach((w, i) => expect(got[i]).toBeCloseTo(w, digits));
}

describe.each(BACKENDS)('optimizers [%s]', (backend) => {
  it('SGD with momentum 0.9: two steps on three numbers, by hand', async () => {
    const core = await loadCore({ backend });
    const p = core.fromArray([1, 2, 3]), g = core.alloc(3);
    const opt = createOptimizer(core, 3, { type: 'sgd', lr: 0.1, momentum: 0.9 });
    g.set([0.1, -0.2, 0.3]);
    opt.step(p, g, 0.1);
    // v = g1 = [0.1, -0.2, 0.3];  p = [1, 2, 3] - 0.1 v = [0.99, 2.02, 2.97]
    expectAll(p.toArray(), [0.99, 2.02, 2.97]);
    g.set([0.2, 0.1, -0.1]);
    opt.step(p, g, 0.1);
    // v = 0.9 [0.1, -0.2, 0.3] + [0.2, 0.1, -0.1] = [0.29, -0.08, 0.17];  p -= 0.1 v
    expectAll(p.toArray(), [0.961, 2.028, 2.953]);
    expectAll(opt.state().buffers.velocity!, [0.29, -0.08, 0.17]);
    expect(opt.state().step).toBe(2);
  });

  it('SGD Nesterov with weight decay, and plain SGD (no velocity buffer), by hand', async () => {
    const core = await loadCore({ backend });
    const p = core.fromArray([1, -2]), g = core.fromArray([0.5, 0.5]);
    const nag = createOptimizer(core, 2, { type: 'sgd', lr: 0.1, momentum: 0.5, nesterov: true, weightDecay: 0.1 });
    nag.step(p, g, 0.1);
    // g' = g + 0.1 p = [0.6, 0.3];  v = g' ;  step = g' + 0.5 v = [0.9, 0.45];  p -= 0.1 step
    expectAll(p.toArray(), [0.91, -2.045]);
    const plain = createOptimizer(core, 2, { type: 'sgd', lr: 1 });
    expect(Object.keys(plain.state().buffers)).toEqual([]);
    plain.step(p, g, 0.5); // p -= 0.5 g
    expectAll(p.toArray(), [0.66, -2.295]);
  });

  it('AdamW: the first step is lr * sign(g) (weight decay 0), and decoupled decay scales p by (1 - lr wd)', async () => {
    const core = await loadCore({ backend });
    const p = core.fromArray([1, 2, -3, 0.5]), g = core.fromArray([0.3, -4, 1e-3, -0.02]);
    const opt = createOptimizer(core, 4, { type: 'adamw', lr: 0.01 });
    opt.step(p, g, 0.01);
    expectAll(p.toArray(), [0.99, 2.01, -3.01, 0.51], 5);
    const q = core.fromArray([1, 2, -3, 0.5]);
    const wd = createOptimizer(core, 4, { type: 'adamw', lr: 0.01, weightDecay: 0.5 });
    wd.step(q, g, 0.1);
    // p (1 - 0.1 * 0.5) - 0.1 sign(g)
    expectAll(q.toArray(), [0.85, 2.0, -2.95, 0.575], 5);
  });

  it('state() and load() continue a run exactly', async () => {
    const core = await loadCore({ backend });
    const n = 37;
    const grads = Array.from({ length: 6 }, (_, s) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7 + s)));
    const g = core.alloc(n);
    const a = core.fromArray(Float32Array.from({ length: n }, (_, i) => i / n));
    const optA = createOptimizer(core, n, { type: 'adamw', lr: 1e-2, weightDecay: 0.01 });
    for (let s = 0; s < 3; s++) { g.set(grads[s]!); optA.step(a, g, 1e-2); }
    const saved = optA.state();
    const b = core.fromArray(a.toArray());
    const optB = createOptimizer(core, n, { type: 'adamw', lr: 1e-2, weightDecay: 0.01 });
    optB.load(saved);
    expect(optB.stepCount).toBe(3);
    for (let s = 3; s < 6; s++) {
      g.set(grads[s]!);
      optA.step(a, g, 1e-2);
      optB.step(b, g, 1e-2);
    }
    expect(Buffer.from(b.toArray().buffer).equals(Buffer.from(a.toArray().buffer))).toBe(true);
    expect(() => optB.load({ step: 1, buffers: { velocity: new Float32Array(n) } })).toThrow(/needs buffers \[m, v\]/);
    expect(() => optB.load({ step: 1, buffers: { m: new Float32Array(n), v: new Float32Array(3) } })).toThrow(/'v' has 3 values, expected 37/);
    optA.free(); optB.free();
  });
});

describe('optimizer config', () => {
  it('validates with messages naming the field', () => {
    expect(parseOptimizerConfig({ type: 'adamw', lr: 1e-3 })).toEqual({ type: 'adamw', lr: 1e-3 });
    const cases: [unknown, string][] = [
      [{ type: 'adamw', lr: 1e-3, beta2: 1 }, 'optimizer.beta2: must be a number in [0, 1)'],
      [{ type: 'sgd', lr: -1 }, 'optimizer.lr: must be a finite number >= 0'],
      [{ type: 'sgd', lr: 0.1, nesterov: 'yes' }, 'optimizer.nesterov: must be true or false'],
      [{ type: 'sgd', lr: 0.1, momentun: 0.9 }, "optimizer: unknown field 'momentun'"],
      [{ type: 'rmsprop', lr: 0.1 }, 'optimizer.type'],
    ];
    for (const [input, message] of cases) expect(() => parseOptimizerConfig(input)).toThrow(message);
  });
});
