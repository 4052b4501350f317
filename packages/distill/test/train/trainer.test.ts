import { describe, expect, it } from 'vitest';
import { loadCore, type Core } from '@retort/core-wasm';
import { fullView, splitValidation, type Dataset } from '../../src/data/dataset.js';
import { Mlp } from '../../src/model/mlp.js';
import { predictLogits } from '../../src/train/predict.js';
import { train, type TrainEvent, type TrainSettings } from '../../src/train/trainer.js';
import { barsDataset } from './bars.js';


const SETTINGS: TrainSettings = {
  epochs: 3, batchSize: 32, optimizer: { type: 'adamw', lr: 3e-3 }, schedule: { type: 'cosine' },
  seed: 11, jitter: 1, mean: 0, std: 1,
};
const SPEC = { type: 'mlp', sizes: [64, 24, 4], dropout: { hidden: 0.2 } };

async function fit(core: Core, ds: Dataset, extra: Partial<Parameters<typeof train>[0]> = {}, settings: Partial<TrainSettings> = {}) {
  const split = splitValidation(ds, 100, 3);
  const model = new Mlp(core, SPEC);
  const events: TrainEvent[] = [];
  const result = await train({ core, model, train: split.train, validation: split.validation, settings: { ...SETTINGS, ...settings },
    onEvent: (e) => events.push(e), ...extra });
  const params = model.readParams();
  model.free();
  return { result, events, params };
}

describe.each(['simd', 'scalar', 'js'] as const)('train on %s', (backend) => {
  it('learns a separable problem: loss falls, validation accuracy rises, events are emitted', async () => {
    const core = await loadCore({ backend });
    const { result, events } = await fit(core, barsDataset(500, 1));
    const h = result.history;
    expect(h).toHaveLength(3);
    expect(h[2]!.trainLoss).toBeLessThan(h[0]!.trainLoss);
    expect(h[2]!.validation!.accuracy).toBeGreaterThan(0.9);
    expect(events[0]!.type).toBe('start');
    expect(events.filter((e) => e.type === 'step')).toHaveLength(3 * Math.ceil(400 / 32));
    expect(events.filter((e) => e.type === 'epoch')).toHaveLength(3);
    expect(events.at(-1)!.type).toBe('end');
  });

  it('is a function of config, data and seed: two runs give the same bits, another seed does not', async () => {
    const core = await loadCore({ backend });
    const ds = barsDataset(300, 2);
    const a = await fit(core, ds);
    const b = await fit(core, ds);
    expect(Buffer.from(a.params.buffer).equals(Buffer.from(b.params.buffer))).toBe(true);
    const c = await fit(core, ds, {}, { seed: 12 });
    expect(Buffer.from(a.params.buffer).equals(Buffer.from(c.params.buffer))).toBe(false);
  });

  it('a distilled student with alpha = 0 is exactly the baseline (same data order, init, masks, schedule)', async () => {
    const core = await loadCore({ backend });
    const ds = barsDataset(300, 4);
    const baseline = await fit(core, ds, {}, { jitter: 0 });
    const teacher = new Mlp(core, { type: 'mlp', sizes: [64, 10, 4] });
    teacher.init(99);
    const logits = predictLogits(core, teacher, fullView(ds));
    const distilled = await fit(core, ds, { distill: { teacher: { kind: 'logits', logits }, temperature: 4, alpha: 0 } }, { jitter: 0 });
    expect(Buffer.from(distilled.params.buffer).equals(Buffer.from(baseline.params.buffer))).toBe(true);
    // and with alpha > 0 the teacher does change the student
    const soft = await fit(core, ds, { distill: { teacher: { kind: 'logits', logits }, temperature: 4, alpha: 0.7 } }, { jitter: 0 });
    expect(Buffer.from(soft.params.buffer).equals(Buffer.from(baseline.params.buffer))).toBe(false);
    expect(soft.result.history.at(-1)!.validation!.agreement).toBeTypeOf('number');
    teacher.free();
  });

  it('a teacher run inside the step gives the same student as its cached logits', async () => {
    const core = await loadCore({ backend });
    const ds = barsDataset(200, 5);
    const teacher = new Mlp(core, { type: 'mlp', sizes: [64, 16, 4] });
    teacher.init(5);
    const logits = predictLogits(core, teacher, fullView(ds));
    const kd = { temperature: 3, alpha: 0.5 };
    const cached = await fit(core, ds, { distill: { teacher: { kind: 'logits', logits }, ...kd } }, { jitter: 0 });
    const inStep = await fit(core, ds, { distill: { teacher: { kind: 'model', model: teacher }, ...kd } }, { jitter: 0 });
    expect(Buffer.from(inStep.params.buffer).equals(Buffer.from(cached.params.buffer))).toBe(true);
    teacher.free();
  });

  it('rejects teacher logits of the wrong size and a diverging run with clear errors', async () => {
    const core = await loadCore({ backend });
    const ds = barsDataset(200, 6);
    await expect(fit(core, ds, { distill: { teacher: { kind: 'logits', logits: new Float32Array(7) }, temperature: 2, alpha: 0.5 } }))
      .rejects.toThrow(/teacher logits hold 7 values but 200 samples x 4 classes/);
    await expect(fit(core, ds, {}, { optimizer: { type: 'sgd', lr: 1e30 } })).rejects.toThrow(/the loss became/);
  });
});
