// The inference-only module (build/retort.infer.{simd,scalar}.wasm): the kernels a forward pass
// needs and nothing else: f32 GEMM, bias and ReLU for float models, and the int8 kernels for
// quantized ones. No losses, optimizers, dropout or PRNG. Same sources, same memory layout
// (memory.ts) and the same raw ABI (../src/abi.ts, INFER_KERNEL_NAMES) as the full module.
export { heapBase } from './memory';
export { sgemm } from './kernels/gemm';
export { biasAdd } from './kernels/bias';
export { reluForward } from './kernels/relu';
export { quantizeI8, packWeightsI8, gemmI8, dequantizeI8 } from './kernels/int8';
