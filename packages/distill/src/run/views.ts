// What a run reads of its data: the student's spec resolved against the samples, the validation
// split, the training and test views, the transfer set, and the check that a model takes the
// data's samples. Pure (views select rows; no pixel is copied).
import type { RunConfig } from '../config.js';
import { fullView, slice, splitValidation, transferSubset, type Dataset, type DatasetView } from '../data/dataset.js';
import { shapeText } from '../model/graph.js';
import type { Model } from '../model/model.js';
import type { StreamedSet } from '../data/batches.js';
import { parseModelSpec, resolveModelSpec, type ModelSpec } from '../model/spec.js';

/**
 * A training set read from shards, too large for memory (node/shard-data.ts): a validation split
 * held out by seed and read into memory, the rest streamed.
 */
export interface StreamedTrain {
  readonly kind: 'shards';
  readonly name: string;
  readonly sampleShape: number[];
  readonly features: number;
  readonly classes: number;
  /** Rows of the store. */
  readonly rows: number;
  /** Holds out `validationCount` rows chosen by `seed` (a view of them in memory, `ids` their row numbers) and streams the rest. */
  split(validationCount: number, seed: number): { train: StreamedSet; validation: DatasetView };
  /** Per-channel mean and std of every row (a pass over the shards). */
  channelStats(): { mean: number[]; std: number[] };
}

export function isStreamedTrain(x: unknown): x is StreamedTrain {
  return typeof x === 'object' && x !== null && (x as { kind?: unknown }).kind === 'shards';
}

/** What is checked of a training set's samples: its name, shape and classes. */
export type DataShape = Pick<Dataset, 'name' | 'sampleShape' | 'features' | 'classes'>;

/** A run's data: the training set (validation is split from it by seed; in memory, or streamed from shards) and the test set. */
export interface RunData { train: Dataset | StreamedTrain; test: Dataset }

/** The views of a run whose training set is streamed: trainSize and the transfer-set filters do not apply. */
export function streamViews(config: RunConfig, train: StreamedTrain, test: Dataset): { train: StreamedSet; validation: DatasetView; test: DatasetView } {
  for (const [field, given] of [['trainSize', config.trainSize !== undefined], ['transfer', config.transfer !== undefined]] as const) {
    if (given) throw new RangeError(`config.${field}: does not apply to a training set streamed from shards (${train.name}); write the shards you want to train on`);
  }
  const { train: stream, validation } = train.split(Math.min(config.validation, train.rows - 1), config.seed);
  const testView = config.testSize ? slice(fullView(test), Math.min(config.testSize, test.count)) : fullView(test);
  return { train: stream, validation, test: testView };
}

export interface RunViews {
  /** The validation split (chosen by seed) and the rest of the training set. */
  split: { train: DatasetView; validation: DatasetView };
  /** The first trainSize rows of the rest (all without trainSize). */
  train: DatasetView;
  /** The first testSize test rows (all without testSize). */
  test: DatasetView;
}

/** The config's model spec, its input shape and class count filled in from the data where it leaves them out. */
export function runModelSpec(config: Pick<RunConfig, 'model'>, data: RunData): ModelSpec {
  return resolveModelSpec(parseModelSpec(config.model), { inputShape: data.train.sampleShape, classes: data.train.classes, vocab: 'vocab' in data.train ? data.train.vocab : undefined });
}

export function runViews(config: RunConfig, data: { train: Dataset; test: Dataset }): RunViews {
  const n = data.train.count;
  if (config.validation > 0 && 2 * config.validation > n) {
    // the default 5000 is MNIST's; on a smaller corpus it would leave almost nothing to learn from
    throw new RangeError(`validation: holding out ${config.validation} of the ${n} training samples of ${data.train.name} leaves ${Math.max(0, n - config.validation)} to train on; `
      + `hold out at most half (--validation N, e.g. ${Math.max(1, Math.round(n / 10))}; 0 for none)`);
  }
  const split = splitValidation(data.train, Math.min(config.validation, n - 1), config.seed);
  const train = config.trainSize ? slice(split.train, Math.min(config.trainSize, split.train.indices.length)) : split.train;
  const test = config.testSize ? slice(fullView(data.test), Math.min(config.testSize, data.test.count)) : fullView(data.test);
  return { split, train, test };
}

/** The rows the student learns from: the training view after the transfer-set filters (checked). */
export function transferView(config: RunConfig, train: DatasetView): DatasetView {
  const classes = train.dataset.classes;
  for (const key of ['classes', 'omitClasses'] as const) {
    const bad = config.transfer?.[key]?.find((c) => c >= classes);
    if (bad !== undefined) throw new RangeError(`config.transfer.${key}: class ${bad} is not in ${train.dataset.name} (classes 0..${classes - 1})`);
  }
  const view = config.transfer ? transferSubset(train, config.transfer, config.seed) : train;
  if (view.indices.length === 0) throw new RangeError('config.transfer: no training samples are left after the transfer-set filters');
  return view;
}

/** Refuses a model whose input is not the data's samples or that has fewer classes; `what` names it. */
export function checkModelFitsData(model: Model, ds: DataShape, what: string): void {
  const input = model.inputShape, sample = ds.sampleShape;
  // channels last: an [H, W] image is [H, W, 1]; flat features of the same size are taken as they are
  const image = sample.length === 2 ? [...sample, 1] : sample;
  const fits = model.inputSize === ds.features && (input.length === 1 || sample.length === 1 || image.every((d, i) => d === input[i]));
  if (!fits) {
    throw new RangeError(`${what}: takes ${shapeText(input)} inputs but ${ds.name} samples are ${shapeText(image)}` +
      (input.length === 1 ? ` (${ds.features} features)` : ''));
  }
  if (model.classes < ds.classes) throw new RangeError(`${what}: outputs ${model.classes} classes but ${ds.name} has ${ds.classes}`);
}

/** The labels of a view's rows, in order. */
export function labelsOf(view: DatasetView): Int32Array {
  const labels = new Int32Array(view.indices.length);
  for (let i = 0; i < labels.length; i++) labels[i] = view.dataset.y[view.indices[i]!]!;
  return labels;
}

/** Logits of some rows (`part`, rows × classes in `rows` order) scattered into [dataset count, classes]; rows not listed stay 0. */
export function scatterRows(rows: DatasetView, part: Float32Array, classes: number): Float32Array {
  const out = new Float32Array(rows.dataset.count * classes);
  rows.indices.forEach((r, i) => out.set(part.subarray(i * classes, (i + 1) * classes), r * classes));
  return out;
}
