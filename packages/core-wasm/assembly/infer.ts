// The inference-only module (build/retort.infer.{simd,scalar}.wasm): the kernels a forward pass
// of any layer graph needs and nothing else: f32 GEMM, bias, ReLU, convolution, pooling, batch
// norm (running statistics), layer norm, GELU and residual adds for float models; the token
// embedding and the softmax of attention for text models; the int8
// kernels (quantization, the int8 GEMM and its epilogue, the im2col gather, the depthwise kernel)
// and the per-channel affine op for quantized ones. No losses, optimizers, dropout, PRNG or
// backward kernels. Same sources, same memory layout (memory.ts) and the same raw ABI
// (../src/abi.ts, INFER_KERNEL_NAMES) as the full module.
export { heapBase } from './memory';
export { sgemm } from './kernels/gemm';
export { biasAdd } from './kernels/bias';
export { reluForward } from './kernels/relu';
export { quantizeI8, packWeightsI8, gemmI8, dequantizeI8 } from './kernels/int8';
export { im2colI8, depthwiseConvI8 } from './kernels/int8_conv';
export { channelAffine } from './kernels/channel_affine';
export { conv2dForward } from './kernels/conv';
export { maxPool2dForward, avgPool2dForward, globalAvgPoolForward } from './kernels/pool';
export { batchNormInferForward } from './kernels/batch_norm';
export { layerNormForward } from './kernels/layer_norm';
export { geluForward } from './kernels/gelu';
export { addForward } from './kernels/add';
export { softmaxRows } from './kernels/softmax';
export { embeddingForward } from './kernels/embedding';
