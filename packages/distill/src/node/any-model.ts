// A model file of any format Retort reads, as a Model: Retort's own (.retort, by its magic
// bytes), ONNX (.onnx) or a TensorFlow.js LayersModel (a model.json, or the folder holding one).
// Also the input normalisation the file records ((x/255 − mean)/std; 0/1 when it records none).
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Core } from '@retort/core-wasm';
import { normFromMeta, type InputNorm } from '../data/dataset.js';
import { DataFormatError } from '../data/errors.js';
import { checkFiniteParams, MAGIC } from '../format/model-file.js';
import { readModelFile } from '../format/model-io.js';
import { createModel, type Model } from '../model/index.js';
import { modelFromFile } from '../format/model-io.js';

export type ModelFormat = 'retort' | 'onnx' | 'tfjs';

export interface LoadedModel {
  model: Model;
  norm: InputNorm;
  format: ModelFormat;
  /** How the file takes its input: images channels first (an ONNX graph), channels last, or flat features. */
  layout: 'NCHW' | 'NHWC' | 'features';
  /** A Retort file's meta (its tokenizer or character vocabulary, for text models); {} for other formats. */
  meta: Record<string, unknown>;
}


/** Which format `path` holds (by magic bytes for Retort files, by name for ONNX and TF.js). */
export function modelFormatOf(path: string): ModelFormat {
  const name = basename(path);
  if (!existsSync(path)) throw new DataFormatError(name, 'no such file or folder');
  if (statSync(path).isDirectory()) {
    if (existsSync(join(path, 'model.json'))) return 'tfjs';
    throw new DataFormatError(name, 'is a folder without a model.json (a TensorFlow.js model folder holds model.json and its weight files)');
  }
  if (/\.json$/i.test(name)) return 'tfjs';
  if (/\.onnx$/i.test(name)) return 'onnx';
  const head = new Uint8Array(8);
  const fd = openSync(path, 'r');
  try { readSync(fd, head, 0, 8, 0); } finally { closeSync(fd); }
  // a .retort file is read as one, so that a damaged one gets the format's own error (bad magic, truncated, ...)
  if (MAGIC.every((b, i) => head[i] === b) || /\.retort$/i.test(name)) return 'retort';
  throw new DataFormatError(name, 'is not a model Retort reads (bad magic): expected a Retort model file, an .onnx file, or a TensorFlow.js model.json (or its folder)');
}

export async function loadAnyModel(core: Core, path: string): Promise<LoadedModel> {
  const loaded = await loadUnchecked(core, path);
  try {
    checkFiniteParams(loaded.model, basename(path));
  } catch (e) {
    loaded.model.free();
    throw e;
  }
  return loaded;
}

async function loadUnchecked(core: Core, path: string): Promise<LoadedModel> {
  const format = modelFormatOf(path);
  if (format === 'retort') {
    const file = readModelFile(path); // read and checked once: spec, meta and tensors
    const norm = normFromMeta(file.meta, basename(path));
    const model = modelFromFile(core, file, basename(path));
    return { model, norm, format, layout: model.inputShape.length === 3 ? 'NHWC' : 'features', meta: file.meta };
  }
  if (format === 'onnx') {
    const { readOnnxFile } = await import('../interop/onnx-node.js'); // protobufjs only when needed
    const imp = readOnnxFile(path);
    const model = createModel(core, imp.spec);
    try {
      model.writeParams(imp.params);
      if (model.stateCount > 0) model.writeState(imp.state);
    } catch (e) {
      model.free();
      throw e;
    }
    return { model, norm: imp.normalization ?? { mean: 0, std: 1 }, format, layout: imp.inputLayout, meta: {} };
  }
  // any layer graph Retort can represent; a DataFormatError for other models (node/run.ts then runs them through tfjs)
  const { importTfjsModel } = await import('../interop/node.js'); // tfjs only when needed
  const imp = await importTfjsModel(core, path);
  // a TF.js model records no input preparation unless Retort exported it: else the caller's (x/255, mean 0, std 1) is assumed
  return { model: imp.model, norm: imp.normalization ?? { mean: 0, std: 1 }, format, layout: imp.model.inputShape.length === 3 ? 'NHWC' : 'features', meta: {} };
}


