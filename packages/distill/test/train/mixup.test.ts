// Mixup in the objective: the label term of a mixed batch is λ·ce(y) + (1 − λ)·ce(y2), with the
// gradient to match; terms that read single labels (dkd, tfkd) refuse mixed batches.
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCore, type Core } from '@retort/core-wasm';
import { parseLossTerms } from '../../src/losses/config.js';
import { Mlp } from '../../src/model/mlp.js';
import { Objective, mixupTermError } from '../../src/train/objective.js';

describe.each(['simd', 'js'] as const)('mixup in the objective [%s]', (backend) => {
  let core: Core;
  beforeAll(async () => { core = await loadCore({ backend }); });
  const rows = 6, C = 4, ctx = { progress: 0, epoch: 1 };

  const setup = (terms: unknown) => {
    const model = new Mlp(core, 'mlp:5-4');
    model.init(3);
    model.plan(rows);
    const x = core.alloc(rows * 5);
    x.view().set(Float32Array.from({ length: rows * 5 }, (_, i) => Math.sin(i * 1.7)));
    const y = core.allocI32(rows), y2 = core.allocI32(rows);
    y.view().set([0, 1, 2, 3, 0, 1]);
    y2.view().set([3, 3, 0, 1, 2, 2]);
    const objective = new Objective(core, { terms: parseLossTerms(terms), teachers: [] }, [model], rows);
    const z = model.forward(x, rows, 'train');
    const dz = core.alloc(rows * C);
    const run = (batch: Parameters<Objective['prepare']>[0]): { loss: number; grad: number[] } => {
      core.fill(dz, rows * C, 0);
      objective.prepare(batch);
      const loss = objective.loss(0, dz, [z], ctx);
      return { loss, grad: Array.from(dz.view().subarray(0, rows * C)) };
    };
    return { x, y, y2, run, indices: new Int32Array(rows) };
  };

  it('ce of a mixed batch is λ·ce(y) + (1 − λ)·ce(y2), value and gradient', () => {
    const { x, y, y2, run, indices } = setup([{ type: 'ce', weight: 2 }]);
    const lambda = 0.3;
    const a = run({ x, y, indices, rows });
    const b = run({ x, y: y2, indices, rows });
    const m = run({ x, y, indices, rows, mix: { lambda, y2 } });
    expect(m.loss).toBeCloseTo(lambda * a.loss + (1 - lambda) * b.loss, 5);
    m.grad.forEach((g, i) => expect(g).toBeCloseTo(lambda * a.grad[i]! + (1 - lambda) * b.grad[i]!, 6));
    // and it is not the unmixed loss
    expect(Math.abs(m.loss - a.loss)).toBeGreaterThan(1e-3);
  });

  it('λ = 1 gives the unmixed loss exactly', () => {
    const { x, y, y2, run, indices } = setup([{ type: 'ce', weight: 1 }]);
    expect(run({ x, y, indices, rows, mix: { lambda: 1, y2 } }).loss).toBeCloseTo(run({ x, y, indices, rows }).loss, 6);
  });

  it('terms that read single labels refuse mixed batches, naming the term', () => {
    expect(mixupTermError(parseLossTerms([{ type: 'ce' }, { type: 'tfkd' }]))).toMatch(/tfkd term reads each sample's label/);
    expect(mixupTermError(parseLossTerms([{ type: 'ce' }, { type: 'kd' }]))).toBeNull();
    const { x, y, y2, run, indices } = setup([{ type: 'ce', weight: 0.5 }, { type: 'tfkd', weight: 0.5 }]);
    expect(() => run({ x, y, indices, rows, mix: { lambda: 0.5, y2 } })).toThrow(/mixup: the tfkd term/);
  });
});
