// @retort/core-wasm/format: dependency-free file-format pieces shared by the inference entry
// and @retort/distill: CRC-32, the model-file error class, and the int8 model file.
export { crc32 } from './crc32.js';
export { ModelFormatError } from './errors.js';
export {
  encodeQuantizedModel, decodeQuantizedModel, checkQuantizedModel, isQuantizedModelFile, quantizedModelSize,
  QUANTIZED_FORMAT_VERSION, QUANTIZED_MAGIC, MAX_QUANTIZED_HEADER_BYTES,
  type QuantizedModel, type QuantizedLayer, type QuantizedModelSpec, type DecodedQuantizedModel,
  type CalibrationInfo, type QuantizedSize,
} from './quantized.js';
export { FLOAT_MODEL_MAGIC, isFloatModelFile, decodeFloatModelFile, type FloatMlp } from './float-model.js';
