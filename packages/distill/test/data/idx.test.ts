import { describe, expect, it } from 'vitest';
import { readIdxFile, writeIdxFile } from '../../src/data/files.js';
import { readIdx, writeIdx, type IdxType } from '../../src/data/idx.js';
import { expectDataError, put, tempDir } from './helpers.js';

const dir = tempDir();

/** An IDX header: magic, type code, dims (big-endian). */
function header(code: number, dims: number[]): number[] {
  const out = [0, 0, code, dims.length];
  for (const d of dims) out.push((d >>> 24) & 255, (d >>> 16) & 255, (d >>> 8) & 255, d & 255);
  return out;
}

describe('IDX', () => {
  const samples: Record<IdxType, number[]> = {
    u8: [0, 1, 128, 255, 7, 9], i8: [-128, -1, 0, 1, 127, 5], i16: [-32768, -2, 0, 300, 32767, 1],
    i32: [-2147483648, -1, 0, 70000, 2147483647, 3], f32: [0, -1.5, 3.25, 1e-3, -0, 65504], f64: [Math.PI, -1e300, 0, 1e-300, 2, -3],
  };
  for (const [type, values] of Object.entries(samples) as [IdxType, number[]][]) {
    it(`round-trips ${type} in memory and on disk`, () => {
      const bytes = writeIdx({ type, dims: [2, 3], data: values });
      const a = readIdx(bytes, 'mem');
      expect(a.type).toBe(type);
      expect(a.dims).toEqual([2, 3]);
      const expected = type === 'f32' ? values.map(Math.fround) : values;
      expect(Array.from(a.data)).toEqual(expected);
      const path = `${dir}/rt-${type}`;
      writeIdxFile(path, { type, dims: [3, 2], data: values });
      const b = readIdxFile(path);
      expect(b.dims).toEqual([3, 2]);
      expect(Array.from(b.data)).toEqual(expected);
    });
  }

  it('writes big-endian dims and payload', () => {
    expect(Array.from(writeIdx({ type: 'i16', dims: [2], data: [1, -2] })))
      .toEqual([0, 0, 0x0b, 1, 0, 0, 0, 2, 0, 1, 0xff, 0xfe]);
  });

  it('rejects a wrong magic', () => {
    const f = put(dir, 'magic', [0x1f, 0x8b, 8, 1, 0, 0, 0, 1, 5]);
    expectDataError(() => readIdxFile(f), f, /not an IDX file: magic 0x1f8b/);
  });

  it('rejects an unknown element type', () => {
    const f = put(dir, 'type', [...header(0x0a, [1]), 5]);
    expectDataError(() => readIdxFile(f), f, /unknown IDX element type 0x0a/);
  });

  it('rejects 0 or more than 4 dimensions', () => {
    const f0 = put(dir, 'ndims0', [0, 0, 8, 0]);
    expectDataError(() => readIdxFile(f0), f0, /unsupported number of dimensions 0/);
    const f5 = put(dir, 'ndims5', [...header(8, [1, 1, 1, 1, 1]), 1]);
    expectDataError(() => readIdxFile(f5), f5, /unsupported number of dimensions 5/);
  });

  it('rejects a truncated header', () => {
    const tiny = put(dir, 'tiny', [0, 0]);
    expectDataError(() => readIdxFile(tiny), tiny, /truncated header: the file has 2 bytes/);
    const f = put(dir, 'hdr', header(8, [60000, 28, 28]).slice(0, 10));
    expectDataError(() => readIdxFile(f), f, /truncated header: 3 dimensions need 16 header bytes, the file has 10/);
    expectDataError(() => readIdx(Uint8Array.from([0, 0, 8]), 'mem'), 'mem', /truncated header/);
  });

  it('rejects a truncated payload, naming sizes', () => {
    const f = put(dir, 'train-images-idx3-ubyte', [...header(8, [60000, 28, 28]), ...new Array<number>(1000).fill(0)]);
    expectDataError(() => readIdxFile(f), f,
      /: truncated: header says 60000x28x28 u8 = 47040000 bytes, file has 1000 after the header$/);
  });

  it('rejects trailing bytes', () => {
    const f = put(dir, 'trailing', [...header(0x0c, [2]), 0, 0, 0, 1, 0, 0, 0, 2, 9]);
    expectDataError(() => readIdxFile(f), f, /trailing bytes: header says 2 i32 = 8 bytes, file has 9 after the header/);
  });

  it('rejects a zero dimension', () => {
    const f = put(dir, 'zerodim', header(8, [5, 0, 28]));
    expectDataError(() => readIdxFile(f), f, /dimension 1 is 0/);
  });

  it('names a missing file', () => {
    expectDataError(() => readIdxFile(`${dir}/nope`), `${dir}/nope`, /not found/);
  });

  it('validates writer input', () => {
    expect(() => writeIdx({ type: 'u8', dims: [2, 2], data: [1, 2, 3] })).toThrow(/3 values for dims 2x2/);
    expect(() => writeIdx({ type: 'u8', dims: [0], data: [] })).toThrow(/bad dimension 0/);
  });
});
