// `retort train`, `distill`, `eval` and `info` end to end on a small slice of MNIST:
// exit codes, the files of a run directory, JSON-lines output, resume after Ctrl-C.
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allRows, mnistDataDir, ShardedLogitTable, writeNpyFile } from '@retort/distill/node';
import { jsonLines, retort, retortAsync, SMALL, tempDir } from './helpers.js';

const RUN_FILES = ['config.json', 'metrics.jsonl', 'checkpoint.retort', 'model.retort', 'report.json', 'report.md'];
const tmp = tempDir('e2e');
const teacherDir = join(tmp.dir, 'teacher');
const studentDir = join(tmp.dir, 'student');

const readJson = (path: string): Record<string, any> => JSON.parse(readFileSync(path, 'utf8')) as Record<string, any>;
const metricLines = (dir: string): Record<string, any>[] =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, any>);

beforeAll(() => {
  const r = retort(['train', '--model', 'mlp:784-64-10', ...SMALL, '--epochs', '2', '--out', teacherDir]);
  expect(r.status, r.stderr).toBe(0);
});
afterAll(() => tmp.cleanup());

describe('retort train', () => {
  it('writes a complete run directory and prints a summary', () => {
    for (const f of RUN_FILES) expect(existsSync(join(teacherDir, f)), f).toBe(true);
    const saved = readJson(join(teacherDir, 'config.json'));
    expect(saved.kind).toBe('train');
    expect(saved.config).toMatchObject({ data: 'mnist', model: { type: 'mlp', sizes: [784, 64, 10] }, epochs: 2, trainSize: 2000, testSize: 500, validation: 500 });
    expect(metricLines(teacherDir).map((m) => m.epoch)).toEqual([1, 2]);
    const report = readJson(join(teacherDir, 'report.json'));
    expect(report.test.count).toBe(500);
    expect(report.test.errors).toBeLessThan(250);
    expect(report.test.confusion).toHaveLength(10);
    expect(readFileSync(join(teacherDir, 'report.md'), 'utf8')).toMatch(/# Retort train run/);
  });

  it('prints only JSON lines with --json, steps throttled', () => {
    const out = join(tmp.dir, 'json-run');
    const r = retort(['train', '--model', 'mlp:784-32-10', ...SMALL, '--out', out, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const events = jsonLines(r.stdout);
    const types = new Set(events.map((e) => e.type));
    for (const t of ['run', 'phase', 'start', 'step', 'epoch', 'end', 'report']) expect(types, t).toContain(t);
    expect(events.filter((e) => e.type === 'step').length).toBeLessThan(16); // 16 steps, throttled to ~10/s
    const report = events.find((e) => e.type === 'report') as Record<string, any>;
    expect(report.runDir).toBe(out);
    expect(report.test.count).toBe(500);
  });

  it('takes settings from --config, with flags overriding them', () => {
    const cfg = join(tmp.dir, 'job.json');
    const out = join(tmp.dir, 'config-run');
    writeFileSync(cfg, JSON.stringify({ model: 'mlp:784-16-10', epochs: 3, seed: 7, trainSize: 1000, validation: 200, testSize: 200, optimizer: { type: 'sgd', lr: 0.05, momentum: 0.9 } }));
    const r = retort(['train', '--config', cfg, '--epochs', '1', '--lr', '0.02', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const saved = readJson(join(out, 'config.json')).config;
    expect(saved).toMatchObject({ epochs: 1, seed: 7, trainSize: 1000, optimizer: { type: 'sgd', lr: 0.02, momentum: 0.9 } });
  });
});

describe('retort distill', () => {
  it('distills from a teacher model file', () => {
    const r = retort(['distill', '--teacher', join(teacherDir, 'model.retort'), '--model', 'mlp:784-32-10', ...SMALL,
      '--temperature', '4', '--alpha', '0.7', '--out', studentDir]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/agreement with the teacher/);
    for (const f of [...RUN_FILES, 'teacher-outputs/index.json']) expect(existsSync(join(studentDir, f)), f).toBe(true);
    const report = readJson(join(studentDir, 'report.json'));
    expect(report.kind).toBe('distill');
    expect(report.config).toMatchObject({ temperature: 4, alpha: 0.7, scaleT2: true });
    expect(report.test.agreement).toBeGreaterThan(0);
    expect(report.teacher.test.errors).toBe(readJson(join(teacherDir, 'report.json')).test.errors);
  });

  it('distills from a teacher-logits .npy and from a teacher-outputs directory (the soft labels cached by the run above): the same student', () => {
    const outputs = join(studentDir, 'teacher-outputs');
    const logits = join(tmp.dir, 'teacher-logits.npy');
    writeNpyFile(logits, { dtype: 'f4', shape: [60000, 10], data: allRows(ShardedLogitTable.open(outputs)) });
    const fromNpy = join(tmp.dir, 'from-logits'), fromDir = join(tmp.dir, 'from-outputs');
    const r = retort(['distill', '--teacher-logits', logits, '--model', 'mlp:784-32-10', ...SMALL, '--no-t2-scaling', '--out', fromNpy]);
    expect(r.status, r.stderr).toBe(0);
    const report = readJson(join(fromNpy, 'report.json'));
    expect(report.teacher.source).toBe(logits);
    expect(report.config.scaleT2).toBe(false);
    const r2 = retort(['distill', '--teacher-logits', join(outputs, 'index.json'), '--model', 'mlp:784-32-10', ...SMALL, '--no-t2-scaling', '--out', fromDir]);
    expect(r2.status, r2.stderr).toBe(0);
    expect(readJson(join(fromDir, 'report.json')).test).toEqual(report.test);
  });
});

describe('retort eval and info', () => {
  it('evaluates a model file, with agreement when a teacher is given', () => {
    const r = retort(['eval', join(studentDir, 'model.retort'), '--test-size', '500', '--teacher', join(teacherDir, 'model.retort'), '--json']);
    expect(r.status, r.stderr).toBe(0);
    const e = JSON.parse(r.stdout) as Record<string, any>;
    const report = readJson(join(studentDir, 'report.json'));
    expect(e.errors).toBe(report.test.errors);
    expect(e.agreement).toBeCloseTo(report.test.agreement, 10);
    expect(e.perClassErrors).toHaveLength(10);
    const text = retort(['eval', join(teacherDir, 'model.retort'), '--test-size', '500']);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/errors: \d+ of 500/);
    expect(text.stdout).toMatch(/confusion matrix/);
  });

  it('describes a model, a checkpoint, a .npy and an IDX file by their magic bytes', () => {
    const model = JSON.parse(retort(['info', join(teacherDir, 'model.retort'), '--json']).stdout) as Record<string, any>;
    expect(model).toMatchObject({ kind: 'retort-model', version: 1, shortSpec: 'mlp:784-64-10', params: 784 * 64 + 64 + 64 * 10 + 10 });
    expect(model.tensors.map((t: { name: string }) => t.name)).toEqual(['layer0.w', 'layer0.b', 'layer1.w', 'layer1.b']);
    const ck = JSON.parse(retort(['info', join(teacherDir, 'checkpoint.retort'), '--json']).stdout) as Record<string, any>;
    expect(ck.kind).toBe('retort-checkpoint');
    expect(ck.meta.epoch).toBe(2);
    // a .npy under a misleading name is still recognised
    const disguised = join(tmp.dir, 'logits.bin');
    copyFileSync(join(tmp.dir, 'teacher-logits.npy'), disguised);
    const npy = JSON.parse(retort(['info', disguised, '--json']).stdout) as Record<string, any>;
    expect(npy).toMatchObject({ kind: 'npy', dtype: 'f4', shape: [60000, 10], nanCount: 0, infCount: 0 });
    const idx = retort(['info', join(mnistDataDir(), 't10k-images-idx3-ubyte')]);
    expect(idx.status, idx.stderr).toBe(0);
    expect(idx.stdout).toMatch(/IDX file, element type u8, dims 10000x28x28/);
  });
});

describe('resume', () => {
  it('resumes a finished run without training again', () => {
    const r = retort(['train', '--resume', teacherDir]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/resuming .* after epoch 2/);
    expect(metricLines(teacherDir).map((m) => m.epoch)).toEqual([1, 2]);
  });

  it('stops on SIGINT after the current step, exits 130, and --resume finishes the run', async () => {
    const out = join(tmp.dir, 'interrupted');
    let sent = false;
    const r = await retortAsync(['train', '--model', 'mlp:784-128-10', '--train-size', '20000', '--validation', '500', '--test-size', '500',
      '--batch-size', '32', '--epochs', '3', '--out', out, '--json'], (line, child) => {
      if (!sent && line.includes('"type":"epoch"')) { sent = true; child.kill('SIGINT'); }
    });
    expect(r.status, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/checkpoint after epoch 1 is kept.*retort train --resume/);
    expect(existsSync(join(out, 'checkpoint.retort'))).toBe(true);
    expect(existsSync(join(out, 'model.retort'))).toBe(false);
    expect(metricLines(out).map((m) => m.epoch)).toEqual([1]);
    const resumed = retort(['train', '--resume', out, '--json']);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(jsonLines(resumed.stdout).find((e) => e.type === 'start')).toMatchObject({ startEpoch: 1, epochs: 3 });
    expect(metricLines(out).map((m) => m.epoch)).toEqual([1, 2, 3]);
    expect(existsSync(join(out, 'model.retort'))).toBe(true);
  });

  it('refuses config flags next to --resume', () => {
    const r = retort(['train', '--resume', teacherDir, '--epochs', '5']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--epochs cannot be combined/);
  });
});
