// Retort's kernels: the module's whole export list. One op per file under kernels/,
// forward and backward side by side. The raw ABI (argument order, accumulation rules)
// is documented in ../src/abi.ts; the plain-JS backend in ../src/backends/js mirrors it.
export { heapBase } from './memory';
export { sgemm } from './kernels/gemm';
export { fill, scale, axpy, normalizeU8, argmaxRows } from './kernels/elementwise';
export { biasAdd, biasBackward } from './kernels/bias';
export { reluForward, reluBackward } from './kernels/relu';
export { dropoutMask, dropoutForward, dropoutBackward } from './kernels/dropout';
export { softmaxRows, logSoftmaxRows, softmaxBackward } from './kernels/softmax';
export { crossEntropy } from './kernels/cross_entropy';
export { klDivergence } from './kernels/kl_divergence';
export { kdLoss } from './kernels/kd_loss';
export { mseLoss, smoothL1Loss } from './kernels/regression';
export { sgdStep, adamwStep } from './kernels/optim';
export { maxNormColumns } from './kernels/max_norm';
export { rngSeed, rngUint32, rngUniform, rngNormal } from './kernels/rng';
export { peakProbe, peakProbeFlopsPerIter } from './kernels/probe';
export { quantizeWeightsI8, quantizeI8, packWeightsI8, gemmI8, dequantizeI8 } from './kernels/int8';
