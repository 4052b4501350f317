import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { loadDataPath, loadNpzFile, writeNpyFile } from '../../src/data/files.js';
import { writeNpy, type NpyInput } from '../../src/data/npy.js';
import { datasetsFromNpz, readNpz, readSafetensorsDataset } from '../../src/data/npz.js';
import { expectDataError, i64, put, rawSafetensors, tempDir } from './helpers.js';

// Archives written by numpy 2.4 (see fixtures/README.md).
const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

/** An .npz built here: each array a KEY.npy member, stored (level 0, as numpy.savez) or deflated. */
function npz(arrays: Record<string, NpyInput | Uint8Array>, level: 0 | 6 = 0): Uint8Array {
  const members: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(arrays)) members[k.includes('.') ? k : `${k}.npy`] = v instanceof Uint8Array ? v : writeNpy(v);
  return zipSync(members, { level });
}

const u8 = (shape: number[], f: (i: number) => number): NpyInput => {
  const n = shape.reduce((a, b) => a * b, 1);
  return { dtype: 'u1', shape, data: Uint8Array.from({ length: n }, (_, i) => f(i)) };
};
const labels = (v: number[], dtype: 'i4' | 'u1' = 'i4'): NpyInput =>
  ({ dtype, shape: [v.length], data: dtype === 'i4' ? Int32Array.from(v) : Uint8Array.from(v) });

describe('.npz dataset archives (Keras convention)', () => {
  it('reads numpy.savez output: u8 images, int64 labels, (N, 1) test labels', () => {
    const { train, test } = loadNpzFile(fixture('keras_u8.npz'));
    expect(train.name).toBe('keras_u8/train');
    expect(train.sampleShape).toEqual([4, 3]);
    expect(train.x).toBeInstanceOf(Uint8Array);
    expect([...train.x]).toEqual(Array.from({ length: 60 }, (_, i) => (i * 7) % 256));
    expect([...train.y]).toEqual([0, 2, 1, 2, 0]);
    expect([...test.x]).toEqual(Array.from({ length: 24 }, (_, i) => (i * 11) % 256));
    expect([...test.y]).toEqual([1, 2]);
    expect(train.classes).toBe(3);
    expect(test.classes).toBe(3);
  });

  it('reads numpy.savez_compressed output: f32 feature rows, int32 and uint8 labels; classes span both splits', () => {
    const { train, test } = loadDataPath(fixture('keras_f4_compressed.npz'));
    expect(train.sampleShape).toEqual([3]);
    expect(train.x).toBeInstanceOf(Float32Array);
    expect([...train.x]).toEqual([0.5, -1.25, 3, 2, 0, -0.5, 1.5, 1.5, 1.5, -2, 4, 0.25]);
    expect([...test.x]).toEqual([0.5, -1.25, 3, 2, 0, -0.5]);
    expect([...test.y]).toEqual([3, 0]);
    expect(train.classes).toBe(4);
  });

  it('gives the same datasets from stored and deflated members, and keeps (N, H, W, C) images', () => {
    const arrays = {
      x_train: u8([3, 2, 2, 3], (i) => i), y_train: labels([0, 1, 1]),
      x_test: u8([2, 2, 2, 3], (i) => 200 - i), y_test: labels([1, 0], 'u1'),
    };
    const stored = datasetsFromNpz(readNpz(npz(arrays, 0), 'a.npz'), 'a.npz');
    const deflated = datasetsFromNpz(readNpz(npz(arrays, 6), 'a.npz'), 'a.npz');
    expect(stored.train.sampleShape).toEqual([2, 2, 3]);
    expect([...deflated.train.x]).toEqual([...stored.train.x]);
    expect([...deflated.test.x]).toEqual([...stored.test.x]);
    expect([...deflated.test.y]).toEqual([1, 0]);
  });

  describe('refuses bad archives with one error naming the file (and the array)', () => {
    const good = {
      x_train: u8([4, 2, 2], (i) => i), y_train: labels([0, 1, 0, 1]),
      x_test: u8([2, 2, 2], (i) => i), y_test: labels([1, 0]),
    };

    it('a missing array, listing what the archive holds', () => {
      const { x_test: _, ...rest } = good;
      expectDataError(() => datasetsFromNpz(readNpz(npz(rest), 'd.npz'), 'd.npz'), 'd.npz', /missing x_test: .*holds x_train, y_train, y_test/);
    });

    it('a truncated archive, and bytes that are not a ZIP', () => {
      const bytes = npz(good);
      expectDataError(() => readNpz(bytes.subarray(0, bytes.length - 30), 't.npz'), 't.npz', /not a readable \.npz archive/);
      expectDataError(() => readNpz(new TextEncoder().encode('x_train,y_train\n1,2\n'), 'c.npz'), 'c.npz', /not a readable \.npz archive/);
    });

    it('a member that is not a .npy array, or a corrupt one', () => {
      expectDataError(() => readNpz(npz({ ...good, 'notes.txt': new TextEncoder().encode('hi') }), 'n.npz'), 'n.npz', /member 'notes\.txt' is not a \.npy/);
      const corrupt = writeNpy(good.x_train);
      corrupt[0] = 0;
      expectDataError(() => readNpz(npz({ ...good, x_train: corrupt }), 'n.npz'), 'n.npz:x_train.npy', /bad magic/);
      expectDataError(() => readNpz(npz({ ...good, x_train: writeNpy(good.x_train).subarray(0, 140) }), 'n.npz'), 'n.npz:x_train.npy', /truncated|payload/);
    });

    it('labels and samples that disagree, labels out of range, float labels, train and test of different shapes', () => {
      const load = (a: Record<string, NpyInput>) => datasetsFromNpz(readNpz(npz(a), 'm.npz'), 'm.npz');
      expectDataError(() => load({ ...good, y_train: labels([0, 1, 0]) }), 'm.npz:y_train', /3 labels, but m\.npz:x_train holds 4 samples/);
      expectDataError(() => load({ ...good, y_test: labels([1, -2]) }), 'm.npz:y_test', /label -2 at index 1/);
      expectDataError(() => load({ ...good, y_train: { dtype: 'f4', shape: [4], data: new Float32Array(4) } }), 'm.npz:y_train', /labels must be integers/);
      expectDataError(() => load({ ...good, x_test: u8([2, 2, 3], (i) => i) }), 'm.npz:x_test', /test samples are 2x3, train samples are 2x2/);
      expectDataError(() => datasetsFromNpz(readNpz(npz(good), 'm.npz'), 'm.npz', { classes: 1 }), 'm.npz:y_train', /not in \[0, 1\)/);
    });

    it('a path that is neither a folder, nor a .npz, nor there', () => {
      const dir = tempDir();
      const txt = put(dir, 'data.txt', new TextEncoder().encode('a,b\n'));
      expectDataError(() => loadDataPath(txt), txt, /unsupported data file/);
      expectDataError(() => loadDataPath(`${dir}/none.npz`), `${dir}/none.npz`, /not found/);
    });
  });

  it('reads the fixture bytes the same through readNpz as through the file loader', () => {
    const path = fixture('keras_u8.npz');
    const viaBytes = datasetsFromNpz(readNpz(new Uint8Array(readFileSync(path)), path), path);
    expect([...viaBytes.train.x]).toEqual([...loadNpzFile(path).train.x]);
  });
});

const f32 = (v: number[]): Uint8Array => new Uint8Array(Float32Array.from(v).buffer);

describe('other dataset forms in the Keras convention', () => {
  it('a .safetensors file: U8 samples stay bytes, I64 and U8 labels become classes', () => {
    const dir = tempDir();
    const path = put(dir, 'd.safetensors', rawSafetensors({
      x_train: { dtype: 'U8', shape: [4, 2, 2], bytes: Uint8Array.from({ length: 16 }, (_, i) => i * 9) },
      y_train: { dtype: 'I64', shape: [4], bytes: i64([0, 2, 1, 2]) },
      x_test: { dtype: 'U8', shape: [2, 2, 2], bytes: Uint8Array.from({ length: 8 }, (_, i) => 255 - i) },
      y_test: { dtype: 'U8', shape: [2, 1], bytes: Uint8Array.from([1, 0]) },
    }));
    const { train, test } = loadDataPath(path);
    expect(train.name).toBe('d/train');
    expect(train.x).toBeInstanceOf(Uint8Array);
    expect([...train.x]).toEqual(Array.from({ length: 16 }, (_, i) => i * 9));
    expect([...train.y]).toEqual([0, 2, 1, 2]);
    expect([...test.y]).toEqual([1, 0]);
    expect(test.classes).toBe(3);
  });

  it('a .safetensors file: F32 samples as they are; float labels, missing tensors and a torn file refused', () => {
    const x = { dtype: 'F32', shape: [2, 3], bytes: f32([0.5, -1, 2, 3, 4, 5]) };
    const ok = rawSafetensors({ x_train: x, y_train: { dtype: 'I64', shape: [2], bytes: i64([1, 0]) }, x_test: x, y_test: { dtype: 'I64', shape: [2], bytes: i64([0, 1]) } });
    const { train } = datasetsFromNpz(readSafetensorsDataset(ok, 's.safetensors'), 's.safetensors');
    expect([...train.x]).toEqual([0.5, -1, 2, 3, 4, 5]);
    const floatLabels = rawSafetensors({ x_train: x, y_train: { dtype: 'F32', shape: [2], bytes: f32([1, 0]) }, x_test: x, y_test: { dtype: 'I64', shape: [2], bytes: i64([0, 1]) } });
    expectDataError(() => datasetsFromNpz(readSafetensorsDataset(floatLabels, 's.safetensors'), 's.safetensors'), 's.safetensors:y_train', /labels must be integers/);
    expectDataError(() => readSafetensorsDataset(rawSafetensors({ weight: x }), 'w.safetensors'), 'w.safetensors', /no dataset tensors: .*holds 'weight'/);
    expectDataError(() => readSafetensorsDataset(ok.subarray(0, ok.length - 4), 't.safetensors'), 't.safetensors', /data_offsets|past|truncated/);
  });

  it('a folder of x_train.npy, y_train.npy, x_test.npy, y_test.npy; a folder missing one is refused naming it', () => {
    const dir = tempDir();
    writeNpyFile(join(dir, 'x_train.npy'), u8([3, 2, 2], (i) => i));
    writeNpyFile(join(dir, 'y_train.npy'), labels([0, 1, 0]));
    writeNpyFile(join(dir, 'x_test.npy'), u8([2, 2, 2], (i) => 7 * i));
    expectDataError(() => loadDataPath(dir), dir, /missing y_test/);
    writeNpyFile(join(dir, 'y_test.npy'), labels([1, 1], 'u1'));
    const { train, test } = loadDataPath(dir);
    expect(train.sampleShape).toEqual([2, 2]);
    expect([...test.x]).toEqual(Array.from({ length: 8 }, (_, i) => 7 * i));
    expect([...test.y]).toEqual([1, 1]);
    writeFileSync(join(dir, 'y_test.npy'), new Uint8Array(3));
    expectDataError(() => loadDataPath(dir), join(dir, 'y_test.npy'), /truncated|magic/);
  });
});
