// A short training run on a synthetic, linearly separable 3-class problem: the loss falls,
// accuracy reaches 100%, and the run is a function of its seed (same bits twice).
import { describe, expect, it } from 'vitest';
import { loadCore, type Core } from '@retort/core-wasm';
import { Mlp } from '../../src/model/mlp.js';
import { createOptimizer, type OptimizerConfig } from '../../src/optim/optimizer.js';
import { lrSchedule } from '../../src/optim/schedule.js';

const IN = 12, CLASSES = 3, N = 96, BATCH = 32, EPOCHS = 15;

/** Three Gaussian blobs around well-separated centres. */
function dataset(): { x: Float32Array; y: Int32Array } {
  let s = 12345;
  const next = (): number => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return s / 4294967296; };
  const x = new Float32Array(N * IN), y = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    const c = i % CLASSES;
    y[i] = c;
    for (let j = 0; j < IN; j++) x[i * IN + j] = (j % CLASSES === c ? 1.5 : -0.5) + 0.6 * (next() - 0.5);
  }
  return { x, y };
}

function train(core: Core, spec: string, optimizer: OptimizerConfig, seed: number): { losses: number[]; accuracy: number; params: Float32Array } {
  const { x, y } = dataset();
  const model = new Mlp(core, spec);
  model.init(seed);
  model.plan(BATCH);
  const opt = createOptimizer(core, model.paramCount, optimizer);
  const steps = EPOCHS * (N / BATCH);
  const lr = lrSchedule({ type: 'cosine', warmupSteps: 3 }, steps, optimizer.lr);
  const rng = core.createRng(seed + 1);
  const tx = core.alloc(BATCH * IN), ty = core.allocI32(BATCH), dz = core.alloc(BATCH * CLASSES);
  const losses: number[] = [];
  let step = 0;
  for (let epoch = 0; epoch < EPOCHS; epoch++) {
    let total = 0;
    for (let b = 0; b < N; b += BATCH) {
      tx.set(x.subarray(b * IN, (b + BATCH) * IN));
      ty.set(y.subarray(b, b + BATCH));
      model.zeroGrad();
      core.fill(dz, BATCH * CLASSES, 0);
      const z = model.forward(tx, BATCH, 'train', rng);
      total += core.crossEntropy(dz, z, ty, BATCH, CLASSES);
      model.backward(dz, BATCH);
      opt.step(model.params, model.grads, lr(step++));
      model.applyMaxNorm();
    }
    losses.push(total / (N / BATCH));
  }
  let correct = 0;
  const pred = core.allocI32(BATCH);
  for (let b = 0; b < N; b += BATCH) {
    tx.set(x.subarray(b * IN, (b + BATCH) * IN));
    core.argmaxRows(pred, model.forward(tx, BATCH, 'eval'), BATCH, CLASSES);
    pred.toArray().forEach((p, i) => { if (p === y[b + i]) correct++; });
  }
  const params = model.readParams();
  model.free(); opt.free();
  return { losses, accuracy: correct / N, params };
}

describe.each(['simd', 'scalar', 'js'] as const)('a short training run [%s]', (backend) => {
  it('AdamW with dropout and max-norm: the loss falls, accuracy reaches 100%, and the run repeats bit for bit', async () => {
    const core = await loadCore({ backend });
    const spec = 'mlp:12-24-3,dropout=0.1/0.2,maxnorm=3';
    const a = train(core, spec, { type: 'adamw', lr: 0.02 }, 7);
    expect(a.losses[EPOCHS - 1]!).toBeLessThan(0.25 * a.losses[0]!);
    expect(a.accuracy).toBe(1);
    const b = train(core, spec, { type: 'adamw', lr: 0.02 }, 7);
    expect(b.losses).toEqual(a.losses);
    expect(Buffer.from(b.params.buffer).equals(Buffer.from(a.params.buffer))).toBe(true);
  });

  it('SGD with Nesterov momentum: the loss falls', async () => {
    const core = await loadCore({ backend });
    const r = train(core, 'mlp:12-16-16-3', { type: 'sgd', lr: 0.05, momentum: 0.9, nesterov: true }, 3);
    expect(r.losses[EPOCHS - 1]!).toBeLessThan(0.25 * r.losses[0]!);
    expect(r.accuracy).toBe(1);
  });
});
