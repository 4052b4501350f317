// The int8 model file (layout: @retort/core-wasm/format, src/format/container.ts and
// quantized-graph.ts; version 1, MLPs, src/format/quantized.ts). The codec itself lives in
// core-wasm, dependency-free, so that the inference entry decodes the same files without zod or
// the trainer; here the spec is additionally held to the full model-spec schema, and a bad spec
// in a file is a ModelFormatError like any other defect.
import {
  decodeQuantizedGraph as decodeBytes, encodeQuantizedGraph as encodeBytes, graphShapes, ModelFormatError,
  type DecodedQuantizedGraph, type QuantizedGraph,
} from '@retort/core-wasm/format';
import { compileSpec, modelSpecSchema, parseModelSpec, specErrorFrom, type ModelSpec } from '../model/spec.js';

export interface DecodedInt8File extends DecodedQuantizedGraph { spec: ModelSpec & DecodedQuantizedGraph['spec'] }

/** Encodes an int8 graph (format version 2); throws SpecError for a bad spec, RangeError for inconsistent ops. */
export function encodeQuantizedGraph(g: QuantizedGraph): Uint8Array {
  parseModelSpec(g.spec, 'spec');
  return encodeBytes(g);
}

/** Decodes and validates an int8 model file of either version; every defect is a ModelFormatError naming `fileName`. */
export function decodeQuantizedGraph(bytes: Uint8Array, fileName = 'model'): DecodedInt8File {
  const decoded = decodeBytes(bytes, fileName);
  const spec = modelSpecSchema.safeParse(decoded.spec);
  if (!spec.success) throw new ModelFormatError(fileName, specErrorFrom(spec.error, 'header.spec').message);
  // the ops must be a model of the spec they carry: its input shape and its class count
  const s = spec.data;
  if (s.type === 'mlp' || s.input !== undefined) {
    const g = compileSpec(s);
    const text = (v: readonly number[]): string => `[${v.join(', ')}]`;
    if (text(g.inputShape) !== text(decoded.input)) throw new ModelFormatError(fileName, `header.input: ${text(decoded.input)} but the spec takes ${text(g.inputShape)}`);
    const shapes = graphShapes(decoded.input, decoded.ops, (p) => { throw new ModelFormatError(fileName, p); });
    const classes = shapes[shapes.length - 1]!.reduce((a, b) => a * b, 1); // a language model's [L, V] too
    if (classes !== g.classes) throw new ModelFormatError(fileName, `header.ops: the ops give ${classes} classes but the spec ${g.classes}`);
  }
  return { ...decoded, spec: spec.data as DecodedInt8File['spec'] };
}
