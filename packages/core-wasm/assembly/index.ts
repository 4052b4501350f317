// Retort's kernels: the module's whole export list. One op per file under kernels/,
// forward and backward side by side. The raw ABI (argument order, accumulation rules)
// is documented in ../src/abi.ts; the plain-JS backend in ../src/backends/js mirrors it.
export { heapBase, setScratch, scratchBytes } from './memory';
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
export { conv2dForward, conv2dBackwardData, conv2dBackwardFilter } from './kernels/conv';
export { maxPool2dForward, maxPool2dBackward, avgPool2dForward, avgPool2dBackward, globalAvgPoolForward, globalAvgPoolBackward } from './kernels/pool';
export { batchNormTrainForward, batchNormInferForward, batchNormBackward } from './kernels/batch_norm';
export { layerNormForward, layerNormBackward } from './kernels/layer_norm';
export { geluForward, geluBackward } from './kernels/gelu';
export { addForward } from './kernels/add';
export { embeddingForward, embeddingBackward } from './kernels/embedding';
export { im2colI8, depthwiseConvI8 } from './kernels/int8_conv';
export { channelAffine } from './kernels/channel_affine';
