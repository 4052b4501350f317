// Datasets in the Keras convention (keras.datasets.*.load_data): four arrays x_train, y_train,
// x_test, y_test; samples are images (N, H, W[, C]) or feature rows (N, D), labels (N,) or
// (N, 1) integers. They come as
// - NumPy's .npz archives (numpy.savez and numpy.savez_compressed): a ZIP file with one .npy
//   member per array, named KEY.npy. The ZIP layer (stored and deflated members) is fflate's;
//   each member is parsed by npy.ts, so every dtype and shape rule of a .npy file holds here;
// - a .safetensors file holding the four tensors (U8 samples stay bytes, float ones become
//   float32, integer labels int32);
// - a folder of the four KEY.npy files (files.ts).
// Pure: no Node APIs (files.ts reads the bytes).

import { unzipSync } from 'fflate';
import { datasetFromNpy, pairTrainTest, type Dataset } from './dataset.js';
import { DataFormatError } from './errors.js';
import { readNpy, type NpyArray } from './npy.js';
import {
  decodeSafetensor, parseSafetensorsHeader, quoteName, safetensorsHeaderLength, selectEntries,
} from '../interop/safetensors.js';

/** The arrays of an .npz archive by key (member name without `.npy`); errors name `file`. */
export function readNpz(bytes: Uint8Array, file: string): Map<string, NpyArray> {
  let members: Record<string, Uint8Array>;
  try {
    members = unzipSync(bytes);
  } catch (err) {
    throw new DataFormatError(file, `not a readable .npz archive (ZIP): ${err instanceof Error ? err.message : String(err)}`);
  }
  const arrays = new Map<string, NpyArray>();
  for (const [name, data] of Object.entries(members)) {
    if (name.endsWith('/')) continue;
    if (!name.endsWith('.npy')) throw new DataFormatError(file, `member '${name}' is not a .npy array (an .npz holds only KEY.npy members)`);
    arrays.set(name.slice(0, -'.npy'.length), readNpy(data, `${file}:${name}`));
  }
  if (arrays.size === 0) throw new DataFormatError(file, 'the archive holds no arrays');
  return arrays;
}

/**
 * The four dataset arrays of a .safetensors file, as .npy-like arrays: U8 samples as bytes,
 * other samples as float32, integer labels as int32 (float labels stay float, and are refused
 * as labels later). Errors name `file` and the tensor.
 */
export function readSafetensorsDataset(bytes: Uint8Array, file: string): Map<string, NpyArray> {
  const n = safetensorsHeaderLength(bytes, bytes.length, file);
  const header = parseSafetensorsHeader(bytes.subarray(8, 8 + n), bytes.length - 8 - n, file);
  const buffer = bytes.subarray(8 + n);
  const present = NPZ_DATASET_KEYS.filter((k) => header.entries.some((e) => e.name === k));
  if (present.length === 0) {
    throw new DataFormatError(file, `no dataset tensors: a dataset file holds ${NPZ_DATASET_KEYS.join(', ')}; this one holds ${header.entries.map((e) => quoteName(e.name)).join(', ') || 'none'}`);
  }
  const arrays = new Map<string, NpyArray>();
  for (const e of selectEntries(header, present, file)) {
    const raw = buffer.subarray(e.begin, e.end);
    if (e.dtype === 'U8') { arrays.set(e.name, { dtype: 'u1', shape: e.shape, data: raw.slice() }); continue; }
    const f = decodeSafetensor(e, raw, file);
    if (!/^[IUB]/.test(e.dtype) || e.name.startsWith('x_')) { arrays.set(e.name, { dtype: 'f4', shape: e.shape, data: f }); continue; }
    const y = new Int32Array(f.length);
    for (let i = 0; i < f.length; i++) {
      const v = f[i]!;
      if (!Number.isInteger(v) || Math.abs(v) > 2 ** 24) throw new DataFormatError(file, `tensor ${quoteName(e.name)}: label ${v} at index ${i} is out of range`);
      y[i] = v;
    }
    arrays.set(e.name, { dtype: 'i4', shape: e.shape, data: y });
  }
  return arrays;
}

/** The four arrays of a Keras-style dataset archive. */
export const NPZ_DATASET_KEYS = ['x_train', 'y_train', 'x_test', 'y_test'] as const;

export interface NpzDatasetOptions {
  /** Names the datasets `${name}/train` and `${name}/test`; default the file's name without `.npz`. */
  name?: string;
  /** Number of classes; default max label + 1 over train and test together. */
  classes?: number;
}

/**
 * Train and test datasets from a Keras-style archive's arrays. Labels of shape (N, 1) (as
 * keras.datasets.cifar10 has them) are taken as (N,). Errors name `file:key`.
 */
export function datasetsFromNpz(arrays: ReadonlyMap<string, NpyArray>, file: string,
                                 opts: NpzDatasetOptions = {}): { train: Dataset; test: Dataset } {
  const missing = NPZ_DATASET_KEYS.filter((k) => !arrays.has(k));
  if (missing.length) {
    throw new DataFormatError(file, `missing ${missing.join(', ')}: a dataset holds ${NPZ_DATASET_KEYS.join(', ')}`
      + `; this one holds ${[...arrays.keys()].join(', ') || 'none of them'}`);
  }
  const base = opts.name ?? (file.replace(/\.npz$/i, '').split(/[\\/]/).pop() || 'data');
  const part = (split: 'train' | 'test'): Dataset => {
    const xFile = `${file}:x_${split}`, yFile = `${file}:y_${split}`;
    return datasetFromNpy(arrays.get(`x_${split}`)!, squeezeLabels(arrays.get(`y_${split}`)!), { xFile, yFile },
      { name: `${base}/${split}`, ...(opts.classes !== undefined ? { classes: opts.classes } : {}) });
  };
  return pairTrainTest(part('train'), part('test'), `${file}:x_test`);
}

function squeezeLabels(y: NpyArray): NpyArray {
  return y.shape.length === 2 && y.shape[1] === 1 ? { ...y, shape: [y.shape[0]!] } : y;
}
