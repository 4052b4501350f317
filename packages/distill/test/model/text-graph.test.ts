// Text layers in a graph (embedding, attention with padding and causal masks, sequence pooling,
// dense over positions, layer norm, GELU, residual adds): forward against the f64 reference
// (test/model/graph-reference.ts), every parameter gradient against its central finite
// differences, on every backend; padding never changes a sample's outputs; bad ids refused.
import { describe, expect, it } from 'vitest';
import { finiteDifference } from '../helpers/close.js';
import { loadCore } from '@retort/core-wasm';
import { createModel } from '../../src/model/index.js';
import { parseModelSpec, resolveModelSpec } from '../../src/model/spec.js';
import type { GraphSpec } from '../../src/model/layer-spec.js';
import { refForward, refGraphLoss } from './graph-reference.js';

const BACKENDS = ['simd', 'scalar', 'js'] as const;
const L = 6, V = 11;

const spec = (causal: boolean, mode: 'mean' | 'first'): GraphSpec => ({
  type: 'graph', input: [L], layers: [
    { type: 'embedding', vocab: V, dim: 8, positions: true, name: 'embed' },
    { type: 'residual', body: [{ type: 'layerNorm', eps: 1e-5 }, { type: 'attention', heads: 2, causal, name: 'attn' }], shortcut: [] },
    { type: 'residual', name: 'block', body: [{ type: 'layerNorm', eps: 1e-5 }, { type: 'dense', units: 12, bias: true }, { type: 'gelu' },
      { type: 'dense', units: 8, bias: true }], shortcut: [] },
    { type: 'sequencePool', mode, name: 'pool' }, { type: 'dense', units: 3, bias: true },
  ],
});

/** Three samples: a full row, a short one with padding, one of a single token. */
const IDS = Float32Array.of(1, 4, 10, 0, 4, 7, /**/ 2, 2, 9, -1, -1, -1, /**/ 5, -1, -1, -1, -1, -1);
const LABELS = Int32Array.of(2, 0, 1);

describe.each(BACKENDS)('text layers in a graph [%s]', (backend) => {
  for (const [causal, mode] of [[false, 'mean'], [true, 'first'], [true, 'mean']] as const) {
    it(`causal=${causal} pool=${mode}: forward = f64 reference, gradients = finite differences`, async () => {
      const core = await loadCore({ backend });
      const model = createModel(core, spec(causal, mode));
      model.init(5);
      const rows = 3;
      model.plan(4);
      const tx = core.fromArray(IDS), ty = core.allocI32(rows).set(LABELS), dz = core.alloc(rows * 3);
      model.zeroGrad();
      const z = model.forward(tx, rows, 'train');
      const opts = { train: true };
      const ref = refForward(model.graph, model.readParams(), IDS, rows, opts);
      const zf = z.toArray().subarray(0, rows * 3);
      const scale = Math.max(...Array.from(ref.logits, Math.abs));
      for (let i = 0; i < zf.length; i++) expect(Math.abs(zf[i]! - ref.logits[i]!), `logit ${i}`).toBeLessThan(3e-5 * scale);
      core.crossEntropy(dz, z, ty, rows, 3);
      model.backward(dz, rows);
      const got = model.grads.toArray();
      const fd = finiteDifference((q) => refGraphLoss(model.graph, q, IDS, LABELS, rows, opts), model.readParams(), 1e-4);
      const gs = Math.max(...Array.from(fd, Math.abs));
      let worst = 0, bad = -1;
      for (let i = 0; i < fd.length; i++) {
        const r = Math.abs(got[i]! - fd[i]!) / (3e-5 * gs + 1e-4 * Math.abs(fd[i]!));
        if (r > worst) { worst = r; bad = i; }
      }
      if (worst > 1) expect.fail(`grad[${bad}] = ${got[bad]} but finite differences give ${fd[bad]} (scale ${gs})`);
      // rows of the table no sample uses get no gradient; the padding rows of pos neither (their outputs are never read)
      const table = model.graph.params.find((t) => t.name === 'embed.table')!;
      for (const unused of [3, 6, 8]) for (let c = 0; c < 8; c++) expect(got[table.offset + unused * 8 + c]).toBe(0);
      model.free();
    });
  }

  // GELU, not ReLU, after the convolutions: a window that covers padding only sits at ReLU's kink
  // (its pre-activation is the bias, 0 at init), where central differences read 1/2
  it('a 1-D CNN (embedding, conv1d k=3 and k=4, mean pool): forward = f64 reference, gradients = finite differences, padding-blind', async () => {
    const core = await loadCore({ backend });
    const cnn: GraphSpec = { type: 'graph', input: [L], layers: [
      { type: 'embedding', vocab: V, dim: 5, positions: false, name: 'embed' },
      { type: 'conv1d', filters: 6, kernel: 3, bias: true }, { type: 'gelu', name: 'conv1' },
      { type: 'conv1d', filters: 4, kernel: 4, bias: true }, { type: 'gelu' },
      { type: 'sequencePool', mode: 'mean', name: 'pool' }, { type: 'dense', units: 3, bias: true },
    ] };
    const model = createModel(core, cnn);
    model.init(7);
    const rows = 3;
    model.plan(rows);
    model.zeroGrad();
    const z = model.forward(core.fromArray(IDS), rows, 'train');
    const ref = refForward(model.graph, model.readParams(), IDS, rows, { train: true });
    const zf = z.toArray().subarray(0, rows * 3);
    const scale = Math.max(...Array.from(ref.logits, Math.abs));
    for (let i = 0; i < zf.length; i++) expect(Math.abs(zf[i]! - ref.logits[i]!), `logit ${i}`).toBeLessThan(3e-5 * scale);
    const dz = core.alloc(rows * 3);
    core.crossEntropy(dz, z, core.allocI32(rows).set(LABELS), rows, 3);
    model.backward(dz, rows);
    const got = model.grads.toArray();
    const fd = finiteDifference((q) => refGraphLoss(model.graph, q, IDS, LABELS, rows, { train: true }), model.readParams(), 1e-4);
    const gs = Math.max(...Array.from(fd, Math.abs));
    for (let i = 0; i < fd.length; i++) {
      if (!(Math.abs(got[i]! - fd[i]!) <= 3e-5 * gs + 1e-4 * Math.abs(fd[i]!))) expect.fail(`grad[${i}] = ${got[i]} but finite differences give ${fd[i]}`);
    }
    // the short sample alone, with its padding, gives what it gives inside the batch
    model.plan(1);
    const alone = model.forward(core.fromArray(IDS.subarray(6, 12)), 1, 'eval').toArray().slice(0, 3);
    model.plan(rows);
    const inBatch = model.forward(core.fromArray(IDS), rows, 'eval').toArray().slice(3, 6);
    expect(Array.from(alone)).toEqual(Array.from(inBatch));
    model.free();
  });

  it('padding does not change a sample: the same tokens with more -1 after them give the same logits', async () => {
    const core = await loadCore({ backend });
    const model = createModel(core, spec(false, 'mean'));
    model.init(9);
    model.plan(2);
    const a = model.forward(core.fromArray(IDS.subarray(6, 12)), 1, 'eval').toArray().slice(0, 3);
    // the same sample next to a full one, in a batch of two
    const b = model.forward(core.fromArray(Float32Array.of(...IDS.subarray(0, 6), ...IDS.subarray(6, 12))), 2, 'eval').toArray().slice(3, 6);
    expect(Array.from(b)).toEqual(Array.from(a));
    model.free();
  });

  it('refuses a token id outside the vocabulary and a token after padding, naming the layer and position', async () => {
    const core = await loadCore({ backend });
    const model = createModel(core, spec(false, 'mean'));
    model.init(1);
    model.plan(1);
    expect(() => model.forward(core.fromArray([1, 2, 11, -1, -1, -1]), 1, 'eval')).toThrow(/embedding 'embed': batch row 0, position 2: token id 11 is outside the vocabulary \[0, 11\)/);
    expect(() => model.forward(core.fromArray([1, -1, 3, -1, -1, -1]), 1, 'eval')).toThrow(/position 2: a token after padding/);
    model.free();
  });
});

describe('text presets', () => {
  it('transformer-s has at most a tenth of transformer-l\'s parameters; bag and both transformers build for any length', () => {
    const data = { inputShape: [128], classes: 2, vocab: 4096 };
    const count = (s: string): number => {
      const m = resolveModelSpec(parseModelSpec(s), data);
      return createModelCount(m);
    };
    const s = count('transformer-s'), l = count('transformer-l');
    expect(s / l).toBeLessThanOrEqual(0.1);
    expect(count('bag')).toBe(4096 * 64 + 64 * 2 + 2);
    expect(count('transformer-s:layers=1,dim=32,heads=2')).toBeLessThan(s);
    expect(() => resolveModelSpec(parseModelSpec('transformer-s:dim=30,heads=4'), data)).toThrow(/30 features do not split into 4 heads/);
    expect(() => resolveModelSpec(parseModelSpec('lenet5'), data)).toThrow(/the data are token ids \(vocabulary 4096\): the model must start with an embedding layer/);
    expect(() => resolveModelSpec(parseModelSpec('mlp:128-10-2'), data)).toThrow(/must start with an embedding layer/);
    expect(() => resolveModelSpec(parseModelSpec('transformer-s'), { inputShape: [28, 28], classes: 10 })).toThrow(/reads token ids, but the data are not text/);
    expect(() => parseModelSpec('resnet8:layers=2')).toThrow(/unknown option 'layers'/);
  });
});

import { compileSpec } from '../../src/model/spec.js';
function createModelCount(spec: ReturnType<typeof parseModelSpec>): number { return compileSpec(spec).paramCount; }
