// conv2dForward / conv2dBackwardData / conv2dBackwardFilter on every backend against the f64
// reference (test/reference/conv.ts), the backward kernels also against central finite
// differences of the reference forward. Geometries: odd sizes (1, 3, 5, 7, 17 ...), stride 2,
// TensorFlow 'same' padding with its odd pixel at the end, 'valid', explicit padding, 1x1, 3x3,
// 5x5, grouped, depthwise (multiplier 1, 2, 3), one-channel input, batch 1 and odd batches, and
// shapes that take the kernels' chunked paths (weights larger than scratch, filter blocks of
// rows and of several images). Every output sits between canaries; inputs must come back
// unchanged; the forward overwrites y (prefilled with NaN), the backward kernels accumulate
// (prefilled with random values). The workspace is checked to be ignored, as documented.
import { describe, expect, it } from 'vitest';
import { conv2dWorkElems, encodeGeometry, type Core, type ConvGeometry, type Tensor } from '@retort/core-wasm';
import {
  convGeometry, filterSize, inputSize, outputSize, refConv2d, refConv2dAbsScale, refConv2dBackwardData,
  refConv2dBackwardDataAbsScale, refConv2dBackwardFilter, refConv2dBackwardFilterAbsScale,
} from '../reference/conv.js';
import { dot } from '../reference/finite-difference.js';
import { TestRand } from '../reference/prng.js';
import { BACKENDS, TOL, expectBitIdentical, expectClose, f32, gradientReference, i32, useCore, type Tol } from './helpers.js';

const CANARY = 12345.5;
const MARGIN = 16;

const CASES: [name: string, g: ConvGeometry][] = [
  ['1x1 image, one channel, 3x3 same', convGeometry(1, 1, 1, 1, 1, 3, 3, 1, 1, 'same')],
  ['3x3 same, odd sizes', convGeometry(2, 5, 7, 3, 5, 3, 3, 1, 1, 'same')],
  ['3x3 stride 2 same (asymmetric padding)', convGeometry(3, 7, 6, 5, 7, 3, 3, 2, 2, 'same')],
  ['5x5 valid, 17 input channels', convGeometry(1, 9, 8, 17, 3, 5, 5, 1, 1, 'valid')],
  ['5x5 same', convGeometry(2, 6, 5, 4, 9, 5, 5, 1, 1, 'same')],
  ['1x1 pointwise', convGeometry(3, 5, 3, 7, 17, 1, 1, 1, 1, 'valid')],
  ['1x1 stride 2', convGeometry(1, 7, 7, 16, 5, 1, 1, 2, 2, 'valid')],
  ['3x3 same, 33 -> 17 channels', convGeometry(1, 6, 5, 33, 17, 3, 3, 1, 1, 'same')],
  ['odd batch 5, 16 -> 16, 7x7', convGeometry(5, 7, 7, 16, 16, 3, 3, 1, 1, 'same')],
  ['grouped G = 2', convGeometry(2, 5, 5, 6, 10, 3, 3, 1, 1, 'same', 2)],
  ['grouped G = 2, stride 2, 9 -> 17 per group', convGeometry(1, 7, 7, 18, 34, 3, 3, 2, 2, 'same', 2)],
  ['grouped G = 3, 5x5 valid', convGeometry(1, 8, 7, 12, 9, 5, 5, 1, 1, 'valid', 3)],
  ['depthwise, multiplier 1', convGeometry(3, 5, 7, 7, 7, 3, 3, 1, 1, 'same', 7)],
  ['depthwise, multiplier 1, 21 channels', convGeometry(1, 5, 4, 21, 21, 3, 3, 1, 1, 'same', 21)],
  ['depthwise, multiplier 1, 20 channels, 9x11 (runs of four pixels)', convGeometry(2, 9, 11, 20, 20, 3, 3, 1, 1, 'same', 20)],
  ['depthwise, multiplier 1, 5x5 on 8x13', convGeometry(1, 8, 13, 7, 7, 5, 5, 1, 1, 'same', 7)],
  ['depthwise, multiplier 2, stride 2', convGeometry(2, 7, 6, 5, 10, 3, 3, 2, 2, 'same', 5)],
  ['depthwise, multiplier 3, 5x5', convGeometry(1, 6, 6, 3, 9, 5, 5, 1, 1, 'same', 3)],
  ['one input channel -> 6 (LeNet conv1 shape)', convGeometry(2, 8, 8, 1, 6, 5, 5, 1, 1, 'same')],
  ['6 -> 16 5x5 valid (LeNet conv2 shape)', convGeometry(1, 9, 9, 6, 16, 5, 5, 1, 1, 'valid')],
  ['explicit padding 1, 3x2 kernel, strides 3 and 2', convGeometry(1, 4, 5, 12, 7, 3, 2, 3, 2, 1)],
  ['stride 3 > kernel 2', convGeometry(1, 9, 9, 8, 8, 2, 2, 3, 3, 'valid')],
  ['156-pixel outputs: filter blocks of rows', convGeometry(2, 13, 12, 5, 9, 3, 3, 1, 1, 'same')],
  ['35-pixel outputs, batch 7: filter blocks of images', convGeometry(7, 5, 7, 8, 8, 3, 3, 1, 1, 'same')],
  ['one channel -> 7, 3x3 same on 9x11 (column vectors past the image, a panel of 4 and a fringe)', convGeometry(2, 9, 11, 1, 7, 3, 3, 1, 1, 'same')],
  ['one channel -> 16, 5x5 valid, row stride 2', convGeometry(1, 12, 10, 1, 16, 5, 5, 2, 1, 'valid')],
  ['one channel -> 2, 2x3 kernel, explicit padding 1', convGeometry(2, 5, 6, 1, 2, 2, 3, 1, 1, 1)],
  ['one channel -> 5, 1x7 kernel (taps past the filter tile)', convGeometry(1, 4, 13, 1, 5, 1, 7, 1, 1, 'same')],
  ['3 -> 5, 3x3 stride 2 (few input channels, output channels past a vector)', convGeometry(2, 7, 8, 3, 5, 3, 3, 2, 2, 'same')],
  ['grouped G = 2, 4 -> 6 per group', convGeometry(1, 6, 7, 8, 12, 3, 3, 1, 1, 'same', 2)],
  ['5 -> 9, 2x3 kernel, strides 2 and 3', convGeometry(1, 9, 10, 5, 9, 2, 3, 2, 3, 'valid')],
  ['1x1 pointwise 16 -> 32, 297 pixels (blocks of pixels)', convGeometry(3, 9, 11, 16, 32, 1, 1, 1, 1, 'valid')],
  ['16 -> 8 stride 2 on 28x28, batch 5 (backward-data as a scatter)', convGeometry(5, 28, 28, 16, 8, 3, 3, 2, 2, 'same')],
  ['32 -> 64 3x3 valid on 14x14, batch 2 (the CNN teacher\'s shape; backward-data as a scatter)', convGeometry(2, 14, 14, 32, 64, 3, 3, 1, 1, 'valid')],
  ['13 -> 11 3x3 stride 2 on 9x9, batch 3 (scatter: panel and pixel fringes, taps in the padding)', convGeometry(3, 9, 9, 13, 11, 3, 3, 2, 2, 'same')],
  ['20 -> 64 3x3 stride 2 on 9x9, batch 3 (long stride phases: backward-data phase by phase in image blocks)', convGeometry(3, 9, 9, 20, 64, 3, 3, 2, 2, 'same')],
  ['depthwise, 8 channels, strides (2, 1), valid', convGeometry(2, 9, 6, 8, 8, 3, 3, 2, 1, 'valid', 8)],
  ['depthwise, 4 channels, explicit padding 2', convGeometry(1, 5, 6, 4, 4, 3, 3, 1, 1, 2, 4)],
  ['depthwise, 4 channels, one column', convGeometry(2, 6, 1, 4, 4, 3, 3, 1, 1, 'same', 4)],
  ['256 -> 260 channels: weights beyond scratch, chunked by panels', convGeometry(1, 3, 3, 256, 260, 3, 3, 1, 1, 'same')],
  ['7300 -> 3 channels: reduction chunked by channels', convGeometry(1, 2, 2, 7300, 3, 3, 3, 1, 1, 'same')],
];

/** A tensor of n elements between MARGIN canaries on each side; `ptr` is the first element. */
class Guarded {
  readonly t: Tensor<'f32'>;
  readonly ptr: number;

  constructor(core: Core, readonly n: number, values: ArrayLike<number> | number) {
    this.t = core.alloc(n + 2 * MARGIN);
    this.t.view().fill(CANARY);
    if (typeof values === 'number') this.t.view().fill(values, MARGIN, MARGIN + n);
    else this.t.view().set(values, MARGIN);
    this.ptr = this.t.ptr + 4 * MARGIN;
  }

  values(): Float32Array { return this.t.toArray().slice(MARGIN, MARGIN + this.n); }

  expectCanaries(what: string): void {
    const all = this.t.toArray();
    for (let i = 0; i < MARGIN; i++) {
      expect(all[i], `${what}: canary ${MARGIN - i} before`).toBe(CANARY);
      expect(all[MARGIN + this.n + i], `${what}: canary ${i} after`).toBe(CANARY);
    }
  }
}

/** (n + 4) u of the per-element abs-sum, n products per element; + 1e-8 for the FD reference's own error. */
const convTol = (n: number, fd = false): Tol => ({ rtol: 0, atol: TOL.conv.atol * (n + 4) + (fd ? 1e-8 : 0) });

interface Operands { x: Float32Array; w: Float32Array; dy: Float32Array; dx0: Float32Array; dw0: Float32Array }

function operands(g: ConvGeometry, seed: number): Operands {
  const rand = new TestRand(seed);
  return {
    x: rand.f32(inputSize(g)), w: rand.f32(filterSize(g)), dy: rand.f32(outputSize(g)),
    dx0: rand.f32(inputSize(g)), dw0: rand.f32(filterSize(g)),
  };
}

const seedOf = (g: ConvGeometry): number => Object.values(g).reduce((a, v) => (a * 31 + v) >>> 0, 7);

describe.each(BACKENDS)('conv2d [%s]', (backend) => {
  const core = useCore(backend);

  for (const [name, g] of CASES) {
    const K = g.KH * g.KW * (g.C / g.G);
    const big = inputSize(g) > 4000 || filterSize(g) > 4000;

    it(`${name}: forward overwrites y; inputs unchanged; nothing written outside y`, () => {
      const { x, w } = operands(g, seedOf(g));
      const tx = f32(core(), x), tw = f32(core(), w), tg = i32(core(), encodeGeometry(g));
      const y = new Guarded(core(), outputSize(g), NaN);
      core().ops.conv2dForward(y.ptr, tx, tw, tg, 0, 0);
      y.expectCanaries('y');
      expectBitIdentical(tx.toArray(), x, 'x unchanged');
      expectBitIdentical(tw.toArray(), w, 'w unchanged');
      expectClose(y.values(), refConv2d(g, x, w), convTol(K), `forward ${name}`, refConv2dAbsScale(g, x, w));
    });

    it(`${name}: backward data accumulates dL/dx (reference and finite differences)`, () => {
      const { x, w, dy, dx0 } = operands(g, seedOf(g) + 1);
      const analytic = refConv2dBackwardData(g, dy, w);
      const grad = big ? analytic
        : gradientReference((xs) => dot(dy, refConv2d(g, xs, w)), x, analytic, 1e-3, `dx ${name}`);
      const tdy = f32(core(), dy), tw = f32(core(), w), tg = i32(core(), encodeGeometry(g));
      const dx = new Guarded(core(), inputSize(g), dx0);
      core().ops.conv2dBackwardData(dx.ptr, tdy, tw, tg, 0, 0);
      dx.expectCanaries('dx');
      expectBitIdentical(tdy.toArray(), dy, 'dy unchanged');
      const n = g.KH * g.KW * (g.OC / g.G);
      const scale = refConv2dBackwardDataAbsScale(g, dy, w).map((s, i) => s + Math.abs(dx0[i]!));
      expectClose(dx.values(), grad.map((v, i) => v + dx0[i]!), convTol(n, true), `backward data ${name}`, scale);
    });

    it(`${name}: backward filter accumulates dL/dw (reference and finite differences)`, () => {
      const { x, w, dy, dw0 } = operands(g, seedOf(g) + 2);
      const analytic = refConv2dBackwardFilter(g, x, dy);
      const grad = big ? analytic
        : gradientReference((ws) => dot(dy, refConv2d(g, x, ws)), w, analytic, 1e-3, `dw ${name}`);
      const tx = f32(core(), x), tdy = f32(core(), dy), tg = i32(core(), encodeGeometry(g));
      const dw = new Guarded(core(), filterSize(g), dw0);
      core().ops.conv2dBackwardFilter(dw.ptr, tx, tdy, tg, 0, 0);
      dw.expectCanaries('dw');
      expectBitIdentical(tx.toArray(), x, 'x unchanged');
      const n = g.B * g.OH * g.OW;
      const scale = refConv2dBackwardFilterAbsScale(g, x, dy).map((s, i) => s + Math.abs(dw0[i]!));
      expectClose(dw.values(), grad.map((v, i) => v + dw0[i]!), convTol(n, true), `backward filter ${name}`, scale);
    });
  }

  // Some paths multiply zeros of a padded border, or of a tile past the image, into their sums:
  // exact for finite operands, and they fall back to exact loops where an Inf or a NaN could
  // meet such a zero. The reference takes only taps inside the image.
  it('non-finite operands reach exactly the sums the reference gives them', () => {
    const cases: [string, ConvGeometry][] = [
      ['one input channel', convGeometry(2, 8, 9, 1, 6, 5, 5, 1, 1, 'same')],
      ['depthwise 3x3', convGeometry(2, 7, 9, 8, 8, 3, 3, 1, 1, 'same', 8)],
    ];
    const same = (a: Float32Array, e: Float64Array, n: number, what: string): void => {
      const scale = Math.max(1, ...Array.from(e, (v) => (Number.isFinite(v) ? Math.abs(v) : 0)));
      for (let i = 0; i < e.length; i++) {
        const ok = Number.isFinite(e[i]!) ? Math.abs(a[i]! - e[i]!) <= TOL.conv.atol * (n + 4) * scale * 64 : Object.is(a[i], Math.fround(e[i]!)) || (Number.isNaN(a[i]) && Number.isNaN(e[i]));
        if (!ok) expect.fail(`${what} [${i}]: got ${a[i]}, expected ${e[i]}`);
      }
    };
    for (const [name, g] of cases) {
      const { x, w, dy } = operands(g, seedOf(g) + 4);
      // an Inf in x's first and last pixel (on the border), a NaN in dy's first pixel, an Inf in dy's last
      x[0] = Infinity; x[x.length - 1] = -Infinity;
      dy[0] = NaN; dy[dy.length - 1] = Infinity;
      const tx = f32(core(), x), tw = f32(core(), w), tdy = f32(core(), dy), tg = i32(core(), encodeGeometry(g));
      const dw = core().alloc(filterSize(g)), dx = core().alloc(inputSize(g)), y = core().alloc(outputSize(g));
      core().ops.conv2dBackwardFilter(dw, tx, tdy, tg, 0, 0);
      same(dw.toArray(), refConv2dBackwardFilter(g, x, dy), g.B * g.OH * g.OW, `${name}: dw`);
      core().ops.conv2dForward(y, tx, tw, tg, 0, 0);
      same(y.toArray(), refConv2d(g, x, w), g.KH * g.KW * (g.C / g.G), `${name}: y`);
      if (g.G > 1) {
        // weights with an Inf: the depthwise paths that pad fall back to the exact loops
        const w2 = w.slice(); w2[0] = Infinity;
        const tw2 = f32(core(), w2), t0 = f32(core(), new Float32Array(dy.length).fill(1));
        core().ops.conv2dForward(y, f32(core(), x.map((v) => (Number.isFinite(v) ? v : 0))), tw2, tg, 0, 0);
        same(y.toArray(), refConv2d(g, x.map((v) => (Number.isFinite(v) ? v : 0)), w2), 9, `${name}: y, Inf weight`);
        core().ops.conv2dBackwardData(dx, t0, tw2, tg, 0, 0);
        same(dx.toArray(), refConv2dBackwardData(g, new Float32Array(dy.length).fill(1), w2), 9, `${name}: dx, Inf weight`);
      }
    }
  });

  it('is deterministic and ignores the workspace: same bits for workElems 0, 1 and 5000, work untouched', () => {
    for (const g of [convGeometry(3, 7, 6, 5, 7, 3, 3, 2, 2, 'same'), convGeometry(2, 5, 5, 6, 10, 3, 3, 1, 1, 'same', 2),
      convGeometry(2, 6, 6, 4, 4, 3, 3, 1, 1, 'same', 4), convGeometry(2, 8, 8, 1, 6, 5, 5, 1, 1, 'same')]) {
      expect(conv2dWorkElems(g), 'conv2dWorkElems').toBe(0);
      const { x, w, dy, dx0, dw0 } = operands(g, seedOf(g) + 3);
      const tx = f32(core(), x), tw = f32(core(), w), tdy = f32(core(), dy), tg = i32(core(), encodeGeometry(g));
      const runs = [0, 1, 5000].map((workElems) => {
        const work = workElems ? new Guarded(core(), workElems, CANARY) : null;
        const y = core().alloc(outputSize(g)), dx = f32(core(), dx0), dw = f32(core(), dw0);
        core().ops.conv2dForward(y, tx, tw, tg, work?.ptr ?? 0, workElems);
        core().ops.conv2dBackwardData(dx, tdy, tw, tg, work?.ptr ?? 0, workElems);
        core().ops.conv2dBackwardFilter(dw, tx, tdy, tg, work?.ptr ?? 0, workElems);
        if (work) for (const v of work.t.toArray()) expect(v, `work (${workElems}) untouched`).toBe(CANARY);
        return [y.toArray(), dx.toArray(), dw.toArray()] as const;
      });
      for (const r of runs.slice(1)) {
        for (let k = 0; k < 3; k++) expectBitIdentical(r[k]!, runs[0]![k]!, `${['y', 'dx', 'dw'][k]} vs workElems 0`);
      }
    }
  });

  // Geometry slots 14-15 (src/abi.ts): the threads split the filter gradient by output channel
  // ranges. A range gives, in its channels, the bits of the whole call, and leaves the rest of dw
  // as it was; every ungrouped case, ranges at odd places (the path's vectors and pairs cut).
  it('backward filter over a channel range: the bits of the whole call in the range, nothing else written', () => {
    for (const [name, g] of CASES.filter(([, c]) => c.G === 1 && c.OC > 1)) {
      const { x, dy, dw0 } = operands(g, seedOf(g) + 4);
      const tx = f32(core(), x), tdy = f32(core(), dy);
      const whole = f32(core(), dw0);
      core().ops.conv2dBackwardFilter(whole, tx, tdy, i32(core(), encodeGeometry(g)), 0, 0);
      const want = whole.toArray();
      // relaxed: a pointwise layer's channels past a block of 8 take a scalar multiply-add, its
      // blocks a fused one, so its ranges are cut on multiples of 8 (as the threads cut them)
      const unit = backend === 'relaxed' && g.KH * g.KW === 1 ? 8 : 1;
      const cut = [1, (g.OC >> 1) | 1, g.OC - 1].map((c) => Math.ceil(c / unit) * unit)
        .filter((c, i, all) => c > 0 && c < g.OC && all.indexOf(c) === i);
      if (cut.length === 0) continue;
      for (const [o0, o1] of [[0, cut[0]!], ...cut.map((c, i) => [c, cut[i + 1] ?? g.OC])] as Array<[number, number]>) {
        const geom = encodeGeometry(g);
        geom[14] = o0; geom[15] = o1 - o0;
        const dw = f32(core(), dw0);
        core().ops.conv2dBackwardFilter(dw, tx, tdy, i32(core(), geom), 0, 0);
        const got = dw.toArray();
        for (let i = 0; i < got.length; i++) {
          const o = i % g.OC, inRange = o >= o0 && o < o1;
          if (Object.is(got[i], inRange ? want[i] : dw0[i])) continue;
          expect.fail(`${name}: channels [${o0}, ${o1}): dw[${i}] (channel ${o}) = ${got[i]}, want ${inRange ? want[i] : dw0[i]} (${inRange ? 'the whole call' : 'untouched'})`);
        }
      }
    }
    const g = convGeometry(1, 5, 5, 4, 4, 3, 3, 1, 1, 'same', 2);
    const geom = encodeGeometry(g);
    geom[14] = 0; geom[15] = 2;
    expect(() => core().ops.conv2dBackwardFilter(core().alloc(filterSize(g)), core().alloc(inputSize(g)), core().alloc(outputSize(g)), i32(core(), geom), 0, 0))
      .toThrow(/conv2dBackwardFilter: a channel range \(geometry slots 14-15\) needs G = 1/);
    const h = convGeometry(1, 5, 5, 4, 4, 3, 3, 1, 1, 'same');
    const bad = encodeGeometry(h);
    bad[14] = 3; bad[15] = 2;
    expect(() => core().ops.conv2dBackwardFilter(core().alloc(filterSize(h)), core().alloc(inputSize(h)), core().alloc(outputSize(h)), i32(core(), bad), 0, 0))
      .toThrow(/channel range O0 = 3, ON = 2 must lie inside OC = 4/);
    expect(() => core().ops.conv2dForward(core().alloc(outputSize(h)), core().alloc(inputSize(h)), core().alloc(filterSize(h)), i32(core(), bad), 0, 0))
      .toThrow(/conv2dForward: geometry slots 14-15 must be 0/);
  });

  it('validated ops name the argument at fault', () => {
    const g = convGeometry(2, 5, 5, 3, 4, 3, 3, 1, 1, 'same');
    const x = core().alloc(inputSize(g)), w = core().alloc(filterSize(g)), y = core().alloc(outputSize(g));
    const geom = i32(core(), encodeGeometry(g));
    expect(() => core().ops.conv2dForward(core().alloc(outputSize(g) - 1), x, w, geom, 0, 0))
      .toThrow(/conv2dForward: y holds 199 elements but the sizes need 200/);
    expect(() => core().ops.conv2dBackwardFilter(core().alloc(filterSize(g) - 1), x, y, geom, 0, 0))
      .toThrow(/conv2dBackwardFilter: dw holds 107 elements but the sizes need 108/);
    expect(() => core().ops.conv2dBackwardData(x, core().alloc(10), w, geom, 0, 0))
      .toThrow(/conv2dBackwardData: dy holds 10 elements but the sizes need 200/);
    expect(() => core().ops.conv2dForward(y, x, w, i32(core(), encodeGeometry({ ...g, PT: 3 })), 0, 0))
      .toThrow(/conv2dForward: geometry PT = 3 must be smaller than KH = 3/);
    expect(() => core().ops.conv2dForward(y, x, w, i32(core(), encodeGeometry({ ...g, G: 2 })), 0, 0))
      .toThrow(/conv2dForward: geometry C = 3 is not a multiple of G = 2/);
    expect(() => core().ops.conv2dForward(y, x, w, core().allocI32(8), 0, 0))
      .toThrow(/conv2dForward: geom holds 8 elements but the sizes need 16/);
    expect(() => core().ops.conv2dForward(y, x, w, geom, core().alloc(4), 8))
      .toThrow(/conv2dForward: work holds 4 elements but the sizes need 8/);
    const huge = convGeometry(1, 65, 65, 1, 1, 65, 65, 1, 1, 'valid'); // a 65x65 window: beyond the kernels' scratch layout
    expect(() => core().ops.conv2dForward(core().alloc(1), core().alloc(65 * 65), core().alloc(65 * 65), i32(core(), encodeGeometry(huge)), 0, 0))
      .toThrow(/conv2dForward: geometry KH \* KW = 4225 exceeds 4096/);
    expect(() => conv2dWorkElems({ ...g, OH: 9 })).toThrow(/conv2dWorkElems: geometry OH = 9 has windows starting below the input/);
    expect(() => conv2dWorkElems(g, -1)).toThrow(/conv2dWorkElems: budgetElems must be a non-negative integer/);
  });
});
