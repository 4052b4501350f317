// Post-training int8 quantization: quantizeMlp -> QuantizedMlp (predict, size, encode), and the int8 model file.
export { quantizeMlp, QuantizedMlp, type QuantizeOptions } from './quantized-mlp.js';
export { encodeQuantizedModel, decodeQuantizedModel, type DecodedQuantizedMlpFile } from './format.js';
export { AbsStats } from './calibrate.js';
export {
  quantizedModelSize, type QuantizedModel, type QuantizedLayer, type QuantizedSize, type CalibrationInfo,
} from '@retort/core-wasm/format';
