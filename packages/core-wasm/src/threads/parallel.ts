// Which kernels run on several threads, and how each is cut (./pool.ts runs the parts).
//
// The rule that keeps the bits: a kernel is cut only along a dimension whose outputs are
// computed independently, so every output element is produced by exactly one thread by the
// same instructions, in the same order, as in the single-threaded call. Nothing is reduced
// across threads. Hence 1, 2, 4 or any number of threads give the same bits as the one-thread
// build, by construction (test/conformance/threads.test.ts checks it kernel by kernel,
// test/resume/threads.test.ts for whole training runs).
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
//   convolution forward,   whole images, cut on multiples of 8 images: an image's outputs
//   backward-data, pooling depend on that image only, and with 8 | the cut every tile of
//                          output pixels the kernels form across image boundaries (MR = 4
//                          or 2 pixels, assembly/kernels/conv.ts) is the same tile as in one
//                          call, and a pointwise layer's GEMM rows are cut on multiples of 8.
//                          Each part gets its own copy of the geometry struct with its B.
//   convolution            output channels (geometry slots 14-15, src/abi.ts), G == 1: the
//   backward-filter        sum for dw[.., o] runs over the whole batch in the same blocks
//                          and order whichever channels are computed beside it; cut on
//                          multiples of 8 (the pointwise kernel's vector blocks).
//
// How many parts: at least one per thread, more for a big call (up to PARTS_PER_THREAD per
// thread, ./protocol.ts), none much smaller than GEMM_PART_WORK / ELEMENT_PART /
// FILTER_PART_WORK (partCount). The threads take the parts in
// turn (./pool.ts), so a faster core takes more of them; where the cuts fall never changes a
// bit, by the rule above, so the part count is free to follow the thread count.
//
// Not cut: reductions across the batch (bias, batch-norm and layer-norm parameter gradients,
// the losses, embedding scatter-add, a depthwise layer's filter gradient), whose summation
// order would change, and small calls (below MIN_WORK) where waking a thread costs more than
// it saves.
import { CONV_GEOMETRY_INTS, GEOM, GEOM_FILTER_RANGE } from '../abi.js';
import { KERNELS, KERNEL_NAMES, type KernelName, type RawKernels } from '../kernels/list.js';
import type { BufferArg } from '../kernels/describe.js';
import { BYTES_PER_ELEMENT } from '../tensor.js';
import type { ThreadPool } from './pool.js';

/** Below this many multiply-adds (sgemm) or elements (the rest) a call stays on one thread. */
export const MIN_GEMM_WORK = 1 << 21;
export const MIN_ELEMENTS = 1 << 17;
const GEMM_CUT = 8, ELEMENT_CUT = 64, IMAGE_CUT = 8, CHANNEL_CUT = 8;
/**
 * The smallest part worth a part of its own, in multiply-adds (sgemm, convolutions) or elements
 * (the rest): each part repeats a little work (sgemm packs the operand it does not cut again),
 * measured about 2-5 % more for 8 parts of (128, 784, 800) than for one. The filter gradient's
 * parts each read the whole batch, so they are larger.
 */
const GEMM_PART_WORK = 1 << 22, ELEMENT_PART = 1 << 17, FILTER_PART_WORK = 1 << 22;

/** Threads in the pool and the most parts a call may have. */
export interface PartBudget { threads: number; maxParts: number }

/**
 * Parts for `work`: a multiple of the thread count (so that every thread owns as many,
 * ./protocol.ts), one per `partWork` or fewer, at most maxParts.
 */
export function partCount(work: number, partWork: number, b: PartBudget): number {
  const perThread = Math.floor(work / partWork / b.threads);
  return b.threads * Math.max(1, Math.min(b.maxParts / b.threads, perThread));
}

/** Where the parts' geometry copies go: `geoms` is one struct per part (maxParts), `i32` a view of memory. */
export interface GeometryArea { geoms: number; i32: () => Int32Array }

type Splitter = (args: readonly number[], budget: PartBudget, area: GeometryArea) => number[][] | null;

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
  return (a, budget) => {
    const [transA, transB, M, N, K, , A, lda, B, ldb, , C, ldc] = a as number[];
    const work = M! * N! * K!;
    if (work < MIN_GEMM_WORK) return null;
    // Each part packs all of the operand it does not cut: B (K x N) when cut by rows, A (M x K)
    // by columns. Cut the longer side, so the smaller operand is the one packed twice (a
    // forward X W with 128 rows and 800 columns: by columns, measured 1.3x faster on 2 threads).
    const byRows = M! >= N!;
    const ranges = cuts(byRows ? M! : N!, partCount(work, GEMM_PART_WORK, budget), GEMM_CUT);
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
  return (a, budget) => {
    const n = a[nAt]!;
    if (n < MIN_ELEMENTS) return null;
    const ranges = cuts(n, partCount(n, ELEMENT_PART, budget), ELEMENT_CUT);
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
  return (a, budget) => {
    const r = a[rowsAt]!;
    let width = 1;
    for (const m of moving) if (m.per >= 0) width = Math.max(width, a[m.per]!);
    if (r * width < MIN_ELEMENTS) return null;
    const ranges = cuts(r, partCount(r * width, ELEMENT_PART, budget), 1);
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

/** Copies the geometry at `src` to part i's slot, with the changes, and returns the copy's offset. */
function geometryCopy(area: GeometryArea, src: number, i: number, changes: Record<number, number>): number {
  const m = area.i32(), dst = area.geoms + i * CONV_GEOMETRY_INTS * 4;
  m.copyWithin(dst >>> 2, src >>> 2, (src >>> 2) + CONV_GEOMETRY_INTS);
  for (const [k, v] of Object.entries(changes)) m[(dst >>> 2) + Number(k)] = v;
  return dst;
}

/**
 * Whole images of a convolution or pooling kernel: `inputs`/`outputs` name the buffers shaped
 * like x (B,H,W,C) and like y (B,OH,OW,OC); `work` is the multiply-adds per output element.
 */
function imageSplitter(name: KernelName, inputs: string[], outputs: string[], pooling: boolean): Splitter {
  const geomAt = argIndex(name, 'geom');
  const inAt = inputs.map((n) => argIndex(name, n)), outAt = outputs.map((n) => argIndex(name, n));
  return (a, budget, area) => {
    const g = area.i32(), at = a[geomAt]! >>> 2;
    const B = g[at + GEOM.B]!, inImage = g[at + GEOM.H]! * g[at + GEOM.W]! * g[at + GEOM.C]!;
    const outImage = g[at + GEOM.OH]! * g[at + GEOM.OW]! * g[at + GEOM.OC]!;
    const work = pooling ? Math.max(inImage, outImage) : outImage * g[at + GEOM.KH]! * g[at + GEOM.KW]! * (g[at + GEOM.C]! / g[at + GEOM.G]!);
    if (B * work < (pooling ? MIN_ELEMENTS : MIN_GEMM_WORK)) return null;
    const ranges = cuts(B, partCount(B * work, pooling ? ELEMENT_PART : GEMM_PART_WORK, budget), IMAGE_CUT);
    if (ranges.length < 2) return null;
    return ranges.map(([s, e], i) => {
      const p = [...a];
      p[geomAt] = geometryCopy(area, a[geomAt]!, i, { [GEOM.B]: e - s });
      for (const k of inAt) p[k] = a[k]! + s * inImage * 4;
      for (const k of outAt) p[k] = a[k]! + s * outImage * 4;
      return p;
    });
  };
}

/** conv2dBackwardFilter: ranges of output channels (G == 1), each over the whole batch. */
function filterSplitter(): Splitter {
  const geomAt = argIndex('conv2dBackwardFilter', 'geom');
  return (a, budget, area) => {
    const g = area.i32(), at = a[geomAt]! >>> 2;
    if (g[at + GEOM.G] !== 1 || g[at + GEOM_FILTER_RANGE.ON] !== 0) return null;
    const OC = g[at + GEOM.OC]!;
    const work = g[at + GEOM.B]! * g[at + GEOM.OH]! * g[at + GEOM.OW]! * OC * g[at + GEOM.KH]! * g[at + GEOM.KW]! * g[at + GEOM.C]!;
    if (work < MIN_GEMM_WORK) return null;
    // Few channels: pairs, as the one-input-channel engine (assembly/kernels/conv_narrow.ts)
    // computes them; one channel alone gave other bits than its pair on the relaxed build.
    const ranges = cuts(OC, partCount(work, FILTER_PART_WORK, budget), OC >= 2 * CHANNEL_CUT ? CHANNEL_CUT : 2);
    if (ranges.length < 2) return null;
    return ranges.map(([s, e], i) => {
      const p = [...a];
      p[geomAt] = geometryCopy(area, a[geomAt]!, i, { [GEOM_FILTER_RANGE.O0]: s, [GEOM_FILTER_RANGE.ON]: e - s });
      return p;
    });
  };
}

/** globalAvgPool forward/backward: whole images (B rows of HW*C in, C out). */
function globalPoolSplitter(name: KernelName, image: string, pooled: string): Splitter {
  const [bAt, hwAt, cAt, iAt, oAt] = ['B', 'HW', 'C', image, pooled].map((n) => argIndex(name, n)) as [number, number, number, number, number];
  return (a, budget) => {
    const B = a[bAt]!, HW = a[hwAt]!, C = a[cAt]!;
    if (B * HW * C < MIN_ELEMENTS) return null;
    const ranges = cuts(B, partCount(B * HW * C, ELEMENT_PART, budget), 1);
    if (ranges.length < 2) return null;
    return ranges.map(([s, e]) => {
      const p = [...a];
      p[bAt] = e - s;
      p[iAt] = a[iAt]! + s * HW * C * 4;
      p[oAt] = a[oAt]! + s * C * 4;
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
  out.conv2dForward = imageSplitter('conv2dForward', ['x'], ['y'], false);
  out.conv2dBackwardData = imageSplitter('conv2dBackwardData', ['dx'], ['dy'], false);
  out.conv2dBackwardFilter = filterSplitter();
  out.maxPool2dForward = imageSplitter('maxPool2dForward', ['x'], ['y', 'argmax'], true);
  out.maxPool2dBackward = imageSplitter('maxPool2dBackward', ['dx'], ['dy', 'argmax'], true);
  out.avgPool2dForward = imageSplitter('avgPool2dForward', ['x'], ['y'], true);
  out.avgPool2dBackward = imageSplitter('avgPool2dBackward', ['dx'], ['dy'], true);
  out.globalAvgPoolForward = globalPoolSplitter('globalAvgPoolForward', 'x', 'y');
  out.globalAvgPoolBackward = globalPoolSplitter('globalAvgPoolBackward', 'dx', 'dy');
  return out;
}

/** The kernels that are cut across threads (for tests and the docs). */
export const PARALLEL_KERNELS = Object.keys(splitters()) as KernelName[];

/**
 * The raw kernels with the cuttable ones running on `pool`: each call is cut (or, if small,
 * run as is on this thread) and its parts are run by all the threads, this one included.
 */
export function parallelKernels(raw: RawKernels, pool: ThreadPool, area: GeometryArea): RawKernels {
  const out: Record<string, unknown> = { ...raw };
  const plans = splitters();
  const budget: PartBudget = { threads: pool.size, maxParts: pool.maxParts };
  for (const [name, split] of Object.entries(plans) as Array<[KernelName, Splitter]>) {
    const fn = raw[name] as unknown as (...a: number[]) => void;
    const k = KERNEL_NAMES.indexOf(name);
    const local = (p: readonly number[]): void => { fn(...p); };
    out[name] = (...args: number[]): void => {
      const parts = pool.isClosed || pool.suspended > 0 ? null : split(args, budget, area);
      if (!parts) fn(...args);
      else pool.run(k, parts, local);
    };
  }
  return out as unknown as RawKernels;
}
