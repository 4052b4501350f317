// ONNX interop (platform-neutral: bytes in, bytes out): any Retort model becomes an ONNX model
// any ONNX runtime can execute (./onnx-export.ts), and an ONNX graph Retort can represent
// becomes a Retort model (./onnx-import.ts). This module is the public face of both.

import type { Core } from '@retort/core-wasm';
import { createModel, type Model } from '../model/index.js';
import { Mlp } from '../model/mlp.js';
import { SpecError } from '../model/spec.js';
import { importOnnx } from './onnx-import.js';

export {
  ONNX_OPSET, ONNX_IR_VERSION, ONNX_OPSET_LAYER_NORM, ONNX_IR_VERSION_LAYER_NORM, MAX_ONNX_BYTES, ONNX_METADATA_KEYS, ONNX_INPUT_NAME, ONNX_OUTPUT_NAME,
} from './onnx-format.js';
export { exportOnnx, type OnnxExportOptions, type OnnxExportSource, type OnnxInputLayout } from './onnx-export.js';
export { importOnnx, type OnnxImport, type OnnxImportLayout } from './onnx-import.js';
export { OnnxTeacher, type OnnxTeacherInput } from './onnx-teacher.js';

/** A Model built from ONNX bytes (see importOnnx), parameters and state loaded. The caller owns it (free()). */
export function onnxToModel(core: Core, bytes: Uint8Array, fileName = '<onnx bytes>'): Model {
  const { spec, params, state } = importOnnx(bytes, fileName);
  const model = createModel(core, spec);
  try {
    model.writeParams(params);
    if (model.stateCount > 0) model.writeState(state);
  } catch (e) {
    model.free();
    throw e;
  }
  return model;
}

/** An Mlp built from ONNX bytes of an MLP (see importOnnx); other graphs are refused. The caller owns it (free()). */
export function onnxToMlp(core: Core, bytes: Uint8Array, fileName = '<onnx bytes>'): Mlp {
  const model = onnxToModel(core, bytes, fileName);
  if (model instanceof Mlp) return model;
  model.free();
  throw new SpecError('model', `${fileName} holds a ${model.spec.type} model, not an MLP (use onnxToModel)`);
}
