// Core: one backend's kernels over one linear memory, with an arena and a typed,
// validated API. The validated methods check every argument (sizes, extents, live
// tensors, temperatures, weights, labels) before calling the raw kernel, so a wrong
// size is a RangeError naming the argument, never a silent write into another tensor.
// `core.kernels` is the unchecked raw ABI (src/abi.ts) for hot loops that have
// validated their plan once.

import { CONV_GEOMETRY_INTS, GEMM_I8_MAX_K, packedI8Bytes, type Ptr } from './abi.js';
import type { RawKernels } from './kernels/list.js';
import { checkedKernels, type CheckedKernels } from './kernels/checked.js';
import { Arena } from './arena.js';
import type { ThreadPool } from './threads/pool.js';
import { parallelKernels } from './threads/parallel.js';
import { BYTES_PER_ELEMENT, MemoryViews, Tensor, type DType, type TensorOwner } from './tensor.js';
import {
  checkFinite, checkPositive, checkRange, checkSize, checkTemperature, checkUnit, stridedExtent,
} from './validate.js';
import { kdLossConvenience, matmulConvenience, softmaxConvenience, type KdLossArgs, type KdLossResult, type MatmulOptions, type SoftmaxOptions } from './convenience.js';

export type BackendName = 'simd' | 'scalar' | 'js' | 'relaxed';

/** A tensor, or a raw byte offset that must lie inside a live allocation. */
export type Ref = Tensor | number;

export interface GemmStrides { lda?: number; ldb?: number; ldc?: number }

export interface DistillationLossOptions {
  temperature: number;
  alpha: number;
  /** Multiply the soft term by T^2 (Hinton et al.); default true. */
  scaleT2?: boolean;
  /** The gradient accumulated into dz is gradScale * dL/dz; default 1. */
  gradScale?: number;
}

export interface SgdOptions { lr: number; momentum?: number; weightDecay?: number; nesterov?: boolean }
export interface AdamWOptions { lr: number; beta1?: number; beta2?: number; eps?: number; weightDecay?: number; step: number }

export class Core implements TensorOwner {
  readonly views: MemoryViews;
  /**
   * Every kernel with its arguments checked against its descriptor (kernels/list.ts) before the
   * call: tensors or offsets inside live allocations of the right type and extent, sizes,
   * flags and scalars in range. Same arguments as the raw kernel; a Tensor may stand for a pointer.
   */
  get ops(): CheckedKernels { return this.checked; }
  /** The raw, unchecked kernels (byte offsets, no validation); the parallel ones when threads > 1. */
  get kernels(): RawKernels { return this.raw; }
  private checked: CheckedKernels;
  private raw: RawKernels;
  private readonly arena: Arena;
  private pool: ThreadPool | null = null;

  constructor(
    /** The backend actually running: 'simd', 'scalar' or 'js'. */
    readonly backend: BackendName,
    kernels: RawKernels,
    readonly memory: WebAssembly.Memory,
  ) {
    this.raw = kernels;
    this.views = new MemoryViews(memory);
    this.arena = new Arena(memory, kernels.heapBase());
    this.checked = checkedKernels(this, kernels);
  }

  /** Threads the kernels run on: 1, or the size of the pool (loader.ts) while it is open. */
  get threads(): number { return this.pool && !this.pool.isClosed ? this.pool.size : 1; }

  /** Kernel calls so far that ran in parts on several threads (0 on one thread). */
  get parallelCalls(): number { return this.pool?.parallelCalls ?? 0; }
  /** Parts of those calls each thread has run (index 0: this thread); [] on one thread. */
  partsRun(): number[] { return this.pool?.partsRun() ?? []; }

  /** Called once by the loader: the big kernels run on `pool` from now on (threads/parallel.ts). */
  useThreads(pool: ThreadPool): void {
    if (this.pool) throw new Error('useThreads: this core already has a thread pool');
    this.pool = pool;
    // one geometry struct per part of a convolution call (threads/parallel.ts)
    const geoms = this.allocI32(pool.maxParts * CONV_GEOMETRY_INTS);
    this.raw = parallelKernels(this.raw, pool, { geoms: geoms.ptr, i32: () => this.views.i32 });
    this.checked = checkedKernels(this, this.raw);
  }

  /**
   * Runs `fn` (sync, or until its promise settles) with every kernel on this thread alone, e.g.
   * to time latency at batch 1, where waking helpers costs more than it gains. Same bits.
   */
  oneThread<T>(fn: () => T): T {
    const pool = this.pool;
    if (!pool) return fn();
    pool.suspended++;
    let result: T;
    try {
      result = fn();
    } catch (e) {
      pool.suspended--;
      throw e;
    }
    if (result instanceof Promise) {
      return result.finally(() => { pool.suspended--; }) as T;
    }
    pool.suspended--;
    return result;
  }

  /**
   * Stops the helper threads (if any); the core keeps working on this thread alone, with the
   * same bits. Idempotent. A command ends with it, and a run that is stopped.
   */
  close(): void {
    this.pool?.close();
  }

  // ---- memory -------------------------------------------------------------------------

  /** A zero-filled f32 tensor of n elements in module memory. */
  alloc(n: number): Tensor<'f32'> { return this.allocOf('f32', n); }
  allocI32(n: number): Tensor<'i32'> { return this.allocOf('i32', n); }
  allocU8(n: number): Tensor<'u8'> { return this.allocOf('u8', n); }
  allocI8(n: number): Tensor<'i8'> { return this.allocOf('i8', n); }

  allocOf<D extends DType>(dtype: D, n: number): Tensor<D> {
    checkSize('alloc', 'length', n);
    const bytes = n * BYTES_PER_ELEMENT[dtype];
    const { ptr, generation } = this.arena.alloc(bytes);
    this.views.u8.fill(0, ptr, ptr + Math.max(16, Math.ceil(bytes / 16) * 16));
    return new Tensor(this, ptr, n, dtype, generation);
  }

  /** An f32 tensor holding a copy of `values`. */
  fromArray(values: ArrayLike<number>): Tensor<'f32'> {
    return this.alloc(values.length).set(values);
  }

  free(t: Tensor): void {
    if (!(t instanceof Tensor)) throw new RangeError('free: argument is not a tensor');
    if (!t.isOwnedBy(this)) throw new RangeError('free: tensor belongs to another core');
    if (!this.isLive(t)) throw new RangeError(`free: tensor at offset ${t.ptr} was already freed`);
    this.arena.release(t.ptr);
  }

  /** True for a tensor this core allocated and has not freed (a tensor of another core is never live here). */
  isLive(t: Tensor): boolean {
    return t.isOwnedBy(this) && this.arena.generationOf(t.ptr) === t.generation;
  }

  /** Bytes currently allocated through this core. */
  get bytesInUse(): number { return this.arena.bytesInUse; }

  /**
   * Resolves a tensor or raw offset to a byte offset after checking that `elems`
   * elements of `dtype` starting there lie inside one live allocation (a RangeError naming
   * `op` and `name` otherwise). Used by every validated wrapper.
   */
  resolve(op: string, name: string, ref: Ref, elems: number, dtype: DType): Ptr {
    const bpe = BYTES_PER_ELEMENT[dtype];
    if (ref instanceof Tensor) {
      if (!ref.isOwnedBy(this)) throw new RangeError(`${op}: ${name} belongs to another core`);
      if (!this.isLive(ref)) throw new RangeError(`${op}: ${name} is a freed tensor (offset ${ref.ptr})`);
      // i32/u32 are interchangeable (the kernels only move their bits); f32, and signed vs
      // unsigned bytes, are not: an i8 tensor where u8 pixels go (or the reverse) is a mistake.
      if (BYTES_PER_ELEMENT[ref.dtype] !== bpe || (dtype === 'f32') !== (ref.dtype === 'f32')
          || (dtype === 'i8') !== (ref.dtype === 'i8')) {
        throw new RangeError(`${op}: ${name} must be a ${dtype} tensor, got ${ref.dtype}`);
      }
      if (elems > ref.length) {
        throw new RangeError(`${op}: ${name} holds ${ref.length} elements but the sizes need ${elems}`);
      }
      return ref.ptr;
    }
    if (typeof ref !== 'number' || !Number.isInteger(ref) || ref < 0 || ref % bpe !== 0) {
      throw new RangeError(`${op}: ${name} must be a tensor or a ${bpe}-byte aligned offset, got ${String(ref)}`);
    }
    const region = this.arena.regionContaining(ref);
    if (!region) throw new RangeError(`${op}: ${name} offset ${ref} is not inside a live allocation`);
    if (ref + elems * bpe > region.end) {
      const room = Math.floor((region.end - ref) / bpe);
      throw new RangeError(`${op}: ${name} at offset ${ref} has room for ${room} elements but the sizes need ${elems}`);
    }
    return ref;
  }

  private f32(op: string, name: string, ref: Ref, elems: number): Ptr { return this.resolve(op, name, ref, elems, 'f32'); }

  private labels(op: string, ref: Ref, rows: number, cols: number): Ptr {
    const ptr = this.resolve(op, 'labels', ref, rows, 'i32');
    const view = this.views.i32;
    const base = ptr >>> 2;
    for (let r = 0; r < rows; r++) {
      const y = view[base + r]!;
      if (y < 0 || y >= cols) throw new RangeError(`${op}: labels[${r}] = ${y} is outside [0, ${cols})`);
    }
    return ptr;
  }

  // ---- GEMM -----------------------------------------------------------------------------

  /**
   * C = alpha * op(A) * op(B) + beta * C, row-major, BLAS order. op(A) is m x k (A stored k x m
   * when transA), op(B) is k x n (B stored n x k when transB). Strides default to tight packing.
   */
  sgemm(transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
        a: Ref, b: Ref, beta: number, c: Ref, strides: GemmStrides = {}): void {
    const op = 'sgemm';
    checkSize(op, 'm', m); checkSize(op, 'n', n); checkSize(op, 'k', k);
    checkFinite(op, 'alpha', alpha); checkFinite(op, 'beta', beta);
    const [aRows, aCols] = transA ? [k, m] : [m, k];
    const [bRows, bCols] = transB ? [n, k] : [k, n];
    const lda = strides.lda ?? Math.max(1, aCols);
    const ldb = strides.ldb ?? Math.max(1, bCols);
    const ldc = strides.ldc ?? Math.max(1, n);
    checkSize(op, 'lda', lda); checkSize(op, 'ldb', ldb); checkSize(op, 'ldc', ldc);
    if (lda < Math.max(1, aCols)) throw new RangeError(`${op}: lda = ${lda} is smaller than A's row length ${aCols}`);
    if (ldb < Math.max(1, bCols)) throw new RangeError(`${op}: ldb = ${ldb} is smaller than B's row length ${bCols}`);
    if (ldc < Math.max(1, n)) throw new RangeError(`${op}: ldc = ${ldc} is smaller than C's row length ${n}`);
    const pa = this.f32(op, 'A', a, stridedExtent(aRows, aCols, lda));
    const pb = this.f32(op, 'B', b, stridedExtent(bRows, bCols, ldb));
    const pc = this.f32(op, 'C', c, stridedExtent(m, n, ldc));
    this.kernels.sgemm(transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
  }

  // ---- elementwise --------------------------------------------------------------------------

  fill(x: Ref, n: number, value: number): void {
    checkSize('fill', 'n', n);
    this.kernels.fill(this.f32('fill', 'x', x, n), n, value);
  }

  scale(x: Ref, n: number, alpha: number): void {
    checkSize('scale', 'n', n);
    this.kernels.scale(this.f32('scale', 'x', x, n), n, alpha);
  }

  /** y += alpha * x */
  axpy(y: Ref, x: Ref, n: number, alpha: number): void {
    checkSize('axpy', 'n', n);
    this.kernels.axpy(this.f32('axpy', 'y', y, n), this.f32('axpy', 'x', x, n), n, alpha);
  }

  /** y = (x / 255 - mean) / std for u8 pixels x; mean 0, std 1 gives x / 255. */
  normalizeU8(y: Ref, x: Ref, n: number, mean = 0, std = 1): void {
    const op = 'normalizeU8';
    checkSize(op, 'n', n); checkFinite(op, 'mean', mean); checkPositive(op, 'std', std);
    this.kernels.normalizeU8(this.f32(op, 'y', y, n), this.resolve(op, 'x', x, n, 'u8'), n, mean, std);
  }

  /** out[r] = argmax of row r (i32). */
  argmaxRows(out: Ref, x: Ref, rows: number, cols: number): void {
    const op = 'argmaxRows';
    checkSize(op, 'rows', rows); checkSize(op, 'cols', cols);
    if (cols === 0 && rows > 0) throw new RangeError(`${op}: cols must be > 0`);
    this.kernels.argmaxRows(this.resolve(op, 'out', out, rows, 'i32'), this.f32(op, 'x', x, rows * cols), rows, cols);
  }

  // ---- layers ---------------------------------------------------------------------------------

  biasAdd(y: Ref, b: Ref, rows: number, cols: number): void {
    const op = 'biasAdd';
    checkSize(op, 'rows', rows); checkSize(op, 'cols', cols);
    this.kernels.biasAdd(this.f32(op, 'y', y, rows * cols), this.f32(op, 'b', b, cols), rows, cols);
  }

  biasBackward(db: Ref, dy: Ref, rows: number, cols: number): void {
    const op = 'biasBackward';
    checkSize(op, 'rows', rows); checkSize(op, 'cols', cols);
    this.kernels.biasBackward(this.f32(op, 'db', db, cols), this.f32(op, 'dy', dy, rows * cols), rows, cols);
  }

  reluForward(y: Ref, x: Ref, n: number): void {
    checkSize('reluForward', 'n', n);
    this.kernels.reluForward(this.f32('reluForward', 'y', y, n), this.f32('reluForward', 'x', x, n), n);
  }

  reluBackward(dx: Ref, dy: Ref, y: Ref, n: number): void {
    const op = 'reluBackward';
    checkSize(op, 'n', n);
    this.kernels.reluBackward(this.f32(op, 'dx', dx, n), this.f32(op, 'dy', dy, n), this.f32(op, 'y', y, n), n);
  }

  dropoutMask(mask: Ref, rng: Ref, n: number, p: number): void {
    const op = 'dropoutMask';
    checkSize(op, 'n', n); checkRange(op, 'p', p, 0, 1, true);
    this.kernels.dropoutMask(this.f32(op, 'mask', mask, n), this.rngPtr(op, rng), n, p);
  }

  dropoutForward(y: Ref, x: Ref, mask: Ref, n: number): void {
    const op = 'dropoutForward';
    checkSize(op, 'n', n);
    this.kernels.dropoutForward(this.f32(op, 'y', y, n), this.f32(op, 'x', x, n), this.f32(op, 'mask', mask, n), n);
  }

  dropoutBackward(dx: Ref, dy: Ref, mask: Ref, n: number): void {
    const op = 'dropoutBackward';
    checkSize(op, 'n', n);
    this.kernels.dropoutBackward(this.f32(op, 'dx', dx, n), this.f32(op, 'dy', dy, n), this.f32(op, 'mask', mask, n), n);
  }

  // ---- softmax ----------------------------------------------------------------------------------

  softmaxRows(y: Ref, x: Ref, rows: number, cols: number, temperature = 1): void {
    const [py, px] = this.rowsIO('softmaxRows', y, x, rows, cols, temperature);
    this.kernels.softmaxRows(py, px, rows, cols, temperature);
  }

  logSoftmaxRows(y: Ref, x: Ref, rows: number, cols: number, temperature = 1): void {
    const [py, px] = this.rowsIO('logSoftmaxRows', y, x, rows, cols, temperature);
    this.kernels.logSoftmaxRows(py, px, rows, cols, temperature);
  }

  /** dx += y * (dy - <dy, y>) / T, with y = softmax(x / T) the forward output. */
  softmaxBackward(dx: Ref, y: Ref, dy: Ref, rows: number, cols: number, temperature = 1): void {
    const op = 'softmaxBackward';
    const [pdx, py] = this.rowsIO(op, dx, y, rows, cols, temperature);
    this.kernels.softmaxBackward(pdx, py, this.f32(op, 'dy', dy, rows * cols), rows, cols, temperature);
  }

  private rowsIO(op: string, y: Ref, x: Ref, rows: number, cols: number, T: number): [Ptr, Ptr] {
    checkSize(op, 'rows', rows); checkSize(op, 'cols', cols); checkTemperature(op, T);
    return [this.f32(op, 'y', y, rows * cols), this.f32(op, 'x', x, rows * cols)];
  }

  // ---- losses (batch mean; gradients accumulate gradScale * dL/dinput into d…) ------------------------

  crossEntropy(dz: Ref | null, z: Ref, labels: Ref, rows: number, cols: number, gradScale = 1): number {
    const op = 'crossEntropy';
    this.lossSizes(op, rows, cols);
    const pz = this.f32(op, 'z', z, rows * cols);
    const pdz = this.gradPtr(op, dz, rows * cols, gradScale);
    return this.kernels.crossEntropy(pdz, pz, this.labels(op, labels, rows, cols), rows, cols, dz === null ? 0 : gradScale);
  }

  /** Batch-mean KL(softmax(v/T) || softmax(z/T)); v teacher, z student. No T^2 factor. */
  klDivergence(dz: Ref | null, z: Ref, v: Ref, rows: number, cols: number, temperature: number, gradScale = 1): number {
    const op = 'klDivergence';
    this.lossSizes(op, rows, cols); checkTemperature(op, temperature);
    const pz = this.f32(op, 'z', z, rows * cols);
    const pv = this.f32(op, 'v', v, rows * cols);
    const pdz = this.gradPtr(op, dz, rows * cols, gradScale);
    return this.kernels.klDivergence(pdz, pz, pv, rows, cols, temperature, dz === null ? 0 : gradScale);
  }

  /**
   * The fused distillation loss on tensors (see abi.ts kdLoss):
   * (1 - alpha) * CE(y, softmax(z)) + alpha * T^2 * KL(softmax(v/T) || softmax(z/T)).
   * `alpha` weights the soft (teacher) term, `1 - alpha` the hard (label) term.
   */
  distillationLoss(dz: Ref | null, z: Ref, v: Ref, labels: Ref | null, rows: number, cols: number,
                   opts: DistillationLossOptions): number {
    const op = 'distillationLoss';
    this.lossSizes(op, rows, cols);
    const T = checkTemperature(op, opts.temperature);
    const alpha = checkUnit(op, 'alpha', opts.alpha);
    const gradScale = opts.gradScale ?? 1;
    checkFinite(op, 'gradScale', gradScale);
    const pz = this.f32(op, 'z', z, rows * cols);
    const pv = this.f32(op, 'v', v, rows * cols);
    let py = 0;
    if (alpha < 1) {
      if (labels === null) throw new RangeError(`${op}: labels are required when alpha < 1 (alpha = ${alpha})`);
      py = this.labels(op, labels, rows, cols);
    }
    const pdz = this.gradPtr(op, dz, rows * cols, gradScale);
    return this.kernels.kdLoss(pdz, pz, pv, py, rows, cols, T, alpha, opts.scaleT2 === false ? 0 : 1, dz === null ? 0 : gradScale);
  }

  mseLoss(dp: Ref | null, p: Ref, t: Ref, n: number, gradScale = 1): number {
    const op = 'mseLoss';
    checkSize(op, 'n', n);
    if (n === 0) throw new RangeError(`${op}: n must be > 0`);
    const pp = this.f32(op, 'p', p, n);
    const pt = this.f32(op, 't', t, n);
    return this.kernels.mseLoss(this.gradPtr(op, dp, n, gradScale), pp, pt, n, dp === null ? 0 : gradScale);
  }

  smoothL1Loss(dp: Ref | null, p: Ref, t: Ref, n: number, gradScale = 1): number {
    const op = 'smoothL1Loss';
    checkSize(op, 'n', n);
    if (n === 0) throw new RangeError(`${op}: n must be > 0`);
    const pp = this.f32(op, 'p', p, n);
    const pt = this.f32(op, 't', t, n);
    return this.kernels.smoothL1Loss(this.gradPtr(op, dp, n, gradScale), pp, pt, n, dp === null ? 0 : gradScale);
  }

  private lossSizes(op: string, rows: number, cols: number): void {
    checkSize(op, 'rows', rows); checkSize(op, 'cols', cols);
    if (rows === 0) throw new RangeError(`${op}: rows must be > 0 (the loss is a batch mean)`);
    if (cols === 0) throw new RangeError(`${op}: cols must be > 0`);
  }

  private gradPtr(op: string, d: Ref | null, elems: number, gradScale: number): Ptr {
    checkFinite(op, 'gradScale', gradScale);
    return d === null ? 0 : this.f32(op, 'gradient', d, elems);
  }

  // ---- optimizers -------------------------------------------------------------------------------

  sgdStep(params: Ref, velocity: Ref, grads: Ref, n: number, o: SgdOptions): void {
    const op = 'sgdStep';
    checkSize(op, 'n', n);
    const lr = checkFinite(op, 'lr', o.lr);
    const momentum = checkRange(op, 'momentum', o.momentum ?? 0, 0, 1);
    const wd = checkFinite(op, 'weightDecay', o.weightDecay ?? 0);
    this.kernels.sgdStep(this.f32(op, 'params', params, n), this.f32(op, 'velocity', velocity, n),
      this.f32(op, 'grads', grads, n), n, lr, momentum, wd, o.nesterov ? 1 : 0);
  }

  adamwStep(params: Ref, m: Ref, v: Ref, grads: Ref, n: number, o: AdamWOptions): void {
    const op = 'adamwStep';
    checkSize(op, 'n', n);
    const lr = checkFinite(op, 'lr', o.lr);
    const b1 = checkRange(op, 'beta1', o.beta1 ?? 0.9, 0, 1, true);
    const b2 = checkRange(op, 'beta2', o.beta2 ?? 0.999, 0, 1, true);
    const eps = checkPositive(op, 'eps', o.eps ?? 1e-8);
    const wd = checkFinite(op, 'weightDecay', o.weightDecay ?? 0);
    if (!Number.isInteger(o.step) || o.step < 1) throw new RangeError(`${op}: step must be an integer >= 1, got ${String(o.step)}`);
    this.kernels.adamwStep(this.f32(op, 'params', params, n), this.f32(op, 'm', m, n), this.f32(op, 'v', v, n),
      this.f32(op, 'grads', grads, n), n, lr, b1, b2, eps, wd, o.step);
  }

  /**
   * Max-norm constraint: w is (rows, cols) = (IN, OUT); every column (a unit's incoming weights)
   * whose L2 norm exceeds maxNorm is scaled down to norm maxNorm.
   */
  maxNormColumns(w: Ref, rows: number, cols: number, maxNorm: number): void {
    const op = 'maxNormColumns';
    checkSize(op, 'rows', rows); checkSize(op, 'cols', cols); checkPositive(op, 'maxNorm', maxNorm);
    this.kernels.maxNormColumns(this.f32(op, 'w', w, rows * cols), rows, cols, maxNorm);
  }

  // ---- PRNG -------------------------------------------------------------------------------------

  /** A xoshiro128** generator state (4 x u32 in module memory) seeded from an integer seed. */
  createRng(seed: number): Tensor<'u32'> {
    const rng = this.allocOf('u32', 4);
    this.rngSeed(rng, seed);
    return rng;
  }

  /** Re-seeds `rng` from an integer seed in [0, 2^53). */
  rngSeed(rng: Ref, seed: number): void {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`rngSeed: seed must be a non-negative safe integer, got ${String(seed)}`);
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 4294967296) >>> 0;
    this.kernels.rngSeed(this.rngPtr('rngSeed', rng), lo, hi);
  }

  rngUint32(out: Ref, rng: Ref, n: number): void {
    checkSize('rngUint32', 'n', n);
    this.kernels.rngUint32(this.resolve('rngUint32', 'out', out, n, 'u32'), this.rngPtr('rngUint32', rng), n);
  }

  rngUniform(out: Ref, rng: Ref, n: number, lo = 0, hi = 1): void {
    const op = 'rngUniform';
    checkSize(op, 'n', n); checkFinite(op, 'lo', lo); checkFinite(op, 'hi', hi);
    this.kernels.rngUniform(this.f32(op, 'out', out, n), this.rngPtr(op, rng), n, lo, hi);
  }

  rngNormal(out: Ref, rng: Ref, n: number, mean = 0, std = 1): void {
    const op = 'rngNormal';
    checkSize(op, 'n', n); checkFinite(op, 'mean', mean); checkFinite(op, 'std', std);
    this.kernels.rngNormal(this.f32(op, 'out', out, n), this.rngPtr(op, rng), n, mean, std);
  }

  private rngPtr(op: string, rng: Ref): Ptr {
    return this.resolve(op, 'rng', rng, 4, 'u32');
  }

  // ---- int8 inference (abi.ts "int8 inference": symmetric quantization, exact int32 GEMM) -------

  /**
   * Symmetric per-output-channel int8 weights: W (rows, cols) = (IN, OUT) f32 -> q (rows, cols) i8
   * and scales (cols) f32 with W ~ q[i, j] * scales[j], scales[j] = max_i |W[i, j]| / 127 (1 for an
   * all-zero column). W must be finite.
   */
  quantizeWeightsI8(q: Ref, scales: Ref, w: Ref, rows: number, cols: number): void {
    const op = 'quantizeWeightsI8';
    checkSize(op, 'rows', rows); checkSize(op, 'cols', cols);
    const pq = this.resolve(op, 'q', q, rows * cols, 'i8');
    const ps = this.f32(op, 'scales', scales, cols);
    const pw = this.f32(op, 'w', w, rows * cols);
    const f = this.views.f32;
    for (let i = pw >>> 2, end = i + rows * cols; i < end; i++) {
      if (!Number.isFinite(f[i]!)) throw new RangeError(`${op}: w[${i - (pw >>> 2)}] = ${f[i]} is not finite`);
    }
    this.kernels.quantizeWeightsI8(pq, ps, pw, rows, cols);
  }

  /**
   * Per-tensor int8 activations: q[i] = clamp(round_half_away(x[i] / scale), -127, 127); values
   * beyond 127 * scale saturate, NaN becomes 0. `scale` must be a finite f32 > 0.
   */
  quantizeI8(q: Ref, x: Ref, n: number, scale: number): void {
    const op = 'quantizeI8';
    checkSize(op, 'n', n); checkI8Scale(op, 'scale', scale);
    this.kernels.quantizeI8(this.resolve(op, 'q', q, n, 'i8'), this.f32(op, 'x', x, n), n, scale);
  }

  /** Packs int8 weights b (k, n) into gemmI8's layout; `packed` holds packedI8Bytes(k, n) i8. */
  packWeightsI8(packed: Ref, b: Ref, k: number, n: number): void {
    const op = 'packWeightsI8';
    checkSize(op, 'k', k); checkSize(op, 'n', n);
    const pp = this.resolve(op, 'packed', packed, packedI8Bytes(k, n), 'i8');
    this.kernels.packWeightsI8(pp, this.resolve(op, 'b', b, k * n, 'i8'), k, n);
  }

  /** c (m, n) i32 = a (m, k) i8 . B, with B (k, n) packed by packWeightsI8. Exact; k <= 131071. */
  gemmI8(c: Ref, a: Ref, packed: Ref, m: number, n: number, k: number): void {
    const op = 'gemmI8';
    checkSize(op, 'm', m); checkSize(op, 'n', n); checkSize(op, 'k', k);
    if (k > GEMM_I8_MAX_K) throw new RangeError(`${op}: k = ${k} exceeds ${GEMM_I8_MAX_K}, beyond which int32 accumulators could overflow`);
    const pc = this.resolve(op, 'c', c, m * n, 'i32');
    const pa = this.resolve(op, 'a', a, m * k, 'i8');
    const pp = this.resolve(op, 'packed', packed, m > 0 ? packedI8Bytes(k, n) : 0, 'i8');
    this.kernels.gemmI8(pc, pa, pp, m, n, k);
  }

  /**
   * y (rows, cols) f32 = acc (rows, cols) i32 * (inputScale * scales[j]) + bias[j] (bias null: none),
   * then ReLU with `relu: true`. To dequantize in place pass acc's offset as y (acc.ptr).
   */
  dequantizeI8(y: Ref, acc: Ref, scales: Ref, bias: Ref | null, rows: number, cols: number, inputScale: number,
               opts: { relu?: boolean } = {}): void {
    const op = 'dequantizeI8';
    checkSize(op, 'rows', rows); checkSize(op, 'cols', cols); checkI8Scale(op, 'inputScale', inputScale);
    const py = this.f32(op, 'y', y, rows * cols);
    const pa = this.resolve(op, 'acc', acc, rows * cols, 'i32');
    const ps = this.f32(op, 'scales', scales, cols);
    const pb = bias === null ? 0 : this.f32(op, 'bias', bias, cols);
    this.kernels.dequantizeI8(py, pa, ps, pb, rows, cols, inputScale, opts.relu ? 1 : 0);
  }

  // ---- convenience forms on plain Float32Arrays ------------------------------------------------------

  /** [m, n] = op(A) op(B); with transA, A is stored [k, m]; with transB, B is stored [n, k]. */
  matmul(A: Float32Array, B: Float32Array, m: number, k: number, n: number, opts: MatmulOptions = {}): Float32Array {
    return matmulConvenience(this, A, B, m, k, n, opts);
  }

  /** Row-wise softmax(logits / T) (or log-softmax with `log: true`). */
  softmax(logits: Float32Array, rows: number, cols: number, opts: SoftmaxOptions = {}): Float32Array {
    return softmaxConvenience(this, logits, rows, cols, opts);
  }

  /** The fused distillation loss: batch-mean loss and dL/dstudent. */
  kdLoss(args: KdLossArgs): KdLossResult {
    return kdLossConvenience(this, args);
  }
}

/** A scale the int8 kernels receive as f32: finite and > 0 after rounding to f32. */
function checkI8Scale(op: string, name: string, v: unknown): number {
  const f = typeof v === 'number' ? Math.fround(v) : NaN;
  if (!(f > 0 && Number.isFinite(f))) {
    throw new RangeError(`${op}: ${name} must be a finite number > 0 that is not 0 or Infinity as f32, got ${String(v)}`);
  }
  return v as number;
}
