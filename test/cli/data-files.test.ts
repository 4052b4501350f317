// Data of the user's own through `retort`: a Keras-style .npz archive (x_train, y_train, x_test,
// y_test) trains an MLP and a CNN and distils between them, with its own shape and class count;
// a bad archive is one line naming the file and the array, and leaves no run behind.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeNpy, type NpyInput } from '@retort/distill';
import { zipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { expectOneLineError, retort, tempDir } from './helpers.js';

const tmp = tempDir('data-files');
const d = (...p: string[]): string => join(tmp.dir, ...p);
afterAll(() => tmp.cleanup());

/** n images 10x10x2 of 3 classes: class k lights a 4x4 block at its own corner, over seeded noise. */
function images(n: number, seed: number): { x: NpyInput; y: NpyInput } {
  const x = new Uint8Array(n * 10 * 10 * 2), y = new Int32Array(n);
  let s = seed;
  const rand = (): number => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 8) / (1 << 24);
  for (let i = 0; i < n; i++) {
    const k = i % 3;
    y[i] = k;
    for (let r = 0; r < 10; r++) for (let c = 0; c < 10; c++) for (let ch = 0; ch < 2; ch++) {
      const inBlock = k === 0 ? r < 4 && c < 4 : k === 1 ? r < 4 && c >= 6 : r >= 6 && c < 4;
      x[((i * 10 + r) * 10 + c) * 2 + ch] = Math.min(255, Math.floor(rand() * 90 + (inBlock ? 150 : 0)));
    }
  }
  return { x: { dtype: 'u1', shape: [n, 10, 10, 2], data: x }, y: { dtype: 'i4', shape: [n, 1], data: y } };
}

function writeNpz(path: string, arrays: Record<string, NpyInput>, level: 0 | 6 = 6): string {
  writeFileSync(path, zipSync(Object.fromEntries(Object.entries(arrays).map(([k, v]) => [`${k}.npy`, writeNpy(v)])), { level }));
  return path;
}

const train = images(300, 1), test = images(60, 2);
const data = writeNpz(d('blocks.npz'), { x_train: train.x, y_train: train.y, x_test: test.x, y_test: test.y });
const report = (dir: string): { test: { count: number; errors: number }; model: { params: number } } =>
  JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
const common = ['--data', data, '--validation', '30', '--batch-size', '32', '--lr', '3e-3'];

describe('retort on a .npz dataset', () => {
  it('trains an MLP on (N, H, W, C) images flattened, and a CNN on them as they are, with the data\'s class count', () => {
    let r = retort(['train', '--model', 'mlp:200-32-3', ...common, '--epochs', '8', '--out', d('mlp')]);
    expect(r.status, r.stderr).toBe(0);
    expect(report(d('mlp')).test.count).toBe(60);
    expect(report(d('mlp')).test.errors).toBeLessThan(20); // chance is 40 of 60
    r = retort(['train', '--model', 'resnet8:width=0.25', ...common, '--epochs', '3', '--out', d('cnn')]);
    expect(r.status, r.stderr).toBe(0);
    expect(report(d('cnn')).test.count).toBe(60);
    r = retort(['distill', '--teacher', d('mlp', 'model.retort'), '--model', 'lenet5:width=0.5', ...common, '--epochs', '2', '--out', d('kd')]);
    expect(r.status, r.stderr).toBe(0);
    expect(report(d('kd')).test.count).toBe(60);
    r = retort(['eval', d('cnn', 'model.retort'), '--data', data, '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).errors).toBe(report(d('cnn')).test.errors);
  }, 120_000);

  it('retort data inspect describes each split and warns about what looks wrong (text and JSON)', () => {
    let r = retort(['data', 'inspect', data, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as { classes: number; splits: { split: string; count: number; sampleShape: number[]; dtype: string; classCounts: number[]; max: number }[]; warnings: string[] };
    expect(s.classes).toBe(3);
    expect(s.splits.map((p) => [p.split, p.count, p.sampleShape.join('x'), p.dtype])).toEqual([['train', 300, '10x10x2', 'uint8'], ['test', 60, '10x10x2', 'uint8']]);
    expect(s.splits[0]!.classCounts).toEqual([100, 100, 100]);
    expect(s.warnings).toEqual([]);
    r = retort(['data', 'inspect', data]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/train +300 samples of 10x10x2 uint8/);
    expect(r.stdout).toMatch(/nothing suspicious found/);
    // a test split holding a class the training split lacks
    const trainNo2 = { dtype: 'u1' as const, shape: [200, 10, 10, 2], data: (train.x.data as Uint8Array).subarray(0, 200 * 200) };
    const y = Int32Array.from({ length: 200 }, (_, i) => i % 2);
    const odd = writeNpz(d('odd.npz'), { x_train: trainNo2, y_train: { dtype: 'i4', shape: [200], data: y }, x_test: test.x, y_test: test.y });
    r = retort(['data', 'inspect', odd]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/train: no samples of class 2/);
    expect(r.stdout).toMatch(/test has class 2, which train has no samples of/);
    r = retort(['data', 'inspect', d('missing.npz')]);
    expectOneLineError(r, [d('missing.npz'), /not found/]);
  });

  it('refuses a bad archive in one line naming the file and the array, before a run directory exists', () => {
    const bad = writeNpz(d('short.npz'), { x_train: train.x, y_train: { ...train.y, shape: [299, 1], data: (train.y.data as Int32Array).subarray(0, 299) }, x_test: test.x, y_test: test.y });
    let r = retort(['train', '--model', 'mlp:200-8-3', '--data', bad, '--out', d('bad1')]);
    expectOneLineError(r, [`${bad}:y_train`, /299 labels/]);
    expect(existsSync(d('bad1'))).toBe(false);
    const partial = writeNpz(d('partial.npz'), { x_train: train.x, y_train: train.y });
    r = retort(['train', '--model', 'mlp:200-8-3', '--data', partial, '--out', d('bad2')]);
    expectOneLineError(r, [partial, /missing x_test, y_test/]);
    writeFileSync(d('cut.npz'), readFileSync(data).subarray(0, 5000));
    r = retort(['train', '--model', 'mlp:200-8-3', '--data', d('cut.npz'), '--out', d('bad3')]);
    expectOneLineError(r, [d('cut.npz'), /not a readable \.npz archive/]);
    expect(existsSync(d('bad2')) || existsSync(d('bad3'))).toBe(false);
  });
});
