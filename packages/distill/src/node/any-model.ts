// A model file of any format Retort reads, as an Mlp: Retort's own (.retort, by its magic
// bytes), ONNX (.onnx) or a TensorFlow.js LayersModel (a model.json, or the folder holding one).
// Also the input normalisation the file records ((x/255 − mean)/std; 0/1 when it records none).
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Core } from '@retort/core-wasm';
import { DataFormatError } from '../data/errors.js';
import { loadModel, readModelFile } from '../format/model-io.js';
import { Mlp } from '../model/mlp.js';

export type ModelFormat = 'retort' | 'onnx' | 'tfjs';

export interface LoadedModel { model: Mlp; norm: { mean: number; std: number }; format: ModelFormat }

const RETORT_MAGIC = [0x52, 0x45, 0x54, 0x4f, 0x52, 0x54, 0x00, 0x1a];

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
  if (RETORT_MAGIC.every((b, i) => head[i] === b) || /\.retort$/i.test(name)) return 'retort';
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

/** Every weight and bias finite (a NaN or Inf from a diverged run or a corrupt export is named). */
export function checkFiniteParams(model: Mlp, fileName: string): void {
  const p = model.params.view();
  for (const [i, l] of model.layers.entries()) {
    for (const [what, from, n] of [['weights', l.weightOffset, l.inputs * l.outputs], ['bias', l.biasOffset, l.outputs]] as const) {
      for (let k = 0; k < n; k++) {
        const v = p[from + k]!;
        if (!Number.isFinite(v)) {
          const at = what === 'weights' ? `[${Math.floor(k / l.outputs)}, ${k % l.outputs}]` : `[${k}]`;
          throw new DataFormatError(fileName, `layer ${i + 1} ${what}${at} is ${v} (NaN or Inf)`);
        }
      }
    }
  }
}

async function loadUnchecked(core: Core, path: string): Promise<LoadedModel> {
  const format = modelFormatOf(path);
  if (format === 'retort') {
    const file = readModelFile(path);
    const meta = file.meta as { mean?: unknown; std?: unknown };
    const norm = { mean: typeof meta.mean === 'number' ? meta.mean : 0, std: typeof meta.std === 'number' && meta.std > 0 ? meta.std : 1 };
    return { model: loadModel(core, path), norm, format };
  }
  if (format === 'onnx') {
    const { readOnnxFile } = await import('../interop/onnx-node.js'); // protobufjs only when needed
    const imp = readOnnxFile(path);
    const model = new Mlp(core, imp.spec);
    model.writeParams(imp.params);
    return { model, norm: imp.normalization ?? { mean: 0, std: 1 }, format };
  }
  const { importTfjsMlp } = await import('../interop/node.js'); // tfjs only when needed
  const imp = await importTfjsMlp(core, path);
  // a TF.js model records no input preparation: the caller's (x/255, mean 0, std 1) is assumed
  return { model: imp.model, norm: { mean: 0, std: 1 }, format };
}

