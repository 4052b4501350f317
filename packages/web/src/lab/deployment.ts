// The deployment figures of a lab run, measured in the worker as the Node deployment report
// (packages/distill/src/node/deploy-report.ts) measures them: sizes, latency at batch 1, throughput
// at batch 128, test accuracy f32 and int8 (int8 calibrated on held-out validation images, never
// the test set), and the share of the teacher's accuracy kept. int8 quantization takes any model
// (quantizeModel, packages/distill/src/quant/); a student it refuses gets the f32 figures and its reason.
import {
  evaluateLogits, medianSeconds, normalisedRows, predictLogits, quantizeModel, slice, timeMlpForward,
  type Core, type DatasetView, type Int8Model, type Model, type InputNorm,
} from '@retort/distill';
import { labShape } from './config.js';
import { yieldTurn } from './scheduler.js';
import type { Deployment, ModelFigures } from './types.js';

/** Timing that lets the worker's messages through between rounds. */
const time = (c: Core, m: Model, x: Float32Array, rows: number, minSeconds: number): Promise<{ latencyMs: number; throughput: number }> =>
  timeMlpForward(c, m, x, rows, minSeconds, yieldTurn);

export async function measureDeployment(c: Core, student: Model, calibration: DatasetView, testView: DatasetView, labels: Int32Array,
                                        teacher: { model: Model; norm: InputNorm } | undefined,
                                        teacherTest: Float32Array | undefined, timingSeconds: number): Promise<{ deployment: Deployment; quantized?: Int8Model }> {
  const { norm, classes, features } = labShape();
  const testX = normalisedRows(testView, norm);
  const rows = Math.min(128, testView.indices.length);
  const sEval = evaluateLogits(c, predictLogits(c, student, testView, norm), labels, classes);
  const s = timingSeconds;
  const batch = testX.subarray(0, rows * features), one = testX.subarray(0, features);
  const sTime = await time(c, student, batch, rows, s);
  const studentF: ModelFigures = { parameters: student.paramCount, bytes: 4 * student.paramCount, ...sTime, accuracy: sEval.accuracy, errors: sEval.errors };
  const out: Deployment = { backend: c.backend, student: studentF, calibrationRows: 0 };
  let quantized: Int8Model | undefined;
  const calibRows = Math.min(1000, calibration.indices.length);
  try {
    quantized = quantizeModel(c, student, normalisedRows(slice(calibration, calibRows), norm),
      { meta: { source: 'Retort web lab', mean: norm.mean, std: norm.std, calibrationRows: calibRows } });
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    out.int8Note = `No int8 figures: ${e.message}`;
  }
  if (quantized) {
    const q = quantized;
    const qEval = evaluateLogits(c, q.predict(testX, testView.indices.length), labels, classes);
    const qTime = {
      latencyMs: 1000 * await medianSeconds(() => q.predict(one, 1), s, yieldTurn),
      throughput: rows / await medianSeconds(() => q.predict(batch, rows, { batchSize: rows }), s, yieldTurn),
    };
    const size = q.size;
    out.studentInt8 = {
      parameters: student.paramCount, bytes: size.total, ...qTime, accuracy: qEval.accuracy, errors: qEval.errors,
      weights: size.weights, scales: size.scales, biases: size.biases, fileBytes: q.encode().length,
    };
    out.calibrationRows = calibRows;
  }
  if (teacherTest) {
    const tEval = evaluateLogits(c, teacherTest, labels, classes);
    out.retained = sEval.accuracy / tEval.accuracy;
    if (out.studentInt8) out.retainedInt8 = out.studentInt8.accuracy / tEval.accuracy;
    if (teacher) {
      const tTime = await time(c, teacher.model, normalisedRows(slice(testView, rows), teacher.norm), rows, s);
      out.teacher = { parameters: teacher.model.paramCount, bytes: 4 * teacher.model.paramCount, ...tTime, accuracy: tEval.accuracy, errors: tEval.errors };
    }
  }
  return { deployment: out, ...(quantized ? { quantized } : {}) };
}
