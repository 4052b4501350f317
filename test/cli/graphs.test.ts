// Models beyond the MLP through `retort`, on a small slice of MNIST: a CNN trained from a preset
// and from a JSON graph file, `retort models`, eval and info of a CNN; feature distillation
// between taps across architectures both ways (CNN teacher -> MLP student, MLP teacher -> CNN
// student), attention transfer between CNNs; and bad specs and taps refused with one line
// naming the layer and the field before anything is written.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOneLineError, jsonLines, retort, SMALL, tempDir } from './helpers.js';

const tmp = tempDir('graphs');
const d = (...p: string[]): string => join(tmp.dir, ...p);
const report = (dir: string): { losses: string; model: { spec: string; params: number }; test: { errors: number } } =>
  JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));

/** A small CNN teacher: conv / batch norm / relu blocks with named taps. */
const CNN_TEACHER = {
  type: 'graph', layers: [
    { type: 'conv2d', filters: 8, kernel: 3, name: 'c1' }, { type: 'batchNorm' }, { type: 'relu', name: 'b1' },
    { type: 'maxPool2d', size: 2 },
    { type: 'conv2d', filters: 16, kernel: 3 }, { type: 'batchNorm' }, { type: 'relu', name: 'b2' },
    { type: 'maxPool2d', size: 2 }, { type: 'globalAvgPool', name: 'pool' }, { type: 'dense', units: 10 },
  ],
};
const CNN_STUDENT = 'mobilenet-tiny:width=0.25';
let cnnTeacher = '', mlpTeacher = '';

beforeAll(() => {
  writeFileSync(d('teacher.json'), JSON.stringify(CNN_TEACHER));
  let r = retort(['train', '--model', d('teacher.json'), ...SMALL, '--epochs', '2', '--out', d('cnn-teacher')]);
  expect(r.status, r.stderr).toBe(0);
  r = retort(['train', '--model', 'mlp:784-64-32-10', ...SMALL, '--epochs', '2', '--out', d('mlp-teacher')]);
  expect(r.status, r.stderr).toBe(0);
  cnnTeacher = d('cnn-teacher', 'model.retort');
  mlpTeacher = d('mlp-teacher', 'model.retort');
}, 120_000);
afterAll(() => tmp.cleanup());

describe('CNNs through retort', () => {
  it('retort models lists the presets with parameters, input shapes and taps (text and JSON)', () => {
    const r = retort(['models', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as { name: string; params: number; input: number[]; taps: { name: string }[] }[];
    expect(rows.map((x) => x.name)).toEqual(['lenet5', 'resnet8', 'mobilenet-tiny', 'bag', 'cnn1d', 'transformer-s', 'transformer-l', 'lm-s', 'lm-l']);
    expect(rows[0]!.params).toBe(61706);
    for (const row of rows.slice(0, 3)) expect(row.input).toEqual([28, 28, 1]);
    for (const row of rows.slice(3)) expect(row.input).toEqual([128]); // text presets: 128 tokens
    // bag: a 4096 x 64 table and a 64 -> 10 layer
    expect(rows[3]!.params).toBe(4096 * 64 + 64 * 10 + 10);
    const named = (n: string) => rows.find((x) => x.name === n)!;
    expect(named('transformer-s').taps.map((t) => t.name)).toEqual(['embed', 'attn1', 'block1', 'attn2', 'block2', 'pool']);
    expect(named('cnn1d').taps.map((t) => t.name)).toEqual(['embed', 'conv1', 'conv2', 'pool']);
    // cnn1d: a 4096 x 64 table, 5 x 64 x 128 and 3 x 128 x 128 filters with biases, 128 -> 10
    expect(named('cnn1d').params).toBe(4096 * 64 + (5 * 64 * 128 + 128) + (3 * 128 * 128 + 128) + 128 * 10 + 10);
    const short = JSON.parse(retort(['models', '--json', '--length', '32', '--vocab', '500']).stdout) as { name: string; params: number; input: number[] }[];
    expect(short[3]!.params).toBe(500 * 64 + 64 * 10 + 10);
    expect(short.find((x) => x.name === 'transformer-s')!.input).toEqual([32]);
    expect(rows[1]!.taps.map((t) => t.name)).toContain('block2');
    const wide = JSON.parse(retort(['models', '--json', '--input', '32x32x3', '--classes', '100', '--width', '2']).stdout) as { name: string; params: number; input: number[] }[];
    expect(wide[0]!.input).toEqual([32, 32, 3]);
    expect(wide[1]!.params).toBeGreaterThan(4 * rows[1]!.params);
    const text = retort(['models']);
    expect(text.stdout).toMatch(/lenet5\s+61,706 parameters/);
  });

  it('a preset trains on the data\'s shape; eval and info describe the CNN file (its spec and batch-norm state)', () => {
    const out = d('lenet');
    const r = retort(['train', '--model', 'lenet5:width=0.5', ...SMALL, '--json', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(jsonLines(r.stdout).some((e) => e.type === 'epoch')).toBe(true);
    expect(report(out).model.spec).toBe('lenet5:width=0.5');
    const ev = retort(['eval', join(out, 'model.retort'), '--test-size', '500', '--json']);
    expect(ev.status, ev.stderr).toBe(0);
    expect((JSON.parse(ev.stdout.trim().split('\n').at(-1)!) as { errors: number }).errors).toBe(report(out).test.errors);
    const info = retort(['info', cnnTeacher]);
    expect(info.status, info.stderr).toBe(0);
    expect(info.stdout).toMatch(/running_var/);
  });

  it('CNN teacher -> MLP student: a hint from a feature map to a hidden layer, and RKD on the pooled features', () => {
    const out = d('cnn-to-mlp');
    const losses = JSON.stringify([{ type: 'ce' }, { type: 'hint', studentLayer: 'hidden1', teacherLayer: 'b2', weight: 0.5 },
      { type: 'rkd', studentLayer: 2, teacherLayer: 'pool' }, { type: 'kd', temperature: 4 }]);
    const r = retort(['distill', '--teacher', cnnTeacher, '--model', 'mlp:784-40-20-10', '--losses', losses, ...SMALL, '--epochs', '2', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(report(out).losses).toMatch(/hint\(hidden1→b2\).*rkd\(.*2→pool\)/);
    expect(report(out).test.errors).toBeLessThan(450);
  });

  it('MLP teacher -> CNN student: a hint from a feature map to a hidden layer, with the default taps of fitnets', () => {
    const out = d('mlp-to-cnn');
    const r = retort(['distill', '--teacher', mlpTeacher, '--model', CNN_STUDENT, '--method', 'fitnets', ...SMALL, '--epochs', '2', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    // the student's middle tap (block2 of six) against the teacher's middle hidden layer (1 of 2)
    expect(report(out).losses).toMatch(/1·hint\(block2→1, epochs 1\.\.1\)/);
  });

  it('attention transfer between CNNs pairs the feature maps of equal resolution', () => {
    const out = d('at');
    const r = retort(['distill', '--teacher', cnnTeacher, '--model', CNN_STUDENT, '--method', 'at', ...SMALL, '--epochs', '2', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    // student maps: stem 14x14, block1 14x14, block2 7x7, block3 7x7, block4 4x4; teacher: c1/b1 28x28, b2 14x14
    expect(report(out).losses).toBe('1·ce + 500·at(stem→b2) + 500·at(block1→b2)');
  });
});

describe('mixup', () => {
  it('a CNN distilled on mixed batches (teacher in the step) trains, and a term that reads single labels is refused', () => {
    const out = d('mixup');
    let r = retort(['distill', '--teacher', cnnTeacher, '--model', CNN_STUDENT, '--mixup', '--jitter', '1', ...SMALL, '--epochs', '2', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const rep = report(out) as ReturnType<typeof report> & { config: { mixup: boolean } };
    expect(rep.config.mixup).toBe(true);
    // the same seed gives the same model bit for bit; without --mixup the batches, and so the model, differ
    const again = d('mixup-again'), plain = d('mixup-plain');
    expect(retort(['distill', '--teacher', cnnTeacher, '--model', CNN_STUDENT, '--mixup', '--jitter', '1', ...SMALL, '--epochs', '2', '--out', again]).status).toBe(0);
    expect(retort(['distill', '--teacher', cnnTeacher, '--model', CNN_STUDENT, '--jitter', '1', ...SMALL, '--epochs', '2', '--out', plain]).status).toBe(0);
    const bytes = (dir: string): Buffer => readFileSync(join(dir, 'model.retort'));
    expect(bytes(again).equals(bytes(out))).toBe(true);
    expect(bytes(plain).equals(bytes(out))).toBe(false);
    const bad = d('mixup-dkd');
    r = retort(['distill', '--teacher', cnnTeacher, '--model', CNN_STUDENT, '--method', 'dkd', '--mixup', ...SMALL, '--out', bad]);
    expectOneLineError(r, ["config.mixup: the dkd term reads each sample's label, which a mixed input does not have"]);
    expect(existsSync(bad)).toBe(false);
  });
});

describe('bad specs and taps', () => {
  it.each([
    ['a 5x5 kernel on a 2x2 map', { type: 'graph', layers: [{ type: 'conv2d', filters: 4, kernel: 3, stride: 14 }, { type: 'conv2d', filters: 4, kernel: 5, padding: 'valid' }, { type: 'flatten' }, { type: 'dense', units: 10 }] },
      "model.layers[1].kernel: a 5x5 kernel does not fit the 2x2 input of conv2d 'conv2d2' (padding valid)"],
    ['channels that do not match a residual add', { type: 'graph', layers: [{ type: 'residual', name: 'r', body: [{ type: 'conv2d', filters: 4, kernel: 3 }] }, { type: 'globalAvgPool' }, { type: 'dense', units: 10 }] },
      "residual 'r' adds its body's output [28, 28, 4] to its shortcut's [28, 28, 1]: they must match"],
    ['a dense layer on a feature map', { type: 'graph', layers: [{ type: 'conv2d', filters: 4, kernel: 3 }, { type: 'dense', units: 10 }] },
      "dense 'dense1' needs flat features but gets [28, 28, 4]; put a flatten or globalAvgPool before it"],
  ])('%s', (_what, spec, message) => {
    const out = d('bad-spec');
    const r = retort(['train', '--model', JSON.stringify(spec), ...SMALL, '--out', out]);
    expectOneLineError(r, [message]);
    expect(existsSync(out)).toBe(false);
  });

  it('a tap that does not exist, and attention transfer with an MLP, are refused naming what exists', () => {
    const out = d('bad-tap');
    let r = retort(['distill', '--teacher', cnnTeacher, '--model', CNN_STUDENT, ...SMALL, '--out', out,
      '--losses', JSON.stringify([{ type: 'hint', studentLayer: 'block9', teacherLayer: 'b2' }])]);
    expectOneLineError(r, ["losses[0] (hint): the student has no tap 'block9'; its taps are stem, block1, block2, block3, block4, pool and 'logits'"], 1);
    expect(existsSync(out)).toBe(false);
    r = retort(['distill', '--teacher', mlpTeacher, '--model', CNN_STUDENT, '--method', 'at', ...SMALL, '--out', out]);
    expectOneLineError(r, ['method at: no student and teacher feature maps of the same resolution']);
    expect(existsSync(out)).toBe(false);
    r = retort(['distill', '--teacher', cnnTeacher, '--model', CNN_STUDENT, ...SMALL, '--out', out,
      '--losses', JSON.stringify([{ type: 'hint', studentLayer: 'block4', teacherLayer: 'b2' }])]);
    expectOneLineError(r, ['losses[0] (hint): student block4 [4, 4, 32] -> teacher b2 [14, 14, 16]: the teacher map 14x14 does not pool evenly to 4x4']);
    r = retort(['distill', '--teacher', cnnTeacher, '--model', CNN_STUDENT, ...SMALL, '--out', out,
      '--losses', JSON.stringify([{ type: 'rkd', studentLayer: 1, teacherLayer: 'pool' }])]);
    expectOneLineError(r, ['losses[0] (rkd): the student is not an MLP: name its layer by tap (stem, block1, block2, block3, block4, pool) or \'logits\', not by number']);
    expect(existsSync(out)).toBe(false);
  });
});
