// Teachers the visitor picks as files, read in the worker: a Retort model file (any model: an MLP,
// a preset CNN, a layer graph, with its batch-norm statistics), a TF.js LayersModel (one Retort can
// represent becomes a Retort model, usable inside the step; any other stays a TensorFlow.js model
// that gives soft labels), an ONNX model (likewise: a graph Retort represents becomes a Retort
// model; any other runs in onnxruntime-web for its soft labels, as `--teacher model.onnx` does in
// packages/distill/src/node/run.ts), or logits over the training set (.npy or .safetensors).
import {
  DataFormatError, checkFiniteParams, createModel, decodeModelFile, normFromMeta, paramsFromTensors, readNpy, stateFromTensors, toFloat32,
  NonFiniteWeightError, type Core, type InputNorm, type Model, type ModelSpec, type RunTeacher,
} from '@retort/distill';
import type { OnnxTeacher } from '@retort/distill/onnx';
import type { TfjsTeacher } from '@retort/distill/tfjs';
import { labModelSpec, labShape, specLabel, tapsOf } from './config.js';
import type { TeacherInfo } from './types.js';

export interface LoadedTeacher {
  /** The picked file's name (model.json for a TF.js model). */
  file: string;
  info: TeacherInfo;
  /** A Retort model: it predicts, and may run inside the step. */
  model?: Model;
  norm: InputNorm;
  tfjs?: TfjsTeacher;
  /** An ONNX model run by onnxruntime-web (its logits prepared per dataset before a run). */
  onnx?: OnnxTeacher;
  /** A logits file: [train count, 10] over the training set in file order. */
  logits?: Float32Array;
}

export function freeTeacher(t: LoadedTeacher | undefined): void {
  t?.model?.free();
  t?.tfjs?.dispose();
  t?.onnx?.dispose();
}

/** The teacher as a run of executeRun takes it. */
export function runTeacher(t: LoadedTeacher): RunTeacher {
  const common = { source: t.file, name: t.file, weight: 1 };
  if (t.model) return { ...common, kind: 'model', model: t.model };
  if (t.tfjs) return { ...common, kind: 'predictor', predictor: t.tfjs };
  if (t.onnx) return { ...common, kind: 'predictor', predictor: t.onnx };
  const logits = t.logits!;
  return { ...common, kind: 'logits', read: () => logits };
}

function checkShape(inputs: number, classes: number, what: string): void {
  const d = labShape();
  if (inputs !== d.features) throw new DataFormatError(what, `takes ${inputs} inputs, but the samples of ${d.name} have ${d.features} ([${d.sampleShape.join(', ')}])`);
  if (classes !== d.classes) throw new DataFormatError(what, `outputs ${classes} classes, but ${d.name} has ${d.classes}`);
}

/** A spec read from a file, checked against the loaded data; a mismatch names the file. */
function fileSpec(spec: ModelSpec, file: string): ModelSpec {
  try {
    return labModelSpec(spec, 'model');
  } catch (e) {
    throw new DataFormatError(file, (e as Error).message);
  }
}

/** A model of `spec` whose weights `load` writes; freed again if they do not load or are not finite. */
function modelWith(c: Core, spec: ModelSpec, file: string, load: (m: Model) => void): Model {
  const model = createModel(c, spec);
  try {
    load(model);
    checkFiniteParams(model, file);
  } catch (e) {
    model.free();
    throw e;
  }
  return model;
}

export function loadRetortTeacher(c: Core, file: { name: string; bytes: Uint8Array }): LoadedTeacher {
  const decoded = decodeModelFile(file.bytes, file.name);
  const spec = fileSpec(decoded.spec, file.name);
  // straight into module memory, as the Node loader does (format/model-io.ts modelFromFile)
  const model = modelWith(c, spec, file.name, (m) => {
    paramsFromTensors(spec, decoded.tensors, file.name, m.params.view());
    if (m.state) stateFromTensors(spec, decoded.tensors, file.name, m.state.view());
  });
  const norm = normFromMeta(decoded.meta, file.name);
  const s = specLabel(spec);
  return {
    file: file.name, model, norm,
    info: { kind: 'retort', spec: s, params: model.paramCount, canPredict: true, inStep: true, taps: tapsOf(model),
      description: `${file.name}: ${s} (${model.paramCount.toLocaleString('en-US')} parameters)` },
  };
}

export async function loadTfjsTeacher(c: Core, files: { name: string; bytes: Uint8Array }[]): Promise<LoadedTeacher> {
  const { tfjsReady } = await import('./tfjs-setup.js');
  await tfjsReady();
  const tfjs = await import('@retort/distill/tfjs');
  const artifacts = await tfjs.tfjsArtifactsFromFiles(files);
  const model = await tfjs.buildTfjsModel(artifacts.artifacts, artifacts.file);
  // a model Retort can represent (Dense, Conv2D, pooling, BatchNormalization, Add, ...) becomes a
  // Retort model (fast, usable inside the step); any other stays a TensorFlow.js model for soft labels
  try {
    const imp = tfjs.modelFromTfjsModel(c, model, artifacts.file);
    tfjs.disposeTfjsModel(model);
    try {
      checkShape(imp.model.inputSize, imp.model.classes, artifacts.file);
      checkFiniteParams(imp.model, artifacts.file);
    } catch (e) {
      imp.model.free();
      throw e;
    }
    const s = specLabel(imp.spec);
    return {
      file: artifacts.file, model: imp.model, norm: imp.normalization ?? labShape().norm,
      info: { kind: 'tfjs-model', spec: s, params: imp.model.paramCount, canPredict: true, inStep: true, taps: tapsOf(imp.model),
        description: `${artifacts.file}: a TF.js model ${imp.spec.type === 'mlp' ? 'of Dense layers, ' : ''}read as ${s}${imp.softmaxDropped ? ' (its final softmax dropped)' : ''}` },
    };
  } catch (e) {
    if (!(e instanceof DataFormatError)) { tfjs.disposeTfjsModel(model); throw e; }
  }
  let teacher: TfjsTeacher;
  try {
    teacher = new tfjs.TfjsTeacher(model, {}, artifacts.fingerprint);
  } catch (e) {
    tfjs.disposeTfjsModel(model);
    throw new DataFormatError(artifacts.file, (e as Error).message);
  }
  try {
    checkShape(teacher.inputShape.reduce((a, b) => a * b, 1), teacher.classes, artifacts.file);
  } catch (e) {
    teacher.dispose();
    throw e;
  }
  const params = model.countParams();
  return {
    file: artifacts.file, tfjs: teacher, norm: labShape().norm,
    info: { kind: 'tfjs', params, canPredict: true, inStep: false, taps: [],
      description: `${artifacts.file}: a TF.js model (${model.layers.length} layers, ${params.toLocaleString('en-US')} parameters, input [${teacher.inputShape.join(', ')}]), run by TensorFlow.js for its soft labels` },
  };
}

/**
 * An ONNX model: a graph Retort represents (Gemm, Conv, pooling, BatchNormalization, Add, ...)
 * becomes a Retort model (usable inside the step, with taps); any other runs in onnxruntime-web
 * (loaded only then), its input prepared as the data's (the lab's normalisation, channels first
 * when the graph takes NCHW), for its soft labels.
 */
export async function loadOnnxTeacher(c: Core, file: { name: string; bytes: Uint8Array }): Promise<LoadedTeacher> {
  const onnx = await import('@retort/distill/onnx');
  let refused: DataFormatError;
  try {
    const imp = onnx.importOnnx(file.bytes, file.name);
    const spec = fileSpec(imp.spec, file.name);
    const model = modelWith(c, spec, file.name, (m) => {
      m.writeParams(imp.params);
      if (m.stateCount > 0) m.writeState(imp.state);
    });
    const s = specLabel(spec);
    return {
      file: file.name, model, norm: imp.normalization ?? labShape().norm,
      info: { kind: 'onnx-model', spec: s, params: model.paramCount, canPredict: true, inStep: true, taps: tapsOf(model),
        description: `${file.name}: an ONNX graph (${imp.producer || 'unknown producer'}, ${imp.inputLayout} input) read as ${s} (${model.paramCount.toLocaleString('en-US')} parameters)` },
    };
  } catch (e) {
    // a graph Retort cannot represent goes to onnxruntime; one with NaN/Inf weights is a bad file either way
    if (!(e instanceof DataFormatError) || e instanceof NonFiniteWeightError) throw e;
    refused = e;
  }
  const d = labShape();
  let teacher: OnnxTeacher;
  try {
    teacher = await onnx.OnnxTeacher.load(file.bytes, file.name, d.sampleShape, d.classes, { mean: d.norm.mean, std: d.norm.std });
  } catch (e) {
    // a file onnxruntime cannot load either: the importer's reason says more
    if (e instanceof DataFormatError) throw refused;
    throw e;
  }
  const why = refused.message.replace(/^[^:]*: /, '');
  return {
    file: file.name, onnx: teacher, norm: d.norm,
    info: { kind: 'onnx', canPredict: true, inStep: false, taps: [],
      description: `${file.name}: an ONNX model run by onnxruntime-web for its soft labels (${teacher.layout === 'flat' ? 'rows' : teacher.layout.toUpperCase()} input; not a Retort model: ${why})` },
  };
}

// readSafetensors lives in the ./tfjs entry, which loads TensorFlow.js: imported only when a
// safetensors file is picked
let safetensorsReader: typeof import('@retort/distill/tfjs').readSafetensors | undefined;

export async function loadLogitsTeacher(file: { name: string; bytes: Uint8Array }, trainCount: number): Promise<LoadedTeacher> {
  let shape: number[];
  let values: Float32Array;
  const isNpy = file.bytes.length >= 6 && file.bytes[0] === 0x93 && String.fromCharCode(...file.bytes.subarray(1, 6)) === 'NUMPY';
  if (isNpy) {
    const a = readNpy(file.bytes, file.name);
    if (a.dtype !== 'f4' && a.dtype !== 'f8') throw new DataFormatError(file.name, `teacher logits must be float32 or float64, got ${a.dtype}`);
    shape = a.shape;
    values = toFloat32(a.data);
  } else if (/\.npy$/i.test(file.name)) {
    throw new DataFormatError(file.name, 'not a .npy file (bad magic)');
  } else {
    safetensorsReader ??= (await import('@retort/distill/tfjs')).readSafetensors;
    const st = safetensorsReader(file.bytes, file.name);
    const names = Object.keys(st.tensors);
    const name = names.length === 1 ? names[0]! : names.includes('logits') ? 'logits' : undefined;
    if (!name) throw new DataFormatError(file.name, names.length === 0 ? 'holds no tensors' : `holds ${names.length} tensors and none is named 'logits'`);
    shape = st.tensors[name]!.shape;
    values = st.tensors[name]!.data;
  }
  if (shape.length !== 2) throw new DataFormatError(file.name, `teacher logits must be 2-D [samples, classes], got shape [${shape.join(', ')}]`);
  const [n, k] = shape as [number, number];
  const d = labShape();
  if (k !== d.classes) throw new DataFormatError(file.name, `teacher logits have ${k} classes but ${d.name} has ${d.classes}`);
  if (n !== trainCount) throw new DataFormatError(file.name, `teacher logits cover ${n} samples but the training set of ${d.name} has ${trainCount} (one row per training sample, in file order)`);
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) throw new DataFormatError(file.name, `teacher logit [${Math.floor(i / k)}, ${i % k}] is ${values[i]}`);
  }
  return {
    file: file.name, logits: values, norm: labShape().norm,
    info: { kind: 'logits', canPredict: false, inStep: false, taps: [],
      description: `${file.name}: teacher logits [${n}, ${k}] over the training set (no model: no test-set predictions)` },
  };
}
