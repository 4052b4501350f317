import { describe, expect, it } from 'vitest';
import { writeNpy } from '../../src/data/npy.js';
import { bf16BitsToNumber, f16BitsToNumber, numberToBf16Bits, numberToF16Bits } from '../../src/interop/fp16.js';
import { readSafetensorsFile, readTeacherLogitsFile, writeSafetensorsFile } from '../../src/interop/node.js';
import { readSafetensors, writeSafetensors } from '../../src/interop/safetensors.js';
import { DataFormatError } from '../../src/data/errors.js';
import { expectDataError as expectFileError, put, tempDir } from '../data/helpers.js';

/** One DataFormatError naming `file`, whose problem (the message after "file: ") matches `problem`. */
function expectDataError(fn: () => unknown, file: string, problem: RegExp): DataFormatError {
  const e = expectFileError(fn, file, /./);
  expect(e.problem).toMatch(problem);
  return e;
}

/** A safetensors file from a header object and a raw buffer (for hand-made and corrupt files). */
function rawFile(header: unknown, buffer: Uint8Array | number[] = [], headerText?: string): Uint8Array {
  const json = new TextEncoder().encode(headerText ?? JSON.stringify(header));
  const buf = buffer instanceof Uint8Array ? buffer : Uint8Array.from(buffer);
  const out = new Uint8Array(8 + json.length + buf.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  out.set(buf, 8 + json.length);
  return out;
}

/** Little-endian u16 bytes of the given values. */
const u16 = (...values: number[]): Uint8Array => new Uint8Array(Uint16Array.from(values).buffer);

describe('fp16 conversions', () => {
  it('widen known binary16 bit patterns exactly', () => {
    expect(f16BitsToNumber(0x3c00)).toBe(1);
    expect(f16BitsToNumber(0xc000)).toBe(-2);
    expect(f16BitsToNumber(0x7bff)).toBe(65504);
    expect(f16BitsToNumber(0x7c00)).toBe(Infinity);
    expect(f16BitsToNumber(0xfc00)).toBe(-Infinity);
    expect(f16BitsToNumber(0x0001)).toBe(2 ** -24);
    expect(f16BitsToNumber(0x03ff)).toBe(1023 * 2 ** -24);
    expect(f16BitsToNumber(0x0400)).toBe(2 ** -14);
    expect(Object.is(f16BitsToNumber(0x8000), -0)).toBe(true);
    expect(Object.is(f16BitsToNumber(0x0000), 0)).toBe(true);
    expect(f16BitsToNumber(0x7e00)).toBeNaN();
    expect(f16BitsToNumber(0xfc01)).toBeNaN();
  });

  it('round-trip every binary16 and bfloat16 bit pattern (NaN stays NaN)', () => {
    const bad: string[] = [];
    for (let h = 0; h < 65536; h++) {
      const v = f16BitsToNumber(h);
      if (Number.isNaN(v) ? !Number.isNaN(f16BitsToNumber(numberToF16Bits(v))) : numberToF16Bits(v) !== h) bad.push(`f16 ${h.toString(16)}`);
      const b = bf16BitsToNumber(h);
      if (Number.isNaN(b) ? !Number.isNaN(bf16BitsToNumber(numberToBf16Bits(b))) : numberToBf16Bits(b) !== h) bad.push(`bf16 ${h.toString(16)}`);
    }
    expect(bad).toEqual([]);
  });

  it('narrow with round-to-nearest-even, overflow to Inf and underflow to ±0', () => {
    expect(numberToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie -> even
    expect(numberToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie -> even (up)
    expect(numberToF16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01);
    expect(numberToF16Bits(65519)).toBe(0x7bff);
    expect(numberToF16Bits(65520)).toBe(0x7c00); // halfway to 2^16: even is Inf
    expect(numberToF16Bits(1e10)).toBe(0x7c00);
    expect(numberToF16Bits(-1e10)).toBe(0xfc00);
    expect(numberToF16Bits(2 ** -25)).toBe(0x0000); // tie between 0 and the smallest subnormal
    expect(numberToF16Bits(2 ** -25 * 1.01)).toBe(0x0001);
    expect(numberToF16Bits(3 * 2 ** -25)).toBe(0x0002); // 1.5 subnormal units: tie -> even 2
    expect(numberToF16Bits(-(2 ** -30))).toBe(0x8000);
    expect(numberToF16Bits(2 ** -14 - 2 ** -25)).toBe(0x0400); // rounds up into the smallest normal
    expect(numberToBf16Bits(1)).toBe(0x3f80);
    expect(numberToBf16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie -> even
    expect(numberToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(numberToBf16Bits(3.4e38)).toBe(0x7f80); // rounds past the largest bfloat16
    expect(bf16BitsToNumber(0x3f80)).toBe(1);
    expect(bf16BitsToNumber(0x0001)).toBe(2 ** -133);
    expect(bf16BitsToNumber(0xff80)).toBe(-Infinity);
  });
});

describe('safetensors reader and writer', () => {
  it('round-trips F32, F16, BF16 and F64 tensors with metadata', () => {
    const a = Float32Array.from({ length: 12 }, (_, i) => (i - 5) * 0.37);
    const exactHalf = [0, -0, 1, -2, 0.5, 65504, 2 ** -24, Infinity, -Infinity];
    const bytes = writeSafetensors({
      a: { shape: [3, 4], data: a },
      h: { dtype: 'F16', shape: [exactHalf.length], data: exactHalf },
      b: { dtype: 'BF16', shape: [2, 2], data: [1, -1.5, 2 ** -133, 3.140625] },
      d: { dtype: 'F64', shape: [2], data: [0.1, -1e-3] },
      empty: { shape: [0, 5], data: [] },
    }, { format: 'pt', note: 'x' });
    expect((8 + new DataView(bytes.buffer).getUint32(0, true)) % 8).toBe(0);
    const file = readSafetensors(bytes, 't.safetensors');
    expect(file.metadata).toEqual({ format: 'pt', note: 'x' });
    expect(Object.keys(file.tensors)).toEqual(['a', 'h', 'b', 'd', 'empty']);
    expect(file.tensors.a!.dtype).toBe('F32');
    expect(file.tensors.a!.shape).toEqual([3, 4]);
    expect(file.tensors.a!.data).toEqual(a);
    expect(Array.from(file.tensors.h!.data)).toEqual(exactHalf);
    expect(Object.is(file.tensors.h!.data[1], -0)).toBe(true);
    expect(Array.from(file.tensors.b!.data)).toEqual([1, -1.5, 2 ** -133, 3.140625]);
    expect(Array.from(file.tensors.d!.data)).toEqual([Math.fround(0.1), Math.fround(-1e-3)]);
    expect(file.tensors.empty!.data.length).toBe(0);
    // F16 of arbitrary values: the nearest binary16
    const r = readSafetensors(writeSafetensors({ x: { dtype: 'F16', shape: [3], data: [0.1, 1000.3, -3e-6] } }), 'x').tensors.x!.data;
    expect(Array.from(r)).toEqual([0.1, 1000.3, -3e-6].map((v) => f16BitsToNumber(numberToF16Bits(v))));
  });

  it('decodes hand-written F16 and BF16 bit patterns', () => {
    const f16 = u16(0x3c00, 0x7c00, 0xfc00, 0x0001, 0x8000, 0x03ff, 0x7e00);
    const bf16 = u16(0x3f80, 0xc000, 0x7f80, 0x0001);
    const buf = new Uint8Array([...f16, ...bf16, 1, 0, 0xff]);
    const bytes = rawFile({
      h: { dtype: 'F16', shape: [7], data_offsets: [0, 14] },
      b: { dtype: 'BF16', shape: [2, 2], data_offsets: [14, 22] },
      u: { dtype: 'U8', shape: [3], data_offsets: [22, 25] },
    }, buf);
    const t = readSafetensors(bytes, 'bits.safetensors').tensors;
    const h = Array.from(t.h!.data);
    expect(h.slice(0, 6)).toEqual([1, Infinity, -Infinity, 2 ** -24, -0, 1023 * 2 ** -24]);
    expect(Object.is(h[4], -0)).toBe(true);
    expect(h[6]).toBeNaN();
    expect(Array.from(t.b!.data)).toEqual([1, -2, Infinity, 2 ** -133]);
    expect(Array.from(t.u!.data)).toEqual([1, 0, 255]);
    // only the selected tensors are decoded
    expect(Object.keys(readSafetensors(bytes, 'bits.safetensors', { tensors: ['b'] }).tensors)).toEqual(['b']);
  });

  it('accepts a header padded with spaces and gaps between tensors', () => {
    const header = JSON.stringify({ x: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }) + '    ';
    const buf = new Uint8Array(8);
    new DataView(buf.buffer).setFloat32(4, 2.5, true);
    expect(Array.from(readSafetensors(rawFile(null, buf, header), 'p').tensors.x!.data)).toEqual([2.5]);
  });

  const F = 'logits.safetensors';
  const good = { dtype: 'F32', shape: [750, 1], data_offsets: [0, 3000] };
  const corrupt: [string, () => Uint8Array, RegExp][] = [
    ['offsets past the buffer', () => rawFile({ logits: { dtype: 'F32', shape: [1000], data_offsets: [0, 4000] } }, new Uint8Array(3000)),
      /^tensor 'logits': data_offsets \[0, 4000\] run past the 3000-byte buffer$/],
    ['begin after end', () => rawFile({ logits: { ...good, data_offsets: [8, 4] } }, new Uint8Array(3000)), /^tensor 'logits': data_offsets \[8, 4\] end before they begin/],
    ['size != shape x dtype', () => rawFile({ logits: { ...good, shape: [10, 10] } }, new Uint8Array(3000)),
      /^tensor 'logits': shape \[10, 10\] of F32 needs 400 bytes but data_offsets \[0, 3000\] hold 3000/],
    ['huge shape', () => rawFile({ logits: { ...good, shape: [2 ** 40, 2 ** 12] } }, new Uint8Array(3000)), /^tensor 'logits': shape \[1099511627776, 4096\] of F32 needs more bytes than the 3000-byte buffer/],
    ['huge offsets', () => rawFile({ logits: { ...good, data_offsets: [0, 1e300] } }, new Uint8Array(3000)), /^tensor 'logits': data_offsets must be \[begin, end\] with non-negative integers/],
    ['negative dimension', () => rawFile({ logits: { ...good, shape: [-750, -1] } }, new Uint8Array(3000)), /^tensor 'logits': shape must be an array/],
    ['fractional dimension', () => rawFile({ logits: { ...good, shape: [7.5, 100] } }, new Uint8Array(3000)), /^tensor 'logits': shape must be an array/],
    ['unknown dtype', () => rawFile({ logits: { ...good, dtype: 'F31' } }, new Uint8Array(3000)), /^tensor 'logits': unknown dtype "F31"/],
    ['missing data_offsets', () => rawFile({ logits: { dtype: 'F32', shape: [750, 1] } }, new Uint8Array(3000)), /^tensor 'logits': data_offsets must be/],
    ['entry not an object', () => rawFile({ logits: [1, 2] }, new Uint8Array(3000)), /^tensor 'logits': entry must be an object/],
    ['overlap', () => rawFile({ logits: good, labels: { dtype: 'F32', shape: [2], data_offsets: [2992, 3000] } }, new Uint8Array(3000)),
      /^tensor 'labels': data_offsets \[2992, 3000\] overlap tensor 'logits' \[0, 3000\]$/],
    ['metadata not strings', () => rawFile({ __metadata__: { a: 1 }, logits: good }, new Uint8Array(3000)), /^__metadata__ 'a' must be a string/],
    ['header longer than the file', () => { const b = rawFile({ logits: good }, new Uint8Array(3000)); new DataView(b.buffer).setUint32(0, 1e6, true); return b; },
      /^truncated header: it declares 1000000 bytes/],
    ['absurd header length', () => { const b = rawFile({ logits: good }); new DataView(b.buffer).setUint32(4, 0xffffffff, true); return b; },
      /^header length 18446744069414584\d+ is over the 100000000-byte limit/],
    ['fewer than 8 bytes', () => new Uint8Array([1, 2, 3]), /^truncated: 3 bytes/],
    ['invalid JSON', () => rawFile(null, new Uint8Array(4), '{"logits": {"dtype": "F32",'), /^header is not valid JSON/],
    ['not UTF-8', () => rawFile(null, [], '{"x": "\u00ff"}').map((b, i, a) => (i === a.length - 3 ? 0xff : b)), /^header is not valid UTF-8/],
    ['JSON but not an object', () => rawFile(null, [], '{}').map((b, i) => (i === 8 ? 0x5b : i === 9 ? 0x5d : b)), /^header does not start with '\{'/],
  ];
  for (const [what, make, problem] of corrupt) {
    it(`rejects ${what} with one DataFormatError naming the file (and tensor)`, () => {
      expectDataError(() => readSafetensors(make(), F), F, problem);
    });
  }

  it('names the missing tensor and refuses undecodable dtypes', () => {
    const bytes = rawFile({ logits: good, q: { dtype: 'F8_E4M3', shape: [2], data_offsets: [3000, 3002] } }, new Uint8Array(3002));
    expectDataError(() => readSafetensors(bytes, F, { tensors: ['teacher'] }), F, /^no tensor 'teacher' \(it holds 'logits', 'q'\)/);
    expectDataError(() => readSafetensors(bytes, F), F, /^tensor 'q': dtype F8_E4M3 is not supported/);
    expect(readSafetensors(bytes, F, { tensors: ['logits'] }).tensors.logits!.data.length).toBe(750);
  });

  it('keeps tensor names such as __proto__ as plain keys', () => {
    const bytes = rawFile(JSON.parse('{"__proto__": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}'), new Uint8Array(4));
    const t = readSafetensors(bytes, 'p').tensors;
    expect(Object.keys(t)).toEqual(['__proto__']);
    expect(t['__proto__']!.shape).toEqual([1]);
  });
});

describe('safetensors files and teacher logits', () => {
  const dir = tempDir();
  const N = 20, C = 4;
  const logits = Float32Array.from({ length: N * C }, (_, i) => Math.sin(i) * 3);

  it('reads a file from disk, only the selected tensors', () => {
    const path = `${dir}/two.safetensors`;
    writeSafetensorsFile(path, { logits: { shape: [N, C], data: logits }, other: { dtype: 'BF16', shape: [3], data: [1, 2, 3] } }, { by: 'test' });
    const all = readSafetensorsFile(path);
    expect(all.tensors.logits!.data).toEqual(logits);
    expect(Array.from(all.tensors.other!.data)).toEqual([1, 2, 3]);
    expect(all.metadata).toEqual({ by: 'test' });
    expect(Object.keys(readSafetensorsFile(path, { tensors: ['other'] }).tensors)).toEqual(['other']);
    expectDataError(() => readSafetensorsFile(`${dir}/none.safetensors`), `${dir}/none.safetensors`, /^not found/);
  });

  it('reads teacher logits from .safetensors: the only tensor, the named one, or "logits"', () => {
    const one = `${dir}/one.safetensors`;
    writeSafetensorsFile(one, { teacher: { shape: [N, C], data: logits } });
    expect(readTeacherLogitsFile(one, N, C)).toEqual(logits);
    const several = `${dir}/several.safetensors`;
    writeSafetensorsFile(several, { labels: { shape: [N], data: new Float32Array(N) }, logits: { shape: [N, C], data: logits }, t2: { dtype: 'F16', shape: [N, C], data: logits } });
    expect(readTeacherLogitsFile(several, N, C)).toEqual(logits);
    const half = readTeacherLogitsFile(several, N, C, { tensor: 't2' });
    expect(Array.from(half)).toEqual(Array.from(logits, (v) => f16BitsToNumber(numberToF16Bits(v))));
    const ambiguous = `${dir}/ambiguous.safetensors`;
    writeSafetensorsFile(ambiguous, { a: { shape: [N, C], data: logits }, b: { shape: [N, C], data: logits } });
    expectDataError(() => readTeacherLogitsFile(ambiguous, N, C), 'ambiguous.safetensors', /holds 2 tensors \('a', 'b'\) and none is named 'logits'/);
    expectDataError(() => readTeacherLogitsFile(several, N, C, { tensor: 'nope' }), 'several.safetensors', /^no tensor 'nope'/);
  });

  it('checks shape, class count, sample count and finiteness', () => {
    const p = (name: string, shape: number[], data: ArrayLike<number>): string => {
      const path = `${dir}/${name}`;
      writeSafetensorsFile(path, { logits: { shape, data } });
      return path;
    };
    expectDataError(() => readTeacherLogitsFile(p('flat.safetensors', [N * C], logits), N, C), 'flat.safetensors', /tensor 'logits': teacher logits must be 2-D/);
    expectDataError(() => readTeacherLogitsFile(p('c.safetensors', [N, C], logits), N, C + 1), 'c.safetensors', /have 4 classes but the student has 5/);
    expectDataError(() => readTeacherLogitsFile(p('n.safetensors', [N, C], logits), N + 1, C), 'n.safetensors', /cover 20 samples but the transfer set has 21/);
    const bad = logits.slice(); bad[12 * C + 3] = NaN;
    expectDataError(() => readTeacherLogitsFile(p('nan.safetensors', [N, C], bad), N, C), 'nan.safetensors', /^tensor 'logits': teacher logit \[12, 3\] is NaN$/);
    const inf = logits.slice(); inf[5] = -Infinity;
    expectDataError(() => readTeacherLogitsFile(p('inf.safetensors', [N, C], inf), N, C), 'inf.safetensors', /^tensor 'logits': teacher logit \[1, 1\] is -Infinity$/);
    // F64 logits too large for float32 become Inf, which is reported
    const big = `${dir}/big.safetensors`;
    writeSafetensorsFile(big, { logits: { dtype: 'F64', shape: [1, 2], data: [1, 1e300] } });
    expectDataError(() => readTeacherLogitsFile(big, 1, 2), 'big.safetensors', /^tensor 'logits': teacher logit \[0, 1\] is Infinity$/);
    // a corrupt header names the file and tensor, by base name
    const broken = put(dir, 'broken.safetensors', rawFile({ logits: { dtype: 'F32', shape: [N, C], data_offsets: [0, 4 * N * C] } }, new Uint8Array(100)));
    expectDataError(() => readTeacherLogitsFile(broken, N, C), 'broken.safetensors', /^tensor 'logits': data_offsets \[0, 320\] run past the 100-byte buffer$/);
  });

  it('reads .npy logits through readTeacherLogits, and recognises files by content', () => {
    const npy = put(dir, 'logits.npy', writeNpy({ dtype: 'f4', shape: [N, C], data: logits }));
    expect(readTeacherLogitsFile(npy, N, C)).toEqual(logits);
    const npyNoExt = put(dir, 'logits-npy.bin', writeNpy({ dtype: 'f4', shape: [N, C], data: logits }));
    expect(readTeacherLogitsFile(npyNoExt, N, C)).toEqual(logits);
    const stNoExt = put(dir, 'logits-st.bin', writeSafetensors({ logits: { shape: [N, C], data: logits } }));
    expect(readTeacherLogitsFile(stNoExt, N, C)).toEqual(logits);
    expectDataError(() => readTeacherLogitsFile(npy, N, C, { tensor: 'x' }), 'logits.npy', /holds one array/);
  });
});
