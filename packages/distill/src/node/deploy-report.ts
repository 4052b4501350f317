// The deployment report (`retort report STUDENT --teacher TEACHER`): what a user deciding to
// ship a student wants to know, in the spirit of DistilBERT's "40% smaller, 60% faster, 97% of
// the performance": parameters and bytes (f32 and int8) of both models, the size ratio,
// latency per sample at batch 1 and throughput at batch 128 in Node, the speed-up, test
// accuracy of both, the fraction of the teacher's accuracy the student keeps, agreement with
// the teacher — and the same for the student quantized to int8 (calibrated on a held-out
// slice of the training data, never on the test set). Any model: an MLP, a preset or a graph
// (convolutions quantize per output channel, batch norms fold; ../quant/plan.ts).
//
// Timing: each measurement repeats the call until at least `minSeconds` have passed (after a
// warm-up), and reports the median of 5 such rounds; wall time of this process, one thread.
import { statSync } from 'node:fs';
import { basename } from 'node:path';
import { loadCore, type BackendName } from '@retort/core-wasm';
import { fullView, normalisedRows, slice, splitValidation } from '../data/dataset.js';
import { evaluateLogits } from '../eval/metrics.js';
import { medianSeconds, timeMlpForward } from '../eval/timing.js';
import type { Model } from '../model/model.js';
import { formatModelSpec } from '../model/spec.js';
import { quantizeModel } from '../quant/quantize.js';
import type { Int8Model } from '../quant/int8-model.js';
import { int8Bytes } from '../quant/plan.js';
import { predictLogits } from '../train/predict.js';
import { loadAnyModel, type LoadedModel } from './any-model.js';
import { isShardedData, loadData, loadTestSet, modelTokenizer, sampleTrainRows, type DataOptionsConfig } from './run.js';

export interface DeployReportOptions {
  student: string;
  teacher: string;
  data?: string;
  /** How `data` is read and its test set found (test data, split, label column, image size). */
  dataOptions?: DataOptionsConfig;
  /** Evaluate on the first testSize test images (all when absent). */
  testSize?: number;
  /** Training images held out (by `seed`) to calibrate the int8 activation scales; default 1000. */
  calibration?: number;
  seed?: number;
  /** Seconds per timing round (default 0.25). */
  minSeconds?: number;
  backend?: 'auto' | BackendName;
}

export interface ModelFigures {
  file: string;
  spec: string;
  parameters: number;
  /** Bytes of the weights as float32 (and as the int8 model, for the quantized student). */
  bytes: number;
  /** Bytes the model would take quantized to int8 (int8 weights, f32 per-channel scales, biases and one activation scale per int8 op, f32 parameters of the ops that stay f32). */
  int8Bytes: number;
  fileBytes: number;
  /** Milliseconds per sample at batch 1 (median round). */
  latencyMs: number;
  /** Samples per second at batch 128. */
  throughput: number;
  testAccuracy: number;
  testErrors: number;
  /** Top-1 agreement with the teacher on the test set (1 for the teacher). */
  agreement: number;
}

export interface DeploymentReport {
  backend: BackendName;
  /** Threads of the throughput rows (latency at batch 1 always runs on one). */
  threads?: number;
  data: string;
  testCount: number;
  teacher: ModelFigures;
  student: ModelFigures;
  studentInt8: ModelFigures & { calibrationRows: number; int8Parts: { weights: number; scales: number; biases: number; other: number } };
  /** teacher / student: how many times smaller (parameters) and faster (latency at batch 1, throughput at 128). */
  ratios: { size: number; sizeInt8: number; latency: number; throughput: number; latencyInt8: number; throughputInt8: number };
  /** student accuracy / teacher accuracy. */
  retained: number;
  retainedInt8: number;
  /** Accuracy points lost by int8 quantization (f32 student − int8 student). */
  int8Drop: number;
  /** Text models: the token count of the sequence timed at batch 1 (the longest of the timed rows) and the model's maximum length. */
  sequence?: { tokens: number; maxLength: number };
  node: string;
}

export async function deploymentReport(opts: DeployReportOptions): Promise<DeploymentReport> {
  const core = await loadCore({ backend: opts.backend ?? 'auto' });
  const teacherFile = await loadAnyModel(core, opts.teacher);
  let studentFile: LoadedModel | null = null;
  let q: Int8Model | null = null;
  try {
    studentFile = await loadAnyModel(core, opts.student);
    const teacher = teacherFile.model, student = studentFile.model;
    if (teacher.classes !== student.classes) {
      throw new RangeError(`${basename(opts.student)} has ${student.classes} classes but the teacher ${basename(opts.teacher)} has ${teacher.classes}`);
    }
    const dataConfig = { data: opts.data ?? 'mnist', ...opts.dataOptions };
    // in memory: one load for the test set and the calibration rows; in shards: the test shards, and the calibration rows read alone
    // text: tokenised as the student was trained (its file's tokenizer)
    const tokens = modelTokenizer(opts.student) ?? modelTokenizer(opts.teacher);
    const full = isShardedData(dataConfig) ? null : loadData(dataConfig, tokens);
    const data = full ?? loadTestSet(dataConfig, tokens);
    for (const [m, f] of [[teacher, opts.teacher], [student, opts.student]] as const) {
      if (m.inputSize !== data.test.features) throw new RangeError(`${basename(f)} takes ${m.inputSize} inputs but ${data.test.name} samples have ${data.test.features}`);
    }
    const test = opts.testSize ? slice(fullView(data.test), Math.min(opts.testSize, data.test.count)) : fullView(data.test);
    const labels = Int32Array.from(test.indices, (i) => data.test.y[i]!);
    const tNorm = teacherFile.norm, sNorm = studentFile.norm;
    const tLogits = predictLogits(core, teacher, test, tNorm);
    const sLogits = predictLogits(core, student, test, sNorm);
    const tEval = evaluateLogits(core, tLogits, labels, teacher.classes);
    const sEval = evaluateLogits(core, sLogits, labels, student.classes, { teacherLogits: tLogits });

    const text = student.graph.nodes[0]?.spec.type === 'embedding';
    const minSeconds = opts.minSeconds ?? 0.25;
    const rows128 = Math.min(128, test.indices.length);
    const figures = (file: string, m: Model, ev: typeof tEval, t: { latencyMs: number; throughput: number }, agreement: number): ModelFigures => ({
      file, spec: formatModelSpec(m.spec), parameters: m.paramCount, bytes: 4 * m.paramCount, int8Bytes: int8Bytes(m.graph), fileBytes: statSync(file).size,
      latencyMs: t.latencyMs, throughput: t.throughput, testAccuracy: ev.accuracy, testErrors: ev.errors, agreement,
    });
    // batch 1: the first test row; for text the longest of the timed rows (attention grows with the tokens), moved first
    let longest = 0, seqTokens = -1;
    if (text) {
      const ids = normalisedRows(slice(test, rows128), sNorm), L = student.inputSize;
      for (let r = 0; r < rows128; r++) {
        let n = 0;
        while (n < L && ids[r * L + n]! >= 0) n++;
        if (n > seqTokens) { seqTokens = n; longest = r; }
      }
    }
    const timed = (x: Float32Array, width: number): Float32Array => {
      if (longest === 0) return x;
      const c = x.slice(); // rows 0 and `longest` swapped: the batch keeps every row
      c.set(x.subarray(longest * width, (longest + 1) * width), 0);
      c.set(x.subarray(0, width), longest * width);
      return c;
    };

    // int8: calibrated on training images held out by seed (never the test set)
    const calib = full
      ? splitValidation(full.train, Math.min(opts.calibration ?? 1000, full.train.count - 1), opts.seed ?? 1).validation
      : sampleTrainRows(dataConfig, opts.calibration ?? 1000, opts.seed ?? 1, tokens);
    const calibrationRows = calib.indices.length;
    q = quantizeModel(core, student, normalisedRows(calib, sNorm), { meta: { source: basename(opts.student) } });
    const testX = normalisedRows(test, sNorm);
    const qLogits = q.predict(testX, test.indices.length);
    const qEval = evaluateLogits(core, qLogits, labels, student.classes, { teacherLogits: tLogits });

    const timedX = timed(testX.subarray(0, rows128 * student.inputSize), student.inputSize);
    const one = timedX.subarray(0, student.inputSize), batch = timedX;
    const tTime = await timeMlpForward(core, teacher, timed(normalisedRows(slice(test, rows128), tNorm), teacher.inputSize), rows128, minSeconds);
    const sTime = await timeMlpForward(core, student, batch, rows128, minSeconds);
    const quant = q;
    const qTime = {
      latencyMs: 1000 * await core.oneThread(() => medianSeconds(() => quant.predict(one, 1), minSeconds)),
      throughput: rows128 / await medianSeconds(() => quant.predict(batch, rows128, { batchSize: rows128 }), minSeconds),
    };
    const size = q.size;
    const teacherF = figures(opts.teacher, teacher, tEval, tTime, 1);
    const studentF = figures(opts.student, student, sEval, sTime, sEval.agreement ?? NaN);
    const int8F = {
      ...figures(opts.student, student, qEval, qTime, qEval.agreement ?? NaN),
      file: `${opts.student} (int8, in memory)`, bytes: size.total, fileBytes: q.encode().length, calibrationRows,
      int8Parts: { weights: size.weights, scales: size.scales, biases: size.biases, other: size.other },
    };
    return {
      backend: core.backend, threads: core.threads, data: opts.data ?? 'mnist', testCount: test.indices.length,
      teacher: teacherF, student: studentF, studentInt8: int8F,
      ratios: {
        size: teacherF.bytes / studentF.bytes, sizeInt8: teacherF.bytes / int8F.bytes,
        latency: teacherF.latencyMs / studentF.latencyMs, throughput: studentF.throughput / teacherF.throughput,
        latencyInt8: teacherF.latencyMs / int8F.latencyMs, throughputInt8: int8F.throughput / teacherF.throughput,
      },
      retained: studentF.testAccuracy / teacherF.testAccuracy,
      retainedInt8: int8F.testAccuracy / teacherF.testAccuracy,
      int8Drop: studentF.testAccuracy - int8F.testAccuracy,
      ...(text ? { sequence: { tokens: seqTokens, maxLength: student.inputSize } } : {}),
      node: process.version,
    };
  } finally {
    q?.free();
    studentFile?.model.free();
    teacherFile.model.free();
  }
}


export function renderDeploymentReport(r: DeploymentReport): string {
  const pct = (x: number) => `${(100 * x).toFixed(2)} %`;
  const kb = (b: number) => (b >= 1 << 20 ? `${(b / (1 << 20)).toFixed(2)} MiB` : `${(b / 1024).toFixed(1)} KiB`);
  const unit = r.sequence ? 'sequence' : 'sample';
  const row = (name: string, f: ModelFigures) =>
    `| ${name} | ${f.spec} | ${f.parameters.toLocaleString('en-US')} | ${kb(f.bytes)} (int8 ${kb(f.int8Bytes)}) | ${f.latencyMs.toFixed(3)} ms | ${Math.round(f.throughput).toLocaleString('en-US')} /s | ${pct(f.testAccuracy)} (${f.testErrors}) | ${pct(f.agreement)} |`;
  const q8 = r.studentInt8;
  return [
    `# Deployment report: ${basename(r.student.file)} (student) vs ${basename(r.teacher.file)} (teacher)`, '',
    `The student is **${r.ratios.size.toFixed(1)}x smaller** (${r.ratios.sizeInt8.toFixed(1)}x as int8), **${r.ratios.latency.toFixed(1)}x faster** per ${unit} at batch 1 ` +
      `(${r.ratios.throughput.toFixed(1)}x the throughput at batch 128) and keeps **${pct(r.retained)}** of the teacher's test accuracy ` +
      `(int8: ${pct(r.retainedInt8)}, ${Math.abs(100 * r.int8Drop).toFixed(2)} points ${r.int8Drop >= 0 ? 'below' : 'above'} f32).`, '',
    `| model | spec | parameters | weights f32 (int8) | latency per ${unit} (batch 1) | throughput (batch 128) | test accuracy (errors) | agreement with teacher |`,
    '|---|---|---|---|---|---|---|---|',
    row('teacher (f32)', r.teacher), row('student (f32)', r.student), row('student (int8)', q8), '',
    `int8 student: ${kb(q8.int8Parts.weights)} of int8 weights${r.sequence ? ' (the embedding table as int8 rows included)' : ''} + ${kb(q8.int8Parts.scales)} of scales + ` +
      `${kb(q8.int8Parts.biases)} of f32 biases${q8.int8Parts.other ? ` + ${kb(q8.int8Parts.other)} of f32 parameters of the ops that stay f32` : ''}; ` +
      `activation scales calibrated on ${q8.calibrationRows} held-out training ${r.sequence ? 'texts' : 'samples'}.`,
    ...(r.sequence ? [`Latency is per sequence of ${r.sequence.tokens} tokens (the longest of the timed rows; at most ${r.sequence.maxLength}).`] : []),
    `Test set: ${r.testCount} ${r.sequence ? 'texts' : 'samples'} of ${r.data}. Timing: Node ${r.node}, ${r.backend} backend, latency on one thread, throughput on ${r.threads ?? 1} thread${(r.threads ?? 1) > 1 ? 's' : ''}, median of 5 rounds.`, '',
  ].join('\n');
}
