// Our backends as training-step contenders: the trainer's step (src/train/trainer.ts),
// built from the same library calls — Mlp.forward in train mode, core.distillationLoss
// (the fused KD kernel) into dz, zeroGrad + Mlp.backward, the AdamW optimizer of
// createOptimizer — on a batch, labels and teacher logits already in module memory.
// Not included, as in the comparison's other contenders: data loading and the trainer's
// accuracy bookkeeping (argmax of 128 x 10 logits).

import type { Core } from '@retort/core-wasm';
import { Mlp } from '../model/mlp.js';
import { createOptimizer } from '../optim/optimizer.js';
import type { PreparedStep, StepContender, StepProblem } from './step.js';

const DESCRIPTIONS: Record<string, string> = {
  simd: 'retort.simd.wasm',
  scalar: 'retort.scalar.wasm',
  js: 'plain-JS backend (the reference)',
};

export function retortStepContender(core: Core, name: string = core.backend): StepContender {
  return {
    name,
    description: `${DESCRIPTIONS[core.backend] ?? `${core.backend} backend`}: Mlp forward, core.distillationLoss, Mlp backward, AdamW (createOptimizer)`,
    prepare: (p) => retortStep(core, p),
  };
}

function retortStep(core: Core, p: StepProblem): PreparedStep {
  const B = p.batch;
  const model = new Mlp(core, { type: 'mlp', sizes: [...p.sizes] });
  const classes = model.classes;
  const opt = createOptimizer(core, model.paramCount,
    { type: 'adamw', lr: p.lr, beta1: p.beta1, beta2: p.beta2, eps: p.eps, weightDecay: p.weightDecay });
  const x = core.fromArray(p.x);
  const y = core.allocI32(B).set(p.labels);
  const v = core.fromArray(p.teacherLogits);
  const dz = core.alloc(B * classes);
  model.writeParams(p.initialParams);
  model.plan(B);
  const kd = { temperature: p.temperature, alpha: p.alpha, scaleT2: true };
  return {
    step: () => {
      const z = model.forward(x, B, 'train');
      core.fill(dz, B * classes, 0);
      const loss = core.distillationLoss(dz, z, v, y, B, classes, kd);
      model.zeroGrad();
      model.backward(dz, B);
      opt.step(model.params, model.grads, p.lr);
      return loss;
    },
    dispose: () => {
      opt.free();
      model.free();
      for (const t of [x, y, v, dz]) core.free(t);
    },
  };
}
