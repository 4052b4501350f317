// Teacher outputs as a table of rows, and the sharded format they are stored in (pure: the
// file I/O is in node/teacher-outputs.ts).
//
// A LogitTable gives the teacher's logits for any dataset rows, [rows, classes]: from an array in
// memory, or from shards on disk read block by block. The objective gathers a batch's rows from
// it (train/objective.ts), so a cache larger than memory works as one in memory does.
//
// The sharded format, a directory:
//   index.json         {"format": "retort-teacher-outputs", "version": 1, "kind": "logits" | "topk",
//                       "rows": N, "classes": C, "k"?: K, "complete": true, "fingerprint"?: "...",
//                       "shards": [{"file": "outputs-00000.safetensors", "rows": n0}, ...]}
//   *.safetensors      shard s holds rows [n0 + ... + n(s-1), ... + ns) of the data, in order:
//     kind logits:     "logits"    [n, C]  any float dtype
//     kind topk:       "values"    [n, K]  the row's K largest logits (any float dtype, any order)
//                      "indices"   [n, K]  their classes (any integer dtype), distinct, in [0, C)
//                      "logsumexp" [n]     log Σ_c exp(logit_c) of the full row
//                      "tailmean"  [n]     optional: the mean logit of the other C − K classes
// A top-k row is expanded to C logits (expandTopK): the K classes keep their logits and the other
// C − K share one logit c. At T = 1, c = logsumexp + log(rest / (C − K)) with rest = 1 −
// Σ_j exp(values_j − logsumexp): the rest of the probability mass spread evenly, so the K
// probabilities are exactly the teacher's. A softer term (T > 1) sees more of the tail, whose
// spread one shared logit cannot show; with the tail's mean μ stored, the shared logit moves
// toward it as c_T = μ + (c − μ) / T (exact at T = 1, the tail's mean as T grows), which keeps
// the tail's mass at T close to the true one (README: "Teacher outputs ..."). Without tailmean
// c is used at every temperature.

import { z } from 'zod';
import { DataFormatError } from './errors.js';

/** The teacher's logits of dataset rows. */
export interface LogitTable {
  /** Rows the table covers (the training set's count). */
  readonly rows: number;
  readonly classes: number;
  /**
   * Writes the logits of dataset rows ids[0..n) into out[i * classes ...], as the soft term at
   * `temperature` (default 1) will read them: only a top-k table with tail means depends on it.
   */
  gather(ids: ArrayLike<number>, n: number, out: Float32Array, temperature?: number): void;
  /** Whether gather depends on the temperature (then a term at T gathers at T). */
  readonly temperatureAware?: boolean;
}

/** A table over logits held in memory, [rows, classes] row-major. */
export function memoryLogitTable(logits: Float32Array, classes: number): LogitTable {
  if (!Number.isInteger(classes) || classes < 1 || logits.length % classes !== 0) {
    throw new RangeError(`memoryLogitTable: ${logits.length} values are not rows of ${classes} classes`);
  }
  return {
    rows: logits.length / classes, classes,
    gather(ids, n, out) {
      for (let i = 0; i < n; i++) {
        const from = ids[i]! * classes;
        out.set(logits.subarray(from, from + classes), i * classes);
      }
    },
  };
}

/** Every row of a table, [rows, classes] (for tables that fit in memory). */
export function tableRows(table: LogitTable, ids: ArrayLike<number>, temperature = 1): Float32Array {
  const out = new Float32Array(ids.length * table.classes);
  const chunk = 4096;
  const buf = new Float32Array(chunk * table.classes);
  for (let start = 0; start < ids.length; start += chunk) {
    const n = Math.min(chunk, ids.length - start);
    const part = Array.from({ length: n }, (_, i) => ids[start + i]!);
    table.gather(part, n, buf, temperature);
    out.set(buf.subarray(0, n * table.classes), start * table.classes);
  }
  return out;
}

export const TEACHER_OUTPUTS_FORMAT = 'retort-teacher-outputs';
export const TEACHER_OUTPUTS_INDEX = 'index.json';

const shardSchema = z.object({
  file: z.string().min(1).refine((f) => !/[\\/]/.test(f) && f !== '.' && f !== '..', 'a file name in the index directory, not a path'),
  rows: z.number().int().min(1),
}).strict();

const indexSchema = z.object({
  format: z.literal(TEACHER_OUTPUTS_FORMAT),
  version: z.literal(1),
  kind: z.enum(['logits', 'topk']),
  rows: z.number().int().min(1),
  classes: z.number().int().min(1),
  k: z.number().int().min(1).optional(),
  complete: z.boolean().optional(),
  fingerprint: z.string().optional(),
  shardRows: z.number().int().min(1).optional(),
  shards: z.array(shardSchema),
}).strict();

export type TeacherOutputsIndex = z.infer<typeof indexSchema>;

/** Parses and checks an index (its JSON already parsed); errors name `file` and the field. */
export function parseTeacherOutputsIndex(raw: unknown, file: string): TeacherOutputsIndex {
  const r = indexSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const at = issue.path.length ? issue.path.join('.') : 'the index';
    throw new DataFormatError(file, `${at}: ${issue.message}${issue.path[0] === 'format' ? ` (a teacher-outputs index has "format": "${TEACHER_OUTPUTS_FORMAT}")` : ''}`);
  }
  const idx = r.data;
  if (idx.kind === 'topk') {
    if (idx.k === undefined) throw new DataFormatError(file, 'kind "topk" needs k, the number of classes kept per row');
    if (idx.k > idx.classes) throw new DataFormatError(file, `k = ${idx.k} is more than the ${idx.classes} classes`);
  } else if (idx.k !== undefined) throw new DataFormatError(file, 'k applies to kind "topk" only');
  const names = new Set<string>();
  for (const s of idx.shards) {
    if (names.has(s.file)) throw new DataFormatError(file, `shard ${s.file} is listed twice`);
    names.add(s.file);
  }
  const total = idx.shards.reduce((n, s) => n + s.rows, 0);
  if (idx.complete !== false && total !== idx.rows) {
    throw new DataFormatError(file, `its shards hold ${total} rows but it declares ${idx.rows}: a shard is missing from the index (or one too many)`);
  }
  if (total > idx.rows) throw new DataFormatError(file, `its shards hold ${total} rows, more than the ${idx.rows} it declares`);
  return idx;
}

/**
 * The k largest logits of each of `n` rows of `logits` ([n, classes]), largest first (ties: the
 * lower class first), with their classes and each row's log-sum-exp (in f64, stored as f32).
 */
export function topKRows(logits: Float32Array, n: number, classes: number, k: number): { values: Float32Array; indices: Int32Array; logsumexp: Float32Array; tailmean: Float32Array } {
  if (!Number.isInteger(k) || k < 1 || k > classes) throw new RangeError(`topKRows: k must be an integer in [1, ${classes}], got ${k}`);
  const values = new Float32Array(n * k), indices = new Int32Array(n * k), logsumexp = new Float32Array(n), tailmean = new Float32Array(n);
  const heap = new Int32Array(k); // a min-heap of classes by (logit, then higher class is "smaller")
  for (let r = 0; r < n; r++) {
    const row = logits.subarray(r * classes, (r + 1) * classes);
    // "a ranks below b": a smaller logit, or the same logit and a higher class
    const below = (a: number, b: number): boolean => row[a]! < row[b]! || (row[a] === row[b] && a > b);
    let size = 0;
    const siftDown = (i: number): void => {
      for (;;) {
        const l = 2 * i + 1, rr = l + 1;
        let m = i;
        if (l < size && below(heap[l]!, heap[m]!)) m = l;
        if (rr < size && below(heap[rr]!, heap[m]!)) m = rr;
        if (m === i) return;
        const t = heap[i]!; heap[i] = heap[m]!; heap[m] = t; i = m;
      }
    };
    let max = -Infinity;
    for (let c = 0; c < classes; c++) {
      if (row[c]! > max) max = row[c]!;
      if (size < k) {
        let i = size++;
        heap[i] = c;
        while (i > 0) { const p = (i - 1) >> 1; if (!below(heap[i]!, heap[p]!)) break; const t = heap[i]!; heap[i] = heap[p]!; heap[p] = t; i = p; }
      } else if (below(heap[0]!, c)) {
        heap[0] = c;
        siftDown(0);
      }
    }
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(row[c]! - max);
    logsumexp[r] = max + Math.log(sum);
    const kept = Array.from(heap.subarray(0, k)).sort((a, b) => (below(a, b) ? 1 : below(b, a) ? -1 : 0));
    let keptSum = 0, all = 0;
    for (let j = 0; j < k; j++) { indices[r * k + j] = kept[j]!; values[r * k + j] = row[kept[j]!]!; keptSum += row[kept[j]!]!; }
    for (let c = 0; c < classes; c++) all += row[c]!;
    tailmean[r] = k < classes ? (all - keptSum) / (classes - k) : 0;
  }
  return { values, indices, logsumexp, tailmean };
}

/**
 * Expands one top-k row to `classes` logits in `out` (see the header): the kept classes keep their
 * logits; every other class gets c = log(rest / (classes − k)) + logsumexp, the rest of the mass
 * spread evenly (a rest of 0 counts as 1e-30), or with `tail` (the tail's mean logit, and the
 * temperature the logits are for) c_T = mean + (c − mean) / T; never above the smallest kept logit.
 */
export function expandTopK(values: ArrayLike<number>, indices: ArrayLike<number>, from: number, k: number, logsumexp: number,
                           classes: number, out: Float32Array, at: number, tail?: { mean: number; temperature: number }): void {
  if (k < classes) {
    let kept = 0, min = Infinity;
    for (let j = 0; j < k; j++) {
      const v = values[from + j]!;
      kept += Math.exp(v - logsumexp);
      if (v < min) min = v;
    }
    const rest = Math.max(1 - kept, 1e-30);
    let fill = logsumexp + Math.log(rest / (classes - k));
    if (tail && tail.temperature !== 1) fill = tail.mean + (fill - tail.mean) / tail.temperature;
    out.fill(Math.min(fill, min), at, at + classes);
  }
  for (let j = 0; j < k; j++) out[at + indices[from + j]!] = values[from + j]!;
}

/**
 * Checks one top-k row as read from a file: finite values and logsumexp, classes in range and
 * distinct, logsumexp at least the largest value (else it is not the full row's). `seen` is
 * scratch of `classes` bytes, all 0 (left all 0). Returns an error message, or null.
 */
export function topKRowProblem(values: ArrayLike<number>, indices: ArrayLike<number>, from: number, k: number, logsumexp: number,
                               classes: number, seen: Uint8Array): string | null {
  let problem: string | null = null, max = -Infinity;
  let j = 0;
  for (; j < k; j++) {
    const v = values[from + j]!, c = indices[from + j]!;
    if (!Number.isFinite(v)) { problem = `values[${j}] is ${v} (NaN or Inf)`; break; }
    if (!(Number.isInteger(c) && c >= 0 && c < classes)) { problem = `indices[${j}] = ${c} is not a class in [0, ${classes})`; break; }
    if (seen[c]) { problem = `class ${c} appears twice among its indices`; break; }
    seen[c] = 1;
    if (v > max) max = v;
  }
  for (let i = 0; i < j; i++) seen[indices[from + i]!] = 0;
  if (problem) return problem;
  if (!Number.isFinite(logsumexp)) return `logsumexp is ${logsumexp} (NaN or Inf)`;
  if (logsumexp < max - 1e-3 * Math.max(1, Math.abs(max))) return `logsumexp ${logsumexp} is below its largest logit ${max}: it must be the log-sum-exp of the full row of logits`;
  return null;
}

/** The file name of shard `s`. */
export function shardFileName(prefix: string, s: number): string {
  return `${prefix}-${String(s).padStart(5, '0')}.safetensors`;
}
