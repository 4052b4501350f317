// Transfer sets and teacher outputs that outgrow memory, through the CLI: `retort data shard`
// writes a dataset as shards, `distill --data SHARDS` streams it (soft labels cached as sharded
// teacher outputs, full or top-k), `--teacher-logits DIR` reads teacher outputs, and what a
// streamed set cannot do is refused in one line before anything is written.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allRows, loadMnist, ShardedDataset, ShardedLogitTable, writeNpyFile, writeSafetensorsFile } from '@retort/distill/node';
import { expectOneLineError, retort, tempDir } from './helpers.js';

const tmp = tempDir('retort-shards-');
afterAll(() => tmp.cleanup());
const d = (...p: string[]): string => join(tmp.dir, ...p);
const report = (dir: string): Record<string, any> => JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as Record<string, any>;
/** The same test results but the agreement with the teacher (a teacher given as outputs has no test-set logits to agree with). */
const sameStudent = (a: Record<string, unknown>, b: Record<string, unknown>): boolean =>
  JSON.stringify({ ...a, agreement: 0 }) === JSON.stringify({ ...b, agreement: 0 });
const STUDENT = ['--model', 'mlp:784-16-10', '--epochs', '1', '--validation', '300', '--batch-size', '64'];

beforeAll(() => {
  // a small MNIST: 3,000 training and 500 test images as one .safetensors dataset
  const { train, test } = loadMnist();
  const F = 784;
  writeSafetensorsFile(d('small.safetensors'), {
    x_train: { dtype: 'U8', shape: [3000, 28, 28], data: (train.x as Uint8Array).subarray(0, 3000 * F) },
    y_train: { dtype: 'I32', shape: [3000], data: train.y.subarray(0, 3000) },
    x_test: { dtype: 'U8', shape: [500, 28, 28], data: (test.x as Uint8Array).subarray(0, 500 * F) },
    y_test: { dtype: 'I32', shape: [500], data: test.y.subarray(0, 500) },
  });
  const t = retort(['train', '--data', d('small.safetensors'), '--model', 'mlp:784-64-10', '--epochs', '2', '--validation', '300', '--out', d('teacher')]);
  if (t.status !== 0) throw new Error(t.stderr);
}, 120_000);

describe('retort data shard and streamed runs', () => {
  it('writes a dataset, enlarged by shifted copies, as shards with an index', () => {
    const r = retort(['data', 'shard', d('small.safetensors'), '--out', d('shards'), '--shard-rows', '700', '--shifts', '1', '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ trainRows: 6000, trainShards: 9, testRows: 500 });
    const set = ShardedDataset.open(d('shards'));
    expect([set.rows, set.sampleShape]).toEqual([6000, [28, 28]]);
    // a second write into the same directory is refused
    expectOneLineError(retort(['data', 'shard', d('small.safetensors'), '--out', d('shards')]), ['already holds a dataset'], 1);
  });

  it('distills a student from the streamed shards; the soft labels are cached as teacher outputs, and the same seed gives the same bits', () => {
    const args = ['distill', '--data', d('shards'), '--teacher', d('teacher', 'model.retort'), ...STUDENT];
    const r = retort([...args, '--out', d('streamed')]);
    expect(r.status, r.stderr).toBe(0);
    const rep = report(d('streamed'));
    expect(rep.trainSamples).toBe(5700);
    expect(rep.test.count ?? rep.test.errors).toBeDefined();
    expect(rep.test.accuracy).toBeGreaterThan(0.3); // 1 epoch of a 16-unit student: it learns, far above chance (0.1)
    const outputs = ShardedLogitTable.open(d('streamed', 'teacher-outputs'));
    expect([outputs.rows, outputs.classes, outputs.index.kind]).toEqual([6000, 10, 'logits']);
    const again = retort([...args, '--out', d('streamed-again')]);
    expect(again.status, again.stderr).toBe(0);
    expect(readFileSync(d('streamed-again', 'model.retort')).subarray(-4096)).toEqual(readFileSync(d('streamed', 'model.retort')).subarray(-4096));
    expect(report(d('streamed-again')).test).toEqual(rep.test);
  });

  it('takes those teacher outputs as --teacher-logits, and caches top-k soft labels with --top-k', () => {
    const fromOutputs = retort(['distill', '--data', d('shards'), '--teacher-logits', d('streamed', 'teacher-outputs'), ...STUDENT, '--out', d('from-outputs')]);
    expect(fromOutputs.status, fromOutputs.stderr).toBe(0);
    // the same soft labels, read from the directory instead of computed: the same student
    expect(sameStudent(report(d('from-outputs')).test, report(d('streamed')).test)).toBe(true);
    const topk = retort(['distill', '--data', d('shards'), '--teacher', d('teacher', 'model.retort'), '--top-k', '3', ...STUDENT, '--out', d('topk')]);
    expect(topk.status, topk.stderr).toBe(0);
    const table = ShardedLogitTable.open(d('topk', 'teacher-outputs'));
    expect(table.index).toMatchObject({ kind: 'topk', k: 3 });
    expect(report(d('topk')).config.topK).toBe(3);
  });

  it('reads teacher outputs written by the numpy-only Python writer in docs/ (full logits: the same student; top-k)', () => {
    const logits = d('logits.npy');
    writeNpyFile(logits, { dtype: 'f4', shape: [6000, 10], data: allRows(ShardedLogitTable.open(d('streamed', 'teacher-outputs'))) });
    const script = fileURLToPath(new URL('../../docs/teacher_outputs.py', import.meta.url));
    for (const [out, k] of [[d('py-full'), []], [d('py-top3'), ['3']]] as const) {
      const py = spawnSync('python3', [script, logits, out, ...k], { encoding: 'utf8' });
      expect(py.status, py.stderr).toBe(0);
    }
    const full = retort(['distill', '--data', d('shards'), '--teacher-logits', d('py-full'), ...STUDENT, '--out', d('from-py')]);
    expect(full.status, full.stderr).toBe(0);
    expect(sameStudent(report(d('from-py')).test, report(d('streamed')).test)).toBe(true);
    expect(ShardedLogitTable.open(d('py-top3')).index).toMatchObject({ kind: 'topk', k: 3, rows: 6000, classes: 10 });
    const top = retort(['distill', '--data', d('shards'), '--teacher-logits', join(d('py-top3'), 'index.json'), ...STUDENT, '--out', d('from-py-top3')]);
    expect(top.status, top.stderr).toBe(0);
    expect(report(d('from-py-top3')).test.accuracy).toBeGreaterThan(0.3);
  });

  it('eval, data inspect, quantize and report take the shards (their test set; calibration rows read alone); data shard refuses to read them whole', () => {
    const ev = retort(['eval', d('streamed', 'model.retort'), '--data', d('shards'), '--json']);
    expect(ev.status, ev.stderr).toBe(0);
    expect(JSON.parse(ev.stdout)).toMatchObject({ count: 500, errors: report(d('streamed')).test.errors });
    const ins = retort(['data', 'inspect', d('shards'), '--json']);
    expect(ins.status, ins.stderr).toBe(0);
    const summary = JSON.parse(ins.stdout) as { shards: { train: number; test: number }; splits: { split: string; count: number; classCounts: number[] }[] };
    expect(summary.shards).toEqual({ train: 9, test: 1 });
    expect(summary.splits.map((s) => [s.split, s.count, s.classCounts.reduce((a, b) => a + b, 0)])).toEqual([['train', 6000, 6000], ['test', 500, 500]]);
    const q = retort(['quantize', d('streamed', 'model.retort'), '--data', d('shards'), '--calibration', '200', '--out', d('q.int8')]);
    expect(q.status, q.stderr).toBe(0);
    expect(q.stdout).toMatch(/from 200 held-out training images/);
    const rep = retort(['report', d('streamed', 'model.retort'), '--teacher', d('teacher', 'model.retort'), '--data', d('shards'), '--json']);
    expect(rep.status, rep.stderr).toBe(0);
    expectOneLineError(retort(['data', 'shard', d('shards'), '--out', d('reshard')]), ['index.json', 'a dataset in shards is streamed'], 1);
    // info describes both indexes
    expect(JSON.parse(retort(['info', d('shards', 'index.json'), '--json']).stdout)).toMatchObject({ kind: 'dataset-shards', trainRows: 6000, trainShards: 9, testRows: 500, classes: 10 });
    expect(JSON.parse(retort(['info', d('topk', 'teacher-outputs', 'index.json'), '--json']).stdout)).toMatchObject({ kind: 'teacher-outputs', outputs: 'topk', k: 3, rows: 6000, tailMeans: true });
  });

  it('refuses what a streamed set cannot do, and a shard gone missing, leaving no run directory', () => {
    const base = ['distill', '--data', d('shards'), '--teacher', d('teacher', 'model.retort'), ...STUDENT];
    expectOneLineError(retort([...base, '--temperature', 'auto', '--out', d('no-auto')]), ['autoTune', 'streamed from shards'], 1);
    expect(existsSync(d('no-auto'))).toBe(false);
    expectOneLineError(retort([...base, '--train-size', '100', '--out', d('no-size')]), ['trainSize', 'streamed from shards'], 1);
    expectOneLineError(retort([...base, '--top-k', '11', '--out', d('no-k')]), ['top-k', '[1, 10]'], 1);
    expect(existsSync(d('no-k'))).toBe(false);
    unlinkSync(d('shards', 'train-00004.safetensors'));
    expectOneLineError(retort([...base, '--out', d('no-shard')]), ['index.json', 'train-00004.safetensors', 'missing'], 1);
    expect(existsSync(d('no-shard'))).toBe(false);
  });
});
