// The raw kernel ABI: what the WebAssembly module exports and what the plain-JS
// backend implements, function for function. Every backend runs over one linear
// memory owned by the loader (a WebAssembly.Memory), so the same byte offsets mean
// the same data on every backend.
//
// Conventions (ARCHITECTURE.md, "core-wasm"):
// - Pointers are byte offsets into that memory. f32 and i32 regions are 4-byte
//   aligned (the arena hands out 16-byte aligned regions), u8 regions need no alignment.
// - Argument order: outputs, then inputs, then weights/state, then sizes, then scalars.
//   (sgemm keeps the BLAS order instead.)
// - Kernels never allocate and never read or write outside the extents their sizes imply.
// - Backward kernels and gradient outputs ACCUMULATE (+=) into `d…` buffers, so one
//   zero-fill clears a whole gradient buffer and several losses can add into one.
// - Loss kernels return the loss as a number and accumulate `gradScale * dLoss/dInput`
//   into their gradient output; with gradScale == 0 the gradient output is not touched.
// - Row-major everywhere. "rows" is the batch dimension B, "cols" the class/feature
//   dimension C.
// - No kernel validates its arguments: the typed wrapper in core.ts does that once,
//   before the call. Calling `core.kernels` directly is the unchecked fast path.

/** Byte offset into the core's linear memory. */
export type Ptr = number;

export interface RawKernels {
  /** First byte after the module's static data and scratch (packing panels); the arena starts here. */
  heapBase(): Ptr;

  // ---- GEMM -------------------------------------------------------------------------
  /**
   * C = alpha * op(A) * op(B) + beta * C, row-major, BLAS argument order.
   * op(A) is M x K: A is stored M x K (lda >= K) or, with transA, K x M (lda >= M).
   * op(B) is K x N: B is stored K x N (ldb >= N) or, with transB, N x K (ldb >= K).
   * C is M x N with ldc >= N. transA/transB are 0 or 1.
   * beta == 0 means C is overwritten (its old contents, even NaN, are ignored).
   * M, N or K of 0 is legal. With K == 0 or alpha == 0, A and B are not read and C = beta * C
   * (as in BLAS: an Inf in A cannot turn C into NaN).
   */
  sgemm(transA: number, transB: number, M: number, N: number, K: number, alpha: number,
        A: Ptr, lda: number, B: Ptr, ldb: number, beta: number, C: Ptr, ldc: number): void;

  // ---- elementwise (f32) ---------------------------------------------------------------
  /** x[i] = value */
  fill(x: Ptr, n: number, value: number): void;
  /** x[i] *= alpha */
  scale(x: Ptr, n: number, alpha: number): void;
  /** y[i] += alpha * x[i] */
  axpy(y: Ptr, x: Ptr, n: number, alpha: number): void;
  /** y[i] = (f32(x[i]) / 255 - mean) / std, x is u8. Computed in f32 in exactly that order. */
  normalizeU8(y: Ptr, x: Ptr, n: number, mean: number, std: number): void;
  /** out[r] (i32) = index of the largest x[r, :]; first index on ties; the first NaN wins if a row has one. */
  argmaxRows(out: Ptr, x: Ptr, rows: number, cols: number): void;

  // ---- dense-layer helpers -------------------------------------------------------------
  /** y[r, c] += b[c]           y is (rows, cols), b is (cols) */
  biasAdd(y: Ptr, b: Ptr, rows: number, cols: number): void;
  /** db[c] += sum_r dy[r, c]    column sums */
  biasBackward(db: Ptr, dy: Ptr, rows: number, cols: number): void;
  /** y[i] = x[i] > 0 ? x[i] : 0 (NaN stays NaN); y may alias x */
  reluForward(y: Ptr, x: Ptr, n: number): void;
  /** dx[i] += y[i] > 0 ? dy[i] : 0, with y the forward OUTPUT (or input: same sign) */
  reluBackward(dx: Ptr, dy: Ptr, y: Ptr, n: number): void;

  // ---- dropout (inverted dropout, mask drawn from the seeded PRNG) ------------------------
  /**
   * For each i draw u = uniform24(rng) (see rngUniform); mask[i] = u < p ? 0 : f32(1 / (1 - p)),
   * where the keep-scale is computed once as f32(1) / (f32(1) - f32(p)). 0 <= p < 1.
   */
  dropoutMask(mask: Ptr, rng: Ptr, n: number, p: number): void;
  /** y[i] = x[i] * mask[i]; y may alias x */
  dropoutForward(y: Ptr, x: Ptr, mask: Ptr, n: number): void;
  /** dx[i] += dy[i] * mask[i] */
  dropoutBackward(dx: Ptr, dy: Ptr, mask: Ptr, n: number): void;

  // ---- tempered softmax over rows ------------------------------------------------------
  /** y = softmax(x / T) row-wise: divide by T, subtract the row max, exponentiate, normalise. */
  softmaxRows(y: Ptr, x: Ptr, rows: number, cols: number, T: number): void;
  /** y = log_softmax(x / T) row-wise via log-sum-exp (never log(softmax)). */
  logSoftmaxRows(y: Ptr, x: Ptr, rows: number, cols: number, T: number): void;
  /**
   * Backward of y = softmax(x / T): dx[r, j] += y[r, j] * (dy[r, j] - sum_k dy[r, k] * y[r, k]) / T.
   * y is the forward output.
   */
  softmaxBackward(dx: Ptr, y: Ptr, dy: Ptr, rows: number, cols: number, T: number): void;

  // ---- losses (return batch-mean loss; accumulate gradScale * dL/dinput) --------------------
  /**
   * Cross-entropy with integer labels, fused with softmax:
   * L = mean_r [ logsumexp(z[r, :]) - z[r, y_r] ];  dz += gradScale * (softmax(z) - onehot(y)) / rows.
   * labels are i32, each in [0, cols).
   */
  crossEntropy(dz: Ptr, z: Ptr, labels: Ptr, rows: number, cols: number, gradScale: number): number;
  /**
   * L = mean_r KL(softmax(v[r]/T) || softmax(z[r]/T)), computed from log-probabilities
   * (exactly 0 when z == v); dz += gradScale * (softmax(z/T) - softmax(v/T)) / (T * rows).
   * v are the teacher logits, z the student logits. No T^2 factor here.
   */
  klDivergence(dz: Ptr, z: Ptr, v: Ptr, rows: number, cols: number, T: number, gradScale: number): number;
  /**
   * The fused distillation loss of Hinton et al. (2015), one pass over each row:
   * L = (1 - alpha) * CE(y, softmax(z)) + alpha * w * KL(softmax(v/T) || softmax(z/T)),
   * w = T^2 when scaleT2 != 0 else 1, batch mean.
   * dz += gradScale * [ (1 - alpha) * (softmax(z) - onehot(y)) + alpha * w / T * (softmax(z/T) - softmax(v/T)) ] / rows.
   * When alpha == 1 the labels are not read (labels may be 0).
   */
  kdLoss(dz: Ptr, z: Ptr, v: Ptr, labels: Ptr, rows: number, cols: number,
         T: number, alpha: number, scaleT2: number, gradScale: number): number;
  /** L = mean_i (p[i] - t[i])^2;  dp += gradScale * 2 (p - t) / n */
  mseLoss(dp: Ptr, p: Ptr, t: Ptr, n: number, gradScale: number): number;
  /**
   * Smooth-L1 / Huber with delta 1: per element d = p - t, l = |d| < 1 ? 0.5 d^2 : |d| - 0.5;
   * L = mean_i l;  dp += gradScale * clamp(d, -1, 1) / n
   */
  smoothL1Loss(dp: Ptr, p: Ptr, t: Ptr, n: number, gradScale: number): number;

  // ---- optimizers over flat buffers ------------------------------------------------------------
  /**
   * SGD (PyTorch semantics, dampening 0): g = grad + weightDecay * p; vel = momentum * vel + g;
   * step = nesterov ? g + momentum * vel : vel (with momentum == 0: step = g, vel untouched);
   * p -= lr * step.
   */
  sgdStep(params: Ptr, velocity: Ptr, grads: Ptr, n: number,
          lr: number, momentum: number, weightDecay: number, nesterov: number): void;
  /**
   * AdamW (Loshchilov & Hutter) with bias correction; `step` is 1 on the first call.
   * p -= lr * weightDecay * p; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
   * p -= lr * (m / (1 - b1^step)) / (sqrt(v / (1 - b2^step)) + eps).
   */
  adamwStep(params: Ptr, m: Ptr, v: Ptr, grads: Ptr, n: number,
            lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, step: number): void;

  /**
   * Max-norm constraint on incoming weights: w is (rows, cols) = (IN, OUT) row-major, so column j
   * holds the weights into unit j. For each column, norm = sqrt(sum_r w[r, j]^2) summed in f64 in
   * row order; if norm > maxNorm, every w[r, j] *= f32(maxNorm / norm) (an f32 multiply). A NaN
   * norm leaves the column alone. Bit-identical on every backend.
   */
  maxNormColumns(w: Ptr, rows: number, cols: number, maxNorm: number): void;

  // ---- seeded PRNG: xoshiro128**, state is 4 x u32 (16 bytes) at `rng` --------------------------
  /** Seeds the state from a 64-bit seed (seedLo, seedHi as u32) with SplitMix64; never all-zero. */
  rngSeed(rng: Ptr, seedLo: number, seedHi: number): void;
  /** out[i] (u32) = next() */
  rngUint32(out: Ptr, rng: Ptr, n: number): void;
  /** out[i] = lo + (hi - lo) * u, u = f32(next() >>> 8) * 2^-24 in [0, 1); arithmetic in f32. */
  rngUniform(out: Ptr, rng: Ptr, n: number, lo: number, hi: number): void;
  /**
   * Box-Muller in f64 with the module's own log/sqrt/cos/sin: per pair, u1 = ((a >>> 8) + 1) * 2^-24,
   * u2 = (b >>> 8) * 2^-24, r = sqrt(-2 ln u1); out = mean + std * r * cos(2 pi u2), then
   * mean + std * r * sin(2 pi u2). An odd n discards the last sine.
   */
  rngNormal(out: Ptr, rng: Ptr, n: number, mean: number, std: number): void;

  // ---- benchmark probe -------------------------------------------------------------------------
  /**
   * Peak-throughput probe: `iters` iterations of independent register-resident multiply-add
   * chains (f32x4 in the SIMD build, f32 in the scalar build). Returns a value derived from
   * every chain so that nothing is optimised away. FLOPs done = iters * peakProbeFlopsPerIter().
   */
  peakProbe(iters: number): number;
  /** FLOPs per iteration of peakProbe. */
  peakProbeFlopsPerIter(): number;

  // ---- int8 inference (symmetric quantization, int32 accumulation) --------------------------------
  // Quantizing v = f32(x / scale): q = clamp(round_half_away_from_zero(v), -127, 127), NaN -> 0,
  // +-Inf -> +-127. i8 regions need no alignment. Every backend computes the same bits.
  /**
   * Per-output-channel weights: W (rows, cols) = (IN, OUT) f32 row-major. For each column j,
   * scales[j] = f32(max_i |W[i, j]|) / 127 (one f32 division), or 1 when that is not > 0 (an
   * all-zero column, or a max so small the division underflows); then q[i, j] = quantize(W[i, j] / scales[j]).
   * q is (rows, cols) i8 in W's layout; W ~ q[i, j] * scales[j], |W - q scale| <= scales[j] / 2.
   */
  quantizeWeightsI8(q: Ptr, scales: Ptr, w: Ptr, rows: number, cols: number): void;
  /** Per-tensor activations: q[i] (i8) = quantize(x[i] / scale), scale > 0 taken as f32. */
  quantizeI8(q: Ptr, x: Ptr, n: number, scale: number): void;
  /**
   * Packs B (k, n) i8 row-major into the layout gemmI8 reads (packedI8Bytes(k, n) bytes):
   * panels of 8 columns, each ceil(k/2) rows of 16 bytes; byte (kk, j) of B lands at
   * (j >> 3) * ceil(k/2) * 16 + (kk >> 1) * 16 + (j & 7) * 2 + (kk & 1); padding (j >= n,
   * and kk == k for odd k) is 0. Pack a layer's weights once, at load time.
   */
  packWeightsI8(packed: Ptr, b: Ptr, k: number, n: number): void;
  /**
   * C (m, n) i32, row stride n = A (m, k) i8 row-major . B (k, n) i8, B packed by packWeightsI8.
   * Exact integer accumulation: no overflow for k <= 131071 (= floor((2^31 - 1) / 128^2)); the
   * wasm builds trap and the JS backend throws beyond that. k == 0 writes zeros.
   */
  gemmI8(c: Ptr, a: Ptr, packed: Ptr, m: number, n: number, k: number): void;
  /**
   * The f32 epilogue of an int8 layer: y[r, j] = f32(f32(f32(acc[r, j]) * f32(aScale * scales[j])) + bias[j]),
   * each step one f32 operation in that order; then, when relu != 0, y = y > 0 ? y : 0 (NaN stays
   * NaN). acc is (rows, cols) i32, y (rows, cols) f32 and may alias acc; bias == 0 adds no bias.
   */
  dequantizeI8(y: Ptr, acc: Ptr, scales: Ptr, bias: Ptr, rows: number, cols: number, aScale: number, relu: number): void;
}

/** Bytes of packWeightsI8's output for a (k, n) matrix: ceil(n/8) panels of ceil(k/2) * 16 bytes. */
export function packedI8Bytes(k: number, n: number): number {
  return Math.ceil(n / 8) * Math.ceil(k / 2) * 16;
}

/** Largest gemmI8 k whose int32 accumulators cannot overflow (131071 * 128 * 128 < 2^31). */
export const GEMM_I8_MAX_K = 131071;

/** Names of every kernel, in one list: the wasm loader checks each is exported. */
export const KERNEL_NAMES = [
  'heapBase', 'sgemm', 'fill', 'scale', 'axpy', 'normalizeU8', 'argmaxRows',
  'biasAdd', 'biasBackward', 'reluForward', 'reluBackward',
  'dropoutMask', 'dropoutForward', 'dropoutBackward',
  'softmaxRows', 'logSoftmaxRows', 'softmaxBackward',
  'crossEntropy', 'klDivergence', 'kdLoss', 'mseLoss', 'smoothL1Loss',
  'sgdStep', 'adamwStep', 'maxNormColumns',
  'rngSeed', 'rngUint32', 'rngUniform', 'rngNormal',
  'peakProbe', 'peakProbeFlopsPerIter',
  'quantizeWeightsI8', 'quantizeI8', 'packWeightsI8', 'gemmI8', 'dequantizeI8',
] as const satisfies readonly (keyof RawKernels)[];

/**
 * The kernels of the inference-only module (assembly/infer.ts, build/retort.infer.*.wasm):
 * a forward pass of a float or an int8 model, nothing for training.
 */
export const INFER_KERNEL_NAMES = [
  'heapBase', 'sgemm', 'biasAdd', 'reluForward', 'quantizeI8', 'packWeightsI8', 'gemmI8', 'dequantizeI8',
] as const satisfies readonly (keyof RawKernels)[];

export type InferKernels = Pick<RawKernels, typeof INFER_KERNEL_NAMES[number]>;
