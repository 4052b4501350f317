// Feature distillation between any taps: the FitNets regressor is shaped from the two tap shapes
// (1x1 conv between maps, pooling for a size mismatch, dense for flat features, a map pooled to
// at most 4x4 against a flat vector) and its loss and gradients (w.r.t. the regressor and the
// student's tap) match an f64 reference and finite differences; attention transfer likewise,
// including maps of different sizes; shapes that cannot be matched are refused naming both.
import { describe, expect, it } from 'vitest';
import { loadCore } from '@retort/core-wasm';
import { HintRegressor, planHint } from '../../src/losses/hint.js';
import { AttentionTransfer, attentionGrid } from '../../src/losses/at.js';
import { compileGraph } from '../../src/model/graph.js';
import { refForward } from '../model/graph-reference.js';
import { rand } from '../helpers/random.js';

const BACKENDS = ['simd', 'scalar', 'js'] as const;
const size = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

describe('hint regressor shapes', () => {
  it('1x1 conv between maps; the larger map pooled; dense between flat features; maps pooled to 4x4 against vectors', () => {
    const types = (layers: { type: string }[]): string => layers.map((l) => l.type).join(' ');
    expect(types(planHint([7, 7, 8], [7, 7, 32]).regressor)).toBe('conv2d flatten');
    expect(types(planHint([14, 14, 8], [7, 7, 32]).regressor)).toBe('avgPool2d conv2d flatten');
    const p = planHint([7, 7, 8], [14, 14, 32]);
    expect(types(p.regressor)).toBe('conv2d flatten');
    expect(types(p.target)).toBe('avgPool2d flatten');
    expect(types(planHint([300], [1200]).regressor)).toBe('dense');
    expect(types(planHint([14, 14, 8], [800]).regressor)).toBe('avgPool2d flatten dense');
    const toMap = planHint([800], [7, 7, 16]);
    expect(types(toMap.regressor)).toBe('dense');
    expect(types(toMap.target)).toBe('avgPool2d flatten');
    // the regressor's output matches the target's size
    for (const [s, t] of [[[14, 14, 8], [800]], [[800], [7, 7, 16]], [[28, 28, 6], [7, 7, 64]], [[5, 5, 16], [120]]] as [number[], number[]][]) {
      const plan = planHint(s, t);
      const out = compileGraph({ type: 'graph', input: s as [number], layers: plan.regressor }).classes;
      const tgt = plan.target.length ? compileGraph({ type: 'graph', input: t as [number], layers: plan.target }).classes : size(t);
      expect(out, `${s} -> ${t}`).toBe(tgt);
    }
    expect(() => planHint([6, 6, 4], [4, 4, 4])).toThrow('the student map 6x6 does not pool evenly to 4x4; pick taps whose sizes divide');
    expect(() => planHint([8, 4, 4], [4, 8, 4])).toThrow(/each larger in one direction/);
  });
});

describe.each(BACKENDS)('feature terms on maps [%s]', (backend) => {
  it('a hint between maps of different sizes and channels: loss and gradients match the f64 reference', async () => {
    const core = await loadCore({ backend });
    for (const [sShape, tShape] of [[[6, 6, 3], [3, 3, 5]], [[3, 3, 4], [6, 6, 2]], [[4, 4, 3], [7]]] as [number[], number[]][]) {
      const rows = 3, r = rand(size(sShape));
      const hs = Float32Array.from({ length: rows * size(sShape) }, () => 2 * r() - 1);
      const ht = Float32Array.from({ length: rows * size(tShape) }, () => 2 * r() - 1);
      const reg = new HintRegressor(core, sShape, tShape, 4);
      reg.init(9);
      reg.zeroGrad();
      const ths = core.fromArray(hs), tht = core.fromArray(ht), dhs = core.alloc(rows * size(sShape));
      const loss = reg.compute(dhs.ptr, ths.ptr, tht.ptr, rows, 0.5);
      const plan = planHint(sShape, tShape);
      const g = compileGraph({ type: 'graph', input: sShape as [number], layers: plan.regressor });
      const tg = plan.target.length ? compileGraph({ type: 'graph', input: tShape as [number], layers: plan.target }) : null;
      const target = tg ? refForward(tg, new Float32Array(0), ht, rows, { train: false }).logits : Float64Array.from(ht);
      const refLoss = (params: ArrayLike<number>, input: ArrayLike<number>): number => {
        const out = refForward(g, params, input, rows, { train: false }).logits;
        let s = 0;
        for (let i = 0; i < out.length; i++) s += (out[i]! - target[i]!) ** 2;
        return s / out.length;
      };
      const p0 = reg.params.toArray();
      expect(Math.abs(loss - refLoss(p0, hs))).toBeLessThan(1e-5 * refLoss(p0, hs));
      const fd = (f: (x: Float64Array) => number, x0: ArrayLike<number>): Float64Array => {
        const x = Float64Array.from(x0);
        return x.map((v, i) => { x[i] = v + 1e-5; const a = f(x); x[i] = v - 1e-5; const b = f(x); x[i] = v; return (a - b) / 2e-5; });
      };
      const gParams = fd((q) => refLoss(q, hs), p0), gInput = fd((x) => refLoss(p0, x), hs);
      const check = (got: Float32Array, want: Float64Array, what: string): void => {
        const scale = Math.max(...Array.from(want, Math.abs));
        for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - 0.5 * want[i]!), `${what}[${i}] ${sShape}->${tShape}`).toBeLessThan(2e-5 * scale + 1e-6);
      };
      check(reg.grads.toArray(), gParams, 'dθ');
      check(dhs.toArray(), gInput, 'dh_s');
      reg.free();
    }
  });

  it('the regressor starts as a linear map N(0, 1/fan_in)', async () => {
    const core = await loadCore({ backend });
    const reg = new HintRegressor(core, [4, 4, 50], [4, 4, 40], 2);
    reg.init(1);
    const w = reg.params.toArray().subarray(0, 50 * 40);
    const mean = w.reduce((a, b) => a + b, 0) / w.length;
    const std = Math.sqrt(w.reduce((a, b) => a + (b - mean) ** 2, 0) / w.length);
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(std).toBeGreaterThan(0.9 / Math.sqrt(50));
    expect(std).toBeLessThan(1.1 / Math.sqrt(50));
    reg.free();
  });

  it('attention transfer: loss and gradient match an f64 reference and its finite differences, maps of different sizes', async () => {
    const core = await loadCore({ backend });
    for (const [sShape, tShape] of [[[4, 4, 3], [4, 4, 7]], [[8, 6, 2], [4, 3, 5]], [[2, 3, 4], [4, 6, 1]]] as [number[], number[]][]) {
      const rows = 2, r = rand(7 + size(sShape));
      const fs = Float32Array.from({ length: rows * size(sShape) }, () => 2 * r() - 1);
      const ft = Float32Array.from({ length: rows * size(tShape) }, () => 2 * r() - 1);
      const at = new AttentionTransfer(core, { student: sShape, teacher: tShape });
      const ds = core.alloc(fs.length);
      const loss = at.compute(ds.ptr, core.fromArray(fs).ptr, core.fromArray(ft).ptr, rows, 2);
      const { h, w } = attentionGrid(sShape, tShape);
      // reference: attention maps from their definition, pooled by averaging, L2-normalised
      const att = (f: ArrayLike<number>, [H, W, C]: number[]): Float64Array => {
        const fh = H! / h, fw = W! / w, out = new Float64Array(rows * h * w);
        for (let b = 0; b < rows; b++) for (let y = 0; y < H!; y++) for (let x = 0; x < W!; x++) {
          let s = 0;
          for (let c = 0; c < C!; c++) s += f[((b * H! + y) * W! + x) * C! + c]! ** 2;
          out[b * h * w + Math.floor(y / fh) * w + Math.floor(x / fw)]! += s / (fh * fw);
        }
        for (let b = 0; b < rows; b++) {
          let n = 0;
          for (let i = 0; i < h * w; i++) n += out[b * h * w + i]! ** 2;
          for (let i = 0; i < h * w; i++) out[b * h * w + i]! /= Math.sqrt(n);
        }
        return out;
      };
      const qt = att(ft, tShape);
      const ref = (f: ArrayLike<number>): number => {
        const qs = att(f, sShape);
        let s = 0;
        for (let i = 0; i < qs.length; i++) s += (qs[i]! - qt[i]!) ** 2;
        return s / qs.length;
      };
      expect(Math.abs(loss - ref(fs))).toBeLessThan(1e-9 + 1e-6 * ref(fs));
      const x = Float64Array.from(fs);
      const g = x.map((v, i) => { x[i] = v + 1e-6; const a = ref(x); x[i] = v - 1e-6; const b = ref(x); x[i] = v; return (a - b) / 2e-6; });
      const got = ds.toArray(), scale = Math.max(...Array.from(g, Math.abs));
      for (let i = 0; i < g.length; i++) expect(Math.abs(got[i]! - 2 * g[i]!), `dF[${i}] ${sShape}->${tShape}`).toBeLessThan(1e-5 * scale);
    }
    expect(() => attentionGrid([4, 4, 2], [3, 3, 2])).toThrow(/do not pool evenly/);
    expect(() => attentionGrid([16], [4, 4, 2])).toThrow(/needs feature maps/);
  });
});
