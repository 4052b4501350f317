// The distillation family through `retort`: every method by name, loss terms written out,
// several teachers, transfer-set control, `retort methods`, born-again generations, the
// method comparison (--quick) and the temperature sweep, on a small slice of MNIST; and the
// invalid combinations that must fail before anything trains or is written.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allRows, ShardedLogitTable, writeSafetensorsFile } from '@retort/distill/node';
import { expectOneLineError, retort, SMALL, tempDir } from './helpers.js';

const tmp = tempDir('family');
const d = (...p: string[]): string => join(tmp.dir, ...p);
const STUDENT = ['--model', 'mlp:784-24-16-10'];
let teacher = '', teacher2 = '';

interface Report { losses: string; test: { errors: number; count: number }; history: { losses?: { type: string; weight: number }[]; peers?: unknown[] }[];
  peers?: { errors: number }[]; config: { transfer?: unknown } }
const report = (dir: string): Report => JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as Report;

beforeAll(() => {
  for (const [out, model] of [['teacher', 'mlp:784-64-32-10'], ['teacher2', 'mlp:784-48-10']] as const) {
    const r = retort(['train', '--model', model, ...SMALL, '--epochs', '2', '--out', d(out)]);
    expect(r.status, r.stderr).toBe(0);
  }
  teacher = d('teacher', 'model.retort');
  teacher2 = d('teacher2', 'model.retort');
});
afterAll(() => tmp.cleanup());

describe('retort distill --method', () => {
  it.each([
    ['kd', /0\.1·ce \+ 0\.9·kd\(T=4\)/],
    ['dkd', /1·ce \+ 1·dkd\(T=4, alpha=1, beta=8\)/],
    ['fitnets', /1·hint\(1→1, epochs 1\.\.1\) \+ 0\.1·ce\(epochs 2\.\.end\) \+ 0\.9·kd\(T=4, epochs 2\.\.end\)/],
    ['rkd', /1·ce \+ 1·rkd\(distance=25, angle=50, 2→2\)/],
    ['adaptive', /agreement\(0\.1→0\.55\)·ce \+ agreement\(0\.9→0\.45\)·kd\(T=linear\(4→1\)\)/],
  ])('%s trains with a teacher and records its terms', (method, terms) => {
    const out = d(`m-${method}`);
    const r = retort(['distill', '--method', method, '--teacher', teacher, ...STUDENT, ...SMALL, '--epochs', '4', '--lr', '0.005', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const rep = report(out);
    expect(rep.losses).toMatch(terms);
    expect(rep.test.errors).toBeLessThan(400); // of 500: better than chance (450) after 4 short epochs
    expect(rep.history.at(-1)!.losses!.length).toBeGreaterThan(1);
  });

  it.each(['dml', 'tfkd'])('%s needs no teacher (train and distill alike)', (method) => {
    const out = d(`m-${method}`);
    const r = retort(['train', '--method', method, ...STUDENT, ...SMALL, '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const rep = report(out);
    if (method === 'dml') {
      expect(rep.peers).toHaveLength(1);
      expect(rep.history.at(-1)!.peers).toHaveLength(1);
    }
  });

  it('takes loss terms written out (--losses), several teachers and no labels', () => {
    const losses = d('losses.json');
    writeFileSync(losses, JSON.stringify([{ type: 'kd', weight: 1, temperature: 3 }, { type: 'hint', studentLayer: 2, teacherLayer: 1, weight: 0.1, teacher: 1 }]));
    const out = d('custom');
    const r = retort(['distill', '--losses', losses, '--teachers', `${teacher2},${teacher}`, '--teacher-weights', '1,2', '--no-labels',
      '--transfer-fraction', '0.5', '--omit-classes', '3', ...STUDENT, ...SMALL, '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const rep = report(out);
    expect(rep.losses).toBe('1·kd(T=3) + 0.1·hint(2→1)');
    expect(rep.config.transfer).toEqual({ fraction: 0.5, omitClasses: [3], labels: false });
    // about half the 2000 images, minus the 3s
    const start = JSON.parse(readFileSync(join(out, 'metrics.jsonl'), 'utf8').split('\n')[0]!) as { samplesPerSec: number };
    expect(start.samplesPerSec).toBeGreaterThan(0);
  });

  it('--no-labels keeps a method\'s soft terms; --teachers takes .safetensors logits', () => {
    const out = d('nolabels');
    const r = retort(['distill', '--method', 'kd', '--teacher', teacher, '--no-labels', ...STUDENT, ...SMALL, '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(report(out).losses).toBe('0.9·kd(T=4)');
    const st = d('t2.safetensors');
    const logits = allRows(ShardedLogitTable.open(d('m-kd', 'teacher-outputs')));
    writeSafetensorsFile(st, { logits: { dtype: 'BF16', shape: [logits.length / 10, 10], data: logits } });
    const r2 = retort(['distill', '--teachers', `${teacher},${st}`, ...STUDENT, ...SMALL, '--out', d('st-teachers')]);
    expect(r2.status, r2.stderr).toBe(0);
  });

  it('lists the methods with their parameters', () => {
    const r = retort(['methods']);
    expect(r.status, r.stderr).toBe(0);
    for (const m of ['none', 'kd', 'dkd', 'fitnets', 'rkd', 'dml', 'tfkd', 'adaptive', 'born-again']) expect(r.stdout).toMatch(new RegExp(`^${m} `, 'm'));
    expect(r.stdout).toMatch(/beta = 8/);
    const j = JSON.parse(retort(['methods', '--json']).stdout) as { name: string; params: unknown[] }[];
    expect(j.find((m) => m.name === 'dkd')!.params.length).toBeGreaterThan(0);
  });
});

describe('invalid combinations fail before training, and write nothing', () => {
  it.each([
    ['a hint layer the student lacks', ['distill', '--losses', '[{"type":"hint","studentLayer":5,"teacherLayer":1}]', '--teacher', 'T'], /losses\[0\] \(hint\): the student \(784-24-16-10\) has no hidden layer 5/, 1],
    ['an RKD layer 0', ['distill', '--losses', '[{"type":"rkd","studentLayer":0}]', '--teacher', 'T'], /losses\[0\]\.studentLayer: must be a tap name .* or for an MLP a hidden layer number/, 2],
    ['DML with one student', ['train', '--losses', '[{"type":"ce"},{"type":"dml"}]'], /Deep Mutual Learning needs at least 2 students/, 1],
    ['a hint from teacher logits', ['distill', '--losses', '[{"type":"hint","studentLayer":1,"teacherLayer":1}]', '--teacher-logits', 'L'], /teacher 0 must be a model file, not precomputed logits/, 1],
    ['labels refused but the method reads them', ['distill', '--method', 'dkd', '--teacher', 'T', '--no-labels'], /transfer\.labels: false, but dkd read the labels/, 1],
    ['labels refused but ce asked for', ['distill', '--losses', '[{"type":"ce"},{"type":"kd"}]', '--teacher', 'T', '--no-labels'], /transfer\.labels: false, but ce read the labels/, 1],
    ['kd without a teacher', ['distill', '--method', 'dkd'], /needs a teacher/, 2],
    ['an unknown method', ['distill', '--method', 'magic', '--teacher', 'T'], /--method: expected one of none, kd, dkd/, 2],
    ['an unknown term field', ['distill', '--losses', '[{"type":"kd","temprature":4}]', '--teacher', 'T'], /losses\[0\]/, 2],
    ['weights for a lone teacher', ['distill', '--teacher', 'T', '--teacher-weights', '1'], /--teacher-weights: only applies with --teachers/, 2],
    ['DML with an explicit --peers 0', ['train', '--method', 'dml', '--peers', '0'], /Deep Mutual Learning needs at least 2 students/, 1],
    ['a transfer class the data lacks', ['distill', '--teacher', 'T', '--transfer-classes', '0,1,11'], /config\.transfer\.classes: class 11 is not in/, 1],
  ] as const)('%s', (_, args, pattern, code) => {
    const out = d('never', String(Math.random()).slice(2));
    const full = args.map((a) => (a === 'T' ? teacher : a === 'L' ? d('m-kd', 'teacher-outputs') : a));
    const r = retort([...full, ...STUDENT, ...SMALL, '--out', out]);
    expectOneLineError(r, [pattern], code);
    expect(existsSync(out)).toBe(false);
  });
});

describe('experiments', () => {
  it('born-again: generations each taught by the previous, and the ensemble of all', () => {
    const out = d('ban');
    const r = retort(['born-again', '--generations', '2', ...STUDENT, ...SMALL, '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\| ensemble of all \|/);
    const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { generations: { teachers: number[] }[] };
    expect(s.generations.map((g) => g.teachers)).toEqual([[], [0], [1]]);
    const cfg = JSON.parse(readFileSync(join(out, 'gen2', 'config.json'), 'utf8')) as { config: { teachers: { model: string }[] } };
    expect(cfg.config.teachers[0]!.model).toBe(join(out, 'gen1', 'model.retort'));
    // rerunning reads the finished generations back instead of training again
    const again = retort(['born-again', '--generations', '2', ...STUDENT, ...SMALL, '--out', out]);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).not.toMatch(/epoch 1\/1/);
  });

  it('compare --methods all --quick: every method, two seeds, one table', () => {
    const out = d('methods');
    const r = retort(['compare', '--methods', 'all', '--quick', '--out', out], { timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const res = JSON.parse(readFileSync(join(out, 'methods.json'), 'utf8')) as { rows: { method: string; accuracies: number[]; mean: number; std: number }[] };
    expect(res.rows.map((x) => x.method)).toEqual(['none', 'kd', 'kd-2-teachers', 'kd-soft-only', 'dkd', 'fitnets', 'rkd', 'dml', 'tfkd', 'adaptive', 'born-again']);
    for (const row of res.rows) {
      expect(row.accuracies).toHaveLength(2);
      expect(row.mean).toBeCloseTo((row.accuracies[0]! + row.accuracies[1]!) / 2, 12);
      expect(row.std).toBeCloseTo(Math.abs(row.accuracies[0]! - row.accuracies[1]!) / Math.SQRT2, 12);
    }
    expect(r.stdout).toMatch(/mean ± sd, 2 seeds, last epoch/);
  });

  it('sweep-temperature: a width × T table', () => {
    const out = d('sweep');
    const r = retort(['sweep-temperature', '--teacher', teacher, '--widths', '8,16', '--temperatures', '1,4', '--seeds', '1', '--epochs', '1',
      '--transfer-size', '1000', '--test-size', '300', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\| 784-8-8-10 \|/);
    expect(r.stdout).toMatch(/\| 784-16-16-10 \|/);
    expect(existsSync(join(out, 'w16', 'T4', 'seed1', 'model.retort'))).toBe(true);
  });

  it('born-again refuses flags that would change its generations', () => {
    expectOneLineError(retort(['born-again', '--method', 'dkd', ...STUDENT, ...SMALL, '--out', d('ban-x')]), ['--method: born-again sets'], 2);
    expectOneLineError(retort(['born-again', '--no-labels', ...STUDENT, ...SMALL, '--out', d('ban-x')]), ['--no-labels'], 2);
    expect(existsSync(d('ban-x'))).toBe(false);
  });

  it('flags of the method comparison are refused without --methods', () => {
    expectOneLineError(retort(['compare', '--quick']), ['--quick: only applies with --methods'], 2);
    expectOneLineError(retort(['compare', '--methods', 'kd,nope', '--quick']), ["--methods: unknown method 'nope'"], 2);
  });
});
