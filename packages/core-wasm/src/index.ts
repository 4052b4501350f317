// @retort/core-wasm: the compute core of Retort.
export { loadCore, hasSimd, hasRelaxedSimd, canShareMemory, setDefaultThreads, setHelperFailureForTests, getDefaultThreads, closeAllThreads, type LoadOptions } from './loader.js';
export { PARALLEL_KERNELS, MIN_GEMM_WORK, MIN_ELEMENTS, partCount } from './threads/parallel.js';
export { ownParts, startParts, takePart, controlBytes, PARTS_PER_THREAD } from './threads/protocol.js';
export {
  Core, type BackendName, type Ref, type GemmStrides, type DistillationLossOptions, type SgdOptions, type AdamWOptions,
} from './core.js';
export { Tensor, type DType } from './tensor.js';
export type { KdLossArgs, KdLossResult, MatmulOptions, SoftmaxOptions } from './convenience.js';
export { INFER_KERNEL_NAMES, GEMM_I8_MAX_K, packedI8Bytes, CONV_GEOMETRY_INTS, GEOM, type InferKernels, type Ptr } from './abi.js';
export { KERNELS, KERNEL_NAMES, descriptorOf, type RawKernels, type KernelName } from './kernels/list.js';
export type { CheckedKernels } from './kernels/checked.js';
export type { KernelDescriptor, KernelArg } from './kernels/describe.js';
export { encodeGeometry, decodeGeometry, checkGeometry, convOutput, type ConvGeometry } from './kernels/geometry.js';
export { conv2dWorkElems, CONV_WORK_BUDGET_ELEMS } from './kernels/conv-work.js';
export { createJsKernels } from './backends/js/index.js';
export {
  floatProgram, int8Program, freeProgram, planProgram, allocBuffers, freeBuffers, runProgram, ProgramRunner, checkTokenIds, COL_BUDGET,
  type Program, type ProgramPlan, type ProgramBuffers, type ProgramMemory, type ProgramKernels, type ExecOp,
} from './infer/forward.js';
