// The int8 convolution kernels on every backend against the reference (test/reference/int8.ts):
// the im2col gather (whole outputs and chunks of pixels; odd sizes, stride 2 with TensorFlow's
// asymmetric 'same' padding, 'valid', explicit padding, 1x1, 5x5, non-square kernels and
// strides), im2col + gemmI8 against the exact integer convolution, the direct depthwise kernel
// (multipliers 1, 2, 3; channel counts that take the 16-wide, 8-wide and scalar paths; stride 2;
// saturated +-127 operands), and the per-channel affine op. All are exact or specified as f32
// operations, so every comparison is bit for bit, and the three backends must agree with each
// other bit for bit. Outputs sit before canaries; inputs must come back unchanged.
import { describe, expect, it } from 'vitest';
import { encodeGeometry, loadCore, packedI8Bytes, type Core, type ConvGeometry } from '@retort/core-wasm';
import { convGeometry } from '../reference/conv.js';
import { refChannelAffine, refConvI8, refGemmI8, refIm2colI8 } from '../reference/int8.js';
import { TestRand } from '../reference/prng.js';
import { BACKENDS, expectBitIdentical, fnv1a, i32, useCore } from './helpers.js';

const CANARY_I8 = 0x5a;
const CANARY_I32 = -777;

const DENSE_CASES: [string, ConvGeometry][] = [
  ['1x1 image, one channel, 3x3 same', convGeometry(1, 1, 1, 1, 2, 3, 3, 1, 1, 'same')],
  ['3x3 same, odd sizes', convGeometry(2, 5, 7, 3, 5, 3, 3, 1, 1, 'same')],
  ['3x3 stride 2 same (asymmetric padding)', convGeometry(3, 7, 6, 5, 7, 3, 3, 2, 2, 'same')],
  ['5x5 valid, 17 channels', convGeometry(1, 9, 8, 17, 3, 5, 5, 1, 1, 'valid')],
  ['5x5 same, one input channel (LeNet conv1)', convGeometry(2, 8, 8, 1, 6, 5, 5, 1, 1, 'same')],
  ['1x1 pointwise', convGeometry(3, 5, 3, 7, 17, 1, 1, 1, 1, 'valid')],
  ['1x1 stride 2 (a projection shortcut)', convGeometry(1, 7, 7, 16, 5, 1, 1, 2, 2, 'valid')],
  ['explicit padding 1, 3x2 kernel, strides 3 and 2', convGeometry(1, 4, 5, 12, 7, 3, 2, 3, 2, 1)],
  ['3x3 same, 33 -> 17 channels, batch 2', convGeometry(2, 6, 5, 33, 17, 3, 3, 1, 1, 'same')],
];

const DEPTHWISE_CASES: [string, ConvGeometry][] = [
  ['multiplier 1, 7 channels (scalar tail)', convGeometry(3, 5, 7, 7, 7, 3, 3, 1, 1, 'same', 7)],
  ['multiplier 1, 16 channels (one SIMD block)', convGeometry(2, 6, 5, 16, 16, 3, 3, 1, 1, 'same', 16)],
  ['multiplier 1, 35 channels (16 + 16 + tail 3)', convGeometry(1, 5, 4, 35, 35, 3, 3, 2, 2, 'same', 35)],
  ['multiplier 1, 29 channels (16 + 8 + tail 5), stride 2', convGeometry(2, 7, 6, 29, 29, 3, 3, 2, 2, 'same', 29)],
  ['multiplier 2, stride 2', convGeometry(2, 7, 6, 5, 10, 3, 3, 2, 2, 'same', 5)],
  ['multiplier 3, 5x5', convGeometry(1, 6, 6, 3, 9, 5, 5, 1, 1, 'same', 3)],
  ['one channel, valid 3x3', convGeometry(2, 5, 5, 1, 1, 3, 3, 1, 1, 'valid', 1)],
  ['explicit padding 1, 3x2 kernel, strides 3 and 2', convGeometry(1, 4, 5, 12, 12, 3, 2, 3, 2, 1, 12)],
];

const inputSize = (g: ConvGeometry): number => g.B * g.H * g.W * g.C;
const outputSize = (g: ConvGeometry): number => g.B * g.OH * g.OW * g.OC;
const randomI8 = (rand: TestRand, n: number): Int8Array => Int8Array.from({ length: n }, () => rand.int(255) - 127);

function expectSameInts(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) expect.fail(`${what}: first difference at [${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

/** im2col of pixels [p0, p0 + np) through the validated API, with a canary tail after col. */
function runIm2col(c: Core, g: ConvGeometry, X: Int8Array, p0: number, np: number): Int8Array {
  const K = g.KH * g.KW * g.C;
  const x = c.allocI8(X.length).set(X), geom = i32(c, encodeGeometry(g));
  const col = c.allocI8(np * K + 16);
  col.view().fill(CANARY_I8);
  c.ops.im2colI8(col, x, geom, p0, np);
  const out = col.toArray();
  for (const v of out.subarray(np * K)) expect(v, 'canary after col').toBe(CANARY_I8);
  expectSameInts(x.toArray(), X, 'x unchanged');
  c.free(x); c.free(geom); c.free(col);
  return out.subarray(0, np * K);
}

/** The convolution through im2colI8 in chunks of `chunk` pixels, then gemmI8 of each chunk into its rows of y. */
function convViaIm2col(c: Core, g: ConvGeometry, X: Int8Array, Wt: Int8Array, chunk: number): Int32Array {
  const K = g.KH * g.KW * g.C, pixels = g.B * g.OH * g.OW;
  const x = c.allocI8(X.length).set(X), geom = i32(c, encodeGeometry(g));
  const w = c.allocI8(Wt.length).set(Wt), packed = c.allocI8(packedI8Bytes(K, g.OC));
  c.packWeightsI8(packed, w, K, g.OC);
  const col = c.allocI8(Math.min(chunk, pixels) * K), y = c.allocI32(pixels * g.OC + 4);
  y.view().fill(CANARY_I32);
  for (let p0 = 0; p0 < pixels; p0 += chunk) {
    const np = Math.min(chunk, pixels - p0);
    c.ops.im2colI8(col, x, geom, p0, np);
    c.ops.gemmI8(y.ptr + 4 * p0 * g.OC, col, packed, np, g.OC, K);
  }
  const out = y.toArray();
  for (const v of out.subarray(pixels * g.OC)) expect(v, 'canary after y').toBe(CANARY_I32);
  for (const t of [x, geom, w, packed, col, y]) c.free(t);
  return out.subarray(0, pixels * g.OC);
}

function runDepthwise(c: Core, g: ConvGeometry, X: Int8Array, Wt: Int8Array): Int32Array {
  const x = c.allocI8(X.length).set(X), w = c.allocI8(Wt.length).set(Wt), geom = i32(c, encodeGeometry(g));
  const acc = c.allocI32(outputSize(g) + 4);
  acc.view().fill(CANARY_I32);
  c.ops.depthwiseConvI8(acc, x, w, geom);
  const out = acc.toArray();
  for (const v of out.subarray(outputSize(g))) expect(v, 'canary after acc').toBe(CANARY_I32);
  expectSameInts(x.toArray(), X, 'x unchanged');
  expectSameInts(w.toArray(), Wt, 'w unchanged');
  for (const t of [x, w, geom, acc]) c.free(t);
  return out.subarray(0, outputSize(g));
}

describe.each(BACKENDS)('int8 convolution kernels [%s]', (backend) => {
  const core = useCore(backend);

  it('im2colI8 writes exactly the windows of the reference: whole outputs, single pixels and middle chunks', () => {
    const rand = new TestRand(31);
    for (const [name, g] of DENSE_CASES) {
      const X = randomI8(rand, inputSize(g));
      const pixels = g.B * g.OH * g.OW;
      const chunks: [number, number][] = [[0, pixels], [0, 1], [pixels - 1, 1], [Math.floor(pixels / 3), Math.max(1, Math.floor(pixels / 2))], [pixels, 0]];
      for (const [p0, np] of chunks) {
        if (p0 + np > pixels) continue;
        expectSameInts(runIm2col(core(), g, X, p0, np), refIm2colI8(g, X, p0, np), `${name}: pixels ${p0}..${p0 + np}`);
      }
    }
  });

  it('im2colI8 + gemmI8 in chunks of pixels is the exact integer convolution, saturated +-127 operands included', () => {
    const rand = new TestRand(32);
    for (const [name, g] of DENSE_CASES) {
      const filter = g.KH * g.KW * g.C * g.OC;
      const operands: [string, Int8Array, Int8Array][] = [
        ['random', randomI8(rand, inputSize(g)), randomI8(rand, filter)],
        ['+127 x -127', new Int8Array(inputSize(g)).fill(127), new Int8Array(filter).fill(-127)],
      ];
      for (const [what, X, Wt] of operands) {
        const expected = refConvI8(g, X, Wt);
        for (const chunk of [1, 7, 1 << 20]) {
          expectSameInts(convViaIm2col(core(), g, X, Wt, chunk), expected, `${name} (${what}), chunks of ${chunk}`);
        }
      }
    }
  });

  it('depthwiseConvI8 is the exact depthwise convolution: multipliers 1-3, SIMD blocks and tails, stride 2, padding', () => {
    const rand = new TestRand(33);
    for (const [name, g] of DEPTHWISE_CASES) {
      const filter = g.KH * g.KW * g.OC;
      const X = randomI8(rand, inputSize(g)), Wt = randomI8(rand, filter);
      expectSameInts(runDepthwise(core(), g, X, Wt), refConvI8(g, X, Wt), name);
      // saturated operands: every tap inside the image adds 127 * -127 (no wrap-around, no lost lane)
      const full = runDepthwise(core(), g, new Int8Array(inputSize(g)).fill(127), new Int8Array(filter).fill(-127));
      expectSameInts(full, refConvI8(g, new Int8Array(inputSize(g)).fill(127), new Int8Array(filter).fill(-127)), `${name} (+-127)`);
    }
    // -128 is outside what the quantizers write, but the kernel still computes it exactly
    const g = DEPTHWISE_CASES[1]![1];
    const X = new Int8Array(inputSize(g)).fill(-128), Wt = new Int8Array(g.KH * g.KW * g.OC).fill(-128);
    expectSameInts(runDepthwise(core(), g, X, Wt), refConvI8(g, X, Wt), '-128 x -128');
  });

  it('channelAffine is f32(f32(x * scale) + shift) bit for bit, NaN and Inf carried, in place too', () => {
    const c = core();
    const rand = new TestRand(34);
    for (const [rows, C] of [[1, 1], [3, 7], [17, 16], [5, 33], [2, 1000]] as const) {
      const x = rand.f32(rows * C, -5, 5), scale = rand.f32(C, -3, 3), shift = rand.f32(C, -1, 1);
      if (rows * C > 8) { x[3] = NaN; x[5] = Infinity; scale[0] = 0; }
      const tx = c.fromArray(x), ts = c.fromArray(scale), th = c.fromArray(shift);
      const y = c.alloc(rows * C + 4);
      y.view().fill(-3.5);
      c.ops.channelAffine(y, tx, ts, th, rows, C);
      const out = y.toArray();
      expectBitIdentical(out.subarray(0, rows * C), refChannelAffine(x, scale, shift, rows, C), `${rows}x${C}`);
      expect(Array.from(out.subarray(rows * C)), 'canary after y').toEqual([-3.5, -3.5, -3.5, -3.5]);
      expectBitIdentical(tx.toArray(), x, 'x unchanged');
      c.ops.channelAffine(tx, tx, ts, th, rows, C);
      expectBitIdentical(tx.toArray(), refChannelAffine(x, scale, shift, rows, C), `${rows}x${C} in place`);
      for (const t of [tx, ts, th, y]) c.free(t);
    }
  });

  it('the typed API refuses bad geometries and sizes, naming the argument', () => {
    const c = core();
    const g = convGeometry(2, 5, 5, 4, 4, 3, 3, 1, 1, 'same');
    const K = g.KH * g.KW * g.C, pixels = g.B * g.OH * g.OW;
    const x = c.allocI8(inputSize(g)), col = c.allocI8(pixels * K), geom = i32(c, encodeGeometry(g));
    const err = (fn: () => unknown, re: RegExp): void => { expect(fn).toThrow(RangeError); expect(fn).toThrow(re); };
    err(() => c.ops.im2colI8(col, x, i32(c, encodeGeometry({ ...g, G: 2 })), 0, 1), /im2colI8: geometry G = 2 must be 1/);
    err(() => c.ops.im2colI8(col, x, geom, pixels - 1, 2), /im2colI8: p0 \+ np = 51 exceeds the 50 output pixels/);
    err(() => c.ops.im2colI8(c.allocI8(K - 1), x, geom, 0, 1), /im2colI8: col holds/);
    err(() => c.ops.im2colI8(col, c.allocI8(10), geom, 0, 1), /im2colI8: x holds/);
    err(() => c.ops.im2colI8(col, x, i32(c, encodeGeometry({ ...g, PL: 3 })), 0, 1), /geometry PL = 3 must be smaller than KW = 3/);
    const dw = convGeometry(2, 5, 5, 4, 4, 3, 3, 1, 1, 'same', 4);
    const acc = c.allocI32(outputSize(dw)), w = c.allocI8(9 * 4);
    err(() => c.ops.depthwiseConvI8(acc, x, w, geom), /depthwiseConvI8: geometry G = 1 must equal C = 4/);
    err(() => c.ops.depthwiseConvI8(acc, x, c.allocI8(9 * 4 - 1), i32(c, encodeGeometry(dw))), /depthwiseConvI8: w holds/);
    err(() => c.ops.depthwiseConvI8(c.alloc(outputSize(dw)), x, w, i32(c, encodeGeometry(dw))), /depthwiseConvI8: acc .*i32/);
    err(() => c.ops.channelAffine(c.alloc(6), c.alloc(6), c.alloc(2), c.alloc(1), 3, 2), /channelAffine: shift/);
  });
});

describe('int8 convolution kernels agree bit for bit across simd, scalar and js', () => {
  it('im2col + GEMM, depthwise and the affine op give identical bits', async () => {
    const cores = await Promise.all(BACKENDS.map((backend) => loadCore({ backend })));
    const rand = new TestRand(35);
    const prints = cores.map(() => [] as string[]);
    for (const [, g] of [...DENSE_CASES, ...DEPTHWISE_CASES]) {
      const X = randomI8(rand, inputSize(g));
      const Wt = randomI8(rand, g.KH * g.KW * (g.C / g.G) * g.OC);
      const x = rand.f32(outputSize(g), -4, 4), scale = rand.f32(g.OC, -2, 2), shift = rand.f32(g.OC, -1, 1);
      cores.forEach((c, ci) => {
        const out = g.G === 1 ? convViaIm2col(c, g, X, Wt, 5) : runDepthwise(c, g, X, Wt);
        prints[ci]!.push(fnv1a(out));
        const tx = c.fromArray(x), ts = c.fromArray(scale), th = c.fromArray(shift);
        c.ops.channelAffine(tx, tx, ts, th, g.B * g.OH * g.OW, g.OC);
        prints[ci]!.push(fnv1a(tx.view()));
        for (const t of [tx, ts, th]) c.free(t);
      });
    }
    expect(prints[1], 'scalar = simd').toEqual(prints[0]);
    expect(prints[2], 'js = simd').toEqual(prints[0]);
  });

  it('im2colI8 + gemmI8 agrees with the plain int8 GEMM on an explicit im2col (a 1x1 stride-1 conv is the GEMM itself)', async () => {
    const c = await loadCore({ backend: 'simd' });
    const g = convGeometry(2, 4, 3, 9, 11, 1, 1, 1, 1, 'valid');
    const rand = new TestRand(36);
    const X = randomI8(rand, inputSize(g)), Wt = randomI8(rand, g.C * g.OC);
    expectSameInts(convViaIm2col(c, g, X, Wt, 1 << 20), refGemmI8(X, Wt, g.B * g.H * g.W, g.OC, g.C), '1x1 = GEMM');
  });
});
