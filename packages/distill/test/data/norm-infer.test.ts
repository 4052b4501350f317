// A deployed model sees its inputs as in training: @retort/core-wasm/infer's predictRaw prepares
// raw samples with the normalisation the model file records, to the bits the trainer's BatchLoader
// gave them (u8 with one mean/std through the normalizeU8 kernel, per channel in f64, f32 rows).
import { loadCore, type Core } from '@retort/core-wasm';
import { loadInference, normalizationOfMeta, prepareInputs } from '@retort/core-wasm/infer';
import { beforeAll, describe, expect, it } from 'vitest';
import { BatchLoader } from '../../src/data/batches.js';
import { fullView, makeDataset, type InputNorm } from '../../src/data/dataset.js';
import { encodeModelFile, modelTensors } from '../../src/format/model-file.js';
import { createModel } from '../../src/model/index.js';
import { parseModelSpec } from '../../src/model/spec.js';
import { predictLogits } from '../../src/train/predict.js';

let core: Core;
beforeAll(async () => { core = await loadCore({ backend: 'scalar' }); });

const u8 = makeDataset(Uint8Array.from({ length: 7 * 12 }, (_, i) => (i * 53 + 7) % 256), [7, 2, 2, 3], Int32Array.from({ length: 7 }, (_, i) => i % 3), { xFile: 'x', yFile: 'y' });
const f32 = makeDataset(Float32Array.from({ length: 7 * 12 }, (_, i) => Math.sin(i) * 40), [7, 12], Int32Array.from({ length: 7 }, (_, i) => i % 3), { xFile: 'x', yFile: 'y' });

function loaderBits(ds: typeof u8, norm: InputNorm): number[] {
  const l = new BatchLoader(core, fullView(ds), ds.count, { shuffle: false, mean: norm.mean, std: norm.std });
  try {
    const b = [...l.epoch(0)][0]!;
    return Array.from(b.x.view().subarray(0, ds.count * ds.features));
  } finally {
    l.free();
  }
}

describe('prepareInputs', () => {
  const cases: [string, typeof u8, InputNorm][] = [
    ['u8, one mean and std (the kernel path)', u8, { mean: 0.1307, std: 0.3081 }],
    ['u8, none', u8, { mean: 0, std: 1 }],
    ['u8, per channel', u8, { mean: [0.1, 0.52, 0.9], std: [0.3, 0.07, 1.7] }],
    ['f32, one mean and std', f32, { mean: -3.25, std: 11 }],
    ['f32, per feature', f32, { mean: Array.from({ length: 12 }, (_, i) => i - 6), std: Array.from({ length: 12 }, (_, i) => 1 + i / 3) }],
  ];
  it.each(cases)('%s: the bits the trainer fed', (_name, ds, norm) => {
    expect(Array.from(prepareInputs(ds.x, norm))).toEqual(loaderBits(ds, norm));
  });

  it('reads the normalisation a model file records, ignoring what is not one', () => {
    expect(normalizationOfMeta({ mean: [0.1, 0.2], std: 0.5 })).toEqual({ mean: [0.1, 0.2], std: 0.5 });
    expect(normalizationOfMeta({ note: 'x' })).toBeNull();
    expect(normalizationOfMeta({ mean: 'a', std: 1 })).toBeNull();
    expect(normalizationOfMeta({ mean: 0, std: [1, 0] })).toBeNull();
  });

  it('predictRaw of a float model file gives the trainer\'s logits on raw images', async () => {
    const spec = parseModelSpec('mlp:12-5-3');
    const model = createModel(core, spec);
    try {
      model.init(3);
      const norm = { mean: [0.2, 0.5, 0.8], std: [0.25, 0.5, 0.125] };
      const file = encodeModelFile({ spec, tensors: modelTensors(spec, model.readParams()), meta: norm });
      const inf = await loadInference({ backend: 'scalar' });
      const m = inf.load(file, 'm.retort');
      expect(m.normalization).toEqual(norm);
      const raw = m.predictRaw(u8.x, u8.count);
      const trained = predictLogits(core, model, fullView(u8), norm);
      for (let i = 0; i < raw.length; i++) expect(Math.abs(raw[i]! - trained[i]!)).toBeLessThan(1e-5);
      m.free();
    } finally {
      model.free();
    }
  });
});
