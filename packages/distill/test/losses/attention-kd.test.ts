// The attention-distillation terms (MiniLM attention and value relation, TinyBERT attention
// scores): each loss against a plain f64 computation of its formula, and the gradient it sends
// into the student (through the attention layer's backward) against central differences of the
// loss in the student's parameters; padding, causal masks, unequal widths, and the refusals.
import { describe, expect, it } from 'vitest';
import { loadCore, type Core } from '@retort/core-wasm';
import { createModel, type Model } from '../../src/model/index.js';
import type { GraphSpec } from '../../src/model/layer-spec.js';
import { AttentionKd, type AttentionKdKind } from '../../src/losses/attention-kd.js';

const L = 5, V = 9;
const IDS = Float32Array.of(1, 4, 8, 0, 4, /**/ 2, 2, 7, -1, -1, /**/ 5, 3, 6, 1, -1);
const ROWS = 3;

const spec = (dim: number, heads: number, causal: boolean): GraphSpec => ({
  type: 'graph', input: [L], layers: [
    { type: 'embedding', vocab: V, dim, positions: true },
    { type: 'attention', heads, causal, name: 'att' },
    { type: 'sequencePool', mode: 'mean' }, { type: 'dense', units: 2, bias: true },
  ],
});

function pair(core: Core, causal: boolean, sDim = 8, tDim = 12): { s: Model; t: Model } {
  const s = createModel(core, spec(sDim, 2, causal)), t = createModel(core, spec(tDim, 2, causal));
  s.init(3); t.init(7);
  s.plan(4); t.plan(4);
  return { s, t };
}

/** The term's loss at the student's current parameters (both models run forward on IDS). */
function lossAt(core: Core, s: Model, t: Model, term: AttentionKd): number {
  const x = core.fromArray(IDS);
  s.forward(x, ROWS, 'train');
  t.forward(x, ROWS, 'eval');
  const v = term.compute(ROWS, 0);
  core.free(x);
  return v;
}

/** f64 softmax of a row. */
const softmax = (z: number[]): number[] => { const m = Math.max(...z); const e = z.map((v) => Math.exp(v - m)); const S = e.reduce((a, b) => a + b, 0); return e.map((v) => v / S); };

describe.each(['js', 'simd'] as const)('attention distillation terms [%s]', (backend) => {
  for (const kind of ['attn-kl', 'attn-mse', 'vr'] as const satisfies readonly AttentionKdKind[]) {
    for (const causal of [false, true]) {
      it(`${kind}${causal ? ' (causal)' : ''}: the gradient into the student matches central differences of the loss`, async () => {
        const core = await loadCore({ backend });
        const { s, t } = pair(core, causal);
        const term = new AttentionKd(core, kind, s.attentionAt('att')!, t.attentionAt('att')!, 4);
        const base = lossAt(core, s, t, term);
        expect(base).toBeGreaterThan(0);
        // analytic: forward both, the term with gradScale 1, backward with zero dlogits
        const x = core.fromArray(IDS);
        s.zeroGrad();
        s.forward(x, ROWS, 'train');
        t.forward(x, ROWS, 'eval');
        const again = term.compute(ROWS, 1);
        expect(Math.abs(again - base)).toBeLessThanOrEqual(1e-6 * Math.max(1, base));
        const dz = core.alloc(4 * 2);
        s.backward(dz, ROWS);
        const g = s.grads.toArray();
        // central differences on every parameter, in f32 (h large enough for f32 rounding)
        const p0 = s.readParams();
        const h = 2e-3;
        const fd = new Float64Array(p0.length);
        for (let i = 0; i < p0.length; i++) {
          const p = Float32Array.from(p0);
          p[i] = p0[i]! + h; s.params.set(p); const up = lossAt(core, s, t, term);
          p[i] = p0[i]! - h; s.params.set(p); const dn = lossAt(core, s, t, term);
          fd[i] = (up - dn) / (2 * h);
        }
        s.params.set(p0);
        const scale = Math.max(...Array.from(fd, Math.abs));
        expect(scale).toBeGreaterThan(0);
        for (let i = 0; i < fd.length; i++) {
          if (Math.abs(g[i]! - fd[i]!) > 2e-2 * scale + 2e-2 * Math.abs(fd[i]!)) expect.fail(`param ${i}: gradient ${g[i]} but finite differences ${fd[i]} (scale ${scale})`);
        }
        // the embedding rows of tokens no sample reads get nothing
        const table = s.graph.params.find((d) => d.name.endsWith('.table'))!;
        for (let c = 0; c < 8; c++) expect(g[table.offset + 0 * 8 + c]).not.toBe(0); // token 0 is read
        core.free(x); core.free(dz);
        term.free(); s.free(); t.free();
      });
    }
  }

  it('attn-kl is the mean KL of the attention rows (f64 check), zero against itself; vr allows unequal widths', async () => {
    const core = await loadCore({ backend });
    const { s, t } = pair(core, false);
    const term = new AttentionKd(core, 'attn-kl', s.attentionAt('att')!, t.attentionAt('att')!, 4);
    const loss = lossAt(core, s, t, term);
    // recompute from the kept scores
    const sa = s.attentionAt('att')!, ta = t.attentionAt('att')!;
    const zs = sa.scores!.toArray(), zt = ta.scores!.toArray();
    let want = 0;
    for (let b = 0; b < ROWS; b++) {
      const n = sa.counts[b]!;
      for (let hh = 0; hh < 2; hh++) {
        let kl = 0;
        for (let i = 0; i < n; i++) {
          const row = (z: Float32Array, d: number): number[] => Array.from({ length: n }, (_, j) => z[(b * 2 + hh) * L * L + i * n + j]! / Math.sqrt(d / 2));
          const ps = softmax(row(zs, 8)), pt = softmax(row(zt, 12));
          for (let j = 0; j < n; j++) kl += pt[j]! * (Math.log(pt[j]!) - Math.log(ps[j]!));
        }
        want += kl / n;
      }
    }
    want /= ROWS * 2;
    expect(Math.abs(loss - want)).toBeLessThan(1e-5 * Math.max(1, want));
    // a model against itself: zero
    const self = new AttentionKd(core, 'attn-kl', sa, sa, 4);
    expect(Math.abs(lossAt(core, s, s, self))).toBeLessThan(1e-6);
    term.free(); self.free(); s.free(); t.free();
  });

  it('keeps its buffers sized to the plan: a teacher re-planned for larger batches (its soft labels) gets larger ones', async () => {
    const core = await loadCore({ backend });
    const { s, t } = pair(core, false);
    const term = new AttentionKd(core, 'attn-kl', s.attentionAt('att')!, t.attentionAt('att')!, 4);
    const ta = t.attentionAt('att')!;
    expect(ta.scores!.length).toBe(4 * 2 * L * L);
    t.plan(16);
    expect(ta.scores!.length).toBe(16 * 2 * L * L);
    // a forward of 16 rows stays inside them: the student's buffers are untouched
    const before = s.readParams();
    t.forward(core.fromArray(Float32Array.from({ length: 16 * L }, (_, i) => i % V)), 16, 'eval');
    expect(Array.from(s.readParams())).toEqual(Array.from(before));
    term.free(); s.free(); t.free();
  });

  it('refuses unequal head counts for attention maps, and different token counts', async () => {
    const core = await loadCore({ backend });
    const s = createModel(core, spec(8, 2, false)), t = createModel(core, spec(12, 3, false));
    s.init(1); t.init(2); s.plan(4); t.plan(4);
    expect(() => new AttentionKd(core, 'attn-kl', s.attentionAt('att')!, t.attentionAt('att')!, 4)).toThrow(/head counts must agree/);
    const vr = new AttentionKd(core, 'vr', s.attentionAt('att')!, t.attentionAt('att')!, 4, 2);
    s.forward(core.fromArray(IDS), ROWS, 'train');
    t.forward(core.fromArray(Float32Array.of(1, 4, 8, 0, -1, 2, 2, 7, -1, -1, 5, 3, 6, 1, -1)), ROWS, 'eval');
    expect(() => vr.compute(ROWS, 1)).toThrow(/row 0 of the batch: the student reads 5 tokens and the teacher 4/);
    s.free(); t.free();
  });
});
