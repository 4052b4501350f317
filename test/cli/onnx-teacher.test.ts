// Any ONNX model as a teacher through `retort distill`: a CNN exported to ONNX with an operator
// Retort does not represent (Relu written as LeakyRelu with alpha 0: the same function) runs in
// onnxruntime-web, and the student distilled from it ends with the test errors of the student
// distilled from the same teacher run natively (± 2); a teacher whose input does not fit the data
// is refused in one line before a run directory exists.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { writeNpy } from '@retort/distill';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { afterAll, describe, expect, it } from 'vitest';
import { expectOneLineError, retort, tempDir } from './helpers.js';

const tmp = tempDir('onnx-teacher');
const d = (...p: string[]): string => join(tmp.dir, ...p);
afterAll(() => tmp.cleanup());

const report = (dir: string): { test: { errors: number; count: number } } => JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));

describe('an ONNX teacher Retort cannot import', () => {
  it('teaches through onnxruntime-web: the same soft labels, so the same test errors (± 2) as the teacher run natively', () => {
    const slice = ['--train-size', '2000', '--validation', '300', '--test-size', '500', '--batch-size', '64'];
    let r = retort(['train', '--model', 'lenet5:width=0.5', ...slice, '--epochs', '2', '--out', d('teacher')]);
    expect(r.status, r.stderr).toBe(0);
    r = retort(['export', d('teacher', 'model.retort'), '--format', 'onnx', '--out', d('teacher.onnx')]);
    expect(r.status, r.stderr).toBe(0);
    const p = onnxProto.onnx.ModelProto.decode(readFileSync(d('teacher.onnx')));
    let changed = 0;
    for (const n of p.graph!.node!) if (n.opType === 'Relu') { n.opType = 'LeakyRelu'; n.attribute = [{ name: 'alpha', type: 1, f: 0 }]; changed++; }
    expect(changed).toBeGreaterThan(0);
    writeFileSync(d('leaky.onnx'), onnxProto.onnx.ModelProto.encode(p).finish());
    const student = ['distill', '--model', 'mlp:784-32-10', ...slice, '--epochs', '3', '--temperature', '4', '--alpha', '0.9'];
    r = retort([...student, '--teacher', d('teacher', 'model.retort'), '--out', d('native')]);
    expect(r.status, r.stderr).toBe(0);
    r = retort([...student, '--teacher', d('leaky.onnx'), '--out', d('ort')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/running teacher .*leaky\.onnx in onnxruntime-web \(.*LeakyRelu.*\), NCHW input/);
    expect(Math.abs(report(d('ort')).test.errors - report(d('native')).test.errors)).toBeLessThanOrEqual(2);
  }, 180_000);

  it('lends its named intermediate tensors as hint and RKD taps (run inside every step), the same as the teacher run natively; an unknown tensor is refused', () => {
    const slice = ['--train-size', '1000', '--validation', '200', '--test-size', '300', '--batch-size', '50', '--epochs', '1'];
    const hint = (teacherLayer: string) => JSON.stringify([{ type: 'ce', weight: 0.5 }, { type: 'hint', studentLayer: 'conv1', teacherLayer, weight: 0.5 },
      { type: 'rkd', studentLayer: 'logits', teacherLayer: teacherLayer === 'conv1.y' ? 'fc1.y' : teacherLayer, weight: 0.1 }]);
    const student = ['distill', '--model', 'lenet5:width=0.5', ...slice];
    let r = retort([...student, '--teacher', d('leaky.onnx'), '--losses', hint('conv1.y'), '--out', d('ort-hint')]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(d('ort-hint'), 'report.json'), 'utf8')).losses).toMatch(/hint.*rkd/);
    // natively the same layers are the taps conv1 and fc1: the students agree to a few test errors
    const native = JSON.stringify([{ type: 'ce', weight: 0.5 }, { type: 'hint', studentLayer: 'conv1', teacherLayer: 'conv1', weight: 0.5 },
      { type: 'rkd', studentLayer: 'logits', teacherLayer: 'fc1', weight: 0.1 }]);
    r = retort([...student, '--teacher', d('teacher', 'model.retort'), '--losses', native, '--out', d('native-hint')]);
    expect(r.status, r.stderr).toBe(0);
    expect(Math.abs(report(d('ort-hint')).test.errors - report(d('native-hint')).test.errors)).toBeLessThanOrEqual(3);
    expectOneLineError(retort([...student, '--teacher', d('leaky.onnx'), '--losses', hint('no.such'), '--out', d('no-tensor')]), ["no tensor 'no.such'", "'conv1.y'"], 1);
    expect(existsSync(d('no-tensor'))).toBe(false);
  }, 180_000);

  it('refuses a teacher whose input does not fit the data, naming both shapes, before a run directory exists', () => {
    const dir = d('rows');
    mkdirSync(dir);
    const x = { dtype: 'u1' as const, shape: [40, 4], data: Uint8Array.from({ length: 160 }, (_, i) => i % 256) };
    const y = { dtype: 'i4' as const, shape: [40], data: Int32Array.from({ length: 40 }, (_, i) => i % 10) };
    for (const [k, v] of Object.entries({ x_train: x, y_train: y, x_test: x, y_test: y })) writeFileSync(join(dir, `${k}.npy`), writeNpy(v));
    const r = retort(['distill', '--data', dir, '--model', 'mlp:4-8-10', '--validation', '10', '--teacher', d('leaky.onnx'), '--out', d('bad')]);
    expectOneLineError(r, [/teacher leaky\.onnx takes input \[\?, 1, 28, 28\] \(batch first\) but the data's samples are \[4\]/]);
    expect(existsSync(d('bad'))).toBe(false);
  });
});
