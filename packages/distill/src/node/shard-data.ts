// Datasets larger than memory (Node): samples in safetensors shards listed by an index, streamed
// from disk in a seeded order with memory that does not grow with the number of rows.
//
//   index.json   {"format": "retort-dataset-shards", "version": 1, "sampleShape": [28, 28],
//                 "dtype": "u8" | "f32", "classes": 10, "classNames"?: [...],
//                 "train": [{"file": "train-00000.safetensors", "rows": n0}, ...],
//                 "test"?: [{"file": "test-00000.safetensors", "rows": m0}, ...]}
//   shards       "x" [n, ...sampleShape] (U8 for u8; F32, F16, BF16 or F64 for f32) and "y" [n]
//                (any integer dtype, labels in [0, classes)); train rows are numbered across the
//                train shards in index order, and teacher outputs for the set use those numbers.
//
// The order of an epoch e (seed s): the train shards in a permutation drawn from (s, e), each read
// front to back in chunks, every row passing through a shuffle buffer of B rows: once the buffer is
// full, each incoming row takes the place of a row drawn uniformly from the buffer (from a second
// stream of (s, e)), which goes to the batch; at the end the buffer empties in a drawn order. The
// order depends on (s, e) alone, so a run resumed at epoch e sees the batches an uninterrupted one
// sees. Memory: the buffer, one chunk and one batch, whatever the number of rows.
//
// A validation split is held out by drawing its row numbers from (seed) and reading them into
// memory; the stream skips them. The test set (the index's test shards, or --test-data) is read
// into memory. A label out of range or a shard the index lists but the directory lacks is one
// error naming the file and the row.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { Core } from '@retort/core-wasm';
import { BatchLoader, type Batch, type BatchLoaderOptions, type EpochLoader, type StreamedSet } from '../data/batches.js';
import { shiftInto } from '../data/batches.js';
import { ChannelStats, type Dataset, type DatasetView } from '../data/dataset.js';
import { DataFormatError, formatDims } from '../data/errors.js';
import { readExact } from '../data/files.js';
import { Fnv1a64 } from '../data/hash.js';
import { SplitAccumulator, summarizeSplits, type DataSummary, type SplitSummary } from '../data/inspect.js';
import { checkSeed, permutation, STREAM, Xoshiro128 } from '../data/random.js';
import { writeFileAtomic } from '../io/atomic.js';
import { decodeSafetensor, parseSafetensorsHeader, safetensorsHeaderLength, writeSafetensors, type SafetensorsEntry } from '../interop/safetensors.js';

export const DATASET_SHARDS_FORMAT = 'retort-dataset-shards';
const INDEX = 'index.json';

const shardList = z.array(z.object({
  file: z.string().min(1).refine((f) => !/[\\/]/.test(f) && f !== '.' && f !== '..', 'a file name in the index directory, not a path'),
  rows: z.number().int().min(1),
}).strict()).min(1);

const indexSchema = z.object({
  format: z.literal(DATASET_SHARDS_FORMAT),
  version: z.literal(1),
  sampleShape: z.array(z.number().int().min(1)).min(1),
  dtype: z.enum(['u8', 'f32']),
  classes: z.number().int().min(1),
  classNames: z.array(z.string()).optional(),
  train: shardList,
  test: shardList.optional(),
}).strict();

export type DatasetShardsIndex = z.infer<typeof indexSchema>;

/** Default rows of the shuffle buffer. */
export const DEFAULT_SHUFFLE_BUFFER = 16384;
/** Rows read from a shard at once. */
const CHUNK_ROWS = 1024;

/** The index of a dataset-shards directory (or the index itself), or null when `path` is not one. */
export function datasetShardsIndexPath(path: string): string | null {
  let p = path;
  if (existsSync(path) && statSync(path).isDirectory()) p = join(path, INDEX);
  else if (!/\.json$/i.test(path)) return null;
  if (!existsSync(p)) return null;
  try {
    const head = readFileSync(p, 'utf8').slice(0, 4096);
    return head.includes(DATASET_SHARDS_FORMAT) ? p : null;
  } catch {
    return null;
  }
}

interface Shard {
  file: string;
  path: string;
  /** Row number of its first row in its split. */
  start: number;
  rows: number;
  headerBytes: number;
  x: SafetensorsEntry;
  y: SafetensorsEntry;
}

const X_DTYPES = { u8: new Set(['U8']), f32: new Set(['F32', 'F16', 'BF16', 'F64']) };
const Y_DTYPES = new Set(['I64', 'I32', 'I16', 'I8', 'U64', 'U32', 'U16', 'U8']);

/** A dataset in shards on disk (see the header). */
export class ShardedDataset {
  readonly index: DatasetShardsIndex;
  readonly indexPath: string;
  readonly name: string;
  readonly sampleShape: number[];
  readonly features: number;
  readonly classes: number;
  readonly isU8: boolean;
  /** Train rows across the train shards. */
  readonly rows: number;
  readonly train: Shard[];
  readonly test: Shard[];

  private constructor(indexPath: string, index: DatasetShardsIndex, train: Shard[], test: Shard[]) {
    this.indexPath = indexPath;
    this.index = index;
    this.name = join(indexPath, '..');
    this.sampleShape = index.sampleShape.slice();
    this.features = index.sampleShape.reduce((p, d) => p * d, 1);
    this.classes = index.classes;
    this.isU8 = index.dtype === 'u8';
    this.train = train;
    this.test = test;
    this.rows = train.reduce((n, s) => n + s.rows, 0);
  }

  /** Opens the directory (or its index.json), checking the index and every shard's header. */
  static open(path: string): ShardedDataset {
    const indexPath = existsSync(path) && statSync(path).isDirectory() ? join(path, INDEX) : path;
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(indexPath, 'utf8'));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new DataFormatError(indexPath, code === 'ENOENT' ? 'not found' : code ? `cannot read (${code})` : `not valid JSON (${(e as Error).message})`);
    }
    const r = indexSchema.safeParse(raw);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      throw new DataFormatError(indexPath, `${issue.path.length ? issue.path.join('.') : 'the index'}: ${issue.message}`);
    }
    const index = r.data;
    if (index.classNames && index.classNames.length !== index.classes) {
      throw new DataFormatError(indexPath, `classNames lists ${index.classNames.length} names for ${index.classes} classes`);
    }
    const dir = join(indexPath, '..');
    const seen = new Set<string>();
    const open = (list: { file: string; rows: number }[]): Shard[] => {
      let start = 0;
      return list.map((s) => {
        if (seen.has(s.file)) throw new DataFormatError(indexPath, `shard ${s.file} is listed twice`);
        seen.add(s.file);
        const shard = openShard(dir, s, start, index, indexPath);
        start += s.rows;
        return shard;
      });
    };
    return new ShardedDataset(indexPath, index, open(index.train), open(index.test ?? []));
  }

  /** A stable hash of the index and every shard's header and size (what a teacher-output cache is keyed by). */
  fingerprint(): string {
    const h = new Fnv1a64().updateString(`retort-shards-v1 ${JSON.stringify(this.index)}\n`);
    for (const s of [...this.train, ...this.test]) h.updateString(`${s.file} ${statSync(s.path).size} ${s.headerBytes} ${s.x.begin} ${s.y.begin}\n`);
    return h.digest();
  }

  /** Train rows [start, start + count) as a dataset in memory. */
  readRange(start: number, count: number): Dataset {
    const ds = this.emptyDataset(count, 'train');
    let at = 0;
    for (const s of this.train) {
      const from = Math.max(start, s.start), to = Math.min(start + count, s.start + s.rows);
      if (from >= to) continue;
      readShardRows(s, from - s.start, to - from, ds, at, this);
      at += to - from;
    }
    if (at !== count) throw new RangeError(`ShardedDataset.readRange: rows [${start}, ${start + count}) are outside the ${this.rows} train rows`);
    return ds;
  }

  /** The test shards in memory, or null when the index lists none. */
  testSet(): Dataset | null {
    if (this.test.length === 0) return null;
    const count = this.test.reduce((n, s) => n + s.rows, 0);
    const ds = this.emptyDataset(count, 'test');
    let at = 0;
    for (const s of this.test) { readShardRows(s, 0, s.rows, ds, at, this); at += s.rows; }
    return ds;
  }

  /**
   * Holds out `count` train rows chosen by `seed`: read into memory as a view whose `ids` are their
   * row numbers, and a mask (1 = held out) for the stream to skip.
   */
  holdOut(count: number, seed: number): { validation: DatasetView; mask: Uint8Array } {
    if (!Number.isInteger(count) || count < 0 || count >= this.rows) throw new RangeError(`validation: ${count} rows cannot be held out of ${this.rows}`);
    const mask = new Uint8Array(this.rows);
    const rng = new Xoshiro128(checkSeed('holdOut', seed), STREAM.holdOut);
    // Floyd's sampling: count distinct rows without a permutation of all of them
    for (let j = this.rows - count; j < this.rows; j++) {
      const t = rng.below(j + 1);
      if (mask[t]) mask[j] = 1; else mask[t] = 1;
    }
    const ids = new Int32Array(count);
    for (let i = 0, k = 0; i < this.rows; i++) if (mask[i]) ids[k++] = i;
    const ds = this.emptyDataset(count, 'validation');
    // runs of consecutive ids are read together
    for (let k = 0; k < count;) {
      let e = k + 1;
      while (e < count && ids[e] === ids[e - 1]! + 1 && e - k < CHUNK_ROWS) e++;
      const part = this.readRange(ids[k]!, e - k);
      ds.x.set(part.x as never, k * this.features);
      ds.y.set(part.y, k);
      k = e;
    }
    const indices = Int32Array.from({ length: count }, (_, i) => i);
    return { validation: { dataset: ds, indices, ids }, mask };
  }

  /** Per-channel statistics of the train rows not masked (a pass over the shards). */
  channelStats(mask: Uint8Array | null): { mean: number[]; std: number[] } {
    const acc = new ChannelStats(this.sampleShape);
    const chunk = this.emptyDataset(CHUNK_ROWS, 'chunk');
    const keep = this.emptyDataset(CHUNK_ROWS, 'keep');
    for (const s of this.train) {
      for (let r = 0; r < s.rows; r += CHUNK_ROWS) {
        const n = Math.min(CHUNK_ROWS, s.rows - r);
        readShardRows(s, r, n, chunk, 0, this);
        let kept = 0;
        for (let i = 0; i < n; i++) {
          if (mask && mask[s.start + r + i]) continue;
          keep.x.set(chunk.x.subarray(i * this.features, (i + 1) * this.features) as never, kept * this.features);
          kept++;
        }
        acc.add(keep.x, kept);
      }
    }
    return acc.result();
  }

  /** The train rows as a stream (less the masked ones), in the order of the header. */
  stream(mask: Uint8Array | null, shuffleBuffer = DEFAULT_SHUFFLE_BUFFER): StreamedSet {
    let held = 0;
    if (mask) for (let i = 0; i < mask.length; i++) held += mask[i]!;
    const count = this.rows - held;
    if (count === 0) throw new RangeError(`${this.name}: no train rows are left to stream`);
    if (!Number.isInteger(shuffleBuffer) || shuffleBuffer < 1) throw new RangeError(`shuffle buffer: must be a positive integer, got ${shuffleBuffer}`);
    return {
      kind: 'stream', name: this.name, sampleShape: this.sampleShape, features: this.features, classes: this.classes, count, rows: this.rows,
      loader: (core, batchSize, options) => new ShardStreamLoader(core, this, mask, count, Math.min(shuffleBuffer, count), batchSize, options),
    };
  }

  /** What `retort data inspect` shows of it: each split summarised a chunk at a time (a pass over the shards). */
  summary(): DataSummary {
    const splits: SplitSummary[] = [];
    for (const [split, shards] of [['train', this.train], ['test', this.test]] as const) {
      if (shards.length === 0) continue;
      const acc = new SplitAccumulator(split, `${this.name}/${split}`, this.sampleShape, this.classes, this.isU8);
      const chunk = this.emptyDataset(CHUNK_ROWS, 'chunk');
      for (const s of shards) {
        for (let r = 0; r < s.rows; r += CHUNK_ROWS) {
          const n = Math.min(CHUNK_ROWS, s.rows - r);
          readShardRows(s, r, n, chunk, 0, this);
          acc.add(chunk, n);
        }
      }
      splits.push(acc.result());
    }
    return summarizeSplits(splits);
  }

  emptyDataset(count: number, part: string): Dataset {
    return {
      name: `${this.name}/${part}`, count, sampleShape: this.sampleShape, features: this.features, classes: this.classes,
      x: this.isU8 ? new Uint8Array(count * this.features) : new Float32Array(count * this.features), y: new Int32Array(count),
    };
  }
}

function openShard(dir: string, s: { file: string; rows: number }, start: number, index: DatasetShardsIndex, indexPath: string): Shard {
  const path = join(dir, s.file);
  if (!existsSync(path)) throw new DataFormatError(indexPath, `shard ${s.file} is listed in the index but missing from ${dir}`);
  const fd = openSync(path, 'r');
  try {
    const size = statSync(path).size;
    const prefix = new Uint8Array(Math.min(8, size));
    readExact(s.file, fd, prefix, 0);
    const n = safetensorsHeaderLength(prefix, size, s.file);
    const json = new Uint8Array(n);
    readExact(s.file, fd, json, 8);
    const header = parseSafetensorsHeader(json, size - 8 - n, s.file);
    const get = (name: string): SafetensorsEntry => {
      const e = header.entries.find((x) => x.name === name);
      if (!e) throw new DataFormatError(s.file, `no tensor '${name}' (a dataset shard holds 'x' and 'y')`);
      return e;
    };
    const x = get('x'), y = get('y');
    if (!X_DTYPES[index.dtype].has(x.dtype)) throw new DataFormatError(s.file, `tensor 'x' is ${x.dtype}; the index says ${index.dtype} samples (${[...X_DTYPES[index.dtype]].join(', ')})`);
    if (!Y_DTYPES.has(y.dtype)) throw new DataFormatError(s.file, `tensor 'y' is ${y.dtype}; labels must be an integer type`);
    const wantX = [s.rows, ...index.sampleShape];
    if (formatDims(x.shape) !== formatDims(wantX)) throw new DataFormatError(s.file, `tensor 'x' has shape ${formatDims(x.shape)} but the index says ${formatDims(wantX)}`);
    if (formatDims(y.shape) !== formatDims([s.rows])) throw new DataFormatError(s.file, `tensor 'y' has shape ${formatDims(y.shape)} but the index says ${s.rows} rows`);
    return { file: s.file, path, start, rows: s.rows, headerBytes: 8 + n, x, y };
  } finally {
    closeSync(fd);
  }
}

/** Reads rows [from, from + n) of a shard into `ds` at row `at`, checking the labels. */
function readShardRows(s: Shard, from: number, n: number, ds: Dataset, at: number, set: ShardedDataset): void {
  const F = set.features;
  const fd = openSync(s.path, 'r');
  try {
    const xSize = (s.x.end - s.x.begin) / Math.max(1, s.x.elements);
    const ySize = (s.y.end - s.y.begin) / Math.max(1, s.y.elements);
    if (ds.x instanceof Uint8Array) {
      readExact(s.file, fd, ds.x.subarray(at * F, (at + n) * F), s.headerBytes + s.x.begin + from * F);
    } else {
      const bytes = new Uint8Array(n * F * xSize);
      readExact(s.file, fd, bytes, s.headerBytes + s.x.begin + from * F * xSize);
      ds.x.set(decodeSafetensor({ ...s.x, shape: [n * F], elements: n * F, begin: 0, end: bytes.length }, bytes, s.file), at * F);
    }
    const yb = new Uint8Array(n * ySize);
    readExact(s.file, fd, yb, s.headerBytes + s.y.begin + from * ySize);
    const y = decodeSafetensor({ ...s.y, shape: [n], elements: n, begin: 0, end: yb.length }, yb, s.file);
    for (let i = 0; i < n; i++) {
      const v = y[i]!;
      if (!(v >= 0 && v < set.classes)) throw new DataFormatError(s.file, `label out of range: y[${from + i}] = ${v} is not a class in [0, ${set.classes})`);
      ds.y[at + i] = v;
    }
  } finally {
    closeSync(fd);
  }
}

/** Streams the train shards through a shuffle buffer into batches (see the header). */
class ShardStreamLoader implements EpochLoader {
  readonly batchCount: number;
  private readonly seed: number;
  private readonly buffer: Dataset;
  private readonly ids: Int32Array;
  private readonly chunk: Dataset;
  private readonly staging: Dataset;
  private readonly stagingIds: Int32Array;
  private readonly inner: BatchLoader;

  constructor(core: Core, private readonly set: ShardedDataset, private readonly mask: Uint8Array | null, private readonly count: number,
              private readonly bufferRows: number, private readonly batchSize: number, options: BatchLoaderOptions) {
    this.seed = checkSeed('stream', options.seed ?? 0);
    this.batchCount = Math.ceil(count / batchSize);
    this.buffer = set.emptyDataset(bufferRows, 'shuffle buffer');
    this.ids = new Int32Array(bufferRows);
    this.chunk = set.emptyDataset(CHUNK_ROWS, 'chunk');
    this.staging = set.emptyDataset(batchSize, 'batch');
    this.stagingIds = new Int32Array(batchSize);
    // normalisation, jitter and mixup of each batch as for rows in memory: a loader over the staging rows
    this.inner = new BatchLoader(core, { dataset: this.staging, indices: Int32Array.from({ length: batchSize }, (_, i) => i) }, batchSize,
      { ...options, shuffle: false });
  }

  *epoch(e: number, fromBatch = 0): Generator<Batch> {
    const { set, buffer, ids, chunk, staging, stagingIds, batchSize } = this;
    const F = set.features, S = this.bufferRows;
    const shardOrder = permutation(set.train.length, new Xoshiro128(this.seed, STREAM.shards, e));
    const rng = new Xoshiro128(this.seed, STREAM.shuffleBuffer, e);
    const rows = Int32Array.from({ length: batchSize }, (_, i) => i);
    let filled = 0, inBatch = 0, b = 0;
    const toBatch = (slot: number): void => {
      staging.x.set(buffer.x.subarray(slot * F, (slot + 1) * F) as never, inBatch * F);
      staging.y[inBatch] = buffer.y[slot]!;
      stagingIds[inBatch] = ids[slot]!;
      inBatch++;
    };
    const batch = (): Batch | null => {
      const n = inBatch;
      inBatch = 0;
      const index = b++;
      return index < fromBatch ? null : this.inner.batchOf(rows.subarray(0, n), e, index, stagingIds.subarray(0, n));
    };
    for (const s of shardOrder) {
      const shard = set.train[s]!;
      for (let r = 0; r < shard.rows; r += CHUNK_ROWS) {
        const n = Math.min(CHUNK_ROWS, shard.rows - r);
        readShardRows(shard, r, n, chunk, 0, set);
        for (let i = 0; i < n; i++) {
          const id = shard.start + r + i;
          if (this.mask && this.mask[id]) continue;
          let slot: number;
          if (filled < S) slot = filled++;
          else {
            slot = rng.below(S);
            toBatch(slot);
            if (inBatch === batchSize) { const out = batch(); if (out) yield out; }
          }
          buffer.x.set(chunk.x.subarray(i * F, (i + 1) * F) as never, slot * F);
          buffer.y[slot] = chunk.y[i]!;
          ids[slot] = id;
        }
      }
    }
    const rest = permutation(filled, rng);
    for (let k = 0; k < filled; k++) {
      toBatch(rest[k]!);
      if (inBatch === batchSize) { const out = batch(); if (out) yield out; }
    }
    if (inBatch > 0) { const out = batch(); if (out) yield out; }
  }

  free(): void {
    this.inner.free();
  }
}

// ---- writing -------------------------------------------------------------------------------------

export interface WriteShardsOptions {
  /** Rows per shard (default 65536). */
  shardRows?: number;
  /**
   * Copies of every training row shifted by a seeded (dx, dy) in [-shiftPixels, shiftPixels]
   * (never both 0) written after the originals: a transfer set enlarged by augmentation (images only).
   */
  shifts?: number;
  shiftPixels?: number;
  seed?: number;
  classNames?: string[] | null;
  /** Called after each shard with rows written so far and in all. */
  onShard?: (written: number, total: number) => void;
}

/**
 * Writes `train` (and `test`) as a dataset-shards directory; see the header. Each shard is written
 * atomically and the index last, so a directory is never left with an index naming a missing shard.
 */
export function writeDatasetShards(dir: string, train: Dataset, test: Dataset | null, o: WriteShardsOptions = {}): { indexPath: string; rows: number; shards: number } {
  const shardRows = o.shardRows ?? 65536;
  const shifts = o.shifts ?? 0, px = o.shiftPixels ?? 2;
  if (!Number.isInteger(shardRows) || shardRows < 1) throw new RangeError(`--shard-rows: must be a positive integer, got ${shardRows}`);
  if (!Number.isInteger(shifts) || shifts < 0) throw new RangeError(`--shifts: must be a non-negative integer, got ${shifts}`);
  const isU8 = train.x instanceof Uint8Array;
  const [h, w] = train.sampleShape;
  const channels = train.sampleShape.length === 3 ? train.sampleShape[2]! : 1;
  if (shifts > 0) {
    if (!isU8 || !(train.sampleShape.length === 2 || train.sampleShape.length === 3)) {
      throw new RangeError(`--shifts: shifted copies need u8 images (H, W[, C]); ${train.name} holds ${isU8 ? 'u8' : 'f32'} samples of ${formatDims(train.sampleShape)}`);
    }
    if (!Number.isInteger(px) || px < 1 || px >= Math.min(h!, w!)) throw new RangeError(`--shift-pixels: must be an integer in [1, ${Math.min(h!, w!) - 1}], got ${px}`);
  }
  if (existsSync(join(dir, INDEX))) throw new RangeError(`${dir} already holds a dataset (${INDEX}); choose a new directory`);
  mkdirSync(dir, { recursive: true });
  const F = train.features;
  const total = train.count * (1 + shifts);
  const rng = new Xoshiro128(checkSeed('shards', o.seed ?? 0), STREAM.jitter, 0xd5);
  const written: string[] = [];
  const shardsOf = (prefix: string, ds: Dataset, copies: number): { file: string; rows: number }[] => {
    const list: { file: string; rows: number }[] = [];
    const rowsAll = ds.count * copies;
    for (let start = 0, s = 0; start < rowsAll; start += shardRows, s++) {
      const n = Math.min(shardRows, rowsAll - start);
      const x = isU8 ? new Uint8Array(n * F) : new Float32Array(n * F);
      const y = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const id = start + i, copy = Math.floor(id / ds.count), row = id % ds.count;
        y[i] = ds.y[row]!;
        if (copy === 0) { x.set(ds.x.subarray(row * F, (row + 1) * F) as never, i * F); continue; }
        let dx = 0, dy = 0;
        while (dx === 0 && dy === 0) { dx = rng.below(2 * px + 1) - px; dy = rng.below(2 * px + 1) - px; }
        shiftImage(x as Uint8Array, i * F, ds.x as Uint8Array, row * F, h!, w!, channels, dx, dy);
      }
      const file = `${prefix}-${String(s).padStart(5, '0')}.safetensors`;
      writeFileAtomic(join(dir, file), writeSafetensors({
        x: { dtype: isU8 ? 'U8' : 'F32', shape: [n, ...ds.sampleShape], data: x },
        y: { dtype: 'I32', shape: [n], data: y },
      }));
      written.push(file);
      list.push({ file, rows: n });
      if (prefix === 'train') o.onShard?.(start + n, total);
    }
    return list;
  };
  try {
    const index: DatasetShardsIndex = {
      format: DATASET_SHARDS_FORMAT, version: 1, sampleShape: train.sampleShape.slice(), dtype: isU8 ? 'u8' : 'f32', classes: train.classes,
      ...(o.classNames ? { classNames: o.classNames } : {}),
      train: shardsOf('train', train, 1 + shifts),
      ...(test ? { test: shardsOf('test', test, 1) } : {}),
    };
    const indexPath = join(dir, INDEX);
    writeFileAtomic(indexPath, new TextEncoder().encode(JSON.stringify(index, null, 1) + '\n'));
    return { indexPath, rows: total, shards: index.train.length };
  } catch (e) {
    for (const f of written) rmSync(join(dir, f), { force: true });
    throw e;
  }
}

/** An (h, w, c) u8 image moved dx pixels right and dy down, zero fill (shiftInto for any channel count). */
function shiftImage(dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number, h: number, w: number, c: number, dx: number, dy: number): void {
  if (c === 1) { shiftInto(dst, dstOff, src, srcOff, h, w, dx, dy); return; }
  dst.fill(0, dstOff, dstOff + h * w * c);
  const width = w - Math.abs(dx);
  if (width <= 0) return;
  const srcCol = Math.max(0, -dx), dstCol = Math.max(0, dx);
  for (let r = Math.max(0, dy), end = Math.min(h, h + dy); r < end; r++) {
    const s = srcOff + ((r - dy) * w + srcCol) * c;
    dst.set(src.subarray(s, s + width * c), dstOff + (r * w + dstCol) * c);
  }
}
