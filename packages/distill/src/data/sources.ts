// Datasets from files in memory: what `--data` reads from a path (data/files.ts), read from a list
// of named byte arrays instead — the web lab's upload (a file picker or a dropped folder) and any
// caller that already holds the bytes. Platform-neutral: the same readers (npz.ts, npy.ts, idx.ts,
// table.ts, image.ts), the same test-set rules (withTestSet), hence the same datasets, bit for bit,
// as `--data` gives for the same files on disk.
import { DataFormatError } from './errors.js';
import { datasetFromIdx, pairTrainTest, splitTestSet, DEFAULT_SPLIT_SEED, DEFAULT_TEST_FRACTION,
  type Dataset, type TestSplit } from './dataset.js';
import { readIdx } from './idx.js';
import { readNpy, type NpyArray } from './npy.js';
import { datasetsFromNpz, readNpz, readSafetensorsDataset, NPZ_DATASET_KEYS } from './npz.js';
import { csvDataset, csvHeaderNames, DEFAULT_LABEL_COLUMN, DEFAULT_TEXT_COLUMN } from './table.js';
import { imageFolderDataset, isImageName, IMAGE_EXTENSIONS, type ImageEntry } from './image.js';

/** The four files of a data folder, under MNIST's own names (Fashion-MNIST and KMNIST ship the same). */
export const MNIST_FILE_NAMES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

/** What a data source holds: a training set, maybe its own test set, and the class names its labels index (null: numbers). */
export interface DataSource { train: Dataset; test?: Dataset; classNames: string[] | null }

/** A train and a test set, how the test set came about, and the class names the labels index (null: class numbers). */
export interface LoadedData {
  train: Dataset;
  test: Dataset;
  split: TestSplit;
  classNames: string[] | null;
}

export interface TestSetOptions {
  /** When the data has no test set and none is given: the fraction held out (default 0.2)... */
  testFraction?: number;
  /** ... chosen per class by this seed (default 0). */
  splitSeed?: number;
}

/**
 * The data with its test set: `given` (a test set of the user's own, named `givenName`) replaces
 * the data's own; else the data's own; else a stratified split by `splitSeed` that the result
 * records. One rule for `--data`/`--test-data` and for uploads.
 */
export function withTestSet(src: DataSource, name: string, opts: TestSetOptions, given?: { test: Dataset; name: string }): LoadedData {
  let train = src.train, test: Dataset, split: TestSplit;
  if (given) {
    test = given.test;
    split = { kind: 'file', path: given.name };
  } else if (src.test) {
    test = src.test;
    split = { kind: 'given' };
  } else {
    ({ train, test, split } = splitTestSet(train, opts.testFraction ?? DEFAULT_TEST_FRACTION, opts.splitSeed ?? DEFAULT_SPLIT_SEED));
  }
  const paired = pairTrainTest(train, test, given?.name ?? name);
  return { ...paired, split, classNames: src.classNames };
}

/** Which training source a test source follows: its classes, and for images their size and channels. */
export interface SourceLike { train: Dataset; classNames: string[] | null }

/** Options of a set of data files (as DataLoadOptions of `--data`). */
export interface DataFilesOptions extends TestSetOptions {
  /** Names the datasets; default from the files. */
  name?: string;
  /** The label column of a CSV file (default 'label'). */
  labelColumn?: string;
  /** The size [height, width] images are resized to (default the first image's). */
  imageSize?: readonly [number, number];
}

/** One file of a set: its path inside the set ('x_train.npy', 'cat/1.png', 'train/cat/1.png') and its bytes. */
export interface DataFile { path: string; bytes: Uint8Array }

const ACCEPTED_FILES = 'a .npz archive, a .safetensors file, a .csv table, the four x_train/y_train/x_test/y_test .npy files, '
  + 'the four MNIST-named IDX files, or image files in class folders (CLASS/IMAGE, or train/CLASS/IMAGE and test/CLASS/IMAGE)';

const baseOf = (p: string): string => p.split('/').pop() ?? p;

/**
 * The files with the folder they were picked in taken off: a folder upload names every file
 * 'FOLDER/…'; that first part is the data's name, not part of its layout. Hidden files are skipped.
 */
function unwrap(files: readonly DataFile[]): { files: DataFile[]; folder?: string } {
  const norm = files.map((f) => ({ ...f, path: f.path.replace(/\\/g, '/').replace(/^\.?\/+/, '') }))
    .filter((f) => !baseOf(f.path).startsWith('.'));
  const firsts = new Set(norm.map((f) => f.path.split('/')[0]!));
  const [folder] = [...firsts];
  if (firsts.size !== 1 || !folder || !norm.every((f) => f.path.includes('/'))) return { files: norm };
  return { files: norm.map((f) => ({ ...f, path: f.path.slice(folder.length + 1) })), folder };
}

function utf8(f: DataFile): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(f.bytes);
  } catch {
    throw new DataFormatError(f.path, 'not UTF-8 text');
  }
}

/** The text-data refusal of `--data` and of uploads: a text dataset needs a text model. */
export function textRefusal(path: string): DataFormatError {
  return new DataFormatError(path, `holds text ('${DEFAULT_TEXT_COLUMN}' and '${DEFAULT_LABEL_COLUMN}' fields): this reader takes arrays, images and tables; text trains through 'retort train' and 'retort distill' (a tokenizer and a text model), not yet in the lab`);
}

/**
 * An image folder's data: its images in class folders (`all`), or its own split (`train` and
 * `test`, the test set taking the training set's classes, size and channels). `root` names the
 * folder in errors, `name` the datasets; `like`: the training source a test folder follows.
 */
export function imageFolderSource(root: string, parts: { all: readonly ImageEntry[] } | { train: readonly ImageEntry[]; test: readonly ImageEntry[] },
                                  opts: { name: string; imageSize?: readonly [number, number] }, like?: SourceLike): DataSource {
  const shape = like?.train.sampleShape;
  const followed = like && shape && shape.length === 3 && like.classNames
    ? { classNames: like.classNames, channels: shape[2] as 1 | 3 } : undefined;
  const size = followed ? [shape![0]!, shape![1]!] as const : opts.imageSize;
  const first = { ...(size ? { size } : {}), ...(followed ?? {}) };
  if ('all' in parts) {
    const { dataset, classNames } = imageFolderDataset(root, parts.all, { ...first, name: opts.name });
    return { train: dataset, classNames };
  }
  const train = imageFolderDataset(`${root}/train`, parts.train, { ...first, name: `${opts.name}/train` });
  const [H, W, C] = train.dataset.sampleShape as [number, number, 1 | 3];
  const test = imageFolderDataset(`${root}/test`, parts.test, { size: [H, W], classNames: train.classNames, channels: C, name: `${opts.name}/test` });
  return { train: train.dataset, test: test.dataset, classNames: train.classNames };
}

/** Picked image files in class folders, with or without their own train/ and test/ split. */
function imagesSource(files: readonly DataFile[], name: string, opts: DataFilesOptions, like?: SourceLike): DataSource {
  for (const f of files) {
    if (!isImageName(f.path)) throw new DataFormatError(f.path, `not an image file (${IMAGE_EXTENSIONS.join(', ')}) among the images of ${name}`);
    if (!f.path.includes('/')) throw new DataFormatError(f.path, 'an image must sit in a class folder (CLASS/IMAGE): pick the folder that holds the class folders');
  }
  const entries = (list: readonly DataFile[], strip = 0): ImageEntry[] =>
    list.map((f) => ({ path: f.path.split('/').slice(strip).join('/'), read: () => f.bytes }));
  const o = { name, ...(opts.imageSize ? { imageSize: opts.imageSize } : {}) };
  if (!files.every((f) => /^(train|test)\/[^/]+\/[^/]+$/.test(f.path))) return imageFolderSource(name, { all: entries(files) }, o, like);
  const part = (s: 'train' | 'test'): ImageEntry[] => entries(files.filter((f) => f.path.startsWith(`${s}/`)), 1);
  const [train, test] = [part('train'), part('test')];
  if (train.length === 0 || test.length === 0) {
    throw new DataFormatError(`${name}/${train.length === 0 ? 'train' : 'test'}`, 'an image folder with its own split holds both train/CLASS/IMAGE and test/CLASS/IMAGE');
  }
  return imageFolderSource(name, { train, test }, o, like);
}

/**
 * What a set of files holds, read by the readers `--data` uses. `like`: the training source a
 * test set follows (its class names; for images its size and channels).
 */
export function readDataFiles(input: readonly DataFile[], opts: DataFilesOptions = {}, like?: SourceLike): DataSource {
  const { files, folder } = unwrap(input);
  if (files.length === 0) throw new DataFormatError(folder ?? 'data', `no files (give ${ACCEPTED_FILES})`);
  const first = files[0]!;
  const name = opts.name ?? folder ?? baseOf(first.path).replace(/\.(npz|safetensors|csv)$/i, '');
  const single = files.length === 1 ? first : undefined;
  if (single && /\.npz$/i.test(single.path)) return { ...datasetsFromNpz(readNpz(single.bytes, single.path), single.path, { name }), classNames: null };
  if (single && /\.safetensors$/i.test(single.path)) {
    return { ...datasetsFromNpz(readSafetensorsDataset(single.bytes, single.path), single.path, { name }), classNames: null };
  }
  if (single && /\.jsonl$/i.test(single.path)) throw textRefusal(single.path);
  if (single && /\.csv$/i.test(single.path)) {
    const text = utf8(single);
    if (csvHeaderNames(text)?.includes(DEFAULT_TEXT_COLUMN)) throw textRefusal(single.path);
    const t = csvDataset(text, single.path, { ...(opts.labelColumn ? { labelColumn: opts.labelColumn } : {}),
      ...(like ? { classNames: like.classNames } : {}), name });
    return { train: t.dataset, classNames: t.classNames };
  }
  const byName = new Map(files.map((f) => [baseOf(f.path), f]));
  if (files.every((f) => /\.npy$/i.test(f.path))) {
    const arrays = new Map<string, NpyArray>();
    for (const key of NPZ_DATASET_KEYS) {
      const f = byName.get(`${key}.npy`);
      if (f) arrays.set(key, readNpy(f.bytes, f.path));
    }
    return { ...datasetsFromNpz(arrays, folder ?? 'the .npy files', { name }), classNames: null };
  }
  const idx = Object.values(MNIST_FILE_NAMES);
  if (files.some((f) => (idx as readonly string[]).includes(baseOf(f.path)))) {
    const get = (n: string): DataFile => {
      const f = byName.get(n);
      if (!f) throw new DataFormatError(n, `not among the files (IDX data is the four files ${idx.join(', ')})`);
      return f;
    };
    const pair = (xs: string, ys: string, split: string): Dataset => {
      const x = get(xs), y = get(ys);
      return datasetFromIdx(readIdx(x.bytes, x.path), readIdx(y.bytes, y.path), { xFile: x.path, yFile: y.path }, { name: `${name}/${split}` });
    };
    const train = pair(MNIST_FILE_NAMES.trainImages, MNIST_FILE_NAMES.trainLabels, 'train');
    const test = pair(MNIST_FILE_NAMES.testImages, MNIST_FILE_NAMES.testLabels, 'test');
    return { ...pairTrainTest(train, test, MNIST_FILE_NAMES.testImages), classNames: null };
  }
  if (files.some((f) => isImageName(f.path))) return imagesSource(files, name, opts, like);
  throw new DataFormatError(single?.path ?? folder ?? first.path, `not data Retort reads: give ${ACCEPTED_FILES}`);
}

/**
 * The data a set of files holds, with its test set: `testFiles` (a test set of the user's own,
 * whose test part is taken if it has one), the data's own, or a seeded stratified split — the
 * rules of `--data` and `--test-data`.
 */
export function dataFromFiles(files: readonly DataFile[], opts: DataFilesOptions = {}, testFiles?: readonly DataFile[]): LoadedData {
  const src = readDataFiles(files, opts);
  const name = opts.name ?? src.train.name.replace(/\/train$/, '');
  let given: { test: Dataset; name: string } | undefined;
  if (testFiles && testFiles.length) {
    const t = readDataFiles(testFiles, { ...opts, name: undefined }, src);
    given = { test: t.test ?? t.train, name: testFiles.length === 1 ? testFiles[0]!.path : unwrap(testFiles).folder ?? 'the test files' };
  }
  return withTestSet(src, name, opts, given);
}
