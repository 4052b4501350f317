// Reading and writing data files from disk (Node only; the parsers they use are pure).
// Headers are read and validated against the file size first; the payload is allocated
// only once every size has been checked, at exactly its size, and read straight into place.

import { closeSync, existsSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { bytesOf, product, toHostOrder } from './bytes.js';
import { datasetFromIdx, datasetFromNpy, pairTrainTest, type Dataset, type DatasetOptions } from './dataset.js';
import { DataFormatError } from './errors.js';
import { allocIdxData, IDX_ITEM_SIZE, IDX_MAX_HEADER_BYTES, parseIdxHeader, writeIdx, type IdxArray, type IdxInput } from './idx.js';
import { datasetsFromNpz, NPZ_DATASET_KEYS, readNpz, readSafetensorsDataset, type NpzDatasetOptions } from './npz.js';
import { decodeNpyPayload, npyHeaderLength, NPY_PREAMBLE_BYTES, parseNpyHeader, writeNpy, type NpyArray, type NpyInput } from './npy.js';

/** Opens `path` for reading; a missing file or a directory is a DataFormatError naming `label`. */
export function openRegular(path: string, label = path): { fd: number; size: number } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DataFormatError(label, code === 'ENOENT' ? 'not found' : `cannot open (${code ?? String(err)})`);
  }
  const stat = fstatSync(fd);
  if (!stat.isFile()) {
    closeSync(fd);
    throw new DataFormatError(label, 'not a regular file');
  }
  return { fd, size: stat.size };
}

/** Fills `target` from `position`; a file that shrinks under us is reported as truncated. */
export function readExact(label: string, fd: number, target: Uint8Array, position: number): void {
  for (let off = 0; off < target.length;) {
    const n = readSync(fd, target, off, target.length - off, position + off);
    if (n === 0) throw new DataFormatError(label, `truncated: ended after ${position + off} bytes while reading`);
    off += n;
  }
}

/** Runs `body` on the open file (its size known), closing it whatever happens; errors name `label`. */
export function withFile<T>(path: string, label: string, body: (fd: number, size: number) => T): T {
  const { fd, size } = openRegular(path, label);
  try {
    return body(fd, size);
  } finally {
    closeSync(fd);
  }
}

/**
 * The whole of `path` in memory; errors name `label`. `checkSize` may refuse the size (throwing)
 * before anything is allocated.
 */
export function readWholeFile(path: string, label = path, checkSize?: (size: number) => void): Uint8Array {
  return withFile(path, label, (fd, size) => {
    checkSize?.(size);
    const bytes = new Uint8Array(size);
    readExact(label, fd, bytes, 0);
    return bytes;
  });
}

/** Reads an IDX file, validating the header against the file size before allocating. */
export function readIdxFile(path: string): IdxArray {
  return withFile(path, path, (fd, size) => {
    const prefix = new Uint8Array(Math.min(size, IDX_MAX_HEADER_BYTES));
    readExact(path, fd, prefix, 0);
    const h = parseIdxHeader(prefix, size, path);
    const data = allocIdxData(h.type, product(h.dims));
    const bytes = bytesOf(data);
    readExact(path, fd, bytes, h.headerBytes);
    toHostOrder(bytes, IDX_ITEM_SIZE[h.type], false);
    return { type: h.type, dims: h.dims, data };
  });
}

/** Reads a .npy file, validating the header against the file size before allocating. */
export function readNpyFile(path: string): NpyArray {
  return withFile(path, path, (fd, size) => {
    const preamble = new Uint8Array(Math.min(size, NPY_PREAMBLE_BYTES));
    readExact(path, fd, preamble, 0);
    const head = new Uint8Array(npyHeaderLength(preamble, size, path));
    readExact(path, fd, head, 0);
    const h = parseNpyHeader(head, size, path);
    const payload = new Uint8Array(h.payloadBytes);
    readExact(path, fd, payload, h.headerBytes);
    return { dtype: h.dtype, shape: h.shape, data: decodeNpyPayload(h, payload, path, true) };
  });
}

/** Writes an IDX file atomically. */
export function writeIdxFile(path: string, arr: IdxInput): void {
  writeFileAtomic(path, writeIdx(arr));
}

/** Writes a .npy file atomically. */
export function writeNpyFile(path: string, arr: NpyInput): void {
  writeFileAtomic(path, writeNpy(arr));
}

/** A dataset from an IDX images file ([N, ...], u8/f32/f64) and an IDX labels file ([N], integer). */
export function loadIdxPair(imagesPath: string, labelsPath: string, opts: DatasetOptions = {}): Dataset {
  return datasetFromIdx(readIdxFile(imagesPath), readIdxFile(labelsPath), { xFile: imagesPath, yFile: labelsPath }, opts);
}

/** A dataset from .npy samples ([N, ...], u1/f4/f8) and labels ([N], i1/u1/i4/i8). */
export function loadNpyPair(xPath: string, yPath: string, opts: DatasetOptions = {}): Dataset {
  return datasetFromNpy(readNpyFile(xPath), readNpyFile(yPath), { xFile: xPath, yFile: yPath }, opts);
}

/** The four files of a data folder, under MNIST's own names (Fashion-MNIST and KMNIST ship the same). */
export const MNIST_FILE_NAMES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

export interface DataDirOptions {
  /** Names the datasets `${name}/train` and `${name}/test`; default the folder's name. */
  name?: string;
  /** Number of classes; default max label + 1 over train and test together. */
  classes?: number;
}

/**
 * Loads a folder holding the four IDX files under MNIST's names. Train and test get the
 * same `classes` and must have the same sample shape.
 */
export function loadDataDir(dir: string, opts: DataDirOptions = {}): { train: Dataset; test: Dataset } {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new DataFormatError(dir, 'data folder not found');
  const all = Object.values(MNIST_FILE_NAMES).join(', ');
  for (const name of Object.values(MNIST_FILE_NAMES)) {
    const path = join(dir, name);
    if (existsSync(path)) continue;
    const hint = existsSync(`${path}.gz`) ? `; ${name}.gz is there: decompress it first (gunzip)` : '';
    throw new DataFormatError(path, `not found (a data folder holds ${all}, or x_train.npy, y_train.npy, x_test.npy and y_test.npy)${hint}`);
  }
  const base = opts.name ?? (dir.replace(/[\\/]+$/, '').split(/[\\/]/).pop() || 'data');
  const p = (name: string): string => join(dir, name);
  const train = loadIdxPair(p(MNIST_FILE_NAMES.trainImages), p(MNIST_FILE_NAMES.trainLabels), { name: `${base}/train`, classes: opts.classes });
  const test = loadIdxPair(p(MNIST_FILE_NAMES.testImages), p(MNIST_FILE_NAMES.testLabels), { name: `${base}/test`, classes: opts.classes });
  return pairTrainTest(train, test, p(MNIST_FILE_NAMES.testImages));
}

/** Reads a Keras-style .npz dataset archive (npz.ts): x_train, y_train, x_test, y_test. */
export function loadNpzFile(path: string, opts: NpzDatasetOptions = {}): { train: Dataset; test: Dataset } {
  return datasetsFromNpz(readNpz(readWholeFile(path), path), path, opts);
}

/** Reads a .safetensors file holding x_train, y_train, x_test, y_test (npz.ts). */
export function loadSafetensorsDataset(path: string, opts: NpzDatasetOptions = {}): { train: Dataset; test: Dataset } {
  return datasetsFromNpz(readSafetensorsDataset(readWholeFile(path), path), path, { ...opts, name: opts.name ?? basename(path).replace(/\.safetensors$/i, '') });
}

/** Reads a folder holding x_train.npy, y_train.npy, x_test.npy and y_test.npy. */
export function loadNpyDir(dir: string, opts: DataDirOptions = {}): { train: Dataset; test: Dataset } {
  const arrays = new Map<string, NpyArray>();
  for (const key of NPZ_DATASET_KEYS) {
    const path = join(dir, `${key}.npy`);
    if (existsSync(path)) arrays.set(key, readNpyFile(path));
  }
  return datasetsFromNpz(arrays, dir, { ...opts, name: opts.name ?? basename(dir.replace(/[\\/]+$/, '')) });
}

/**
 * The data a `--data PATH` names: a folder of IDX files under MNIST's names or of the four
 * Keras-named .npy files, a .npz archive or a .safetensors file; anything else is one error
 * naming the path and what is accepted.
 */
export function loadDataPath(path: string, opts: DataDirOptions = {}): { train: Dataset; test: Dataset } {
  if (existsSync(path) && statSync(path).isDirectory()) {
    return existsSync(join(path, 'x_train.npy')) ? loadNpyDir(path, opts) : loadDataDir(path, opts);
  }
  if (/\.npz$/i.test(path)) return loadNpzFile(path, opts);
  if (/\.safetensors$/i.test(path)) return loadSafetensorsDataset(path, opts);
  const accepted = 'mnist, a folder of IDX or .npy files, a .npz archive or a .safetensors file';
  if (!existsSync(path)) throw new DataFormatError(path, `not found (--data takes ${accepted})`);
  throw new DataFormatError(path, `unsupported data file: --data takes ${accepted} (x_train, y_train, x_test, y_test)`);
}
