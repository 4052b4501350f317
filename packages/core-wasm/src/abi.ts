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

// Every kernel is described once, in kernels/list.ts (its arguments, what it computes, its js
// implementation); the raw-kernel type and the name list are derived there.
export type { RawKernels, KernelName } from './kernels/list.js';
import type { RawKernels } from './kernels/list.js';

// ---- Convolution geometry ---------------------------------------------------------------------
// Convolution and pooling kernels take their shapes as one i32 struct in memory (`geom`,
// CONV_GEOMETRY_INTS ints, written once per plan), not as a dozen positional sizes:
//   [0] B   batch rows          [1] H   input height     [2] W   input width     [3] C  input channels
//   [4] OH  output height       [5] OW  output width     [6] OC  output channels
//   [7] KH  kernel height       [8] KW  kernel width     [9] SH  stride (rows)   [10] SW stride (cols)
//   [11] PT padding at the top  [12] PL padding at the left   (bottom/right padding is implied:
//        whatever the output size needs beyond the input reads as zero / is skipped)
//   [13] G  groups (C and OC are multiples of G; G == C is a depthwise convolution)
//   [14] O0, [15] ON: conv2dBackwardFilter computes only output channels O0 .. O0 + ON - 1 of dw
//        (G == 1 only; 0, 0 = all, what layers write). The threads split the filter gradient
//        this way (src/threads/parallel.ts); every other kernel needs 0 there.
// Tensors are channels-last: x (B,H,W,C), y (B,OH,OW,OC); convolution weights are
// (KH,KW,C/G,OC) ("HWIO", TensorFlow's layout), so output channel o of group g = o / (OC/G)
// reads input channels g*C/G .. (g+1)*C/G - 1.
export const CONV_GEOMETRY_INTS = 16;
export const GEOM = { B: 0, H: 1, W: 2, C: 3, OH: 4, OW: 5, OC: 6, KH: 7, KW: 8, SH: 9, SW: 10, PT: 11, PL: 12, G: 13 } as const;
/** The backward-filter channel range's slots in the geometry struct (see above). */
export const GEOM_FILTER_RANGE = { O0: 14, ON: 15 } as const;

/** Bytes of packWeightsI8's output for a (k, n) matrix: ceil(n/8) panels of ceil(k/2) * 16 bytes. */
export function packedI8Bytes(k: number, n: number): number {
  return Math.ceil(n / 8) * Math.ceil(k / 2) * 16;
}

/** Largest gemmI8 k whose int32 accumulators cannot overflow (131071 * 128 * 128 < 2^31). */
export const GEMM_I8_MAX_K = 131071;

/**
 * The kernels of the inference-only module (assembly/infer.ts, build/retort.infer.*.wasm):
 * a forward pass of a float or an int8 layer graph (src/infer/forward.ts), nothing for training.
 */
export const INFER_KERNEL_NAMES = [
  'heapBase', 'sgemm', 'biasAdd', 'reluForward', 'quantizeI8', 'packWeightsI8', 'gemmI8', 'dequantizeI8',
  'im2colI8', 'depthwiseConvI8', 'channelAffine', 'conv2dForward', 'maxPool2dForward', 'avgPool2dForward',
  'globalAvgPoolForward', 'batchNormInferForward', 'layerNormForward', 'geluForward', 'addForward',
  'softmaxRows', 'embeddingForward',
] as const satisfies readonly (keyof RawKernels)[];

export type InferKernels = Pick<RawKernels, typeof INFER_KERNEL_NAMES[number]>;
