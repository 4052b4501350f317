import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fingerprint, fullView, slice, splitValidation } from '../../src/data/dataset.js';
import { loadDataDir, loadIdxPair, loadNpyPair, writeIdxFile, writeNpyFile } from '../../src/data/files.js';
import { MNIST_FILE_NAMES } from '../../src/data/sources.js';
import { Fnv1a64 } from '../../src/data/hash.js';
import { loadMnist, mnistDataDir } from '../../src/data/mnist.js';
import { permutation, Xoshiro128 } from '../../src/data/random.js';
import { expectDataError, tempDir, tinyDataset } from './helpers.js';

const dir = tempDir();


describe('loading pairs', () => {
  it('loads an IDX pair written by the IDX writer', () => {
    writeIdxFile(join(dir, 'imgs'), { type: 'u8', dims: [3, 2, 2], data: [...Array(12).keys()] });
    writeIdxFile(join(dir, 'labs'), { type: 'u8', dims: [3], data: [2, 0, 4] });
    const ds = loadIdxPair(join(dir, 'imgs'), join(dir, 'labs'));
    expect(ds).toMatchObject({ name: 'imgs', count: 3, sampleShape: [2, 2], features: 4, classes: 5 });
    expect(ds.x).toBeInstanceOf(Uint8Array);
    expect(Array.from(ds.y)).toEqual([2, 0, 4]);
    expect(loadIdxPair(join(dir, 'imgs'), join(dir, 'labs'), { classes: 10 }).classes).toBe(10);
  });

  it('rejects a label/image count mismatch, naming the labels file', () => {
    writeIdxFile(join(dir, 'labs2'), { type: 'u8', dims: [2], data: [0, 1] });
    expectDataError(() => loadIdxPair(join(dir, 'imgs'), join(dir, 'labs2')), join(dir, 'labs2'),
      /label\/image count mismatch: 2 labels, but .*imgs holds 3 samples/);
  });

  it('rejects labels out of range', () => {
    const labs = join(dir, 'labs-big');
    writeIdxFile(labs, { type: 'u8', dims: [3], data: [0, 10, 1] });
    expectDataError(() => loadIdxPair(join(dir, 'imgs'), labs, { classes: 10 }), labs, /label 10 at index 1 is not in \[0, 10\)/);
    const neg = join(dir, 'labs-neg');
    writeIdxFile(neg, { type: 'i8', dims: [3], data: [0, -1, 1] });
    expectDataError(() => loadIdxPair(join(dir, 'imgs'), neg), neg, /label -1 at index 1 is negative/);
  });

  it('rejects float labels and 1-D samples', () => {
    const fl = join(dir, 'labs-f');
    writeIdxFile(fl, { type: 'f32', dims: [3], data: [0, 1, 2] });
    expectDataError(() => loadIdxPair(join(dir, 'imgs'), fl), fl, /labels must be integers/);
    expectDataError(() => loadIdxPair(join(dir, 'labs'), join(dir, 'labs')), join(dir, 'labs'), /at least 2 dimensions/);
  });

  it('loads an .npy pair (f8 samples become f32, int64 labels int32)', () => {
    writeNpyFile(join(dir, 'x.npy'), { dtype: 'f8', shape: [2, 3], data: [0.5, 1, 2, 3, 4, 5] });
    writeNpyFile(join(dir, 'y.npy'), { dtype: 'i8', shape: [2], data: [1, 0] });
    const ds = loadNpyPair(join(dir, 'x.npy'), join(dir, 'y.npy'));
    expect(ds).toMatchObject({ count: 2, sampleShape: [3], features: 3, classes: 2 });
    expect(ds.x).toEqual(new Float32Array([0.5, 1, 2, 3, 4, 5]));
    writeNpyFile(join(dir, 'y3.npy'), { dtype: 'i4', shape: [3], data: [1, 0, 1] });
    expectDataError(() => loadNpyPair(join(dir, 'x.npy'), join(dir, 'y3.npy')), join(dir, 'y3.npy'), /count mismatch/);
  });
});

describe('data folders and MNIST', () => {
  it('names the missing file of a data folder', () => {
    const d = join(dir, 'fashion');
    mkdirSync(d);
    writeIdxFile(join(d, MNIST_FILE_NAMES.trainImages), { type: 'u8', dims: [2, 2, 2], data: Array(8).fill(1) });
    writeIdxFile(join(d, MNIST_FILE_NAMES.trainLabels), { type: 'u8', dims: [2], data: [0, 1] });
    writeIdxFile(join(d, MNIST_FILE_NAMES.testImages), { type: 'u8', dims: [1, 2, 2], data: Array(4).fill(2) });
    expectDataError(() => loadDataDir(d), join(d, MNIST_FILE_NAMES.testLabels), /not found \(a data folder holds train-images-idx3-ubyte/);
    writeFileSync(join(d, `${MNIST_FILE_NAMES.testLabels}.gz`), 'x');
    expectDataError(() => loadDataDir(d), join(d, MNIST_FILE_NAMES.testLabels), /decompress it first/);
    writeIdxFile(join(d, MNIST_FILE_NAMES.testLabels), { type: 'u8', dims: [1], data: [2] });
    const { train, test } = loadDataDir(d);
    expect(train).toMatchObject({ name: 'fashion/train', count: 2, classes: 3 });
    expect(test).toMatchObject({ name: 'fashion/test', count: 1, classes: 3 });
    expectDataError(() => loadDataDir(join(dir, 'nowhere')), join(dir, 'nowhere'), /data folder not found/);
  });

  it('loads the bundled MNIST', () => {
    expect(existsSync(join(mnistDataDir(), MNIST_FILE_NAMES.trainImages))).toBe(true);
    const { train, test } = loadMnist();
    expect(train).toMatchObject({ name: 'mnist/train', count: 60000, sampleShape: [28, 28], features: 784, classes: 10 });
    expect(test).toMatchObject({ name: 'mnist/test', count: 10000, sampleShape: [28, 28], features: 784, classes: 10 });
    expect(train.x).toBeInstanceOf(Uint8Array);
    expect(train.x.length).toBe(60000 * 784);
    expect(Array.from(train.y.subarray(0, 5))).toEqual([5, 0, 4, 1, 9]);
    expect(Array.from(test.y.subarray(0, 5))).toEqual([7, 2, 1, 0, 4]);
    const counts = new Array<number>(10).fill(0);
    for (const v of train.y) counts[v]!++;
    expect(Math.min(...counts)).toBeGreaterThan(5000);
    // Small slices and their fingerprints are stable across runs (pinned values).
    const view = slice(fullView(test), 100);
    expect(fingerprint(view)).toBe('b6c8ed4ebe0292bb') // checked against a Python FNV-1a;
    expect(fingerprint(view)).not.toBe(fingerprint(slice(fullView(test), 100, 1)));
  });

  it('surfaces a corrupt MNIST copy with the file name', () => {
    const d = join(dir, 'corrupt');
    mkdirSync(d);
    for (const name of Object.values(MNIST_FILE_NAMES)) writeIdxFile(join(d, name), { type: 'u8', dims: [1, 1], data: [0] });
    renameSync(join(d, MNIST_FILE_NAMES.trainImages), join(d, 'tmp'));
    writeFileSync(join(d, MNIST_FILE_NAMES.trainImages), new Uint8Array([0, 0, 8, 3, 0, 0, 0xea, 0x60, 0, 0, 0, 28, 0, 0, 0, 28, 1, 2, 3]));
    expectDataError(() => loadDataDir(d), join(d, MNIST_FILE_NAMES.trainImages), /truncated: header says 60000x28x28 u8 = 47040000 bytes, file has 3 after the header/);
  });
});

describe('views', () => {
  const ds = tinyDataset(50);

  it('splits by seed: deterministic, disjoint, covering, sorted', () => {
    const a = splitValidation(ds, 12, 7);
    const b = splitValidation(ds, 12, 7);
    expect(a.validation.indices).toEqual(b.validation.indices);
    expect(a.train.indices).toEqual(b.train.indices);
    expect(a.validation.indices.length).toBe(12);
    expect(a.train.indices.length).toBe(38);
    const all = [...a.train.indices, ...a.validation.indices].sort((p, q) => p - q);
    expect(all).toEqual([...Array(50).keys()]);
    expect([...a.validation.indices]).toEqual([...a.validation.indices].sort((p, q) => p - q));
    expect(splitValidation(ds, 12, 8).validation.indices).not.toEqual(a.validation.indices);
    expect(() => splitValidation(ds, 50, 1)).toThrow(/validationCount/);
  });

  it('slices without copying samples', () => {
    const v = slice(fullView(ds), 5, 10);
    expect(Array.from(v.indices)).toEqual([10, 11, 12, 13, 14]);
    expect(v.dataset).toBe(ds);
    expect(() => slice(fullView(ds), 51)).toThrow(/count must be/);
  });

  it('fingerprints the selected samples, labels and shape', () => {
    const full = fullView(ds);
    const fp = fingerprint(full);
    expect(fp).toMatch(/^[0-9a-f]{16}$/);
    expect(fingerprint(fullView(tinyDataset(50)))).toBe(fp);
    expect(fingerprint(slice(full, 49))).not.toBe(fp);
    const flipped = tinyDataset(50);
    flipped.x[123]! ^= 1;
    expect(fingerprint(fullView(flipped))).not.toBe(fp);
    const relabelled = tinyDataset(50);
    relabelled.y[3] = 1;
    expect(fingerprint(fullView(relabelled))).not.toBe(fp);
    const reshaped = { ...tinyDataset(50), sampleShape: [2, 8] };
    expect(fingerprint(fullView(reshaped))).not.toBe(fp);
  });
});

describe('pure-TS PRNG and hash', () => {
  it('FNV-1a 64 matches the published test vectors', () => {
    const h = (s: string): string => new Fnv1a64().updateString(s).digest();
    expect(h('')).toBe('cbf29ce484222325');
    expect(h('a')).toBe('af63dc4c8601ec8c');
    expect(h('foobar')).toBe('85944171f73967e8');
  });

  it('gives independent, reproducible streams per key', () => {
    const draw = (...k: number[]): number[] => { const r = new Xoshiro128(42, ...k); return [r.nextU32(), r.nextU32(), r.nextU32()]; };
    expect(draw(1, 2)).toEqual(draw(1, 2));
    expect(draw(1, 2)).not.toEqual(draw(1, 3));
    expect(draw(1, 2)).not.toEqual(draw(2, 1));
    expect(new Xoshiro128(2 ** 40).nextU32()).not.toBe(new Xoshiro128(0).nextU32());
    const p = permutation(1000, new Xoshiro128(3));
    expect([...p].sort((a, b) => a - b)).toEqual([...Array(1000).keys()]);
    const r = new Xoshiro128(9);
    const hits = new Array<number>(5).fill(0);
    for (let i = 0; i < 5000; i++) hits[r.below(5)]!++;
    for (const c of hits) expect(Math.abs(c - 1000)).toBeLessThan(150);
    expect(() => new Xoshiro128(-1)).toThrow(/seed/);
  });
});
