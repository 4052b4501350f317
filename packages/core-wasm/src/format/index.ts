// @retort/core-wasm/format: dependency-free file-format pieces shared by the inference entry
// and @retort/distill: CRC-32, the model-file error class, the int8 model file (version 2: any
// layer graph; version 1: MLPs, still read), the float32 model file reader and the layer-graph
// reader it uses.
export { crc32 } from './crc32.js';
export { ModelFormatError } from './errors.js';
export { QUANTIZED_FORMAT_VERSION, QUANTIZED_MAGIC, MAX_QUANTIZED_HEADER_BYTES, isQuantizedModelFile } from './container.js';
export {
  encodeQuantizedModel, checkQuantizedModel, decodeQuantizedGraph, graphOfQuantizedModel,
  type QuantizedModel, type QuantizedLayer, type QuantizedModelSpec,
} from './quantized.js';
export {
  encodeQuantizedGraph, checkQuantizedGraph, graphShapes, quantizedModelSize,
  type QuantizedGraph, type QuantizedOp, type QuantizedOpType, type QuantizedDense, type QuantizedConv,
  type DecodedQuantizedGraph, type CalibrationInfo, type QuantizedSize,
} from './quantized-graph.js';
export { FLOAT_MODEL_MAGIC, isFloatModelFile, decodeFloatModelFile, type FloatModel } from './float-model.js';
export {
  compileLayers, readLayers, readLayer, mlpLayers, opOutput, windowOutput,
  type GraphLayer, type NodeLayer, type LayerNode, type LayerGraph, type TensorInfo, type Shape, type Pair, type Padding,
} from './graph.js';
