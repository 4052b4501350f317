// Which kernels run on several threads, and how each is cut (./pool.ts runs the parts).
//
// The rule that keeps the bits: a kernel is cut only along a dimension whose outputs are
// computed independently, so every output element is produced by exactly one thread by the
// same instructions, in the same order, as in the single-threaded call. Nothing is reduced
// across threads. Hence 1, 2, 4 or any number of threads give the same bits as the one-thread
// build, by construction (and test/threads.test.ts checks it kernel by kernel and for whole
// training runs).
//
//   sgemm                  rows of C (M), or its columns (N) when M is too short to share;
//                          cuts on multiples of 8, which the register tiles of both builds
//                          (4x8 simd, 2x4 scalar, assembly/kernels/gemm.ts) divide. Each
//                          element's k-sum does not depend on which rows or columns are
//                          computed beside it (the K blocking depends on K only).
//   elementwise kernels    index ranges cut on multiples of 64 elements, so every vector
//   (optimizers included)  group and the scalar tail fall where they fall in one call.
//   row-wise kernels       whole rows (bias add, softmax, layer norm forward, embedding
//                          lookup, argmax): a row's result depends on that row only.
//
// Not cut: reductions across the batch (bias, batch-norm and layer-norm parameter gradients,
// the losses, embedding scatter-add), whose summation order would change, and small calls
// (below MIN_WORK) where waking a thread costs more than it saves.
import { KERNELS, KERNEL_NAMES, type KernelName, type RawKernels } from '../kernels/list.js';
import type { BufferArg } from '../kernels/describe.js';
import { BYTES_PER_ELEMENT } from '../tensor.js';
import type { ThreadPool } from './pool.js';

/** Below this many multiply-adds (sgemm) or elements (the rest) a call stays on one thread. */
export const MIN_GEMM_WORK = 1 << 19;
export const MIN_ELEMENTS = 1 << 15;
const GEMM_CUT = 8, ELEMENT_CUT = 64;

type Splitter = (args: readonly number[], threads: number) => number[][] | null;

/** [start, end) ranges of n cut into at most `parts` pieces on multiples of `unit` (the last takes the tail). */
export function cuts(n: number, parts: number, unit: number): Array<[number, number]> {
  const units = Math.ceil(n / unit);
  const p = Math.max(1, Math.min(parts, units));
  const out: Array<[number, number]> = [];
  let start = 0;
  for (let i = 0; i < p; i++) {
    const end = i === p - 1 ? n : Math.min(n, Math.round((units * (i + 1)) / p) * unit);
    if (end > start) out.push([start, end]);
    start = end;
  }
  return out;
}

const argIndex = (name: KernelName, arg: string): number => {
  const i = KERNELS[name].args.findIndex((a) => a.name === arg);
  if (i < 0) throw new Error(`parallel: ${name} has no argument ${arg}`);
  return i;
};

function gemmSplitter(): Splitter {
  return (a, threads) => {
    const [transA, transB, M, N, K, , A, lda, B, ldb, , C, ldc] = a as number[];
    if (M! * N! * K! < MIN_GEMM_WORK) return null;
    // rows when each thread gets at least 32 (its share of packing B stays small), else columns
    const byRows = M! >= 32 * threads || M! >= N!;
    const ranges = cuts(byRows ? M! : N!, threads, GEMM_CUT);
    if (ranges.length < 2) return null;
    return ranges.map(([s, e]) => {
      const p = [...a];
      if (byRows) {
        p[2] = e - s;
        p[6] = A! + (transA ? s : s * lda!) * 4;
        p[11] = C! + s * ldc! * 4;
      } else {
        p[3] = e - s;
        p[8] = B! + (transB ? s * ldb! : s) * 4;
        p[11] = C! + s * 4;
      }
      return p;
    });
  };
}

/** Every buffer holds n elements at the same index; n is the argument named 'n'. */
function elementwiseSplitter(name: KernelName): Splitter {
  const d = KERNELS[name];
  const nAt = argIndex(name, 'n');
  const buffers = d.args.flatMap((arg, i) => (arg.kind === 'buffer' ? [{ i, bytes: BYTES_PER_ELEMENT[(arg as BufferArg).dtype] }] : []));
  return (a, threads) => {
    const n = a[nAt]!;
    if (n < MIN_ELEMENTS) return null;
    const ranges = cuts(n, threads, ELEMENT_CUT);
    if (ranges.length < 2) return null;
    return ranges.map(([s, e]) => {
      const p = [...a];
      p[nAt] = e - s;
      for (const b of buffers) p[b.i] = a[b.i]! + s * b.bytes;
      return p;
    });
  };
}

/**
 * Whole rows: `rows` names the row-count argument; `perRow` gives, for each buffer that moves
 * with the rows, the argument holding its elements per row (or 1); other buffers stay.
 */
function rowSplitter(name: KernelName, rows: string, perRow: Record<string, string | 1>): Splitter {
  const d = KERNELS[name];
  const rowsAt = argIndex(name, rows);
  const moving = Object.entries(perRow).map(([buf, per]) => {
    const i = argIndex(name, buf);
    return { i, per: per === 1 ? -1 : argIndex(name, per), bytes: BYTES_PER_ELEMENT[(d.args[i] as BufferArg).dtype] };
  });
  return (a, threads) => {
    const r = a[rowsAt]!;
    let width = 1;
    for (const m of moving) if (m.per >= 0) width = Math.max(width, a[m.per]!);
    if (r * width < MIN_ELEMENTS) return null;
    const ranges = cuts(r, threads, 1);
    if (ranges.length < 2) return null;
    return ranges.map(([s, e]) => {
      const p = [...a];
      p[rowsAt] = e - s;
      for (const m of moving) {
        if (a[m.i] === 0) continue; // an optional buffer left out
        p[m.i] = a[m.i]! + s * (m.per >= 0 ? a[m.per]! : 1) * m.bytes;
      }
      return p;
    });
  };
}

function splitters(): Partial<Record<KernelName, Splitter>> {
  const out: Partial<Record<KernelName, Splitter>> = { sgemm: gemmSplitter() };
  for (const k of ['fill', 'scale', 'axpy', 'normalizeU8', 'reluForward', 'reluBackward', 'dropoutForward', 'dropoutBackward',
    'geluForward', 'geluBackward', 'addForward', 'sgdStep', 'adamwStep'] as const) out[k] = elementwiseSplitter(k);
  out.biasAdd = rowSplitter('biasAdd', 'rows', { y: 'cols' });
  out.argmaxRows = rowSplitter('argmaxRows', 'rows', { out: 1, x: 'cols' });
  out.softmaxRows = rowSplitter('softmaxRows', 'rows', { y: 'cols', x: 'cols' });
  out.logSoftmaxRows = rowSplitter('logSoftmaxRows', 'rows', { y: 'cols', x: 'cols' });
  out.softmaxBackward = rowSplitter('softmaxBackward', 'rows', { dx: 'cols', y: 'cols', dy: 'cols' });
  out.layerNormForward = rowSplitter('layerNormForward', 'rows', { y: 'D', saveMean: 1, saveRstd: 1, x: 'D' });
  out.embeddingForward = rowSplitter('embeddingForward', 'rows', { y: 'D', ids: 1 });
  return out;
}

/** The kernels that are cut across threads (for tests and the docs). */
export const PARALLEL_KERNELS = Object.keys(splitters()) as KernelName[];

/**
 * The raw kernels with the cuttable ones running on `pool`: each call is cut (or, if small,
 * run as is on this thread) and its parts run at once, part 0 on this thread.
 */
export function parallelKernels(raw: RawKernels, pool: ThreadPool): RawKernels {
  const out: Record<string, unknown> = { ...raw };
  const plans = splitters();
  for (const [name, split] of Object.entries(plans) as Array<[KernelName, Splitter]>) {
    const fn = raw[name] as unknown as (...a: number[]) => void;
    const k = KERNEL_NAMES.indexOf(name);
    const local = (p: readonly number[]): void => { fn(...p); };
    out[name] = (...args: number[]): void => {
      const parts = pool.isClosed || pool.suspended > 0 ? null : split(args, pool.size);
      if (!parts) fn(...args);
      else pool.run(k, parts, local);
    };
  }
  return out as unknown as RawKernels;
}
