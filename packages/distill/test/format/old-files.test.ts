// Model files written before models became layer graphs (an MLP file and a checkpoint made by
// the previous release, committed as fixtures) still load: the same tensors by the same names,
// the same predictions (the test errors the old run recorded), and the inference entry reads them.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadCore } from '@retort/core-wasm';
import { loadInference } from '@retort/core-wasm/infer';
import { loadModel, readModelFile, loadCheckpoint } from '../../src/node.js';
import { evaluateView, fullView, slice, isMlp } from '../../src/index.js';
import { loadMnist } from '../../src/data/mnist.js';

const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

describe('files of the MLP-only release', () => {
  it('an MLP model file loads as an Mlp and predicts as it did (the test errors its run recorded)', async () => {
    const core = await loadCore({ backend: 'simd' });
    const file = readModelFile(fixture('mlp-v1.retort'));
    expect(file.spec).toEqual({ type: 'mlp', sizes: [784, 16, 10], dropout: { input: 0.1, hidden: 0.2 }, maxNorm: 3 });
    expect(Object.keys(file.tensors).sort()).toEqual(['layer0.b', 'layer0.w', 'layer1.b', 'layer1.w']);
    const model = loadModel(core, fixture('mlp-v1.retort'));
    expect(isMlp(model)).toBe(true);
    const { test } = loadMnist();
    const view = slice(fullView(test), 500);
    const r = evaluateView(core, model, view, { mean: 0, std: 1 });
    expect(r.errors).toBe(file.meta.testErrors);
    // the inference entry reads the same file and computes the same logits
    const inf = await loadInference({ backend: 'simd' });
    const x = new Float32Array(4 * 784);
    for (let i = 0; i < x.length; i++) x[i] = test.x[i]! / 255;
    const a = inf.predict(readFileSync(fixture('mlp-v1.retort')), x, 4);
    model.plan(4);
    const b = model.forward(core.fromArray(x), 4, 'eval').toArray().subarray(0, 40);
    expect(Array.from(a)).toEqual(Array.from(b));
    model.free();
  });

  it('a checkpoint of the MLP-only release loads (no running statistics in it, none needed)', () => {
    const ck = loadCheckpoint(fixture('mlp-v1-checkpoint.retort'));
    expect(ck.state.epoch).toBe(1);
    expect(ck.state.params.length).toBe(784 * 16 + 16 + 16 * 10 + 10);
    expect(ck.state.state).toBeUndefined();
    expect(Object.keys(ck.state.optimizer.buffers).length).toBeGreaterThan(0);
  });
});
