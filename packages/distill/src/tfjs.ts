// @retort/distill/tfjs: TensorFlow.js LayersModels as teachers, imports and exports, and
// safetensors — a separate entry because it loads tfjs-core and tfjs-layers (platform-neutral:
// browsers, workers and Node; file-system loaders are in '@retort/distill/node').
export {
  TfjsTeacher, mlpToTfjs, mlpToModelArtifacts, mlpFromTfjsModel, parseTfjsModelJson, normalizeKerasTopology, tfjsArtifacts, memoryShards,
  artifactsHandler, buildTfjsModel, disposeTfjsModel,
  type TeacherInput, type TfjsModelJson, type TfjsMlpImport, type TfjsExportOptions,
} from './interop/tfjs-layers.js';
export { modelToTfjs, modelToModelArtifacts, type TfjsExportSource } from './interop/tfjs-export.js';
export { modelFromTfjsModel, type TfjsModelImport } from './interop/tfjs-import.js';
export { tfjsArtifactsFromFiles, tfjsArtifactsFromUrl, tfjsTeacherFromArtifacts, type NamedBlob, type TfjsBrowserArtifacts } from './interop/tfjs-browser.js';
export { readSafetensors, writeSafetensors, type SafetensorsDType } from './interop/safetensors.js';
export { f16BitsToNumber, numberToF16Bits, bf16BitsToNumber, numberToBf16Bits } from './interop/fp16.js';
