import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCore } from '@retort/core-wasm';
import { fullView, makeDataset } from '../../src/data/dataset.js';
import { writeNpyFile } from '../../src/data/files.js';
import { Mlp } from '../../src/model/mlp.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/node/checkpoint.js';
import { appendJsonLine, createRunDir, truncateMetrics } from '../../src/node/run-dir.js';
import { cachedTeacherLogits, readTeacherLogits } from '../../src/node/teacher-logits.js';
import { allRows } from '../../src/node/teacher-outputs.js';

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'retort-node-')); });
afterEach(() => { rmSync(dir, { recursive: true, force: true }); });

describe('checkpoints', () => {
  it('round-trip params, optimizer buffers and trainer position bit for bit', async () => {
    const spec = { type: 'mlp' as const, sizes: [5, 4, 3] };
    const params = Float32Array.from({ length: 5 * 4 + 4 + 4 * 3 + 3 }, (_, i) => Math.sin(i) * 1e-3 * (i + 1));
    const m = params.map((v) => v * 2), v = params.map((x) => x * x);
    const history = [{ epoch: 1, step: 10, lr: 1e-3, trainLoss: 1.5, trainAccuracy: 0.5, seconds: 1, samplesPerSec: 100 }];
    const path = join(dir, 'checkpoint.retort');
    saveCheckpoint(path, spec, { epoch: 1, step: 10, params, optimizer: { step: 10, buffers: { m, v } }, history }, 'abc123');
    const ck = loadCheckpoint(path);
    expect(ck.configHash).toBe('abc123');
    expect(ck.state.epoch).toBe(1);
    expect(ck.state.step).toBe(10);
    expect(ck.state.optimizer.step).toBe(10);
    expect(Array.from(ck.state.params)).toEqual(Array.from(params));
    expect(Array.from(ck.state.optimizer.buffers.m!)).toEqual(Array.from(m));
    expect(Array.from(ck.state.optimizer.buffers.v!)).toEqual(Array.from(v));
    expect(ck.state.history).toEqual(history);
  });

  it('a model file is not a checkpoint', async () => {
    const core = await loadCore({ backend: 'js' });
    const model = new Mlp(core, 'mlp:4-3');
    const { saveModel } = await import('../../src/format/model-io.js');
    saveModel(join(dir, 'm.retort'), model);
    expect(() => loadCheckpoint(join(dir, 'm.retort'))).toThrow(/not a checkpoint/);
    model.free();
  });
});

describe('run directories', () => {
  it('never overwrite a run without force, and never clear a folder that is not a run', () => {
    const run = join(dir, 'run');
    createRunDir(run);
    writeFileSync(join(run, 'config.json'), '{}');
    writeFileSync(join(run, 'metrics.jsonl'), '');
    expect(() => createRunDir(run)).toThrow(/already exists and is not empty: pass --force/);
    createRunDir(run, { force: true });
    expect(existsSync(join(run, 'config.json'))).toBe(false);
    const other = join(dir, 'precious');
    mkdirSync(other);
    writeFileSync(join(other, 'thesis.tex'), 'do not delete');
    expect(() => createRunDir(other, { force: true })).toThrow(/not a Retort run directory/);
    expect(readFileSync(join(other, 'thesis.tex'), 'utf8')).toBe('do not delete');
  });

  it('truncateMetrics keeps the epochs up to the checkpoint and drops a line cut short', () => {
    const path = join(dir, 'metrics.jsonl');
    for (const epoch of [1, 2, 3]) appendJsonLine(path, { type: 'epoch', epoch });
    writeFileSync(path, readFileSync(path, 'utf8') + '{"type":"epoch","ep');
    truncateMetrics(path, 2);
    expect(readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l).epoch)).toEqual([1, 2]);
  });
});

describe('teacher logits', () => {
  it('validate shape, classes and finite values, naming the file and the bad entry', () => {
    const path = join(dir, 'logits.npy');
    writeNpyFile(path, { dtype: 'f4', shape: [3, 2], data: [1, 2, 3, 4, 5, 6] });
    expect(Array.from(readTeacherLogits(path, 3, 2))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(() => readTeacherLogits(path, 3, 10)).toThrow(/logits.npy: teacher logits have 2 classes but the student has 10/);
    expect(() => readTeacherLogits(path, 4, 2)).toThrow(/cover 3 samples but the transfer set has 4/);
    writeNpyFile(path, { dtype: 'f4', shape: [3, 2], data: [1, 2, 3, NaN, 5, 6] });
    expect(() => readTeacherLogits(path, 3, 2)).toThrow(/teacher logit \[1, 1\] is NaN/);
    writeNpyFile(path, { dtype: 'f8', shape: [2, 2], data: [1, Infinity, 3, 4] });
    expect(() => readTeacherLogits(path, 2, 2)).toThrow(/\[0, 1\] is Infinity/);
    writeNpyFile(path, { dtype: 'i4', shape: [2, 2], data: [1, 2, 3, 4] });
    expect(() => readTeacherLogits(path, 2, 2)).toThrow(/must be float32 or float64/);
    writeNpyFile(path, { dtype: 'f4', shape: [4], data: [1, 2, 3, 4] });
    expect(() => readTeacherLogits(path, 2, 2)).toThrow(/must be 2-D/);
  });

  it('are cached with a fingerprint of model and data, and a stale cache is recomputed', async () => {
    const core = await loadCore({ backend: 'simd' });
    const x = Uint8Array.from({ length: 6 * 4 }, (_, i) => (i * 37) % 256);
    const ds = makeDataset(x, [6, 2, 2], Int32Array.from([0, 1, 2, 0, 1, 2]), { xFile: 'x', yFile: 'y' });
    const teacher = new Mlp(core, 'mlp:4-5-3');
    teacher.init(1);
    const path = join(dir, 'teacher-outputs');
    const first = cachedTeacherLogits(core, teacher, fullView(ds), path, { mean: 0, std: 1 });
    expect(first.fromCache).toBe(false);
    const again = cachedTeacherLogits(core, teacher, fullView(ds), path, { mean: 0, std: 1 });
    expect(again.fromCache).toBe(true);
    expect(allRows(again.table)).toEqual(allRows(first.table));
    teacher.init(2); // a different teacher: the cache is stale
    const other = cachedTeacherLogits(core, teacher, fullView(ds), path, { mean: 0, std: 1 });
    expect(other.fromCache).toBe(false);
    expect(allRows(other.table)).not.toEqual(allRows(first.table));
    x[0] = x[0]! ^ 1; // different data: stale too
    expect(cachedTeacherLogits(core, teacher, fullView(ds), path, { mean: 0, std: 1 }).fromCache).toBe(false);
    teacher.free();
  });
});
