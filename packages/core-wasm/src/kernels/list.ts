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
import { conv2dForward, conv2dBackwardData, conv2dBackwardFilter } from '../backends/js/conv.js';
import {
  maxPool2dForward, maxPool2dBackward, avgPool2dForward, avgPool2dBackward, globalAvgPoolForward, globalAvgPoolBackward,
} from '../backends/js/pool.js';
import { CONV_GEOMETRY_INTS } from '../abi.js';
import { geometryOf } from './geometry.js';
import { batchNormTrainForward, batchNormInferForward, batchNormBackward } from '../backends/js/batch_norm.js';
import { layerNormForward, layerNormBackward } from '../backends/js/layer_norm.js';
import { geluForward, geluBackward } from '../backends/js/gelu.js';
import { addForward } from '../backends/js/add.js';
import { embeddingForward, embeddingBackward } from '../backends/js/embedding.js';
import { im2colI8, depthwiseConvI8 } from '../backends/js/int8_conv.js';
import { channelAffine } from '../backends/js/channel_affine.js';
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

/** Token ids must be -1 (padding) or integers in [0, V). */
const tokenIdsInRange = (op: string) => (s: Sizes, views: import('../tensor.js').MemoryViews, p: Readonly<Record<string, number>>): Record<string, number> => {
  const base = p.ids! >>> 2, f = views.f32;
  for (let r = 0; r < s.rows!; r++) {
    const v = f[base + r]!;
    if (v !== -1 && !(Number.isInteger(v) && v >= 0 && v < s.V!)) throw new RangeError(`${op}: ids[${r}] = ${v} is not a token id in [0, ${s.V}) or -1 (padding)`);
  }
  return {};
};

const globalPoolSizes = (op: string) => (s: Sizes): Record<string, number> => {
  if (s.HW! < 1) throw new RangeError(`${op}: HW must be at least 1, got ${s.HW}`);
  return {};
};

// ---- convolution and pooling: extents from the derived geometry (abi.ts "Convolution geometry")
const geomStruct = i32('geom', () => CONV_GEOMETRY_INTS);
const image = (s: Sizes): number => s.B! * s.H! * s.W! * s.C!;                 // x, dx (B,H,W,C)
const outImage = (s: Sizes): number => s.B! * s.OH! * s.OW! * s.OC!;           // y, dy (B,OH,OW,OC)
const filter = (s: Sizes): number => s.KH! * s.KW! * (s.C! / s.G!) * s.OC!;    // w, dw (KH,KW,C/G,OC)
const workspace = [f32('work', (s: Sizes) => s.workElems!, true), size('workElems')] as const;
/** The largest window and group width the kernels' scratch layout is sized for (assembly/kernels/conv.ts). */
const MAX_WINDOW = 4096, MAX_GROUP_OUT = 65536;

const convGeometry = (op: string) => {
  const derive = geometryOf(op);
  return (s: Sizes, views: import('../tensor.js').MemoryViews, p: Readonly<Record<string, number>>): Record<string, number> => {
    const g = derive(s, views, p);
    if (g.KH! * g.KW! > MAX_WINDOW) throw new RangeError(`${op}: geometry KH * KW = ${g.KH! * g.KW!} exceeds ${MAX_WINDOW}`);
    if (g.OC! / g.G! > MAX_GROUP_OUT) throw new RangeError(`${op}: geometry OC / G = ${g.OC! / g.G!} exceeds ${MAX_GROUP_OUT}`);
    return g;
  };
};

const poolGeometry = (op: string) => {
  const derive = geometryOf(op);
  return (s: Sizes, views: import('../tensor.js').MemoryViews, p: Readonly<Record<string, number>>): Record<string, number> => {
    const g = derive(s, views, p);
    if (g.OC !== g.C) throw new RangeError(`${op}: geometry OC = ${g.OC} must equal C = ${g.C} for pooling`);
    if (g.G !== 1) throw new RangeError(`${op}: geometry G = ${g.G} must be 1 for pooling`);
    return g;
  };
};

// ---- int8 convolution: the gather for gemmI8 (G == 1) and the direct depthwise kernel (G == C)
const im2colGeometry = (s: Sizes, views: import('../tensor.js').MemoryViews, p: Readonly<Record<string, number>>): Record<string, number> => {
  const g = convGeometry('im2colI8')(s, views, p);
  if (g.G !== 1) throw new RangeError(`im2colI8: geometry G = ${g.G} must be 1 (a grouped convolution runs on block-diagonal weights with G = 1)`);
  const pixels = g.B! * g.OH! * g.OW!;
  if (s.p0! + s.np! > pixels) throw new RangeError(`im2colI8: p0 + np = ${s.p0! + s.np!} exceeds the ${pixels} output pixels of the geometry`);
  return g;
};
const depthwiseGeometry = (s: Sizes, views: import('../tensor.js').MemoryViews, p: Readonly<Record<string, number>>): Record<string, number> => {
  const g = convGeometry('depthwiseConvI8')(s, views, p);
  if (g.G !== g.C) throw new RangeError(`depthwiseConvI8: geometry G = ${g.G} must equal C = ${g.C} (one input channel per group)`);
  return g;
};

// ---- normalisation: channels-last (rows, C) for batch norm, (rows, D) for layer norm
const rowsC = (s: Sizes): number => s.rows! * s.C!;
const channels = (s: Sizes): number => s.C!;
const rowsD = (s: Sizes): number => s.rows! * s.D!;
const features = (s: Sizes): number => s.D!;
/** eps arrives in the kernels as f32: one that rounds to 0 there would divide by sqrt(0) on a constant channel. */
const epsAsF32 = (op: string) => (s: Sizes): Record<string, number> => {
  if (!(Math.fround(s.eps!) > 0)) throw new RangeError(`${op}: eps = ${s.eps} rounds to 0 in f32; use at least 1.4e-45 (1e-5 is usual)`);
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
  conv2dForward: kernel(conv2dForward,
    'y = conv2d(x, w), y OVERWRITTEN (no bias: add it with biasAdd, rows = B*OH*OW, cols = OC). x is ' +
    '(B,H,W,C), y (B,OH,OW,OC), w (KH,KW,C/G,OC); geom is the geometry struct. y[b,oh,ow,o] = sum over ' +
    'kh < KH, kw < KW, c < C/G of x[b, oh*SH - PT + kh, ow*SW - PL + kw, g*(C/G) + c] * w[kh,kw,c,o] with ' +
    'g = o / (OC/G); input positions outside the image are zero. G == 1 is an ordinary convolution, G == C ' +
    'a depthwise one (channel multiplier OC/C). work/workElems: an f32 workspace (conv2dWorkElems; the ' +
    'current kernels use none and never touch it; 0 is fine). Same arguments, same bits.', [
    f32('y', outImage), f32('x', image), f32('w', filter), geomStruct, ...workspace,
  ], { derive: convGeometry('conv2dForward'), reads: ['geom'] }),
  conv2dBackwardData: kernel(conv2dBackwardData,
    'Backward of conv2dForward with respect to x: dx[b,ih,iw,g*(C/G)+c] += sum over the (oh, ow, kh, kw) ' +
    'with ih = oh*SH - PT + kh, iw = ow*SW - PL + kw, and o of group g, of dy[b,oh,ow,o] * w[kh,kw,c,o] ' +
    '(a transposed convolution of dy). dx is (B,H,W,C), dy (B,OH,OW,OC), w (KH,KW,C/G,OC). Accumulates. ' +
    'work/workElems as for conv2dForward.', [
    f32('dx', image), f32('dy', outImage), f32('w', filter), geomStruct, ...workspace,
  ], { derive: convGeometry('conv2dBackwardData'), reads: ['geom'] }),
  conv2dBackwardFilter: kernel(conv2dBackwardFilter,
    'Backward of conv2dForward with respect to w: dw[kh,kw,c,o] += sum over b, oh, ow (windows whose ' +
    'tap (kh, kw) lies inside the image) of x[b, oh*SH - PT + kh, ow*SW - PL + kw, g*(C/G) + c] * ' +
    'dy[b,oh,ow,o], g = o / (OC/G); im2col(x)ᵀ dy. dw is (KH,KW,C/G,OC), x (B,H,W,C), dy (B,OH,OW,OC). ' +
    'Accumulates. work/workElems as for conv2dForward.', [
    f32('dw', filter), f32('x', image), f32('dy', outImage), geomStruct, ...workspace,
  ], { derive: convGeometry('conv2dBackwardFilter'), reads: ['geom'] }),

  maxPool2dForward: kernel(maxPool2dForward,
    'Max pooling (geometry with OC == C, G == 1; no weights): y[b,oh,ow,c] = max of x[b,ih,iw,c] over ' +
    'the window ih = oh*SH - PT + kh, iw = ow*SW - PL + kw (kh < KH, kw < KW) clipped to the image: ' +
    'padded positions never win. argmax (i32, y\'s shape) = ih*W + iw of the chosen element: the first ' +
    'maximum in scan order (kh, then kw) on ties; a NaN in the window wins (the first NaN). x is ' +
    '(B,H,W,C), y and argmax (B,OH,OW,C).', [
    f32('y', outImage), i32('argmax', outImage), f32('x', image), geomStruct,
  ], { derive: poolGeometry('maxPool2dForward'), reads: ['geom'] }),
  maxPool2dBackward: kernel(maxPool2dBackward,
    'Backward of maxPool2dForward: dx[b, argmax / W, argmax % W, c] += dy[b,oh,ow,c] for every output ' +
    'element, in output order. argmax is the forward\'s output for this geometry: its entries are not ' +
    're-checked, and one outside [0, H*W) would address outside dx. Accumulates.', [
    f32('dx', image), f32('dy', outImage), i32('argmax', outImage), geomStruct,
  ], { derive: poolGeometry('maxPool2dBackward'), reads: ['geom'] }),
  avgPool2dForward: kernel(avgPool2dForward,
    'Average pooling: y[b,oh,ow,c] = (sum of x[b,ih,iw,c] over the window positions inside the image) / ' +
    '(their number): padding is excluded from the count (TensorFlow \'same\', ONNX count_include_pad = 0). ' +
    'Sum in window order, then one division, in f32. Geometry as for maxPool2dForward.', [
    f32('y', outImage), f32('x', image), geomStruct,
  ], { derive: poolGeometry('avgPool2dForward'), reads: ['geom'] }),
  avgPool2dBackward: kernel(avgPool2dBackward,
    'Backward of avgPool2dForward: for every output element, dx[b,ih,iw,c] += dy[b,oh,ow,c] / n at each ' +
    'of the n window positions inside the image. Accumulates.', [
    f32('dx', image), f32('dy', outImage), geomStruct,
  ], { derive: poolGeometry('avgPool2dBackward'), reads: ['geom'] }),
  globalAvgPoolForward: kernel(globalAvgPoolForward,
    'y[b,c] = (sum over p < HW of x[b,p,c]) / HW, summed in p order in f32: x is (B,HW,C) (an NHWC image ' +
    'with HW = H*W), y (B,C). HW >= 1.', [
    f32('y', (s) => s.B! * s.C!), f32('x', (s) => s.B! * s.HW! * s.C!), size('B'), size('HW'), size('C'),
  ], { derive: globalPoolSizes('globalAvgPoolForward') }),
  globalAvgPoolBackward: kernel(globalAvgPoolBackward,
    'Backward of globalAvgPoolForward: dx[b,p,c] += dy[b,c] / HW (the quotient rounded to f32 once) for ' +
    'every p < HW. dx is (B,HW,C), dy (B,C). Accumulates.', [
    f32('dx', (s) => s.B! * s.HW! * s.C!), f32('dy', (s) => s.B! * s.C!), size('B'), size('HW'), size('C'),
  ], { derive: globalPoolSizes('globalAvgPoolBackward') }),

  // ---- normalisation, activations, residual adds ------------------------------------------------
  batchNormTrainForward: kernel(batchNormTrainForward,
    'Batch norm, training mode, channels-last: x and y are (rows, C) with rows = B*H*W (or B); gamma, ' +
    'beta, saveMean, saveInvstd, runMean, runVar are (C). Per channel, in f64: mean = sum_r x / rows ' +
    '(rows in order), var = sum_r (x - mean)^2 / rows (biased, a second pass), invstd = 1 / sqrt(var + ' +
    'eps); y = gamma (x - mean) invstd + beta, computed in f32 as ((x - f32(mean)) - f32(mean - ' +
    'f32(mean))) * f32(gamma invstd) + beta (js: in f64, rounded once). saveMean = f32(mean), saveInvstd ' +
    '= f32(invstd). Running statistics in place (PyTorch): runMean = f32((1 - momentum) runMean + ' +
    'momentum mean), runVar = f32((1 - momentum) runVar + momentum var rows / (rows - 1)) (var itself ' +
    'when rows == 1), in f64. eps and momentum are taken as f32. rows == 0 writes nothing. y may alias x. ' +
    'The statistics are bit-identical on every backend.', [
    f32('y', rowsC), f32('saveMean', channels), f32('saveInvstd', channels), f32('runMean', channels), f32('runVar', channels),
    f32('x', rowsC), f32('gamma', channels), f32('beta', channels), size('rows'), size('C'), positive('eps'), unit('momentum'),
  ], { derive: epsAsF32('batchNormTrainForward') }),
  batchNormInferForward: kernel(batchNormInferForward,
    'Batch norm, evaluation mode: y = gamma (x - runMean) / sqrt(runVar + eps) + beta per channel; x and ' +
    'y are (rows, C), the rest (C). Computed as (x - runMean) * f32(gamma / sqrt(runVar + eps)) + beta ' +
    '(the factor in f64; js: all in f64, rounded once). eps is taken as f32. y may alias x.', [
    f32('y', rowsC), f32('x', rowsC), f32('runMean', channels), f32('runVar', channels), f32('gamma', channels), f32('beta', channels),
    size('rows'), size('C'), positive('eps'),
  ], { derive: epsAsF32('batchNormInferForward') }),
  batchNormBackward: kernel(batchNormBackward,
    'Backward of batchNormTrainForward (batch statistics), xhat = (x - mean) invstd with mean and invstd ' +
    'the forward\'s saveMean and saveInvstd: dbeta += sum_r dy; dgamma += sum_r dy xhat; dx += gamma ' +
    'invstd / rows (rows dy - sum_r dy - xhat sum_r dy xhat). x is the forward input. The sums are f64 in ' +
    'row order and re-centred on the batch mean (sum_r (x - saveMean) / rows corrects the f32 rounding ' +
    'of saveMean); dgamma and dbeta are rounded once and bit-identical on every backend. Accumulates.', [
    f32('dx', rowsC), f32('dgamma', channels), f32('dbeta', channels), f32('dy', rowsC), f32('x', rowsC),
    f32('saveMean', channels), f32('saveInvstd', channels), f32('gamma', channels), size('rows'), size('C'),
  ]),
  layerNormForward: kernel(layerNormForward,
    'Layer norm over the last dimension: x and y are (rows, D), gamma and beta (D), saveMean and saveRstd ' +
    '(rows). Per row, in f64: mean = sum_j x / D, var = sum_j (x - mean)^2 / D (two passes; four lane sums ' +
    'j mod 4, combined (s0 + s1) + (s2 + s3), then the tail), rstd = 1 / sqrt(var + eps); y = gamma (x - ' +
    'mean) rstd + beta, in f32 as (((x - f32(mean)) - f32(mean - f32(mean))) * f32(rstd)) * gamma + beta ' +
    '(js: in f64, rounded once). saveMean = f32(mean), saveRstd = f32(rstd), bit-identical on every ' +
    'backend. eps is taken as f32. D == 0 writes nothing. y may alias x.', [
    f32('y', rowsD), f32('saveMean', rows), f32('saveRstd', rows), f32('x', rowsD), f32('gamma', features), f32('beta', features),
    size('rows'), size('D'), positive('eps'),
  ], { derive: epsAsF32('layerNormForward') }),
  layerNormBackward: kernel(layerNormBackward,
    'Backward of layerNormForward, xhat = (x - mean) rstd with the forward\'s saveMean and saveRstd, g = ' +
    'dy gamma: dbeta += sum_r dy; dgamma += sum_r dy xhat; dx += rstd (g - sum_j g / D - xhat sum_j g ' +
    'xhat / D). x is the forward input. Row sums in f64 (the forward\'s lane order), re-centred on the ' +
    'row\'s mean as batchNormBackward does; dgamma/dbeta summed over rows in f64 and added once. ' +
    'Accumulates.', [
    f32('dx', rowsD), f32('dgamma', features), f32('dbeta', features), f32('dy', rowsD), f32('x', rowsD),
    f32('saveMean', rows), f32('saveRstd', rows), f32('gamma', features), size('rows'), size('D'),
  ]),
  geluForward: kernel(geluForward,
    'GELU, exact (erf) form as PyTorch\'s default and ONNX Gelu approximate=\'none\': y = x Phi(x) = 0.5 x ' +
    '(1 + erf(x / sqrt 2)). Phi from the module\'s own exp and a rational tail (assembly/math/erf.ts; ' +
    'the left tail keeps relative accuracy, about 3 ulp). GELU(+Inf) = +Inf, GELU(-Inf) = -0, NaN stays ' +
    'NaN. The js backend evaluates the same function in f64 (within a few ulp, not bit-identical). y may ' +
    'alias x.', [f32('y', n), f32('x', n), size('n')]),
  geluBackward: kernel(geluBackward,
    'Backward of geluForward: dx += dy (Phi(x) + x phi(x)), x the forward INPUT, phi the standard normal ' +
    'density. 1 at +Inf, 0 at -Inf. Accumulates.', [f32('dx', n), f32('dy', n), f32('x', n), size('n')]),
  embeddingForward: kernel(embeddingForward,
    'Token embedding: y[r, :] = table[ids[r], :] for r < rows; ids (rows) are f32 token ids, table (V, D), ' +
    'y (rows, D) OVERWRITTEN. An id outside [0, V) or not an integer (the padding id -1) gives a zero row. ' +
    'A copy: the same bits on every backend. The wrapper refuses ids other than -1 outside [0, V).', [
    f32('y', (s) => s.rows! * s.D!), f32('ids', rows), f32('table', (s) => s.V! * s.D!), size('rows'), size('D'), size('V'),
  ], { derive: tokenIdsInRange('embeddingForward'), reads: ['ids'] }),
  embeddingBackward: kernel(embeddingBackward,
    'Backward of embeddingForward: dtable[ids[r], :] += dy[r, :] for r = 0, 1, ... in order (repeated ids ' +
    'accumulate in row order: the same bits on every backend); ids outside [0, V) send nothing. Accumulates.', [
    f32('dtable', (s) => s.V! * s.D!), f32('dy', (s) => s.rows! * s.D!), f32('ids', rows), size('rows'), size('D'), size('V'),
  ], { derive: tokenIdsInRange('embeddingBackward'), reads: ['ids'] }),
  addForward: kernel(addForward,
    'Residual add: y = a + b (one f32 add: bit-identical on every backend); y may alias a or b. Its ' +
    'backward is two axpy calls (dA += dY, dB += dY).', [f32('y', n), f32('a', n), f32('b', n), size('n')]),

  // ---- int8 convolution and the f32 per-channel affine op of the int8 path (inference) ---------
  im2colI8: kernel(im2colI8,
    'The gather of an int8 convolution with G == 1 (a grouped one runs on block-diagonal weights with G = 1): ' +
    'col (np, KH*KW*C) i8, row p = output pixel q = p0 + p of the flattened (B, OH, OW) index, ' +
    'col[p, (kh*KW + kw)*C + c] = x[b, oh*SH - PT + kh, ow*SW - PL + kw, c], 0 outside the image; x is ' +
    '(B,H,W,C) i8. gemmI8(col, W) with the weights (KH,KW,C,OC) packed as a (KH*KW*C, OC) matrix gives ' +
    'those np pixels\' outputs, so a caller bounds col by walking the output in chunks of pixels. ' +
    'p0 + np <= B*OH*OW. A byte copy: the same bits on every backend.', [
    i8('col', (s) => s.np! * s.KH! * s.KW! * s.C!), i8('x', image), geomStruct, size('p0'), size('np'),
  ], { derive: im2colGeometry, reads: ['geom'] }),
  depthwiseConvI8: kernel(depthwiseConvI8,
    'Depthwise int8 convolution (G == C, multiplier M = OC/C): acc[b,oh,ow,o] (i32) = sum over the taps ' +
    'inside the image of x[b, oh*SH - PT + kh, ow*SW - PL + kw, o/M] * w[kh,kw,0,o]. x is (B,H,W,C) i8, ' +
    'w (KH,KW,1,OC) i8, acc (B,OH,OW,OC) i32, OVERWRITTEN. Exact (|acc| <= KH*KW*128^2 < 2^31): the same ' +
    'bits on every backend. The f32 epilogue is dequantizeI8 with rows = B*OH*OW, cols = OC.', [
    i32('acc', outImage), i8('x', image), i8('w', (s) => s.KH! * s.KW! * s.OC!), geomStruct,
  ], { derive: depthwiseGeometry, reads: ['geom'] }),
  channelAffine: kernel(channelAffine,
    'Per-channel affine map, channels-last: y[r, c] = f32(f32(x[r, c] * scale[c]) + shift[c]) (a multiply, ' +
    'then an add; never fused): the same bits on every backend. x and y are (rows, C), scale and shift ' +
    '(C); y may alias x. The int8 path runs a batch norm it could not fold into the layer before it as ' +
    'this, with scale = gamma / sqrt(var + eps) and shift = beta - mean * scale computed when quantizing.', [
    f32('y', rowsC), f32('x', rowsC), f32('scale', channels), f32('shift', channels), size('rows'), size('C'),
  ]),

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
