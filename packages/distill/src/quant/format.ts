// The int8 model file (layout: @retort/core-wasm/format, src/format/quantized.ts). The codec
// itself lives in core-wasm, dependency-free, so that the inference entry decodes the same
// files without zod or the trainer; here the spec is additionally held to the full model-spec
// schema, and a bad spec in a file is a ModelFormatError like any other defect.
import {
  decodeQuantizedModel as decodeBytes, encodeQuantizedModel as encodeBytes, ModelFormatError,
  type DecodedQuantizedModel, type QuantizedModel,
} from '@retort/core-wasm/format';
import { modelSpecSchema, parseModelSpec, specErrorFrom, type ModelSpec } from '../model/spec.js';

export interface DecodedQuantizedMlpFile extends DecodedQuantizedModel { spec: ModelSpec & DecodedQuantizedModel['spec'] }

/** Encodes a quantized model; throws SpecError for a bad spec, RangeError for inconsistent layers. */
export function encodeQuantizedModel(model: QuantizedModel): Uint8Array {
  parseModelSpec(model.spec, 'spec');
  return encodeBytes(model);
}

/** Decodes and validates an int8 model file; every defect is a ModelFormatError naming `fileName`. */
export function decodeQuantizedModel(bytes: Uint8Array, fileName = 'model'): DecodedQuantizedMlpFile {
  const decoded = decodeBytes(bytes, fileName);
  const spec = modelSpecSchema.safeParse(decoded.spec);
  if (!spec.success) throw new ModelFormatError(fileName, specErrorFrom(spec.error, 'header.spec').message);
  return { ...decoded, spec: spec.data as DecodedQuantizedMlpFile['spec'] };
}
