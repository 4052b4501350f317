// Batches for training and evaluation. A loader plans its tensors once, in module memory:
//   staging u8 [B, F]  (u8 datasets only: pixels are copied, and shifted, here)
//   x       f32 [B, F] (the network's input: one normalizeU8 call per batch)
//   y       i32 [B]
// and refills them for every batch, so a training step allocates nothing.
// Epoch e's order is a permutation drawn from (seed, e) alone, and batch b's jitter
// shifts, token noise and mixup partners and weight from (seed, e, b) alone: a run resumed at epoch e (or at batch b of it) sees
// exactly the batches an uninterrupted run sees. The PRNG is pure TS (random.ts), so the
// order is the same in Node and in browsers.

import type { Core, Tensor } from '@retort/core-wasm';
import { applyChannelNorm, checkInputNorm, isScalarNorm, type DatasetView, type InputNorm } from './dataset.js';
import { checkSeed, permutation, STREAM, Xoshiro128 } from './random.js';

export interface BatchLoaderOptions {
  /** Shuffle each epoch (default true); false keeps the view's order. */
  shuffle?: boolean;
  /** Non-negative safe integer (default 0). */
  seed?: number;
  /** Random shift of up to ±jitter pixels in x and y, zero fill (default 0 = off). Needs u8 samples of rank 2. */
  jitter?: number;
  /**
   * Mixup (Zhang et al. 2018): each batch's inputs become λ·x_i + (1 − λ)·x_partner(i), with one
   * λ ~ U(0, 1) per batch and partners a random permutation of the batch; the batch carries λ
   * and the partners' labels (`mix`). Applied after jitter and normalisation. Default false.
   */
  mixup?: boolean;
  /**
   * Token noise, for token-id samples (Dataset.vocab): each token of a batch's texts is replaced,
   * with this probability, by an id drawn uniformly from the vocabulary's non-special ids; special
   * tokens and padding stay. A model teacher in the step reads the same noised batch, so its soft
   * labels describe the text the student sees (a transfer set of perturbed texts, as Tang et al.
   * 2019 and TinyBERT build one, drawn afresh in every epoch). In [0, 1); default 0 (off).
   */
  tokenNoise?: number;
  /**
   * u8 samples become (x/255 - mean)/std, f32 samples (x - mean)/std (defaults 0 and 1: x/255, f32 as
   * stored); one value, or one per channel (InputNorm in dataset.ts).
   */
  mean?: number | number[];
  std?: number | number[];
  /** Skip the last batch when it is smaller than batchSize (default false). */
  dropLast?: boolean;
}

/**
 * One batch. `x` and `y` are the loader's own tensors, overwritten by the next batch: copy
 * what must outlive it. Rows [size, batchSize) of the last, partial batch hold stale data.
 * Take `x.view()` afresh after anything that may allocate in module memory (growth
 * detaches earlier views); never cache a view across batches.
 */
export interface Batch {
  /** f32 [batchSize, features]; the first `size` rows are this batch. */
  x: Tensor<'f32'>;
  /** i32 [batchSize]; the first `size` labels are this batch. */
  y: Tensor<'i32'>;
  /** Samples in this batch: batchSize, or fewer for the last one. */
  size: number;
  /** Dataset rows of this batch, [size]. */
  indices: Int32Array;
  /** Positions of this batch's rows in the view, [size] (rows of a cache computed over the view). */
  positions: Int32Array;
  /** Batch number within the epoch, from 0. */
  index: number;
  /** With mixup: the batch's weight λ of its own rows, and the labels of the partner rows (i32 [batchSize]). */
  mix?: BatchMix;
}

/** How a mixup batch was mixed: row i is λ·(its sample) + (1 − λ)·(sample of label y2[i]). */
export interface BatchMix { lambda: number; y2: Tensor<'i32'> }

/** What the trainer draws its batches from: a BatchLoader over rows in memory, or a stream of shards. */
export interface EpochLoader {
  /** Batches per epoch. */
  readonly batchCount: number;
  /** The batches of epoch `e` (from batch `fromBatch`); the same (seed, e) gives the same batches. */
  epoch(e: number, fromBatch?: number): Generator<Batch>;
  free(): void;
}

/**
 * A training set too large for memory, read as a stream (data/shards in node/shard-data.ts): what
 * the trainer needs to know of it, and its loader.
 */
export interface StreamedSet {
  readonly kind: 'stream';
  readonly name: string;
  readonly sampleShape: number[];
  readonly features: number;
  readonly classes: number;
  /** Rows a training epoch visits (the store's, less any held out). */
  readonly count: number;
  /** Rows of the store: row ids (and teacher outputs) range over [0, rows). */
  readonly rows: number;
  loader(core: Core, batchSize: number, options: BatchLoaderOptions): EpochLoader;
}

export function isStreamedSet(x: unknown): x is StreamedSet {
  return typeof x === 'object' && x !== null && (x as { kind?: unknown }).kind === 'stream';
}

export class BatchLoader implements EpochLoader {
  readonly batchSize: number;
  /** Batches per epoch (counting a partial last batch unless dropLast). */
  readonly batchCount: number;
  readonly features: number;
  private readonly shuffle: boolean;
  private readonly seed: number;
  private readonly jitter: number;
  private readonly mixup: boolean;
  private readonly tokenNoise: number;
  /** With token noise: the vocabulary size and its special ids. */
  private readonly vocab: number;
  private readonly special: ReadonlySet<number>;
  private readonly y2: Tensor<'i32'> | null;
  private readonly unmixed: Float32Array | null;
  private lambda = 1;
  private readonly norm: InputNorm;
  /** Scalar normalisation of u8 samples: done by the core's normalizeU8 kernel. */
  private readonly kernelNorm: boolean;
  private readonly staging: Tensor<'u8'> | null;
  private readonly x: Tensor<'f32'>;
  private readonly y: Tensor<'i32'>;
  private freed = false;

  constructor(private readonly core: Core, readonly view: DatasetView, batchSize: number, options: BatchLoaderOptions = {}) {
    const ds = view.dataset;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`BatchLoader: batchSize must be a positive integer, got ${batchSize}`);
    this.batchSize = batchSize;
    this.features = ds.features;
    this.shuffle = options.shuffle ?? true;
    this.seed = checkSeed('BatchLoader', options.seed ?? 0);
    this.jitter = options.jitter ?? 0;
    this.mixup = options.mixup ?? false;
    if (typeof this.mixup !== 'boolean') throw new RangeError(`BatchLoader: mixup must be true or false, got ${String(this.mixup)}`);
    this.tokenNoise = options.tokenNoise ?? 0;
    if (!(this.tokenNoise >= 0 && this.tokenNoise < 1)) throw new RangeError(`BatchLoader: tokenNoise must be in [0, 1), got ${this.tokenNoise}`);
    this.vocab = ds.vocab ?? 0;
    this.special = new Set((ds.specialIds ?? []).filter((id) => id >= 0 && id < this.vocab));
    if (this.tokenNoise > 0) {
      if (ds.vocab === undefined) throw new RangeError(`BatchLoader: token noise needs token-id samples; ${ds.name} is not text`);
      if (this.special.size >= this.vocab) throw new RangeError(`BatchLoader: token noise draws non-special ids, and every id of ${ds.name}'s vocabulary is special`);
    }
    this.norm = { mean: options.mean ?? 0, std: options.std ?? 1 };
    const isU8 = ds.x instanceof Uint8Array;
    if (!Number.isInteger(this.jitter) || this.jitter < 0) throw new RangeError(`BatchLoader: jitter must be a non-negative integer, got ${this.jitter}`);
    if (this.jitter > 0) {
      if (!isU8) throw new RangeError(`BatchLoader: jitter needs u8 samples; ${ds.name} holds f32`);
      const [h, w] = ds.sampleShape;
      if (ds.sampleShape.length !== 2 || h === undefined || w === undefined) {
        throw new RangeError(`BatchLoader: jitter needs 2-D samples [height, width]; ${ds.name} has [${ds.sampleShape.join(', ')}]`);
      }
      if (this.jitter >= Math.min(h, w)) throw new RangeError(`BatchLoader: jitter ${this.jitter} must be smaller than the ${h}x${w} sample`);
    }
    checkInputNorm(this.norm, this.features, 'BatchLoader');
    this.kernelNorm = isU8 && isScalarNorm(this.norm);
    const n = view.indices.length;
    this.batchCount = options.dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
    for (const row of view.indices) {
      if (!(row >= 0 && row < ds.count)) throw new RangeError(`BatchLoader: view index ${row} is outside ${ds.name} (${ds.count} rows)`);
    }
    this.staging = isU8 ? core.allocU8(batchSize * this.features) : null;
    this.x = core.alloc(batchSize * this.features);
    this.y = core.allocI32(batchSize);
    this.y2 = this.mixup ? core.allocI32(batchSize) : null;
    this.unmixed = this.mixup ? new Float32Array(batchSize * this.features) : null;
  }

  /** Positions in the view, in the order epoch `e` visits them (a permutation of 0..n-1). */
  order(e: number): Int32Array {
    checkEpoch(e);
    const n = this.view.indices.length;
    if (this.shuffle) return permutation(n, new Xoshiro128(this.seed, STREAM.shuffle, e));
    const identity = new Int32Array(n);
    for (let i = 0; i < n; i++) identity[i] = i;
    return identity;
  }

  /** The batches of epoch `e`, starting at batch `fromBatch` (to resume mid-epoch). */
  *epoch(e: number, fromBatch = 0): Generator<Batch> {
    if (!Number.isInteger(fromBatch) || fromBatch < 0 || fromBatch > this.batchCount) {
      throw new RangeError(`BatchLoader.epoch: fromBatch must be an integer in [0, ${this.batchCount}], got ${fromBatch}`);
    }
    const positions = this.order(e);
    const rows = new Int32Array(positions.length);
    for (let i = 0; i < rows.length; i++) rows[i] = this.view.indices[positions[i]!]!;
    for (let b = fromBatch; b < this.batchCount; b++) {
      if (this.freed) throw new RangeError('BatchLoader: used after free()');
      const start = b * this.batchSize;
      const size = Math.min(this.batchSize, rows.length - start);
      const indices = rows.subarray(start, start + size);
      this.fill(indices, e, b);
      yield { x: this.x, y: this.y, size, indices, positions: positions.subarray(start, start + size), index: b,
        ...(this.y2 ? { mix: { lambda: this.lambda, y2: this.y2 } } : {}) };
    }
  }

  /**
   * Batch `b` of epoch `e` made of dataset rows `rows` (its jitter and mixup drawn from (seed, e, b)),
   * reported under row ids `ids` (default `rows`): for loaders that choose the rows themselves.
   */
  batchOf(rows: Int32Array, e: number, b: number, ids: Int32Array = rows): Batch {
    if (this.freed) throw new RangeError('BatchLoader: used after free()');
    if (rows.length > this.batchSize) throw new RangeError(`BatchLoader.batchOf: ${rows.length} rows exceed the batch size ${this.batchSize}`);
    this.fill(rows, e, b);
    return { x: this.x, y: this.y, size: rows.length, indices: ids, positions: ids, index: b,
      ...(this.y2 ? { mix: { lambda: this.lambda, y2: this.y2 } } : {}) };
  }

  /** Copies the samples of dataset rows `indices` (with jitter) and their labels into the tensors. */
  private fill(indices: Int32Array, e: number, b: number): void {
    const ds = this.view.dataset;
    const F = this.features;
    const size = indices.length;
    const yv = this.y.view();
    for (let i = 0; i < size; i++) yv[i] = ds.y[indices[i]!]!;
    if (!(ds.x instanceof Uint8Array)) {
      const xv = this.x.view();
      for (let i = 0; i < size; i++) xv.set(ds.x.subarray(indices[i]! * F, indices[i]! * F + F), i * F);
      if (!isIdentity(this.norm)) applyChannelNorm(xv, size * F, this.norm);
      if (this.tokenNoise > 0) this.noise(xv, size, e, b);
      if (this.mixup) this.mix(size, e, b);
      return;
    }
    const staging = this.staging!;
    const mem = this.core.views.u8; // taken once: nothing below allocates
    if (this.jitter === 0) {
      for (let i = 0; i < size; i++) mem.set(ds.x.subarray(indices[i]! * F, indices[i]! * F + F), staging.ptr + i * F);
    } else {
      const rng = new Xoshiro128(this.seed, STREAM.jitter, e, b);
      const span = 2 * this.jitter + 1;
      for (let i = 0; i < size; i++) {
        const dx = rng.below(span) - this.jitter;
        const dy = rng.below(span) - this.jitter;
        shiftInto(mem, staging.ptr + i * F, ds.x, indices[i]! * F, ds.sampleShape[0]!, ds.sampleShape[1]!, dx, dy);
      }
    }
    if (this.kernelNorm) {
      const { mean, std } = this.norm as { mean: number; std: number };
      this.core.normalizeU8(this.x, staging, size * F, mean, std);
    } else {
      // per channel: x/255 rounded to f32, then normalised in f64 (as normalisedRows does)
      const xv = this.x.view(), u8 = this.core.views.u8, p = staging.ptr;
      for (let k = 0; k < size * F; k++) xv[k] = u8[p + k]! / 255;
      applyChannelNorm(xv, size * F, this.norm);
    }
    if (this.mixup) this.mix(size, e, b);
  }

  /**
   * Replaces each non-special token of the filled rows, with probability tokenNoise, by a uniform
   * non-special id (rejection from [0, vocab)); a row's padding (-1) ends it. One PRNG per (seed, e, b).
   */
  private noise(x: Float32Array, size: number, e: number, b: number): void {
    const rng = new Xoshiro128(this.seed, STREAM.tokenNoise, e, b);
    const F = this.features, p = this.tokenNoise, V = this.vocab, special = this.special;
    for (let i = 0; i < size; i++) {
      for (let k = i * F; k < i * F + F; k++) {
        const v = x[k]!;
        if (v === -1) break;
        if (special.has(v) || !(rng.unit() < p)) continue;
        let id = rng.below(V);
        while (special.has(id)) id = rng.below(V);
        x[k] = id;
      }
    }
  }

  /** Mixes the filled rows of x with a permutation of themselves and sets y2 and λ (mixup). */
  private mix(size: number, e: number, b: number): void {
    const rng = new Xoshiro128(this.seed, STREAM.mixup, e, b);
    const lambda = rng.unit();
    const partner = permutation(size, rng);
    const F = this.features, x = this.x.view(), src = this.unmixed!;
    src.set(x.subarray(0, size * F));
    // f32 inputs mixed in f64 and rounded once: the same bits in every engine
    for (let i = 0; i < size; i++) {
      const a = i * F, p = partner[i]! * F;
      for (let k = 0; k < F; k++) x[a + k] = lambda * src[a + k]! + (1 - lambda) * src[p + k]!;
    }
    const y = this.y.view(), y2 = this.y2!.view();
    for (let i = 0; i < size; i++) y2[i] = y[partner[i]!]!;
    this.lambda = lambda;
  }

  /** Releases the loader's tensors; the loader cannot be used afterwards. */
  free(): void {
    if (this.freed) return;
    this.freed = true;
    if (this.staging) this.core.free(this.staging);
    this.core.free(this.x);
    this.core.free(this.y);
    if (this.y2) this.core.free(this.y2);
  }
}

function checkEpoch(e: number): void {
  if (!Number.isInteger(e) || e < 0 || e > 0xffffffff) throw new RangeError(`BatchLoader: epoch must be a non-negative integer, got ${e}`);
}

/**
 * dst[r, c] = src[r - dy, c - dx] for an h x w image, 0 where that falls outside: the image
 * moves dx pixels right and dy pixels down. One row copy per image row.
 */
export function shiftInto(dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number,
                          h: number, w: number, dx: number, dy: number): void {
  if (dx === 0 && dy === 0) {
    dst.set(src.subarray(srcOff, srcOff + h * w), dstOff);
    return;
  }
  dst.fill(0, dstOff, dstOff + h * w);
  const width = w - Math.abs(dx);
  if (width <= 0) return;
  const srcCol = Math.max(0, -dx), dstCol = Math.max(0, dx);
  for (let r = Math.max(0, dy), end = Math.min(h, h + dy); r < end; r++) {
    const s = srcOff + (r - dy) * w + srcCol;
    dst.set(src.subarray(s, s + width), dstOff + r * w + dstCol);
  }
}

function isIdentity(norm: InputNorm): boolean {
  return isScalarNorm(norm) && norm.mean === 0 && norm.std === 1;
}
