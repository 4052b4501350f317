// Datasets and views. A Dataset holds one copy of the samples (u8 pixels as read from the
// file, or f32) and int32 labels; a DatasetView selects rows of it by index, so splits,
// slices and shuffles never copy pixel data (MNIST train is 47 MB; a run's peak memory
// must stay under 200 MB). Pure: the file loaders are in files.ts (Node only).

import { product } from './bytes.js';
import { DataFormatError, formatDims } from './errors.js';
import { Fnv1a64 } from './hash.js';
import type { IdxArray } from './idx.js';
import { toFloat32, type NpyArray } from './npy.js';
import { permutation, STREAM, Xoshiro128 } from './random.js';

export interface Dataset {
  name: string;
  /** Number of samples. */
  count: number;
  /** Shape of one sample, e.g. [28, 28]. */
  sampleShape: number[];
  /** Elements per sample: the product of sampleShape. */
  features: number;
  /** Number of classes; every label is in [0, classes). */
  classes: number;
  /** [count, features] row-major. */
  x: Uint8Array | Float32Array;
  /** [count] labels. */
  y: Int32Array;
  /**
   * Token data (../text/data.ts): samples are [L] token ids of this vocabulary, -1 after the
   * tokens for padding. Absent for every other dataset.
   */
  vocab?: number;
  /**
   * Token data: the ids of the tokenizer's special tokens (its template's and added special
   * tokens), which token noise (data/batches.ts) neither replaces nor draws.
   */
  specialIds?: readonly number[];
}

/** Rows of a dataset, in order; `indices` are dataset row numbers. */
export interface DatasetView {
  dataset: Dataset;
  indices: Int32Array;
  /**
   * The rows' numbers in the training set the teacher outputs cover, when the dataset holds a copy
   * of some of its rows (a validation split read from shards); default `indices`.
   */
  ids?: Int32Array;
}

export interface DatasetOptions {
  /** Defaults to the file name of the samples. */
  name?: string;
  /** Number of classes; default max label + 1. A label >= classes is an error. */
  classes?: number;
}

/**
 * Builds a dataset from samples x ([count, ...sampleShape]) and labels y ([count]) after
 * checking that they agree; errors name `xFile` or `yFile`.
 */
export function makeDataset(
  x: Uint8Array | Float32Array, xShape: readonly number[], y: Int32Array,
  files: { xFile: string; yFile: string }, opts: DatasetOptions = {},
): Dataset {
  const { xFile, yFile } = files;
  if (xShape.length < 2) throw new DataFormatError(xFile, `samples need at least 2 dimensions [count, ...], got ${formatDims(xShape)}`);
  const count = xShape[0]!;
  const sampleShape = xShape.slice(1);
  const features = product(sampleShape);
  if (count === 0 || features === 0) throw new DataFormatError(xFile, `empty: shape ${formatDims(xShape)}`);
  if (x.length !== count * features) throw new RangeError(`makeDataset: x has ${x.length} elements, shape ${formatDims(xShape)}`);
  if (y.length !== count) {
    throw new DataFormatError(yFile, `label/image count mismatch: ${y.length} labels, but ${xFile} holds ${count} samples`);
  }
  let max = -1;
  for (let i = 0; i < count; i++) {
    const v = y[i]!;
    if (v < 0) throw new DataFormatError(yFile, `label out of range: label ${v} at index ${i} is negative`);
    if (v > max) max = v;
  }
  let classes = max + 1;
  if (opts.classes !== undefined) {
    if (!Number.isInteger(opts.classes) || opts.classes < 1) throw new RangeError(`classes must be a positive integer, got ${opts.classes}`);
    if (max >= opts.classes) {
      const i = y.findIndex((v) => v >= opts.classes!);
      throw new DataFormatError(yFile, `label out of range: label ${y[i]} at index ${i} is not in [0, ${opts.classes})`);
    }
    classes = opts.classes;
  }
  return { name: opts.name ?? baseName(xFile), count, sampleShape, features, classes, x, y };
}

function baseName(path: string): string {
  return path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);
}

/** Images: u8 as is, f32 as is, f64 converted to f32; other types are rejected. */
function samplesOf(file: string, kind: string, data: ArrayLike<number>): Uint8Array | Float32Array {
  if (data instanceof Uint8Array || data instanceof Float32Array) return data;
  if (data instanceof Float64Array) return toFloat32(data);
  throw new DataFormatError(file, `unsupported sample type ${kind}: samples must be u8, f32 or f64`);
}

/** Labels: any integer type, as int32. */
function labelsOf(file: string, kind: string, dims: readonly number[], data: ArrayLike<number>): Int32Array {
  if (data instanceof Float32Array || data instanceof Float64Array) {
    throw new DataFormatError(file, `unsupported label type ${kind}: labels must be integers`);
  }
  if (dims.length !== 1) throw new DataFormatError(file, `labels must be one-dimensional, got shape ${formatDims(dims)}`);
  return data instanceof Int32Array ? data : Int32Array.from(data);
}

/** A dataset from an IDX images array and an IDX labels array. */
export function datasetFromIdx(images: IdxArray, labels: IdxArray, files: { xFile: string; yFile: string },
                               opts: DatasetOptions = {}): Dataset {
  const x = samplesOf(files.xFile, images.type, images.data);
  const y = labelsOf(files.yFile, labels.type, labels.dims, labels.data);
  return makeDataset(x, images.dims, y, files, opts);
}

/** A dataset from .npy samples ([N, ...], u1/f4/f8) and labels ([N], i1/u1/i4/i8). */
export function datasetFromNpy(xs: NpyArray, ys: NpyArray, files: { xFile: string; yFile: string },
                               opts: DatasetOptions = {}): Dataset {
  const x = samplesOf(files.xFile, xs.dtype, xs.data);
  const y = labelsOf(files.yFile, ys.dtype, ys.shape, ys.data);
  return makeDataset(x, xs.shape, y, files, opts);
}

/**
 * A train and a test set that must agree: the same sample shape and element type (errors
 * name `testFile`); both get the larger class count.
 */
export function pairTrainTest(train: Dataset, test: Dataset, testFile: string): { train: Dataset; test: Dataset } {
  if (formatDims(train.sampleShape) !== formatDims(test.sampleShape)) {
    throw new DataFormatError(testFile, `test samples are ${formatDims(test.sampleShape)}, train samples are ${formatDims(train.sampleShape)}`);
  }
  if ((train.x instanceof Uint8Array) !== (test.x instanceof Uint8Array)) {
    throw new DataFormatError(testFile, 'test and train samples have different element types');
  }
  const classes = Math.max(train.classes, test.classes);
  return { train: { ...train, classes }, test: { ...test, classes } };
}

/** How a run's test set was obtained: the data's own, a file of its own, or split off by seed. */
export type TestSplit =
  | { kind: 'given' }
  | { kind: 'file'; path: string }
  | { kind: 'seeded'; fraction: number; seed: number; testCount: number; trainCount: number };

/** How the test set came about, in words. */
export function describeTestSplit(split: TestSplit): string {
  if (split.kind === 'given') return "the data's own";
  if (split.kind === 'file') return `from ${split.path}`;
  return `held out: ${split.testCount} of ${split.testCount + split.trainCount} samples (fraction ${split.fraction} of each class, split seed ${split.seed})`;
}

/** The part of the data held out as the test set when the data has none; DEFAULT_SPLIT_SEED seeds it. */
export const DEFAULT_TEST_FRACTION = 0.2;
export const DEFAULT_SPLIT_SEED = 0;

/** A new dataset holding rows `rows` of `ds` (copied, in the given order). */
export function takeRows(ds: Dataset, rows: Int32Array | readonly number[], name: string): Dataset {
  const F = ds.features;
  const x = ds.x instanceof Uint8Array ? new Uint8Array(rows.length * F) : new Float32Array(rows.length * F);
  const y = new Int32Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    x.set(ds.x.subarray(r * F, (r + 1) * F), i * F);
    y[i] = ds.y[r]!;
  }
  return { ...ds, name, count: rows.length, x, y };
}

/**
 * The rows of a stratified seeded split (see splitTestSet), each list ascending; `name` names
 * the data in the error when one side would be empty.
 */
export function stratifiedTestRows(y: Int32Array, classes: number, fraction: number, seed: number, name: string): { train: number[]; test: number[] } {
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`the test fraction must be in (0, 1), got ${fraction}`);
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  for (let i = 0; i < y.length; i++) byClass[y[i]!]!.push(i);
  const isTest = new Uint8Array(y.length);
  byClass.forEach((rows, c) => {
    const take = Math.round(rows.length * fraction);
    const perm = permutation(rows.length, new Xoshiro128(seed, STREAM.testSplit, c));
    for (let k = 0; k < take; k++) isTest[rows[perm[k]!]!] = 1;
  });
  const test: number[] = [], train: number[] = [];
  for (let i = 0; i < y.length; i++) (isTest[i] ? test : train).push(i);
  if (test.length === 0 || train.length === 0) {
    throw new DataFormatError(name, `${y.length} samples cannot be split into a training and a test set by fraction ${fraction}: give a test set (--test-data) or more samples`);
  }
  return { train, test };
}

/**
 * Splits a dataset that has no test set of its own: in every class, `fraction` of its rows
 * (rounded) chosen by a permutation seeded by `seed` go to the test set, so the classes keep their
 * balance; the rest stay for training. Both keep the dataset's row order. The split does not
 * depend on a run's training seed, so every run on the same data tests on the same rows.
 */
export function splitTestSet(ds: Dataset, fraction: number, seed: number): { train: Dataset; test: Dataset; split: TestSplit } {
  const { train, test } = stratifiedTestRows(ds.y, ds.classes, fraction, seed, ds.name);
  const base = ds.name.replace(/\/train$/, '');
  return {
    train: takeRows(ds, train, `${base}/train`), test: takeRows(ds, test, `${base}/test`),
    split: { kind: 'seeded', fraction, seed, testCount: test.length, trainCount: train.length },
  };
}

// ---- views ------------------------------------------------------------------------------

/** Every row of `ds`, in order. */
export function fullView(ds: Dataset): DatasetView {
  const indices = new Int32Array(ds.count);
  for (let i = 0; i < ds.count; i++) indices[i] = i;
  return { dataset: ds, indices };
}

/**
 * Holds out `validationCount` rows of `ds`, chosen by a permutation seeded by `seed` (same
 * seed, same split). Both views list their rows in ascending order; they are disjoint and
 * together cover the dataset.
 */
export function splitValidation(ds: Dataset, validationCount: number, seed: number): { train: DatasetView; validation: DatasetView } {
  if (!Number.isInteger(validationCount) || validationCount < 0 || validationCount >= ds.count) {
    throw new RangeError(`splitValidation: validationCount must be an integer in [0, ${ds.count}), got ${validationCount}`);
  }
  const perm = permutation(ds.count, new Xoshiro128(seed, STREAM.split));
  const validation = perm.slice(0, validationCount).sort();
  const train = perm.slice(validationCount).sort();
  return { train: { dataset: ds, indices: train }, validation: { dataset: ds, indices: validation } };
}

/**
 * The transfer set a student sees: `fraction` of the view's rows (chosen by a permutation
 * seeded by `seed`, kept in ascending order), then only rows whose label is in `classes` and
 * not in `omitClasses`.
 */
export function transferSubset(view: DatasetView, opts: { fraction?: number; classes?: readonly number[]; omitClasses?: readonly number[] }, seed: number): DatasetView {
  let indices = view.indices;
  if (opts.fraction !== undefined && opts.fraction < 1) {
    if (!(opts.fraction > 0)) throw new RangeError(`transferSubset: fraction must be in (0, 1], got ${opts.fraction}`);
    const keep = Math.max(1, Math.round(indices.length * opts.fraction));
    const perm = permutation(indices.length, new Xoshiro128(seed, STREAM.transfer));
    const picked = perm.slice(0, keep).sort();
    indices = picked.map((i) => indices[i]!);
  }
  if (opts.classes || opts.omitClasses) {
    const y = view.dataset.y;
    const allowed = new Set(opts.classes ?? Array.from({ length: view.dataset.classes }, (_, c) => c));
    for (const c of opts.omitClasses ?? []) allowed.delete(c);
    indices = indices.filter((i) => allowed.has(y[i]!));
  }
  return { dataset: view.dataset, indices };
}

/** The first `count` rows of a view (or rows [start, start + count)). */
export function slice(view: DatasetView, count: number, start = 0): DatasetView {
  const n = view.indices.length;
  if (!Number.isInteger(start) || start < 0 || start > n) throw new RangeError(`slice: start must be an integer in [0, ${n}], got ${start}`);
  if (!Number.isInteger(count) || count < 0 || start + count > n) {
    throw new RangeError(`slice: count must be an integer in [0, ${n - start}], got ${count}`);
  }
  return { dataset: view.dataset, indices: view.indices.slice(start, start + count) };
}

/**
 * A stable 16-hex-digit hash (FNV-1a 64) of the selected samples in view order: sample
 * type and shape, then each sample's bytes and label. The dataset's name is not part of
 * it. Teacher-logit caches store it to detect that they no longer match their data.
 */
export function fingerprint(view: DatasetView): string {
  const ds = view.dataset;
  const h = new Fnv1a64();
  const isU8 = ds.x instanceof Uint8Array;
  h.updateString(`retort-data-v1 ${isU8 ? 'u8' : 'f32'} ${view.indices.length}x${ds.sampleShape.join('x')}\n`);
  const bytes = new Uint8Array(ds.x.buffer, ds.x.byteOffset, ds.x.byteLength);
  const rowBytes = ds.features * (isU8 ? 1 : 4);
  const labels = new DataView(new ArrayBuffer(4 * view.indices.length));
  for (let i = 0; i < view.indices.length; i++) {
    const row = view.indices[i]!;
    h.update(bytes.subarray(row * rowBytes, (row + 1) * rowBytes));
    labels.setInt32(4 * i, ds.y[row]!, true); // little-endian whatever the host
  }
  h.update(new Uint8Array(labels.buffer));
  return h.digest();
}

/**
 * Input normalisation: u8 samples become (x/255 − mean)/std, f32 samples (x − mean)/std. One
 * value for every element, or one per channel: the last axis of an image ((N, H, W, C) channels
 * last) or every feature of a row dataset ((N, D)); element j of a sample is channel j mod C.
 */
export interface InputNorm {
  mean: number | number[];
  std: number | number[];
}

/** A mean or std as text for metadata: a number, or a JSON list of per-channel values. */
export function normValueText(v: number | readonly number[]): string {
  return typeof v === 'number' ? String(v) : JSON.stringify(v);
}

/** normValueText's inverse: a number or a non-empty JSON list of numbers, else null. */
export function parseNormValue(text: string): number | number[] | null {
  const t = text.trim();
  if (t.startsWith('[')) {
    try {
      const v = JSON.parse(t) as unknown;
      return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && Number.isFinite(x)) ? v as number[] : null;
    } catch {
      return null;
    }
  }
  const n = Number(t);
  return t !== '' && Number.isFinite(n) ? n : null;
}

/** "(x - mean) / std (x/255 for u8 pixels)" with the values written out. */
export function describeNorm(norm: InputNorm): string {
  return `(x - ${normValueText(norm.mean)}) / ${normValueText(norm.std)} (x/255 for u8 pixels)`;
}

/** The identity on f32 samples, x/255 on u8: mean 0, std 1. */
export const NO_NORM: InputNorm = { mean: 0, std: 1 };

/** Whether a normalisation is one value for every element. */
export function isScalarNorm(norm: InputNorm): norm is { mean: number; std: number } {
  return typeof norm.mean === 'number' && typeof norm.std === 'number';
}

/**
 * Checks a normalisation against samples of `features` elements: finite means, finite stds > 0,
 * per-channel lists of one length C that divides `features`. Returns C (1 for scalars).
 */
export function checkInputNorm(norm: InputNorm, features?: number, what = 'normalisation'): number {
  const mean = typeof norm.mean === 'number' ? [norm.mean] : norm.mean, std = typeof norm.std === 'number' ? [norm.std] : norm.std;
  if (mean.length === 0 || !mean.every((v) => Number.isFinite(v))) throw new RangeError(`${what}: mean must be finite, got ${JSON.stringify(norm.mean)}`);
  if (std.length === 0 || !std.every((v) => v > 0 && Number.isFinite(v))) throw new RangeError(`${what}: std must be finite and > 0, got ${JSON.stringify(norm.std)}`);
  const C = Math.max(mean.length, std.length);
  if ((mean.length !== 1 && mean.length !== C) || (std.length !== 1 && std.length !== C)) {
    throw new RangeError(`${what}: mean has ${mean.length} values and std ${std.length}; per-channel lists must have one length`);
  }
  if (features !== undefined && features % C !== 0) throw new RangeError(`${what}: ${C} channels do not divide a sample of ${features} values`);
  return C;
}

/** The channel count per-channel statistics use: the last axis of an image, every feature of a row, 1 for a grey (H, W) image. */
export function channelCount(sampleShape: readonly number[]): number {
  if (sampleShape.length === 1) return sampleShape[0]!;
  return sampleShape.length >= 3 ? sampleShape[sampleShape.length - 1]! : 1;
}

/**
 * Per-channel mean and (population) standard deviation over every sample of `ds` (u8 as x/255),
 * summed in f64 in row order; a channel with no spread gets std 1, so it is only centred.
 */
export function channelStats(ds: Dataset): { mean: number[]; std: number[] } {
  const acc = new ChannelStats(ds.sampleShape);
  acc.add(ds.x, ds.count);
  return acc.result();
}

/** channelStats over samples given a part at a time (a dataset streamed from shards); the same sums in the same order. */
export class ChannelStats {
  private readonly C: number;
  private readonly F: number;
  private readonly sum: Float64Array;
  private readonly sq: Float64Array;
  private rows = 0;

  constructor(sampleShape: readonly number[]) {
    this.C = channelCount(sampleShape);
    this.F = sampleShape.reduce((p, d) => p * d, 1);
    this.sum = new Float64Array(this.C);
    this.sq = new Float64Array(this.C);
  }

  /** Adds `count` samples of `x` ([count, features]; u8 counts as x/255). */
  add(x: Uint8Array | Float32Array, count: number): void {
    const { C, F, sum, sq } = this;
    const scale = x instanceof Uint8Array ? 1 / 255 : 1;
    for (let r = 0; r < count; r++) {
      const base = r * F;
      for (let j = 0; j < F; j++) {
        const v = x[base + j]! * scale, c = j % C;
        sum[c]! += v;
        sq[c]! += v * v;
      }
    }
    this.rows += count;
  }

  result(): { mean: number[]; std: number[] } {
    const n = this.rows * (this.F / this.C);
    const mean = Array.from(this.sum, (s) => s / n);
    const std = Array.from(this.sq, (q, c) => {
      const sd = Math.sqrt(Math.max(0, q / n - mean[c]! * mean[c]!));
      return sd > 1e-12 ? sd : 1;
    });
    return { mean, std };
  }
}

/**
 * Normalises `n` values of `x` in place as `norm` says, for values that are already x/255 (u8) or
 * as stored (f32): per channel in f64, rounded once to f32, so every engine gets the same bits.
 */
export function applyChannelNorm(x: Float32Array, n: number, norm: InputNorm): void {
  const C = Math.max(typeof norm.mean === 'number' ? 1 : norm.mean.length, typeof norm.std === 'number' ? 1 : norm.std.length);
  const mean = Float64Array.from({ length: C }, (_, c) => (typeof norm.mean === 'number' ? norm.mean : norm.mean[norm.mean.length === 1 ? 0 : c]!));
  const std = Float64Array.from({ length: C }, (_, c) => (typeof norm.std === 'number' ? norm.std : norm.std[norm.std.length === 1 ? 0 : c]!));
  for (let j = 0; j < n; j++) {
    const c = j % C;
    x[j] = (x[j]! - mean[c]!) / std[c]!;
  }
}

/** Rows of a view as normalised f32 (see InputNorm). */
export function normalisedRows(view: DatasetView, norm: InputNorm): Float32Array {
  const ds = view.dataset;
  const F = ds.features;
  checkInputNorm(norm, F);
  const out = new Float32Array(view.indices.length * F);
  const u8 = ds.x instanceof Uint8Array;
  if (isScalarNorm(norm)) {
    for (let r = 0; r < view.indices.length; r++) {
      const src = view.indices[r]! * F;
      for (let j = 0; j < F; j++) {
        const v = u8 ? ds.x[src + j]! / 255 : ds.x[src + j]!;
        out[r * F + j] = (v - norm.mean) / norm.std;
      }
    }
    return out;
  }
  for (let r = 0; r < view.indices.length; r++) {
    const src = view.indices[r]! * F;
    for (let j = 0; j < F; j++) out[r * F + j] = u8 ? ds.x[src + j]! / 255 : ds.x[src + j]!;
  }
  applyChannelNorm(out, out.length, norm);
  return out;
}

/**
 * The input normalisation a Retort model file's meta records (mean and std: numbers, or one per
 * channel), else none (mean 0, std 1); a recorded one that cannot be used is an error naming the file.
 */
export function normFromMeta(meta: Record<string, unknown>, file: string): InputNorm {
  const isNum = (v: unknown): v is number => typeof v === 'number';
  const ok = (v: unknown): v is number | number[] => isNum(v) || (Array.isArray(v) && v.length > 0 && v.every(isNum));
  if (meta.mean === undefined && meta.std === undefined) return NO_NORM;
  const mean = meta.mean ?? 0, std = meta.std ?? 1;
  if (!ok(mean) || !ok(std)) throw new DataFormatError(file, `meta mean/std must be numbers or lists of numbers, got ${JSON.stringify(mean)} / ${JSON.stringify(std)}`);
  const norm = { mean, std };
  try {
    checkInputNorm(norm, undefined, 'meta');
  } catch (e) {
    throw new DataFormatError(file, (e as Error).message);
  }
  return norm;
}
