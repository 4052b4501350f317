// Getting a student out, through `retort`: export to ONNX and TF.js and import back (same
// predictions), int8 quantization (a file the inference-only entry runs), the deployment
// report, and bad input that must fail cleanly with nothing written.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadInference } from '@retort/core-wasm/infer';
import { createModel, fullView, loadCore, slice } from '@retort/distill';
import { allRows, loadData, loadModel, normalisedRows, readNpyFile, saveModel, ShardedLogitTable, writeSafetensorsFile } from '@retort/distill/node';
import { exportOnnxFile } from '@retort/distill/interop';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { mkdirSync } from 'node:fs';
import { expectOneLineError, retort, SMALL, tempDir } from './helpers.js';

const tmp = tempDir('deploy');
const d = (...p: string[]): string => join(tmp.dir, ...p);
let teacher = '', student = '', cnn = '';

/** A tiny CNN with batch norm, a residual block, pooling and a flatten into a dense layer. */
const CNN = JSON.stringify({ type: 'graph', layers: [
  { type: 'conv2d', filters: 4, kernel: 3, stride: 2 }, { type: 'batchNorm' }, { type: 'relu' },
  { type: 'residual', body: [{ type: 'conv2d', filters: 4, kernel: 3, bias: false }, { type: 'batchNorm' }, { type: 'relu' }] },
  { type: 'maxPool2d', size: 2 }, { type: 'flatten' }, { type: 'dense', units: 10 },
] });

beforeAll(() => {
  for (const [out, model] of [['teacher', 'mlp:784-64-10'], ['student', 'mlp:784-24-16-10'], ['cnn', CNN]] as const) {
    const r = retort(['train', '--model', model, ...SMALL, '--epochs', '4', '--lr', '0.005', '--out', d(out)]);
    expect(r.status, r.stderr).toBe(0);
  }
  teacher = d('teacher', 'model.retort');
  student = d('student', 'model.retort');
  cnn = d('cnn', 'model.retort');
}, 120_000);
afterAll(() => tmp.cleanup());

const evalErrors = (model: string): number => {
  const r = retort(['eval', model, '--test-size', '500', '--json']);
  expect(r.status, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { errors: number }).errors;
};

describe('export and import', () => {
  it.each(['onnx', 'tfjs'] as const)('%s: export, import back, same test errors and parameters', async (format) => {
    const out = format === 'onnx' ? d('student.onnx') : d('student-tfjs');
    const e = retort(['export', student, '--format', format, '--out', out]);
    expect(e.status, e.stderr).toBe(0);
    expect(existsSync(format === 'onnx' ? out : join(out, 'model.json'))).toBe(true);
    const back = d(`back-${format}.retort`);
    const i = retort(['import', out, '--out', back]);
    expect(i.status, i.stderr).toBe(0);
    const core = await loadCore({ backend: 'js' });
    const a = loadModel(core, student), b = loadModel(core, back);
    expect(Buffer.from(b.readParams().buffer).equals(Buffer.from(a.readParams().buffer))).toBe(true);
    a.free(); b.free();
    // the exported file itself works as a model anywhere Retort takes one
    const rep = retort(['report', out, '--teacher', teacher, '--test-size', '300', '--calibration', '200', '--timing', '0.01', '--out', d(`rep-${format}`), '--json']);
    expect(rep.status, rep.stderr).toBe(0);
  });

  it.each(['onnx', 'tfjs'] as const)('%s: a trained CNN exports, imports back bit for bit, and evaluates to the same test errors', async (format) => {
    const out = format === 'onnx' ? d('cnn.onnx') : d('cnn-tfjs');
    const e = retort(['export', cnn, '--format', format, '--out', out]);
    expect(e.status, e.stderr).toBe(0);
    expect(e.stdout).toMatch(format === 'onnx' ? /shape NCHW \[batch, 1, 28, 28\]/ : /shape NHWC \[batch, 28, 28, 1\]/);
    expect(e.stdout).toMatch(/inputs: \(x - 0\) \/ 1 \(x\/255 for u8 pixels\)/);
    const back = d(`cnn-back-${format}.retort`);
    const i = retort(['import', out, '--out', back]);
    expect(i.status, i.stderr).toBe(0);
    expect(i.stdout).toMatch(format === 'onnx' ? /took NCHW images; the Retort model takes the same images channels last \(NHWC\), \[batch, 28, 28, 1\]/ : /\[batch, 28, 28, 1\] \(NHWC\)/);
    const core = await loadCore({ backend: 'js' });
    const a = loadModel(core, cnn), b = loadModel(core, back);
    expect(b.spec).toEqual(a.spec);
    expect(Buffer.from(b.readParams().buffer).equals(Buffer.from(a.readParams().buffer))).toBe(true);
    expect(a.stateCount).toBeGreaterThan(0);
    expect(Buffer.from(b.readState().buffer).equals(Buffer.from(a.readState().buffer))).toBe(true);
    a.free(); b.free();
    const errors = evalErrors(cnn);
    expect(errors).toBeLessThan(250); // trained: well above chance (450 of 500 wrong)
    expect(evalErrors(back)).toBe(errors);
    // the exported file itself evaluates the same (Retort reads it as a model)
    expect(evalErrors(format === 'onnx' ? out : join(out, 'model.json'))).toBe(errors);
  });

  it('a grouped convolution has no TF.js layer: one line naming it, nothing written; ONNX takes it', async () => {
    const core = await loadCore({ backend: 'js' });
    const m = createModel(core, { type: 'graph', input: [28, 28, 1], layers: [
      { type: 'conv2d', filters: 4, kernel: 3, stride: 2 }, { type: 'conv2d', filters: 4, kernel: 3, groups: 2, name: 'grouped' },
      { type: 'globalAvgPool' }, { type: 'dense', units: 10 },
    ] });
    m.init(1);
    saveModel(d('grouped.retort'), m);
    m.free();
    expectOneLineError(retort(['export', d('grouped.retort'), '--format', 'tfjs', '--out', d('grouped-tfjs')]), ["conv2d 'grouped' has 2 groups of 2 channels", 'no grouped convolution'], 1);
    expect(existsSync(d('grouped-tfjs'))).toBe(false);
    expect(retort(['export', d('grouped.retort'), '--format', 'onnx', '--out', d('grouped.onnx')]).status).toBe(0);
  });

  it('refuses to overwrite without --force, and names a missing format', () => {
    writeFileSync(d('exists.onnx'), 'x');
    expectOneLineError(retort(['export', student, '--format', 'onnx', '--out', d('exists.onnx')]), ['already exists'], 2);
    expect(readFileSync(d('exists.onnx'), 'utf8')).toBe('x');
    expectOneLineError(retort(['export', student, '--out', d('x.onnx')]), ['--format: required'], 2);
    expectOneLineError(retort(['export', student, '--format', 'keras', '--out', d('x.onnx')]), ['--format: expected one of onnx, tfjs'], 2);
  });

  it('names a file that is no model', () => {
    writeFileSync(d('junk.bin'), 'not a model at all');
    expectOneLineError(retort(['import', d('junk.bin'), '--out', d('junk.retort')]), ['junk.bin', 'is not a model Retort reads'], 1);
    expect(existsSync(d('junk.retort'))).toBe(false);
    writeFileSync(d('broken.onnx'), Buffer.from([0x08, 0x07, 0x12, 0xff, 0xff]));
    expectOneLineError(retort(['import', d('broken.onnx'), '--out', d('broken.retort')]), ['broken.onnx'], 1);
    expect(existsSync(d('broken.retort'))).toBe(false);
  });
});

describe('int8', () => {
  it('quantize writes a file that the inference-only entry runs, close to the f32 model', async () => {
    const out = d('student.int8');
    const r = retort(['quantize', student, '--out', out, '--calibration', '300']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/smaller/);
    const bytes = new Uint8Array(readFileSync(out));
    const infer = await loadInference();
    const test = slice(fullView(loadData({ data: 'mnist' }).test), 200);
    const x = normalisedRows(test, { mean: 0, std: 1 });
    const q = infer.predict(bytes, x, 200);
    const core = await loadCore({ backend: 'simd' });
    const m = loadModel(core, student);
    const tx = core.fromArray(x);
    m.plan(200);
    const f = m.forward(tx, 200, 'eval').toArray();
    m.free(); core.free(tx);
    let agree = 0, maxAbs = 0, maxErr = 0;
    for (let r0 = 0; r0 < 200; r0++) {
      const a = Array.from(q.subarray(r0 * 10, r0 * 10 + 10)), b = Array.from(f.subarray(r0 * 10, r0 * 10 + 10));
      if (a.indexOf(Math.max(...a)) === b.indexOf(Math.max(...b))) agree++;
      for (let j = 0; j < 10; j++) { maxAbs = Math.max(maxAbs, Math.abs(b[j]!)); maxErr = Math.max(maxErr, Math.abs(a[j]! - b[j]!)); }
    }
    expect(agree).toBeGreaterThanOrEqual(194);          // top-1 agreement >= 97 %
    expect(maxErr / maxAbs).toBeLessThan(0.1);          // int8 error well below the logit scale
  });
});

describe('int8 and the deployment report for a convolutional student', () => {
  it('quantize folds batch norms into the int8 convolutions; the entry runs both files; info and report describe it', async () => {
    const run = d('int8-resnet');
    const t = retort(['train', '--model', 'resnet8:width=0.25', ...SMALL, '--epochs', '2', '--lr', '0.005', '--out', run]);
    expect(t.status, t.stderr).toBe(0);
    const resnet = join(run, 'model.retort'), out = d('resnet.int8');
    const r = retort(['quantize', resnet, '--out', out, '--calibration', '300']);
    expect(r.status, r.stderr).toBe(0);
    // resnet8: 9 convolutions (stem, 2 per block, 2 projection shortcuts) and a dense layer are int8; each of
    // the 9 batch norms follows a convolution that nothing else reads
    expect(r.stdout).toMatch(/10 int8 layers, 9 batch norms folded into them/);
    const test = slice(fullView(loadData({ data: 'mnist' }).test), 200);
    const x = normalisedRows(test, { mean: 0, std: 1 });
    const inf = await loadInference();
    const q = inf.predict(new Uint8Array(readFileSync(out)), x, 200);
    const core = await loadCore({ backend: 'simd' });
    const m = loadModel(core, resnet);
    const tx = core.fromArray(x);
    m.plan(200);
    const f = m.forward(tx, 200, 'eval').toArray();
    m.free(); core.free(tx);
    // the float32 file itself (a preset: it carries its expanded graph) runs in the entry with the same bits
    const f32 = inf.predict(new Uint8Array(readFileSync(resnet)), x, 200);
    expect(Buffer.from(f32.buffer).equals(Buffer.from(f.buffer))).toBe(true);
    let agree = 0;
    for (let r0 = 0; r0 < 200; r0++) {
      const a = Array.from(q.subarray(r0 * 10, r0 * 10 + 10)), b = Array.from(f.subarray(r0 * 10, r0 * 10 + 10));
      if (a.indexOf(Math.max(...a)) === b.indexOf(Math.max(...b))) agree++;
    }
    expect(agree).toBeGreaterThanOrEqual(190);
    const info = retort(['info', out]);
    expect(info.stdout).toMatch(/Retort int8 model .* resnet8:width=0.25/);
    expect(info.stdout).toMatch(/format version 2; input \[28, 28, 1\]; 17 ops, 10 of them int8/);
    expect(info.stdout).toMatch(/int8 conv 3x3\/1 same -> 4 \+ relu 'conv2d1'/);
    expect(info.stdout).toMatch(/int8 conv 1x1\/2 same -> 8 'res2\.shortcut\.conv2d1'/);
    const rep = retort(['report', resnet, '--teacher', teacher, '--test-size', '500', '--calibration', '300', '--timing', '0.01', '--out', d('resnet-report')]);
    expect(rep.status, rep.stderr).toBe(0);
    const json = JSON.parse(readFileSync(join(d('resnet-report'), 'report.json'), 'utf8')) as {
      student: { spec: string; parameters: number; bytes: number; int8Bytes: number; testAccuracy: number; testErrors: number };
      studentInt8: { bytes: number; testAccuracy: number; latencyMs: number; throughput: number; int8Parts: { other: number } };
      int8Drop: number;
    };
    expect(json.student.spec).toBe('resnet8:width=0.25');
    expect(json.studentInt8.bytes).toBe(json.student.int8Bytes);
    expect(json.studentInt8.bytes).toBeLessThan(json.student.bytes / 2.5);
    expect(json.studentInt8.int8Parts.other, 'every batch norm folded: nothing stays f32').toBe(0);
    expect(Math.abs(json.int8Drop)).toBeLessThan(0.02);
    expect(json.studentInt8.latencyMs).toBeGreaterThan(0);
    expect(json.studentInt8.throughput).toBeGreaterThan(0);
    expect(evalErrors(resnet)).toBe(json.student.testErrors);
  });
});

describe('retort info on the formats Retort reads', () => {
  it('describes an int8 model, an ONNX file, a TF.js model and a safetensors file', () => {
    const q = d('info.int8');
    expect(retort(['quantize', student, '--out', q, '--calibration', '200']).status).toBe(0);
    expect(retort(['info', q]).stdout).toMatch(/Retort int8 model .* mlp:784-24-16-10/);
    expect(retort(['export', student, '--format', 'onnx', '--out', d('info.onnx')]).status).toBe(0);
    expect(retort(['info', d('info.onnx')]).stdout).toMatch(/ONNX model \(producer retort\), as a Retort MLP mlp:784-24-16-10/);
    expect(retort(['export', student, '--format', 'tfjs', '--out', d('info-tfjs')]).status).toBe(0);
    expect(retort(['info', join(d('info-tfjs'), 'model.json')]).stdout).toMatch(/TensorFlow\.js LayersModel \(Sequential\), layers: Dense, Dense, Dense/);
    writeSafetensorsFile(d('info.safetensors'), { w: { dtype: 'F16', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, NaN]) } });
    const st = retort(['info', d('info.safetensors')]);
    expect(st.stdout).toMatch(/w F16 \[2, 3\]  min 1, max 5, NaN 1/);
  });
});

describe('retort report', () => {
  it('prints and writes the deployment report with consistent figures', () => {
    const out = d('report');
    const r = retort(['report', student, '--teacher', teacher, '--test-size', '500', '--calibration', '300', '--timing', '0.01', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/The student is \*\*[\d.]+x smaller\*\*/);
    const rep = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as {
      teacher: { parameters: number; bytes: number; testAccuracy: number; testErrors: number; latencyMs: number; throughput: number };
      student: { parameters: number; bytes: number; testAccuracy: number; testErrors: number; agreement: number };
      studentInt8: { bytes: number; testAccuracy: number; agreement: number };
      ratios: { size: number; latency: number }; retained: number; int8Drop: number; testCount: number;
    };
    expect(rep.testCount).toBe(500);
    expect(rep.teacher.parameters).toBe(784 * 64 + 64 + 64 * 10 + 10);
    expect(rep.student.bytes).toBe(4 * rep.student.parameters);
    expect(rep.ratios.size).toBeCloseTo(rep.teacher.bytes / rep.student.bytes, 12);
    expect(rep.retained).toBeCloseTo(rep.student.testAccuracy / rep.teacher.testAccuracy, 12);
    expect(rep.teacher.testAccuracy).toBeCloseTo(1 - rep.teacher.testErrors / 500, 12);
    expect(rep.studentInt8.bytes).toBeLessThan(rep.student.bytes / 3);
    expect((rep.student as unknown as { int8Bytes: number }).int8Bytes).toBe(rep.studentInt8.bytes);
    expect(Math.abs(rep.int8Drop)).toBeLessThan(0.02);
    for (const a of [rep.student.agreement, rep.studentInt8.agreement]) { expect(a).toBeGreaterThan(0.5); expect(a).toBeLessThanOrEqual(1); }
    expect(rep.teacher.latencyMs).toBeGreaterThan(0);
    expect(rep.teacher.throughput).toBeGreaterThan(0);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toMatch(/\| student \(int8\) \|/);
    expect(evalErrors(student)).toBe(rep.student.testErrors);
  });

  it('fails cleanly: no teacher, a corrupt student, an existing --out', () => {
    expectOneLineError(retort(['report', student]), ['--teacher: required'], 2);
    writeFileSync(d('bad.retort'), Buffer.from('RETORT\0\x1a garbage after a valid magic'));
    const out = d('never-report');
    expectOneLineError(retort(['report', d('bad.retort'), '--teacher', teacher, '--out', out]), ['bad.retort'], 1);
    expect(existsSync(out)).toBe(false);
    expectOneLineError(retort(['report', student, '--teacher', teacher, '--out', d('report')]), ['already exists'], 2);
  });
});

describe('teachers from elsewhere', () => {
  it('a TF.js conv net (built and saved here) teaches through TensorFlow.js, with its own input preparation', async () => {
    // a small conv teacher in tfjs-layers, saved in the TF.js format (model.json + weights.bin)
    await tf.setBackend('cpu');
    const net = tfl.sequential({ layers: [
      tfl.layers.conv2d({ inputShape: [28, 28, 1], filters: 4, kernelSize: 5, strides: 3, activation: 'relu' }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 10, activation: 'softmax' }),
    ] });
    const dir = d('conv-teacher');
    mkdirSync(dir);
    await net.save(tf.io.withSaveHandler(async (a) => {
      writeFileSync(join(dir, 'weights.bin'), Buffer.from(a.weightData as ArrayBuffer));
      writeFileSync(join(dir, 'model.json'), JSON.stringify({
        modelTopology: a.modelTopology, format: 'layers-model', generatedBy: 'test',
        weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
      }));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }));
    net.dispose();
    const cfg = d('conv.json');
    writeFileSync(cfg, JSON.stringify({ teacher: join(dir, 'model.json'), teacherInput: { scale: 1 / 255, mean: 0.1307, std: 0.3081, shape: [28, 28, 1] } }));
    const out = d('from-conv');
    const r = retort(['distill', '--config', cfg, '--model', 'mlp:784-16-10', ...SMALL, '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const rep = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as { teacher: { test: { errors: number } }; test: { agreement: number } };
    expect(rep.teacher.test.errors).toBeGreaterThan(0);  // an untrained conv net: many errors, but it ran
    expect(rep.test.agreement).toBeGreaterThanOrEqual(0);
    const cached = ShardedLogitTable.open(join(out, 'teacher-outputs'));
    expect([cached.rows, cached.classes]).toEqual([60000, 10]);
  }, 120_000);

  it('teacher logits from safetensors (F16), and a NaN in them is named', () => {
    const logits = { data: allRows(ShardedLogitTable.open(join(d('from-conv'), 'teacher-outputs'))) };
    const good = d('logits.safetensors');
    writeSafetensorsFile(good, { logits: { dtype: 'F16', shape: [60000, 10], data: logits.data } });
    const r = retort(['distill', '--teacher-logits', good, '--model', 'mlp:784-16-10', ...SMALL, '--out', d('from-st')]);
    expect(r.status, r.stderr).toBe(0);
    const bad = Float32Array.from(logits.data as Float32Array);
    bad[12 * 10 + 3] = NaN;
    writeSafetensorsFile(d('nan.safetensors'), { logits: { dtype: 'F16', shape: [60000, 10], data: bad } });
    const out = d('never-st');
    expectOneLineError(retort(['distill', '--teacher-logits', d('nan.safetensors'), '--model', 'mlp:784-16-10', ...SMALL, '--out', out]), ['nan.safetensors', '[12, 3]', 'NaN'], 1);
    expect(existsSync(out)).toBe(false);
  });

  it('an ONNX student export is a teacher too', () => {
    const onnx = d('teacher.onnx');
    expect(retort(['export', teacher, '--format', 'onnx', '--out', onnx]).status).toBe(0);
    const r = retort(['distill', '--teacher', onnx, '--model', 'mlp:784-16-10', ...SMALL, '--out', d('from-onnx')]);
    expect(r.status, r.stderr).toBe(0);
  });
});

describe('non-finite weights', () => {
  it('a NaN weight in a teacher (Retort or ONNX) is named, and nothing is written', async () => {
    const core = await loadCore({ backend: 'js' });
    const m = loadModel(core, teacher);
    const p = m.readParams();
    p[5 * 64 + 7] = NaN; // layer 1, weights[5, 7]
    m.writeParams(p);
    saveModel(d('nan.retort'), m);
    exportOnnxFile(d('nan.onnx'), m);
    m.free();
    for (const f of ['nan.retort', 'nan.onnx']) {
      const out = d(`never-${f}`);
      expectOneLineError(retort(['distill', '--teacher', d(f), '--model', 'mlp:784-16-10', ...SMALL, '--out', out]), [f, 'layer 1 weights[5, 7] is NaN'], 1);
      expect(existsSync(out)).toBe(false);
    }
  });
});
