// Teacher outputs on disk in shards (Node): the format is described in data/teacher-outputs.ts.
//
// Reading: ShardedLogitTable checks the index and every shard's header when it opens (a shard the
// index lists but the directory lacks, a tensor of the wrong shape or dtype: one error naming the
// file), then reads blocks of rows on demand into a bounded cache, checking their values as it
// decodes them (a NaN names the file and the row). Memory stays at the cache's size however many
// rows the shards hold.
//
// Writing: writeTeacherOutputs computes the outputs a shard at a time, writes each shard
// atomically and then the index listing it, so a run killed half-way keeps every finished shard;
// the next call with the same fingerprint continues after the last one listed.
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { DataFormatError } from '../data/errors.js';
import { readExact } from '../data/files.js';
import {
  expandTopK, parseTeacherOutputsIndex, shardFileName, TEACHER_OUTPUTS_FORMAT, TEACHER_OUTPUTS_INDEX, topKRowProblem, topKRows,
  tableRows, type LogitTable, type TeacherOutputsIndex,
} from '../data/teacher-outputs.js';
import { Fnv1a64 } from '../data/hash.js';
import { writeFileAtomic } from '../io/atomic.js';
import {
  decodeSafetensor, parseSafetensorsHeader, safetensorsHeaderLength, writeSafetensors, type SafetensorsEntry,
} from '../interop/safetensors.js';

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16', 'F64']);
const INT_DTYPES = new Set(['I64', 'I32', 'I16', 'I8', 'U64', 'U32', 'U16', 'U8']);

/** The index file of a teacher-outputs directory, or of the index path itself; null if `path` is neither. */
export function teacherOutputsIndexPath(path: string): string | null {
  if (existsSync(path) && statSync(path).isDirectory()) {
    const p = join(path, TEACHER_OUTPUTS_INDEX);
    return existsSync(p) ? p : null;
  }
  return /\.json$/i.test(path) ? path : null;
}

function readIndex(indexPath: string): TeacherOutputsIndex {
  let raw: unknown;
  let text: string;
  try {
    text = readFileSync(indexPath, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DataFormatError(indexPath, code === 'ENOENT' ? 'not found' : `cannot read (${code ?? String(e)})`);
  }
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new DataFormatError(indexPath, `not valid JSON (${(e as Error).message})`);
  }
  return parseTeacherOutputsIndex(raw, indexPath);
}

interface ShardInfo {
  file: string;
  path: string;
  start: number;
  rows: number;
  headerBytes: number;
  /** kind logits: [logits]; kind topk: [values, indices, logsumexp, tailmean?]. */
  entries: SafetensorsEntry[];
}

/** Reads and checks a shard's header: its tensors, their dtypes and shapes. */
function openShard(dir: string, s: { file: string; rows: number }, start: number, idx: TeacherOutputsIndex, indexPath: string): ShardInfo {
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
    const want: [string, number[], Set<string>][] = idx.kind === 'logits'
      ? [['logits', [s.rows, idx.classes], FLOAT_DTYPES]]
      : [['values', [s.rows, idx.k!], FLOAT_DTYPES], ['indices', [s.rows, idx.k!], INT_DTYPES], ['logsumexp', [s.rows], FLOAT_DTYPES]];
    const tail = idx.kind === 'topk' ? header.entries.find((x) => x.name === 'tailmean') : undefined;
    if (tail) {
      if (!FLOAT_DTYPES.has(tail.dtype)) throw new DataFormatError(s.file, `tensor 'tailmean' is ${tail.dtype}; it must be a float type`);
      if (tail.shape.join(',') !== String(s.rows)) throw new DataFormatError(s.file, `tensor 'tailmean' has shape [${tail.shape.join(', ')}] but the index says [${s.rows}]`);
    }
    const entries = want.map(([name, shape, dtypes]) => {
      const e = header.entries.find((x) => x.name === name);
      if (!e) throw new DataFormatError(s.file, `no tensor '${name}' (a ${idx.kind} shard holds ${want.map((w) => `'${w[0]}'`).join(', ')})`);
      if (!dtypes.has(e.dtype)) throw new DataFormatError(s.file, `tensor '${name}' is ${e.dtype}; it must be ${dtypes === FLOAT_DTYPES ? 'a float' : 'an integer'} type`);
      if (e.shape.join(',') !== shape.join(',')) {
        throw new DataFormatError(s.file, `tensor '${name}' has shape [${e.shape.join(', ')}] but the index says [${shape.join(', ')}] (${s.rows} rows${name === 'logsumexp' ? '' : ` x ${shape[1]}`})`);
      }
      return e;
    });
    return { file: s.file, path, start, rows: s.rows, headerBytes: 8 + n, entries: tail ? [...entries, tail] : entries };
  } finally {
    closeSync(fd);
  }
}

/** A decoded block of rows: full logits, or top-k values, classes and log-sum-exps. */
interface Block { bytes: number; logits?: Float32Array; values?: Float32Array; indices?: Float32Array; lse?: Float32Array; tail?: Float32Array }

export interface ShardedLogitTableOptions {
  /** Bytes of decoded blocks kept in memory (default 64 MiB). */
  cacheBytes?: number;
  /** Rows per block read (default 2048). */
  blockRows?: number;
}

/** Teacher outputs read from shards on demand (see the header). */
export class ShardedLogitTable implements LogitTable {
  readonly rows: number;
  readonly classes: number;
  readonly index: TeacherOutputsIndex;
  readonly indexPath: string;
  private readonly shards: ShardInfo[];
  private readonly starts: number[];
  private readonly cache = new Map<string, Block>();
  private cached = 0;
  private readonly cacheBytes: number;
  private readonly blockRows: number;
  private readonly seen: Uint8Array;

  private constructor(indexPath: string, index: TeacherOutputsIndex, shards: ShardInfo[], opts: ShardedLogitTableOptions) {
    this.indexPath = indexPath;
    this.index = index;
    this.rows = index.rows;
    this.classes = index.classes;
    this.shards = shards;
    this.starts = shards.map((s) => s.start);
    this.cacheBytes = opts.cacheBytes ?? 64 * 2 ** 20;
    this.blockRows = opts.blockRows ?? 2048;
    this.seen = new Uint8Array(index.classes);
  }

  /** Opens a teacher-outputs directory or its index file; the index must be complete. */
  static open(path: string, opts: ShardedLogitTableOptions = {}): ShardedLogitTable {
    const indexPath = teacherOutputsIndexPath(path) ?? join(path, TEACHER_OUTPUTS_INDEX);
    const index = readIndex(indexPath);
    if (index.complete === false) {
      throw new DataFormatError(indexPath, `incomplete: its shards hold ${index.shards.reduce((n, s) => n + s.rows, 0)} of ${index.rows} rows (the writer was stopped; run it again to finish)`);
    }
    const dir = join(indexPath, '..');
    let start = 0;
    const shards = index.shards.map((s) => { const info = openShard(dir, s, start, index, indexPath); start += s.rows; return info; });
    return new ShardedLogitTable(indexPath, index, shards, opts);
  }

  /** "topk (k = 32)" or "logits". */
  get description(): string {
    return this.index.kind === 'topk' ? `top-${this.index.k} soft labels` : 'logits';
  }

  /** Top-k shards that hold their tails' means: the shared tail logit depends on the temperature. */
  get temperatureAware(): boolean {
    return this.shards.some((s) => s.entries.length === 4);
  }

  gather(ids: ArrayLike<number>, n: number, out: Float32Array, temperature = 1): void {
    const C = this.classes, k = this.index.k ?? 0;
    for (let i = 0; i < n; i++) {
      const id = ids[i]!;
      if (!(Number.isInteger(id) && id >= 0 && id < this.rows)) throw new RangeError(`teacher outputs: row ${id} is outside [0, ${this.rows})`);
      const s = this.shardOf(id);
      const shard = this.shards[s]!;
      const local = id - shard.start;
      const b = Math.floor(local / this.blockRows);
      const block = this.block(s, b);
      const r = local - b * this.blockRows;
      if (block.logits) out.set(block.logits.subarray(r * C, (r + 1) * C), i * C);
      else expandTopK(block.values!, block.indices!, r * k, k, block.lse![r]!, C, out, i * C, block.tail ? { mean: block.tail[r]!, temperature } : undefined);
    }
  }

  private shardOf(id: number): number {
    let lo = 0, hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= id) lo = mid; else hi = mid - 1;
    }
    return lo;
  }

  private block(s: number, b: number): Block {
    const key = `${s}/${b}`;
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key);
      this.cache.set(key, hit); // most recently used last
      return hit;
    }
    const block = this.readBlock(this.shards[s]!, b);
    this.cache.set(key, block);
    this.cached += block.bytes;
    for (const [k, v] of this.cache) {
      if (this.cached <= this.cacheBytes || k === key) break;
      this.cache.delete(k);
      this.cached -= v.bytes;
    }
    return block;
  }

  private readBlock(shard: ShardInfo, b: number): Block {
    const first = b * this.blockRows;
    const n = Math.min(this.blockRows, shard.rows - first);
    const fd = openSync(shard.path, 'r');
    try {
      const part = (e: SafetensorsEntry, per: number): Float32Array => {
        const size = (e.end - e.begin) / Math.max(1, e.elements);
        const bytes = new Uint8Array(n * per * size);
        readExact(shard.file, fd, bytes, shard.headerBytes + e.begin + first * per * size);
        return decodeSafetensor({ ...e, shape: [n * per], elements: n * per, begin: 0, end: bytes.length }, bytes, shard.file);
      };
      const C = this.classes;
      if (this.index.kind === 'logits') {
        const logits = part(shard.entries[0]!, C);
        for (let i = 0; i < logits.length; i++) {
          if (!Number.isFinite(logits[i]!)) {
            throw new DataFormatError(shard.file, `logits [${first + Math.floor(i / C)}, ${i % C}] is ${logits[i]} (NaN or Inf)`);
          }
        }
        return { bytes: logits.byteLength, logits };
      }
      const k = this.index.k!;
      const values = part(shard.entries[0]!, k), indices = part(shard.entries[1]!, k), lse = part(shard.entries[2]!, 1);
      const tail = shard.entries[3] ? part(shard.entries[3], 1) : undefined;
      for (let r = 0; r < n; r++) {
        let problem = topKRowProblem(values, indices, r * k, k, lse[r]!, C, this.seen);
        if (!problem && tail && !Number.isFinite(tail[r]!)) problem = `tailmean is ${tail[r]} (NaN or Inf)`;
        if (problem) throw new DataFormatError(shard.file, `row ${first + r}: ${problem}`);
      }
      return { bytes: values.byteLength + indices.byteLength + lse.byteLength + (tail?.byteLength ?? 0), values, indices, lse, ...(tail ? { tail } : {}) };
    } finally {
      closeSync(fd);
    }
  }
}

export interface WriteTeacherOutputsOptions {
  /** The directory (created if needed). */
  dir: string;
  rows: number;
  classes: number;
  /** Store the k largest logits per row (with their classes and the row's log-sum-exp) instead of all. */
  topK?: number;
  /** What the outputs are of (teacher and data); a directory holding another fingerprint is rewritten. */
  fingerprint: string;
  /** Rows per shard (default 16384). */
  shardRows?: number;
  /** The teacher's logits of rows [start, start + count), [count, classes]. */
  compute: (start: number, count: number) => Float32Array;
  /** After each shard is written and listed (a test may throw here to stop the writer as a kill would). */
  afterShard?: (shard: number, shards: number) => void;
}

/** What writeTeacherOutputs did: shards kept from an earlier, interrupted or finished call, and shards written. */
export interface WriteTeacherOutputsResult { indexPath: string; kept: number; written: number }

const SHARD_PREFIX = 'outputs';

/**
 * Writes (or finishes writing) a teacher-outputs directory; see the header. Shard s holds rows
 * [s·shardRows, …); the index is rewritten after every shard, complete after the last.
 */
export function writeTeacherOutputs(o: WriteTeacherOutputsOptions): WriteTeacherOutputsResult {
  const shardRows = o.shardRows ?? 16384;
  if (!Number.isInteger(o.rows) || o.rows < 1) throw new RangeError(`writeTeacherOutputs: rows must be a positive integer, got ${o.rows}`);
  if (!Number.isInteger(shardRows) || shardRows < 1) throw new RangeError(`writeTeacherOutputs: shardRows must be a positive integer, got ${shardRows}`);
  if (o.topK !== undefined && !(Number.isInteger(o.topK) && o.topK >= 1 && o.topK <= o.classes)) {
    throw new RangeError(`top-k: k must be an integer in [1, ${o.classes}] (the classes), got ${o.topK}`);
  }
  mkdirSync(o.dir, { recursive: true });
  const indexPath = join(o.dir, TEACHER_OUTPUTS_INDEX);
  const shardCount = Math.ceil(o.rows / shardRows);
  const base: TeacherOutputsIndex = {
    format: TEACHER_OUTPUTS_FORMAT, version: 1, kind: o.topK !== undefined ? 'topk' : 'logits', rows: o.rows, classes: o.classes,
    ...(o.topK !== undefined ? { k: o.topK } : {}), complete: false, fingerprint: o.fingerprint, shardRows, shards: [],
  };
  const kept = keptShards(indexPath, base);
  const shards = kept.slice();
  const writeIndex = (complete: boolean): void =>
    writeFileAtomic(indexPath, new TextEncoder().encode(JSON.stringify({ ...base, complete, shards }, null, 1) + '\n'));
  if (kept.length === 0) removeShardFiles(o.dir, new Set());
  for (let s = kept.length; s < shardCount; s++) {
    const start = s * shardRows, n = Math.min(shardRows, o.rows - start);
    const logits = o.compute(start, n);
    if (logits.length !== n * o.classes) throw new RangeError(`writeTeacherOutputs: compute(${start}, ${n}) gave ${logits.length} values, expected ${n * o.classes}`);
    const bad = logits.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new DataFormatError('teacher', `its logit [${start + Math.floor(bad / o.classes)}, ${bad % o.classes}] is ${logits[bad]} (NaN or Inf weights?)`);
    const file = shardFileName(SHARD_PREFIX, s);
    let bytes: Uint8Array;
    if (o.topK === undefined) bytes = writeSafetensors({ logits: { shape: [n, o.classes], data: logits } });
    else {
      const t = topKRows(logits, n, o.classes, o.topK);
      bytes = writeSafetensors({
        values: { shape: [n, o.topK], data: t.values },
        indices: { dtype: o.classes <= 65536 ? 'U16' : 'I32', shape: [n, o.topK], data: o.classes <= 65536 ? Uint16Array.from(t.indices) : t.indices },
        logsumexp: { shape: [n], data: t.logsumexp },
        tailmean: { shape: [n], data: t.tailmean },
      });
    }
    writeFileAtomic(join(o.dir, file), bytes);
    shards.push({ file, rows: n });
    writeIndex(s === shardCount - 1);
    o.afterShard?.(s, shardCount);
  }
  if (kept.length === shardCount && kept.length > 0) {
    // every shard was there: make sure the index says complete (a kill between the last shard and its index)
    writeIndex(true);
  }
  removeShardFiles(o.dir, new Set(shards.map((s) => s.file)));
  return { indexPath, kept: kept.length, written: shardCount - kept.length };
}

/** The shards of an earlier call with the same settings that are still intact (a prefix of the list). */
function keptShards(indexPath: string, want: TeacherOutputsIndex): { file: string; rows: number }[] {
  if (!existsSync(indexPath)) return [];
  let idx: TeacherOutputsIndex;
  try {
    idx = readIndex(indexPath);
  } catch {
    return []; // an unreadable index: start again
  }
  const same = idx.kind === want.kind && idx.rows === want.rows && idx.classes === want.classes && idx.k === want.k &&
    idx.fingerprint === want.fingerprint && idx.shardRows === want.shardRows;
  if (!same) return [];
  const kept: { file: string; rows: number }[] = [];
  let start = 0;
  for (const s of idx.shards) {
    try {
      openShard(join(indexPath, '..'), s, start, idx, indexPath);
    } catch {
      break;
    }
    kept.push(s);
    start += s.rows;
  }
  return kept;
}

/** Removes shard files of this writer that `keep` does not list (left by an earlier, different call). */
function removeShardFiles(dir: string, keep: Set<string>): void {
  for (const f of readdirSync(dir)) {
    if (f.startsWith(`${SHARD_PREFIX}-`) && f.endsWith('.safetensors') && !keep.has(f)) rmSync(join(dir, f), { force: true });
  }
}

/** Whether `path` names a teacher-outputs directory or index (rather than one logits file). */
export function isTeacherOutputsPath(path: string): boolean {
  const p = teacherOutputsIndexPath(path);
  return p !== null && (basename(p) === TEACHER_OUTPUTS_INDEX || existsSync(p));
}

export interface CachedOutputs { table: ShardedLogitTable; fromCache: boolean }

/**
 * Teacher outputs cached in `dir` under a key (whatever identifies teacher, data and input
 * preparation, as JSON): a directory written for the same key and settings is read (and finished
 * if it was interrupted); any other is rewritten.
 */
export function cachedTeacherOutputs(dir: string, key: unknown, rows: number, classes: number,
                                     compute: (start: number, count: number) => Float32Array,
                                     opts: { topK?: number; shardRows?: number } = {}): CachedOutputs {
  const fingerprint = new Fnv1a64().updateString(`retort-teacher-outputs-key ${JSON.stringify(key)}`).digest();
  const r = writeTeacherOutputs({ dir, rows, classes, fingerprint, compute, ...opts });
  return { table: ShardedLogitTable.open(dir), fromCache: r.written === 0 };
}

/** Every row of a table in memory, [rows, classes]. */
export function allRows(table: LogitTable): Float32Array {
  return tableRows(table, Int32Array.from({ length: table.rows }, (_, i) => i));
}
