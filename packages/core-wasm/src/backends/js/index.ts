// The js backend: every kernel of the raw ABI (../../abi.ts) in plain TypeScript over
// the loader's shared linear memory. It is the conformance reference for the wasm
// builds and the "plain JS" side of the benchmarks, so it is written to be fast within
// plain code (register-tiled GEMM, no allocation per call), not as a strawman.
// One file per op group, mirroring assembly/kernels/; memory.ts holds the view accessor.
//
// Kernels are plain functions taking the HeapViews first; here they are bound to one
// memory's views, so the object below has exactly RawKernels' signatures.

import type { RawKernels } from '../../abi.js';
import { JS_HEAP_BASE, HeapViews } from './memory.js';
import { sgemm } from './gemm.js';
import { fill, scale, axpy, normalizeU8, argmaxRows } from './elementwise.js';
import { biasAdd, biasBackward } from './bias.js';
import { reluForward, reluBackward } from './relu.js';
import { dropoutMask, dropoutForward, dropoutBackward } from './dropout.js';
import { softmaxRows, logSoftmaxRows, softmaxBackward } from './softmax.js';
import { crossEntropy } from './cross_entropy.js';
import { klDivergence } from './kl_divergence.js';
import { kdLoss } from './kd_loss.js';
import { mseLoss, smoothL1Loss } from './regression.js';
import { sgdStep, adamwStep } from './optim.js';
import { maxNormColumns } from './max_norm.js';
import { rngSeed, rngUint32, rngUniform, rngNormal } from './rng.js';
import { peakProbe, peakProbeFlopsPerIter } from './probe.js';
import { quantizeWeightsI8, quantizeI8, packWeightsI8, gemmI8, dequantizeI8 } from './int8.js';

export { JS_HEAP_BASE } from './memory.js';

export function createJsKernels(memory: WebAssembly.Memory): RawKernels {
  const heap = new HeapViews(memory);
  return {
    heapBase: () => JS_HEAP_BASE,
    sgemm: sgemm.bind(null, heap),
    fill: fill.bind(null, heap),
    scale: scale.bind(null, heap),
    axpy: axpy.bind(null, heap),
    normalizeU8: normalizeU8.bind(null, heap),
    argmaxRows: argmaxRows.bind(null, heap),
    biasAdd: biasAdd.bind(null, heap),
    biasBackward: biasBackward.bind(null, heap),
    reluForward: reluForward.bind(null, heap),
    reluBackward: reluBackward.bind(null, heap),
    dropoutMask: dropoutMask.bind(null, heap),
    dropoutForward: dropoutForward.bind(null, heap),
    dropoutBackward: dropoutBackward.bind(null, heap),
    softmaxRows: softmaxRows.bind(null, heap),
    logSoftmaxRows: logSoftmaxRows.bind(null, heap),
    softmaxBackward: softmaxBackward.bind(null, heap),
    crossEntropy: crossEntropy.bind(null, heap),
    klDivergence: klDivergence.bind(null, heap),
    kdLoss: kdLoss.bind(null, heap),
    mseLoss: mseLoss.bind(null, heap),
    smoothL1Loss: smoothL1Loss.bind(null, heap),
    sgdStep: sgdStep.bind(null, heap),
    adamwStep: adamwStep.bind(null, heap),
    maxNormColumns: maxNormColumns.bind(null, heap),
    rngSeed: rngSeed.bind(null, heap),
    rngUint32: rngUint32.bind(null, heap),
    rngUniform: rngUniform.bind(null, heap),
    rngNormal: rngNormal.bind(null, heap),
    peakProbe,
    peakProbeFlopsPerIter,
    quantizeWeightsI8: quantizeWeightsI8.bind(null, heap),
    quantizeI8: quantizeI8.bind(null, heap),
    packWeightsI8: packWeightsI8.bind(null, heap),
    gemmI8: gemmI8.bind(null, heap),
    dequantizeI8: dequantizeI8.bind(null, heap),
  };
}
