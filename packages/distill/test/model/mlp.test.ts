import { describe, expect, it } from 'vitest';
import { finiteDifference } from '../helpers/close.js';
import { loadCore, type Core } from '@retort/core-wasm';
import { Mlp } from '../../src/model/mlp.js';
import { refLoss, type RefOptions } from './reference.js';
import { rand } from '../helpers/random.js';

const BACKENDS = ['simd', 'scalar', 'js'] as const;


function bits(a: Float32Array): string { return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64'); }

/** Runs one train-mode forward + CE backward; returns the f32 grads. */
function modelGrads(core: Core, model: Mlp, x: Float32Array, labels: Int32Array, rows: number, seed: number,
                    feature?: (Float32Array | undefined)[]): Float32Array {
  const tx = core.fromArray(x), ty = core.allocI32(rows).set(labels), dz = core.alloc(rows * model.classes);
  const rng = core.createRng(seed);
  model.zeroGrad();
  const z = model.forward(tx, rows, 'train', rng);
  core.crossEntropy(dz, z, ty, rows, model.classes);
  feature?.forEach((w, i) => { if (w) core.axpy(model.hiddenGrad(i), core.fromArray(w), w.length, 1); });
  model.backward(dz, rows);
  return model.grads.toArray();
}

function expectGradClose(got: Float32Array, want: Float64Array, what: string): void {
  const scale = Math.max(...Array.from(want, Math.abs));
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i]! - want[i]!);
    if (err > 2e-5 * scale + 1e-4 * Math.abs(want[i]!)) {
      expect.fail(`${what}: grad[${i}] = ${got[i]} but finite differences give ${want[i]} (scale ${scale})`);
    }
  }
}

describe.each(BACKENDS)('Mlp [%s]', (backend) => {
  it('gradients of a 5-7-3 ReLU MLP through cross-entropy match central finite differences', async () => {
    const core = await loadCore({ backend });
    const model = new Mlp(core, 'mlp:5-7-3');
    model.init(11);
    const rows = 4, r = rand(1);
    const x = Float32Array.from({ length: rows * 5 }, () => 2 * r() - 1);
    const labels = Int32Array.of(0, 2, 1, 2);
    model.plan(rows);
    const got = modelGrads(core, model, x, labels, rows, 0);
    const p = model.readParams();
    const fd = finiteDifference((q) => refLoss(model.spec, q, x, labels, rows), p, 1e-5);
    expectGradClose(got, fd, 'grads');
    // backward accumulates: a second backward without zeroGrad doubles the gradient
    const dz = core.alloc(rows * 3);
    core.crossEntropy(dz, model.forward(core.fromArray(x), rows, 'eval'), core.allocI32(rows).set(labels), rows, 3);
    model.zeroGrad();
    model.backward(dz, rows);
    model.backward(dz, rows);
    expectGradClose(model.grads.toArray(), Float64Array.from(got, (g) => 2 * g), 'accumulated grads');
    model.free();
  });

  it('with input and hidden dropout, a feature-loss gradient and a partial batch: gradients match finite differences', async () => {
    const core = await loadCore({ backend });
    const model = new Mlp(core, { type: 'mlp', sizes: [6, 9, 8, 4], dropout: { input: 0.2, hidden: 0.4 } });
    model.init(5);
    model.plan(7);
    const rows = 5, r = rand(2);
    const x = Float32Array.from({ length: rows * 6 }, () => 2 * r() - 1);
    const labels = Int32Array.of(3, 0, 1, 2, 1);
    const feature = [Float32Array.from({ length: rows * 9 }, () => r() - 0.5), undefined];
    const got = modelGrads(core, model, x, labels, rows, 77, feature);
    // The masks the model drew: input mask first, then one per hidden layer, from one rng.
    const rng = core.createRng(77);
    const masks = [rows * 6, rows * 9, rows * 8].map((n, i) => {
      const m = core.alloc(n);
      core.dropoutMask(m, rng, n, i === 0 ? 0.2 : 0.4);
      return Float64Array.from(m.toArray());
    });
    const o: RefOptions = { inputMask: masks[0], hiddenMasks: [masks[1], masks[2]], featureWeights: feature };
    const fd = finiteDifference((q) => refLoss(model.spec, q, x, labels, rows, o), model.readParams(), 1e-5);
    expectGradClose(got, fd, 'grads with dropout');
    expect(masks[1]!.some((v) => v === 0), 'some hidden units dropped').toBe(true);
    model.free();
  });

  it('dropout: eval is deterministic and mask-free; train differs from eval and repeats with the same rng seed', async () => {
    const core = await loadCore({ backend });
    const model = new Mlp(core, 'mlp:20-30-5,dropout=0.2/0.5');
    model.init(3);
    model.plan(8);
    const r = rand(3);
    const x = core.fromArray(Float32Array.from({ length: 8 * 20 }, () => r()));
    const e1 = model.forward(x, 8, 'eval').toArray();
    const e2 = model.forward(x, 8, 'eval').toArray();
    expect(bits(e1)).toBe(bits(e2));
    const t1 = model.forward(x, 8, 'train', core.createRng(9)).toArray();
    const t2 = model.forward(x, 8, 'train', core.createRng(9)).toArray();
    const t3 = model.forward(x, 8, 'train', core.createRng(10)).toArray();
    expect(bits(t1)).toBe(bits(t2));
    expect(bits(t1)).not.toBe(bits(e1));
    expect(bits(t1)).not.toBe(bits(t3));
    expect(() => model.forward(x, 8, 'train')).toThrow(/rng/);
    // without dropout, train and eval agree bit for bit (no rng needed)
    const plain = new Mlp(core, 'mlp:20-30-5');
    plain.writeParams(model.readParams());
    plain.plan(8);
    expect(bits(plain.forward(x, 8, 'train').toArray())).toBe(bits(e1));
    model.free(); plain.free();
  });

  it('init: same seed, same bits; He-normal scale; biases 0', async () => {
    const core = await loadCore({ backend });
    const a = new Mlp(core, 'mlp:784-300-10'), b = new Mlp(core, 'mlp:784-300-10');
    a.init(42); b.init(42);
    expect(bits(a.readParams())).toBe(bits(b.readParams()));
    b.init(43);
    expect(bits(a.readParams())).not.toBe(bits(b.readParams()));
    const p = a.readParams();
    const [l0, l1] = a.layers;
    const w0 = p.subarray(l0!.weightOffset, l0!.biasOffset);
    const std = Math.sqrt(w0.reduce((s, v) => s + v * v, 0) / w0.length);
    expect(std / Math.sqrt(2 / 784)).toBeGreaterThan(0.98);
    expect(std / Math.sqrt(2 / 784)).toBeLessThan(1.02);
    expect(Array.from(p.subarray(l0!.biasOffset, l1!.weightOffset)).every((v) => v === 0)).toBe(true);
    a.free(); b.free();
  });

  it('a smaller batch runs on a larger plan; re-planning keeps results; hidden() exposes activations', async () => {
    const core = await loadCore({ backend });
    const model = new Mlp(core, 'mlp:7-6-5-3');
    model.init(1);
    const r = rand(4);
    const x = core.fromArray(Float32Array.from({ length: 9 * 7 }, () => r() * 2 - 1));
    model.plan(9);
    const full = model.forward(x, 9, 'eval').toArray();
    const h0 = model.hidden(0).toArray();
    expect(h0.length).toBe(9 * 6);
    expect(h0.every((v) => v >= 0)).toBe(true);
    const part = model.forward(x, 4, 'eval').toArray().subarray(0, 4 * 3);
    expect(bits(part)).toBe(bits(full.slice(0, 12)));
    model.plan(2);
    expect(bits(model.forward(x, 2, 'eval').toArray())).toBe(bits(full.slice(0, 6)));
    expect(() => model.forward(x, 3, 'eval')).toThrow(/rows must be an integer in \[1, 2\]/);
    expect(() => model.hidden(2)).toThrow(/not a hidden layer/);
    model.free();
  });

  it('applyMaxNorm caps every unit\'s incoming weight norm', async () => {
    const core = await loadCore({ backend });
    const model = new Mlp(core, 'mlp:50-40-10,maxnorm=0.5');
    model.init(2); // He init gives column norms ~ sqrt(2) > 0.5
    model.applyMaxNorm();
    const p = model.readParams();
    for (const l of model.layers) {
      for (let j = 0; j < l.outputs; j++) {
        let s = 0;
        for (let i = 0; i < l.inputs; i++) s += p[l.weightOffset + i * l.outputs + j]! ** 2;
        expect(Math.sqrt(s)).toBeLessThanOrEqual(0.5 * (1 + 1e-6));
        expect(Math.sqrt(s)).toBeGreaterThan(0.49);
      }
    }
    model.free();
  });
});

describe('Mlp misuse', () => {
  it('names the problem', async () => {
    const core = await loadCore({ backend: 'js' });
    const model = new Mlp(core, 'mlp:4-3');
    const x = core.alloc(8);
    expect(() => model.forward(x, 2, 'eval')).toThrow(/plan\(batchSize\) first/);
    model.plan(2);
    expect(() => model.forward(core.alloc(7), 2, 'eval')).toThrow(/x holds 7 values/);
    expect(() => model.backward(core.alloc(6), 2)).toThrow(/no forward/);
    model.forward(x, 2, 'eval');
    expect(() => model.backward(core.alloc(6), 1)).toThrow(/last forward ran 2 rows/);
    expect(() => model.writeParams(new Float32Array(3))).toThrow(/has 15 parameters/);
    expect(() => new Mlp(core, 'mlp:4')).toThrow(/model.sizes: needs at least 2 entries/);
    const before = core.bytesInUse;
    model.free();
    expect(core.bytesInUse).toBeLessThan(before);
    expect(() => model.plan(2)).toThrow(/freed/);
  });
});
