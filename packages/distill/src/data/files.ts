// Reading and writing data files from disk (Node only; the parsers they use are pure).
// Headers are read and validated against the file size first; the payload is allocated
// only once every size has been checked, at exactly its size, and read straight into place.

import { closeSync, existsSync, fstatSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { bytesOf, product, toHostOrder } from './bytes.js';
import { datasetFromIdx, datasetFromNpy, pairTrainTest, type Dataset, type DatasetOptions } from './dataset.js';
import { imageFolderSource, MNIST_FILE_NAMES, textRefusal, withTestSet, type DataSource, type LoadedData, type SourceLike, type TestSetOptions } from './sources.js';
import { IMAGE_EXTENSIONS, isImageName, type ImageEntry } from './image.js';
import { csvDataset, csvHeaderNames, DEFAULT_TEXT_COLUMN, textDatasetFromCsv, textDatasetFromJsonl, type TextDataset } from './table.js';
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

/** Reads a UTF-8 text file; bytes that are not UTF-8 are an error naming it. */
export function readTextFile(path: string): string {
  const bytes = readWholeFile(path);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new DataFormatError(path, 'not UTF-8 text');
  }
}

/** The image files of a folder of class folders (hidden files skipped), as ImageEntry paths 'CLASS/NAME'. */
function imageEntries(dir: string): ImageEntry[] {
  const entries: ImageEntry[] = [];
  for (const cls of readdirSync(dir, { withFileTypes: true })) {
    if (cls.name.startsWith('.')) continue;
    const clsPath = join(dir, cls.name);
    if (!cls.isDirectory()) throw new DataFormatError(clsPath, 'an image folder holds one folder per class (CLASS/IMAGE), not files at its top');
    let n = 0;
    for (const f of readdirSync(clsPath, { withFileTypes: true })) {
      if (f.name.startsWith('.')) continue;
      const path = join(clsPath, f.name);
      if (!f.isFile() || !isImageName(f.name)) throw new DataFormatError(path, `not an image file (${IMAGE_EXTENSIONS.join(', ')}) in class folder '${cls.name}'`);
      entries.push({ path: `${cls.name}/${f.name}`, read: () => readWholeFile(path) });
      n++;
    }
    if (n === 0) throw new DataFormatError(clsPath, `class folder with no images (${IMAGE_EXTENSIONS.join(', ')})`);
  }
  return entries;
}

/** Whether `dir` holds the train/ and test/ folders of an image folder with its own split. */
function hasOwnSplit(dir: string): boolean {
  return ['train', 'test'].every((s) => existsSync(join(dir, s)) && statSync(join(dir, s)).isDirectory());
}

export interface ImageFolderLoadOptions extends DataDirOptions {
  /** Output size [height, width]; default the first image's. */
  imageSize?: readonly [number, number];
}

/**
 * Reads an image folder: DIR/CLASS/*.png|jpg, or DIR/train/CLASS/… and DIR/test/CLASS/… when it
 * holds its own split (the test set then takes the training set's classes, size and channels);
 * `like`: the training source a separate test folder follows.
 */
export function loadImageFolder(dir: string, opts: ImageFolderLoadOptions = {}, like?: SourceLike): DataSource {
  const root = dir.replace(/[\\/]+$/, '');
  const name = opts.name ?? basename(root);
  const parts = hasOwnSplit(dir) ? { train: imageEntries(join(dir, 'train')), test: imageEntries(join(dir, 'test')) } : { all: imageEntries(dir) };
  return imageFolderSource(root, parts, { name, ...(opts.imageSize ? { imageSize: opts.imageSize } : {}) }, like);
}

/** Options of everything `--data` can name. */
export interface DataLoadOptions extends DataDirOptions, TestSetOptions {
  /** The label column of a CSV file (default 'label'). */
  labelColumn?: string;
  /** The size [height, width] images are resized to (default the first image's). */
  imageSize?: readonly [number, number];
  /** A test set of the user's own, in any form --data takes (its test part if it has one). */
  testData?: string;
}

const ACCEPTED = 'mnist, a folder of IDX or .npy files, an image folder (one sub-folder per class), a .npz archive, a .safetensors file or a .csv table';

/** Reads what one path holds; `like` makes a test source follow its training source. */
function readSource(path: string, opts: DataLoadOptions, like?: SourceLike): DataSource {
  if (existsSync(path) && statSync(path).isDirectory()) {
    if (existsSync(join(path, 'x_train.npy'))) return { ...loadNpyDir(path, opts), classNames: null };
    if (existsSync(join(path, MNIST_FILE_NAMES.trainImages)) || !hasSubfolders(path)) return { ...loadDataDir(path, opts), classNames: null };
    return loadImageFolder(path, opts, like);
  }
  if (/\.npz$/i.test(path)) return { ...loadNpzFile(path, opts), classNames: null };
  if (/\.safetensors$/i.test(path)) return { ...loadSafetensorsDataset(path, opts), classNames: null };
  if (/\.csv$/i.test(path) || /\.jsonl$/i.test(path)) {
    if (isTextDataPath(path)) {
      throw textRefusal(path);
    }
    const t = csvDataset(readTextFile(path), path, { ...(opts.labelColumn ? { labelColumn: opts.labelColumn } : {}), ...(like ? { classNames: like.classNames } : {}),
      ...(opts.name ? { name: opts.name } : {}) });
    return { train: t.dataset, classNames: t.classNames };
  }
  if (!existsSync(path)) throw new DataFormatError(path, `not found (--data takes ${ACCEPTED})`);
  throw new DataFormatError(path, `unsupported data file: --data takes ${ACCEPTED}`);
}

function hasSubfolders(dir: string): boolean {
  return readdirSync(dir, { withFileTypes: true }).some((e) => e.isDirectory() && !e.name.startsWith('.'));
}

/** The first line of a file, read only as far as its first line break (64 KiB at a time). */
function firstLine(path: string): string {
  return withFile(path, path, (fd, size) => {
    const chunks: Uint8Array[] = [];
    for (let at = 0; at < size;) {
      const chunk = new Uint8Array(Math.min(1 << 16, size - at));
      readExact(path, fd, chunk, at);
      const nl = chunk.indexOf(0x0a);
      chunks.push(nl < 0 ? chunk : chunk.subarray(0, nl));
      if (nl >= 0) break;
      at += chunk.length;
    }
    return new TextDecoder().decode(Buffer.concat(chunks));
  });
}

/**
 * A test set of the user's own (`--test-data`) for training data `like`: the file's test part
 * when it has its own split, else all of it; class names follow the training data's.
 */
export function loadTestData(path: string, opts: DataLoadOptions, like: SourceLike): Dataset {
  const t = readSource(path, { ...opts, name: undefined }, like);
  return t.test ?? t.train;
}

/**
 * The data a `--data PATH` names, with its test set: the data's own, `testData`'s (which
 * replaces it), or else a stratified split by `splitSeed` (splitTestSet) that the result
 * records. Anything unreadable is one error naming the path and what is accepted.
 */
export function loadDataPath(path: string, opts: DataLoadOptions = {}): LoadedData {
  const src = readSource(path, opts);
  const given = opts.testData !== undefined ? { test: loadTestData(opts.testData, opts, src), name: opts.testData } : undefined;
  return withTestSet(src, path, opts, given);
}

/** A text dataset (JSONL, or CSV with a 'text' column) and, when `testData` is given, its test set. */
export function loadTextPath(path: string, opts: Pick<DataLoadOptions, 'labelColumn' | 'testData'> & { textColumn?: string } = {}): { train: TextDataset; test?: TextDataset } {
  const read = (p: string, classNames?: string[] | null): TextDataset => {
    const text = readTextFile(p);
    const o = { ...(opts.labelColumn ? { labelColumn: opts.labelColumn } : {}), ...(opts.textColumn ? { textColumn: opts.textColumn } : {}),
      ...(classNames !== undefined ? { classNames } : {}) };
    if (/\.jsonl$/i.test(p)) return textDatasetFromJsonl(text, p, o);
    if (/\.csv$/i.test(p)) return textDatasetFromCsv(text, p, o);
    throw new DataFormatError(p, 'a text dataset is a .jsonl or .csv file');
  };
  const train = read(path);
  return opts.testData ? { train, test: read(opts.testData, train.classNames) } : { train };
}

/** Whether `path` names text data (a .jsonl file, or a .csv whose header has a 'text' column); reads the header line only. */
export function isTextDataPath(path: string): boolean {
  if (/\.jsonl$/i.test(path)) return true;
  if (!/\.csv$/i.test(path) || !existsSync(path)) return false;
  return csvHeaderNames(firstLine(path))?.includes(DEFAULT_TEXT_COLUMN) ?? false;
}
