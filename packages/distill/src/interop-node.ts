// @retort/distill/interop (Node): TF.js LayersModel folders and ONNX files on disk — loading
// tfjs-core/-layers/-backend-wasm and protobufjs, which '@retort/distill/node' leaves out.
export { exportOnnxFile, importOnnxFile, readOnnxFile, readOnnxTextExportInfo, type OnnxTextExportInfo } from './interop/onnx-node.js';
export {
  exportOnnx, importOnnx, onnxToMlp, onnxToModel, ONNX_OPSET, ONNX_IR_VERSION, ONNX_OPSET_LAYER_NORM, MAX_ONNX_BYTES, ONNX_METADATA_KEYS, ONNX_INPUT_NAME, ONNX_OUTPUT_NAME,
  type OnnxExportOptions, type OnnxExportSource, type OnnxImport, type OnnxInputLayout, type OnnxImportLayout,
} from './interop/onnx.js';
export {
  loadTfjsModel, loadTfjsTeacher, cachedTfjsTeacherLogits, exportTfjsModel, importTfjsMlp, importTfjsModel, readTfjsModel, tfjsFileHandler, useTfjsBackend,
  modelJsonPath, tfjsWasmDir, type TfjsModelFiles, type TfjsLoadOptions, type TfjsTeacherOptions,
} from './interop/node.js';
export { modelToTfjs, type TfjsExportSource } from './interop/tfjs-export.js';
export type { TfjsModelImport } from './interop/tfjs-import.js';
