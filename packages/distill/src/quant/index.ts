// Post-training int8 quantization of any model: quantizeModel -> Int8Model (predict, size, encode),
// the plan it follows (which batch norms fold, which ReLUs fuse), and the int8 model file.
export { quantizeModel, quantizeGraph, layerGraphOf, type QuantizeOptions } from './quantize.js';
export { Int8Model, coreMemory } from './int8-model.js';
export { planInt8, int8Bytes, type Int8Plan, type PlannedOp } from './plan.js';
export { encodeQuantizedGraph, decodeQuantizedGraph, type DecodedInt8File } from './format.js';
export { AbsStats } from './calibrate.js';
export {
  quantizedModelSize, type QuantizedGraph, type QuantizedOp, type QuantizedSize, type CalibrationInfo,
} from '@retort/core-wasm/format';
import { quantizeModel } from './quantize.js';
import { Int8Model } from './int8-model.js';
/** @deprecated The first name of quantizeModel (it quantized MLPs only); it now takes any model. */
export const quantizeMlp = quantizeModel;
/** @deprecated The first name of Int8Model. */
export const QuantizedMlp = Int8Model;
/** @deprecated The first name of Int8Model. */
export type QuantizedMlp = Int8Model;
