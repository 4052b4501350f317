// THE list of kernels: one descriptor per kernel (./describe.ts). From it come the raw-kernel
// type (RawKernels), the name list the loader checks the wasm exports against (KERNEL_NAMES),
// the js backend (createJsKernels) and the validated wrappers (core.ops). Adding a kernel
// means: its AssemblyScript file under assembly/kernels/ (and its export in assembly/index.ts),
// its js implementation under backends/js/, and one entry here.
//
// ABI conventions (argument order, accumulation, pointers) are stated once in ../abi.ts.

import { GEMM_I8_MAX_K, packedI8Bytes } from '../abi.js';
import { JS_HEAP_BASE } from '../backends/js/memory.js';
import { sgemm } from '../backends/js/gemm.js';
import { fill, scale, axpy, normalizeU8, argmaxRows } from '../backends/js/elementwise.js';
import { biasAdd, biasBackward } from '../backends/js/bias.js';
import { reluForward, reluBackward } from '../backends/js/relu.js';
import { dropoutMask, dropoutForward, dropoutBackward } from '../backends/js/dropout.js';
import { softmaxRows, logSoftmaxRows, softmaxBackward } from '../backends/js/softmax.js';
import { crossEntropy } from '../backends/js/cross_entropy.js';
import { klDivergence } from '../backends/js/kl_divergence.js';
import { kdLoss } from '../backends/js/kd_loss.js';
import { mseLoss, smoothL1Loss } from '../backends/js/regression.js';
import { sgdStep, adamwStep } from '../backends/js/optim.js';
import { maxNormColumns } from '../backends/js/max_norm.js';
import { rngSeed, rngUint32, rngUniform, rngNormal } from '../backends/js/rng.js';
import { peakProbe, peakProbeFlopsPerIter } from '../backends/js/probe.js';
import { quantizeWeightsI8, quantizeI8, packWeightsI8, gemmI8, dequantizeI8 } from '../backends/js/int8.js';
import type { HeapViews } from '../backends/js/memory.js';
import {
  f32, finite, flag, i32, i8, kernel, number, positive, rate, size, u32, u8, unit,
  type KernelDescriptor, type RawOf, type Sizes,
} from './describe.js';

const strided = (rows: number, cols: number, ld: number): number => (rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols);
const rc = (s: Sizes): number => s.rows! * s.cols!;
const n = (s: Sizes): number => s.n!;
const cols = (s: Sizes): number => s.cols!;
const rows = (s: Sizes): number => s.rows!;
const four = (): number => 4;

const labelsInRange = (op: string) => (s: Sizes, views: import('../tensor.js').MemoryViews, p: Readonly<Record<string, number>>): Record<string, number> => {
  const ptr = p.labels!;
  if (ptr === 0) return {};
  const v = views.i32;
  for (let r = 0; r < s.rows!; r++) {
    const y = v[(ptr >>> 2) + r]!;
    if (y < 0 || y >= s.cols!) throw new RangeError(`${op}: labels[${r}] = ${y} is outside [0, ${s.cols})`);
  }
  return {};
};

const baseKernels = {
  // ---- memory, GEMM, elementwise, dense-layer helpers -------------------------------------------
  heapBase: kernel((_heap: HeapViews): number => JS_HEAP_BASE,
    'First byte after the module\'s static data and scratch; the arena starts here.', []),

  sgemm: kernel(sgemm,
    'C = alpha * op(A) * op(B) + beta * C, row-major, BLAS argument order. op(A) is M x K: A is ' +
    'stored M x K (lda >= K) or, with transA, K x M (lda >= M). op(B) is K x N: B is stored K x N ' +
    '(ldb >= N) or, with transB, N x K (ldb >= K). C is M x N with ldc >= N. transA/transB are 0 or ' +
    '1. beta == 0 means C is overwritten (its old contents, even NaN, are ignored). M, N or K of 0 is ' +
    'legal. With K == 0 or alpha == 0, A and B are not read and C = beta * C (as in BLAS: an Inf in A ' +
    'cannot turn C into NaN).', [
    flag('transA'), flag('transB'), size('M'), size('N'), size('K'), finite('alpha'),
    f32('A', (s) => (s.transA ? strided(s.K!, s.M!, s.lda!) : strided(s.M!, s.K!, s.lda!))), size('lda'),
    f32('B', (s) => (s.transB ? strided(s.N!, s.K!, s.ldb!) : strided(s.K!, s.N!, s.ldb!))), size('ldb'),
    finite('beta'), f32('C', (s) => strided(s.M!, s.N!, s.ldc!)), size('ldc'),
  ], {
    derive: (s) => {
      const aCols = s.transA ? s.M! : s.K!, bCols = s.transB ? s.K! : s.N!;
      if (s.lda! < Math.max(1, aCols)) throw new RangeError(`sgemm: lda = ${s.lda} is smaller than A's row length ${aCols}`);
      if (s.ldb! < Math.max(1, bCols)) throw new RangeError(`sgemm: ldb = ${s.ldb} is smaller than B's row length ${bCols}`);
      if (s.ldc! < Math.max(1, s.N!)) throw new RangeError(`sgemm: ldc = ${s.ldc} is smaller than C's row length ${s.N}`);
      return {};
    },
  }),

  fill: kernel(fill, 'x[i] = value', [f32('x', n), size('n'), number('value')]),
  scale: kernel(scale, 'x[i] *= alpha', [f32('x', n), size('n'), number('alpha')]),
  axpy: kernel(axpy, 'y[i] += alpha * x[i]', [f32('y', n), f32('x', n), size('n'), number('alpha')]),
  normalizeU8: kernel(normalizeU8,
    'y[i] = (f32(x[i]) / 255 - mean) / std, x is u8. Computed in f32 in exactly that order.',
    [f32('y', n), u8('x', n), size('n'), finite('mean'), positive('std')]),
  argmaxRows: kernel(argmaxRows,
    'out[r] (i32) = index of the largest x[r, :]; first index on ties; the first NaN wins if a row ' +
    'has one.',
    [i32('out', rows), f32('x', rc), size('rows'), size('cols')]),

  biasAdd: kernel(biasAdd, 'y[r, c] += b[c]           y is (rows, cols), b is (cols)', [f32('y', rc), f32('b', cols), size('rows'), size('cols')]),
  biasBackward: kernel(biasBackward, 'db[c] += sum_r dy[r, c]    column sums', [f32('db', cols), f32('dy', rc), size('rows'), size('cols')]),
  reluForward: kernel(reluForward, 'y[i] = x[i] > 0 ? x[i] : 0 (NaN stays NaN); y may alias x', [f32('y', n), f32('x', n), size('n')]),
  reluBackward: kernel(reluBackward, 'dx[i] += y[i] > 0 ? dy[i] : 0, with y the forward OUTPUT (or input: same sign)', [f32('dx', n), f32('dy', n), f32('y', n), size('n')]),

  dropoutMask: kernel(dropoutMask,
    'For each i draw u = uniform24(rng) (see rngUniform); mask[i] = u < p ? 0 : f32(1 / (1 - p)), ' +
    'where the keep-scale is computed once as f32(1) / (f32(1) - f32(p)). 0 <= p < 1.',
    [f32('mask', n), u32('rng', four), size('n'), rate('p')]),
  dropoutForward: kernel(dropoutForward, 'y[i] = x[i] * mask[i]; y may alias x', [f32('y', n), f32('x', n), f32('mask', n), size('n')]),
  dropoutBackward: kernel(dropoutBackward, 'dx[i] += dy[i] * mask[i]', [f32('dx', n), f32('dy', n), f32('mask', n), size('n')]),

  softmaxRows: kernel(softmaxRows,
    'y = softmax(x / T) row-wise: divide by T, subtract the row max, exponentiate, normalise.', [f32('y', rc), f32('x', rc), size('rows'), size('cols'), positive('T')]),
  logSoftmaxRows: kernel(logSoftmaxRows, 'y = log_softmax(x / T) row-wise via log-sum-exp (never log(softmax)).',
    [f32('y', rc), f32('x', rc), size('rows'), size('cols'), positive('T')]),
  softmaxBackward: kernel(softmaxBackward,
    'Backward of y = softmax(x / T): dx[r, j] += y[r, j] * (dy[r, j] - sum_k dy[r, k] * y[r, k]) / T. ' +
    'y is the forward output.',
    [f32('dx', rc), f32('y', rc), f32('dy', rc), size('rows'), size('cols'), positive('T')]),

  crossEntropy: kernel(crossEntropy,
    'Cross-entropy with integer labels, fused with softmax: L = mean_r [ logsumexp(z[r, :]) - z[r, ' +
    'y_r] ];  dz += gradScale * (softmax(z) - onehot(y)) / rows. labels are i32, each in [0, cols).', [
    f32('dz', rc, true), f32('z', rc), i32('labels', rows), size('rows'), size('cols'), finite('gradScale'),
  ], { derive: labelsInRange('crossEntropy'), reads: ['labels'] }),
  klDivergence: kernel(klDivergence,
    'L = mean_r KL(softmax(v[r]/T) || softmax(z[r]/T)), computed from log-probabilities (exactly 0 ' +
    'when z == v); dz += gradScale * (softmax(z/T) - softmax(v/T)) / (T * rows). v are the teacher ' +
    'logits, z the student logits. No T^2 factor here.', [
    f32('dz', rc, true), f32('z', rc), f32('v', rc), size('rows'), size('cols'), positive('T'), finite('gradScale'),
  ]),
  kdLoss: kernel(kdLoss,
    'The fused distillation loss of Hinton et al. (2015), one pass over each row: L = (1 - alpha) * ' +
    'CE(y, softmax(z)) + alpha * w * KL(softmax(v/T) || softmax(z/T)), w = T^2 when scaleT2 != 0 else ' +
    '1, batch mean. dz += gradScale * [ (1 - alpha) * (softmax(z) - onehot(y)) + alpha * w / T * ' +
    '(softmax(z/T) - softmax(v/T)) ] / rows. When alpha == 1 the labels are not read (labels may be ' +
    '0).', [
    f32('dz', rc, true), f32('z', rc), f32('v', rc), i32('labels', rows, true), size('rows'), size('cols'),
    positive('T'), unit('alpha'), flag('scaleT2'), finite('gradScale'),
  ], { derive: labelsInRange('kdLoss'), reads: ['labels'] }),
  mseLoss: kernel(mseLoss, 'L = mean_i (p[i] - t[i])^2;  dp += gradScale * 2 (p - t) / n',
    [f32('dp', n, true), f32('p', n), f32('t', n), size('n'), finite('gradScale')]),
  smoothL1Loss: kernel(smoothL1Loss,
    'Smooth-L1 / Huber with delta 1: per element d = p - t, l = |d| < 1 ? 0.5 d^2 : |d| - 0.5; L = ' +
    'mean_i l;  dp += gradScale * clamp(d, -1, 1) / n',
    [f32('dp', n, true), f32('p', n), f32('t', n), size('n'), finite('gradScale')]),

  sgdStep: kernel(sgdStep,
    'SGD (PyTorch semantics, dampening 0): g = grad + weightDecay * p; vel = momentum * vel + g; step ' +
    '= nesterov ? g + momentum * vel : vel (with momentum == 0: step = g, vel untouched); p -= lr * ' +
    'step.', [
    f32('params', n), f32('velocity', n), f32('grads', n), size('n'), finite('lr'), unit('momentum'), finite('weightDecay'), flag('nesterov'),
  ]),
  adamwStep: kernel(adamwStep,
    'AdamW (Loshchilov & Hutter) with bias correction; `step` is 1 on the first call. p -= lr * ' +
    'weightDecay * p; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; p -= lr * (m / (1 - b1^step)) / ' +
    '(sqrt(v / (1 - b2^step)) + eps).', [
    f32('params', n), f32('m', n), f32('v', n), f32('grads', n), size('n'), finite('lr'), rate('beta1'), rate('beta2'),
    positive('eps'), finite('weightDecay'), size('step'),
  ]),
  maxNormColumns: kernel(maxNormColumns,
    'Max-norm constraint on incoming weights: w is (rows, cols) = (IN, OUT) row-major, so column j ' +
    'holds the weights into unit j. For each column, norm = sqrt(sum_r w[r, j]^2) summed in f64 in ' +
    'row order; if norm > maxNorm, every w[r, j] *= f32(maxNorm / norm) (an f32 multiply). A NaN norm ' +
    'leaves the column alone. Bit-identical on every backend.',
    [f32('w', rc), size('rows'), size('cols'), positive('maxNorm')]),

  rngSeed: kernel(rngSeed, 'Seeds the state from a 64-bit seed (seedLo, seedHi as u32) with SplitMix64; never all-zero.', [u32('rng', four), number('seedLo'), number('seedHi')]),
  rngUint32: kernel(rngUint32, 'out[i] (u32) = next()', [u32('out', n), u32('rng', four), size('n')]),
  rngUniform: kernel(rngUniform,
    'out[i] = lo + (hi - lo) * u, u = f32(next() >>> 8) * 2^-24 in [0, 1); arithmetic in f32.', [f32('out', n), u32('rng', four), size('n'), finite('lo'), finite('hi')]),
  rngNormal: kernel(rngNormal,
    'Box-Muller in f64 with the module\'s own log/sqrt/cos/sin: per pair, u1 = ((a >>> 8) + 1) * ' +
    '2^-24, u2 = (b >>> 8) * 2^-24, r = sqrt(-2 ln u1); out = mean + std * r * cos(2 pi u2), then ' +
    'mean + std * r * sin(2 pi u2). An odd n discards the last sine.', [f32('out', n), u32('rng', four), size('n'), finite('mean'), finite('std')]),

  peakProbe: kernel((_heap: HeapViews, iters: number): number => peakProbe(iters),
    'Peak-throughput probe: `iters` iterations of independent register-resident multiply-add chains ' +
    '(f32x4 in the SIMD build, f32 in the scalar build). Returns a value derived from every chain so ' +
    'that nothing is optimised away. FLOPs done = iters * peakProbeFlopsPerIter().', [size('iters')]),
  peakProbeFlopsPerIter: kernel((_heap: HeapViews): number => peakProbeFlopsPerIter(), 'FLOPs per iteration of peakProbe.', []),

  quantizeWeightsI8: kernel(quantizeWeightsI8,
    'Per-output-channel weights: W (rows, cols) = (IN, OUT) f32 row-major. For each column j, ' +
    'scales[j] = f32(max_i |W[i, j]|) / 127 (one f32 division), or 1 when that is not > 0 (an ' +
    'all-zero column, or a max so small the division underflows); then q[i, j] = quantize(W[i, j] / ' +
    'scales[j]). q is (rows, cols) i8 in W\'s layout; W ~ q[i, j] * scales[j], |W - q scale| <= ' +
    'scales[j] / 2.',
    [i8('q', rc), f32('scales', cols), f32('w', rc), size('rows'), size('cols')]),
  quantizeI8: kernel(quantizeI8, 'Per-tensor activations: q[i] (i8) = quantize(x[i] / scale), scale > 0 taken as f32.', [i8('q', n), f32('x', n), size('n'), positive('scale')]),
  packWeightsI8: kernel(packWeightsI8,
    'Packs B (k, n) i8 row-major into the layout gemmI8 reads (packedI8Bytes(k, n) bytes): panels of ' +
    '8 columns, each ceil(k/2) rows of 16 bytes; byte (kk, j) of B lands at (j >> 3) * ceil(k/2) * 16 ' +
    '+ (kk >> 1) * 16 + (j & 7) * 2 + (kk & 1); padding (j >= n, and kk == k for odd k) is 0. Pack a ' +
    'layer\'s weights once, at load time.',
    [i8('packed', (s) => packedI8Bytes(s.k!, s.n!)), i8('b', (s) => s.k! * s.n!), size('k'), size('n')]),
  gemmI8: kernel(gemmI8,
    'C (m, n) i32, row stride n = A (m, k) i8 row-major . B (k, n) i8, B packed by packWeightsI8. ' +
    'Exact integer accumulation: no overflow for k <= 131071 (= floor((2^31 - 1) / 128^2)); the wasm ' +
    'builds trap and the JS backend throws beyond that. k == 0 writes zeros.', [
    i32('c', (s) => s.m! * s.n!), i8('a', (s) => s.m! * s.k!), i8('packed', (s) => (s.m! > 0 ? packedI8Bytes(s.k!, s.n!) : 0)),
    size('m'), size('n'), size('k'),
  ], {
    derive: (s) => {
      if (s.k! > GEMM_I8_MAX_K) throw new RangeError(`gemmI8: k = ${s.k} exceeds ${GEMM_I8_MAX_K}, beyond which int32 accumulators could overflow`);
      return {};
    },
  }),
  dequantizeI8: kernel(dequantizeI8,
    'The f32 epilogue of an int8 layer: y[r, j] = f32(f32(f32(acc[r, j]) * f32(aScale * scales[j])) + ' +
    'bias[j]), each step one f32 operation in that order; then, when relu != 0, y = y > 0 ? y : 0 ' +
    '(NaN stays NaN). acc is (rows, cols) i32, y (rows, cols) f32 and may alias acc; bias == 0 adds ' +
    'no bias.', [
    f32('y', rc), i32('acc', rc), f32('scales', cols), f32('bias', cols, true), size('rows'), size('cols'), positive('aScale'), flag('relu'),
  ]),

  // ---- convolution and pooling, NHWC (conv geometry: abi.ts "Convolution geometry") -------------

  // ---- normalisation, activations, residual adds ------------------------------------------------

} as const;

/** Every kernel, by name. */
export const KERNELS = baseKernels;

export type KernelName = keyof typeof KERNELS;

/** The raw, unchecked kernels: what the wasm module exports and the js backend implements. */
export type RawKernels = { readonly [K in KernelName]: RawOf<(typeof KERNELS)[K]['js']> };

/** Names of every kernel, in the list's order: the wasm loader checks each is exported. */
export const KERNEL_NAMES = Object.keys(KERNELS) as KernelName[];

/** The descriptor of one kernel (for tools and tests). */
export function descriptorOf(name: KernelName): KernelDescriptor {
  return KERNELS[name] as KernelDescriptor;
}
