// Getting a student out, through `retort`: export to ONNX and TF.js and import back (same
// predictions), int8 quantization (a file the inference-only entry runs), the deployment
// report, and bad input that must fail cleanly with nothing written.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadInference } from '@retort/core-wasm/infer';
import { fullView, loadCore, slice } from '@retort/distill';
import { loadData, loadModel, normalisedRows, readNpyFile, saveModel, writeSafetensorsFile } from '@retort/distill/node';
import { exportOnnxFile } from '@retort/distill/interop';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { mkdirSync } from 'node:fs';
import { expectOneLineError, retort, SMALL, tempDir } from './helpers.js';

const tmp = tempDir('deploy');
const d = (...p: string[]): string => join(tmp.dir, ...p);
let teacher = '', student = '';

beforeAll(() => {
  for (const [out, model] of [['teacher', 'mlp:784-64-10'], ['student', 'mlp:784-24-16-10']] as const) {
    const r = retort(['train', '--model', model, ...SMALL, '--epochs', '4', '--lr', '0.005', '--out', d(out)]);
    expect(r.status, r.stderr).toBe(0);
  }
  teacher = d('teacher', 'model.retort');
  student = d('student', 'model.retort');
});
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
    const cached = readNpyFile(join(out, 'teacher-logits.npy'));
    expect(cached.shape).toEqual([60000, 10]);
  }, 120_000);

  it('teacher logits from safetensors (F16), and a NaN in them is named', () => {
    const logits = readNpyFile(join(d('from-conv'), 'teacher-logits.npy'));
    const good = d('logits.safetensors');
    writeSafetensorsFile(good, { logits: { dtype: 'F16', shape: [60000, 10], data: logits.data as Float32Array } });
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
