import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readNpyFile, writeNpyFile } from '../../src/data/files.js';
import { readNpy, toFloat32, writeNpy, type NpyDType } from '../../src/data/npy.js';
import { expectDataError, put, tempDir } from './helpers.js';

const dir = tempDir();

// Files written by numpy 2.4 (see fixtures/README.md).
const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}.npy`, import.meta.url));
const numpyBytes = (name: string): Uint8Array => new Uint8Array(readFileSync(fixture(name)));

/** A hand-made .npy file: version 1.0, the given header text (padded), then payload bytes. */
function npy(headerText: string, payload: number[] = [], version = 1): Uint8Array {
  const pre = version === 1 ? 10 : 12;
  let text = headerText;
  text += ' '.repeat((64 - ((pre + text.length + 1) % 64)) % 64) + '\n';
  const out = new Uint8Array(pre + text.length + payload.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  if (version === 1) new DataView(out.buffer).setUint16(8, text.length, true);
  else new DataView(out.buffer).setUint32(8, text.length, true);
  for (let i = 0; i < text.length; i++) out[pre + i] = text.charCodeAt(i);
  out.set(payload, pre + text.length);
  return out;
}

describe('.npy reader', () => {
  it('reads numpy-written files of every version, dtype and byte order', () => {
    const a = readNpy(numpyBytes('f4_2x3'));
    expect(a).toMatchObject({ dtype: 'f4', shape: [2, 3] });
    expect(a.data).toEqual(new Float32Array([0, 1, 2, 3, 4, 5]));
    const labels = readNpy(numpyBytes('i8_labels'));
    expect(labels.dtype).toBe('i8');
    expect(labels.data).toEqual(new Int32Array([3, 1, 4, 1, 5]));
    const be = readNpy(numpyBytes('be_f8'));
    expect(be.data).toEqual(new Float64Array([1.5, -2.25]));
    expect(toFloat32(be.data)).toEqual(new Float32Array([1.5, -2.25]));
    expect(readNpy(numpyBytes('v2_u1'))).toEqual({ dtype: 'u1', shape: [2, 2], data: new Uint8Array([1, 2, 3, 255]) });
    expect(readNpy(numpyBytes('v3_i4')).data).toEqual(new Int32Array([-7, 2147483647]));
    expect(readNpy(numpyBytes('scalar_f4'))).toEqual({ dtype: 'f4', shape: [], data: new Float32Array([2.5]) });
  });

  it('reads the same from disk', () => {
    expect(readNpyFile(fixture('i8_labels')).data).toEqual(new Int32Array([3, 1, 4, 1, 5]));
  });

  it('parses header dicts in any key order, quoting and spacing, with Python 2 longs', () => {
    const a = readNpy(npy(`{"shape":(2L,1L),"fortran_order":False,"descr":"<i4"}`, [1, 0, 0, 0, 2, 0, 0, 0]));
    expect(a).toEqual({ dtype: 'i4', shape: [2, 1], data: new Int32Array([1, 2]) });
    expect(readNpy(npy(`{ 'descr' : '|i1' , 'shape' : [3] , 'fortran_order' : False }`, [255, 1, 128])).data)
      .toEqual(new Int8Array([-1, 1, -128]));
  });

  it('rejects int64 values outside int32', () => {
    const payload = [0, 0, 0, 0, 1, 0, 0, 0]; // 2^32
    const f = put(dir, 'big.npy', npy(`{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }`, payload));
    expectDataError(() => readNpyFile(f), f, /int64 value 4294967296 at index 0 does not fit in int32/);
    const neg = readNpy(npy(`{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }`, [0, 0, 0, 0x80, 255, 255, 255, 255]));
    expect(neg.data).toEqual(new Int32Array([-2147483648]));
  });

  it('rejects a bad magic', () => {
    const f = put(dir, 'magic.npy', [0x50, 0x4b, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0]);
    expectDataError(() => readNpyFile(f), f, /not a .npy file: bad magic/);
  });

  it('rejects an unknown version and a truncated header', () => {
    const v = npy(`{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }`);
    v[6] = 4;
    const fv = put(dir, 'v4.npy', v);
    expectDataError(() => readNpyFile(fv), fv, /unsupported .npy format version 4.0/);
    const ft = put(dir, 'trunc.npy', numpyBytes('f4_2x3').subarray(0, 60));
    expectDataError(() => readNpyFile(ft), ft, /truncated header: it declares 118 bytes, the file has 50/);
    const f5 = put(dir, 'five.npy', [0x93, 0x4e, 0x55, 0x4d, 0x50]);
    expectDataError(() => readNpyFile(f5), f5, /truncated header: the file has 5 bytes/);
  });

  it('rejects bad header dicts', () => {
    const cases: [string, RegExp][] = [
      [`{'descr': '<f4', 'fortran_order': False, 'shape': (2,3}`, /bad header: expected ',' or '\)'/],
      [`{'descr': '<f4', 'fortran_order': False}`, /bad header: needs the keys/],
      [`{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}`, /bad header: shape must be a tuple of non-negative integers/],
      [`{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}`, /bad header: fortran_order must be True or False/],
      [`__import__('os').system('x')`, /bad header: unexpected "_"/],
      [`{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} junk`, /bad header: unexpected text after the dict/],
      [`${'('.repeat(40)}`, /nested too deeply/],
    ];
    cases.forEach(([text, problem], i) => {
      const f = put(dir, `hdr${i}.npy`, npy(text, [0, 0, 0, 0]));
      expectDataError(() => readNpyFile(f), f, problem);
    });
  });

  it('rejects fortran order clearly', () => {
    const f = fixture('fortran');
    expectDataError(() => readNpyFile(f), f, /fortran_order is True: column-major arrays are not supported/);
  });

  it('rejects unsupported dtypes', () => {
    for (const [name, descr] of [['c8', "'<c8'"], ['str', "'<U3'"], ['u4', "'<u4'"], ['f2', "'<f2'"], ['rec', "[('a', '<f4')]"]] as const) {
      const f = put(dir, `dtype-${name}.npy`, npy(`{'descr': ${descr}, 'fortran_order': False, 'shape': (1,), }`, [0, 0, 0, 0]));
      expectDataError(() => readNpyFile(f), f, /unsupported dtype/);
    }
  });

  it('rejects a payload that disagrees with the shape', () => {
    const ft = put(dir, 'short.npy', numpyBytes('f4_2x3').subarray(0, 150));
    expectDataError(() => readNpyFile(ft), ft, /truncated: header says 2x3 <f4 = 24 bytes, file has 22 after the header/);
    const fl = put(dir, 'long.npy', Uint8Array.from([...numpyBytes('f4_2x3'), 0]));
    expectDataError(() => readNpyFile(fl), fl, /trailing bytes: header says 2x3 <f4 = 24 bytes, file has 25 after the header/);
  });
});

describe('.npy writer', () => {
  const values: Record<NpyDType, number[]> = {
    f4: [0, -1.5, 3.25, 1e-3, -0, 65504], f8: [Math.PI, -1e300, 0, 1e-300, 2, -3], u1: [0, 1, 128, 255, 7, 9],
    i1: [-128, -1, 0, 1, 127, 5], i4: [-2147483648, -1, 0, 70000, 2147483647, 3], i8: [-2147483648, -1, 0, 9, 2147483647, 3],
  };
  for (const [dtype, data] of Object.entries(values) as [NpyDType, number[]][]) {
    it(`round-trips ${dtype}, with the payload 64-byte aligned`, () => {
      const bytes = writeNpy({ dtype, shape: [3, 2], data });
      const headerLength = bytes[8]! | (bytes[9]! << 8);
      expect((10 + headerLength) % 64).toBe(0);
      expect(bytes[10 + headerLength - 1]).toBe(0x0a);
      const a = readNpy(bytes);
      expect(a.dtype).toBe(dtype);
      expect(a.shape).toEqual([3, 2]);
      expect(Array.from(a.data)).toEqual(dtype === 'f4' ? data.map(Math.fround) : data);
      const f = `${dir}/rt-${dtype}.npy`;
      writeNpyFile(f, { dtype, shape: [6], data });
      expect(readNpyFile(f)).toEqual({ dtype, shape: [6], data: a.data });
    });
  }

  it('writes the header numpy expects', () => {
    const bytes = writeNpy({ dtype: 'u1', shape: [4], data: [1, 2, 3, 4] });
    const text = new TextDecoder().decode(bytes.subarray(10, bytes.length - 4));
    expect(text.trimEnd()).toBe(`{'descr': '|u1', 'fortran_order': False, 'shape': (4,), }`);
    const scalar = readNpy(writeNpy({ dtype: 'f4', shape: [], data: [7] }));
    expect(scalar).toEqual({ dtype: 'f4', shape: [], data: new Float32Array([7]) });
  });

  it('validates its input', () => {
    expect(() => writeNpy({ dtype: 'f4', shape: [2, 2], data: [1] })).toThrow(/1 values for shape 2x2/);
    expect(() => writeNpy({ dtype: 'i8', shape: [1], data: [0.5] })).toThrow(/not an integer/);
  });
});
