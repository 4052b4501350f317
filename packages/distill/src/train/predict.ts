// Logits of a model over a dataset view, in eval mode, batch by batch. Used for
// validation and test metrics and to turn a teacher into soft labels.
import type { Core } from '@retort/core-wasm';
import { BatchLoader } from '../data/batches.js';
import type { DatasetView } from '../data/dataset.js';
import type { Model } from '../model/model.js';

export interface PredictOptions {
  batchSize?: number;
  /** Input normalisation for u8 samples: (x/255 - mean)/std. */
  mean?: number;
  std?: number;
}

/** [view count, classes] logits; row i belongs to the view's i-th sample. */
export function predictLogits(core: Core, model: Model, view: DatasetView, opts: PredictOptions = {}): Float32Array {
  const ds = view.dataset;
  if (ds.features !== model.inputSize) {
    throw new RangeError(`predict: the model takes ${model.inputSize} inputs but ${ds.name} samples have ${ds.features} features`);
  }
  const batchSize = Math.min(opts.batchSize ?? 256, Math.max(1, view.indices.length));
  const classes = model.classes;
  const out = new Float32Array(view.indices.length * classes);
  if (view.indices.length === 0) return out;
  const loader = new BatchLoader(core, view, batchSize, { shuffle: false, mean: opts.mean ?? 0, std: opts.std ?? 1 });
  const previous = model.batchSize;
  try {
    if (model.batchSize < batchSize) model.plan(batchSize);
    for (const batch of loader.epoch(0)) {
      const logits = model.forward(batch.x, batch.size, 'eval');
      out.set(logits.view().subarray(0, batch.size * classes), batch.index * batchSize * classes);
    }
  } finally {
    loader.free();
    if (previous > 0 && previous !== model.batchSize) model.plan(previous);
  }
  return out;
}
