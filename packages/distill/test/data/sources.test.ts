// dataFromFiles (data/sources.ts): the same files read from memory (the lab's upload) give the
// datasets `--data` reads from disk, bit for bit, with the same test-set rules and the same refusals.
import { mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encode as encodePng } from 'fast-png';
import { describe, expect, it } from 'vitest';
import type { Dataset } from '../../src/data/dataset.js';
import { loadDataPath, writeIdxFile, writeNpyFile } from '../../src/data/files.js';
import { dataFromFiles, MNIST_FILE_NAMES, type DataFile, type LoadedData } from '../../src/data/sources.js';
import { expectDataError, put, tempDir } from './helpers.js';

const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

/** Every file under `dir`, named as a folder upload names them ('FOLDER/…'). */
function folderFiles(dir: string, folder = 'picked'): DataFile[] {
  const out: DataFile[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push({ path: `${folder}/${relative(dir, p).split(/[\\/]/).join('/')}`, bytes: new Uint8Array(readFileSync(p)) });
    }
  };
  walk(dir);
  return out;
}
const file = (path: string, as = path.split(/[\\/]/).pop()!): DataFile => ({ path: as, bytes: new Uint8Array(readFileSync(path)) });

function sameData(a: Dataset, b: Dataset): void {
  expect(a.sampleShape).toEqual(b.sampleShape);
  expect(a.classes).toBe(b.classes);
  expect(a.count).toBe(b.count);
  expect(a.x.constructor).toBe(b.x.constructor);
  expect(Buffer.from(a.x.buffer, a.x.byteOffset, a.x.byteLength).equals(Buffer.from(b.x.buffer, b.x.byteOffset, b.x.byteLength))).toBe(true);
  expect(Array.from(a.y)).toEqual(Array.from(b.y));
}
function sameLoaded(a: LoadedData, b: LoadedData): void {
  sameData(a.train, b.train);
  sameData(a.test, b.test);
  expect(a.classNames).toEqual(b.classNames);
  expect(a.split.kind).toBe(b.split.kind);
}

const png = (w: number, h: number, grey: number): Uint8Array =>
  encodePng({ width: w, height: h, channels: 3, depth: 8, data: Uint8Array.from({ length: w * h * 3 }, (_, i) => (grey + 7 * i + (i % 3) * 40) % 256) });

describe('dataFromFiles reads what --data reads', () => {
  const dir = tempDir();

  it('a .npz and a .safetensors archive, bit for bit', () => {
    for (const name of ['keras_u8.npz', 'keras_f4_compressed.npz']) {
      sameLoaded(dataFromFiles([file(fixture(name))]), loadDataPath(fixture(name)));
    }
  });

  it('the four .npy files, picked one by one or as a folder', () => {
    const npy = join(dir, 'npy');
    mkdirSync(npy);
    writeNpyFile(join(npy, 'x_train.npy'), { dtype: 'u1', shape: [6, 2, 3], data: Uint8Array.from({ length: 36 }, (_, i) => i * 7 % 256) });
    writeNpyFile(join(npy, 'y_train.npy'), { dtype: 'i8', shape: [6], data: [0, 1, 2, 0, 1, 2] });
    writeNpyFile(join(npy, 'x_test.npy'), { dtype: 'u1', shape: [2, 2, 3], data: Uint8Array.from({ length: 12 }, (_, i) => i) });
    writeNpyFile(join(npy, 'y_test.npy'), { dtype: 'i8', shape: [2], data: [2, 0] });
    const disk = loadDataPath(npy);
    sameLoaded(dataFromFiles(readdirSync(npy).map((n) => file(join(npy, n)))), disk);
    sameLoaded(dataFromFiles(folderFiles(npy)), disk);
  });

  it('MNIST-named IDX files', () => {
    const idx = join(dir, 'idx');
    mkdirSync(idx);
    writeIdxFile(join(idx, MNIST_FILE_NAMES.trainImages), { type: 'u8', dims: [5, 3, 3], data: Uint8Array.from({ length: 45 }, (_, i) => i * 5 % 256) });
    writeIdxFile(join(idx, MNIST_FILE_NAMES.trainLabels), { type: 'u8', dims: [5], data: Uint8Array.from([0, 1, 0, 1, 3]) });
    writeIdxFile(join(idx, MNIST_FILE_NAMES.testImages), { type: 'u8', dims: [2, 3, 3], data: Uint8Array.from({ length: 18 }, (_, i) => i) });
    writeIdxFile(join(idx, MNIST_FILE_NAMES.testLabels), { type: 'u8', dims: [2], data: Uint8Array.from([1, 3]) });
    sameLoaded(dataFromFiles(folderFiles(idx, 'fashion')), loadDataPath(idx));
    const three = folderFiles(idx, 'fashion').filter((f) => !f.path.endsWith(MNIST_FILE_NAMES.testLabels));
    expectDataError(() => dataFromFiles(three), MNIST_FILE_NAMES.testLabels, /not among the files/);
  });

  it('a CSV table with named classes, its seeded split, and a test file of its own that follows its class names', () => {
    const rows = ['f1,f2,kind', ...Array.from({ length: 20 }, (_, i) => `${i},${(i * 3) % 7},${['cat', 'dog', 'eel'][i % 3]}`)];
    const csv = put(dir, 'table.csv', new TextEncoder().encode(rows.join('\n')));
    const test = put(dir, 'table-test.csv', new TextEncoder().encode('kind,f1,f2\neel,1,2\ncat,3,4\n'));
    const opts = { labelColumn: 'kind', testFraction: 0.25, splitSeed: 3 };
    const mem = dataFromFiles([file(csv)], opts);
    sameLoaded(mem, loadDataPath(csv, opts));
    expect(mem.classNames).toEqual(['cat', 'dog', 'eel']);
    expect(mem.split).toMatchObject({ kind: 'seeded', fraction: 0.25, seed: 3 });
    const own = dataFromFiles([file(csv)], opts, [file(test)]);
    sameLoaded(own, loadDataPath(csv, { ...opts, testData: test }));
    expect(Array.from(own.test.y)).toEqual([2, 0]);
    expect(own.split).toEqual({ kind: 'file', path: 'table-test.csv' });
    // a test label the training data does not have
    const stray = put(dir, 'stray.csv', new TextEncoder().encode('kind,f1,f2\nfox,1,2\n'));
    expect(() => dataFromFiles([file(csv)], opts, [file(stray)])).toThrow(/fox/);
  });

  it('an image folder, flat (seeded split) or with its own train/ and test/, resized as asked', () => {
    const flat = join(dir, 'shapes');
    for (const [cls, n] of [['circle', 4], ['square', 5]] as const) {
      mkdirSync(join(flat, cls), { recursive: true });
      for (let i = 0; i < n; i++) put(join(flat, cls), `${i}.png`, png(6 + i, 5, 30 * i + cls.length));
    }
    const opts = { imageSize: [4, 4] as const, testFraction: 0.5 };
    const mem = dataFromFiles(folderFiles(flat, 'shapes'), opts);
    sameLoaded(mem, loadDataPath(flat, opts));
    expect(mem.train.sampleShape).toEqual([4, 4, 3]);
    expect(mem.classNames).toEqual(['circle', 'square']);
    expect(mem.train.name).toBe('shapes/train');

    const split = join(dir, 'split');
    for (const part of ['train', 'test']) {
      for (const cls of ['a', 'b']) {
        mkdirSync(join(split, part, cls), { recursive: true });
        for (let i = 0; i < 2; i++) put(join(split, part, cls), `${i}.png`, png(5, 5, i * 50 + cls.charCodeAt(0) + part.length));
      }
    }
    const own = dataFromFiles(folderFiles(split, 'split'));
    sameLoaded(own, loadDataPath(split));
    expect(own.split).toEqual({ kind: 'given' });
  });
});

describe('dataFromFiles refuses what --data refuses, naming the file', () => {
  const text = (path: string, s: string): DataFile => ({ path, bytes: new TextEncoder().encode(s) });

  it('no files, a file of no known form, a text dataset, bad CSV fields', () => {
    expectDataError(() => dataFromFiles([]), 'data', /no files/);
    expectDataError(() => dataFromFiles([text('notes.txt', 'hello')]), 'notes.txt', /not data Retort reads/);
    expectDataError(() => dataFromFiles([text('reviews.csv', 'text,label\ngood,1\n')]), 'reviews.csv', /holds text/);
    expectDataError(() => dataFromFiles([text('reviews.jsonl', '{"text":"a","label":0}\n')]), 'reviews.jsonl', /holds text/);
    expectDataError(() => dataFromFiles([text('t.csv', 'a,label\n1,0\nx,1\n')]), 't.csv:3', /not a finite number/);
    expectDataError(() => dataFromFiles([{ path: 'bad.csv', bytes: Uint8Array.from([0x61, 0xff, 0xfe]) }]), 'bad.csv', /not UTF-8/);
  });

  it('a truncated archive, a missing array, an image outside a class folder, an undecodable image', () => {
    const npz = new Uint8Array(readFileSync(fixture('keras_u8.npz')));
    expect(() => dataFromFiles([{ path: 'cut.npz', bytes: npz.subarray(0, npz.length - 30) }])).toThrow(/cut\.npz/);
    expectDataError(() => dataFromFiles([{ path: 'x_train.npy', bytes: new Uint8Array(readFileSync(fixture('v2_u1.npy'))) }]), 'the .npy files', /missing y_train/);
    expectDataError(() => dataFromFiles([{ path: 'loose.png', bytes: png(3, 3, 1) }]), 'loose.png', /class folder/);
    expectDataError(() => dataFromFiles([{ path: 'set/cat/1.png', bytes: png(3, 3, 1) }, { path: 'set/cat/2.png', bytes: Uint8Array.from([1, 2, 3]) }]),
      'set/cat/2.png', /./);
    expectDataError(() => dataFromFiles([{ path: 'set/cat/1.png', bytes: png(3, 3, 1) }, { path: 'set/cat/notes.txt', bytes: Uint8Array.from([1]) }]),
      'cat/notes.txt', /not an image file/);
  });
});
