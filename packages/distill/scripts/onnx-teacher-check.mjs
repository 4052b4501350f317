// The ONNX-teacher check at full scale (README, "ONNX teachers of any architecture"): a Retort
// teacher exported to ONNX with its ReLUs written as LeakyRelu(alpha = 0) — the same function, an
// operator Retort does not import — runs in onnxruntime-web; prints the largest logit difference
// from the native teacher over the training set, then distils the main job's student from each.
// Usage (after npm start): node packages/distill/scripts/onnx-teacher-check.mjs [TEACHER.retort] [OUT_DIR] [SEEDS (default 3)]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import onnxProto from 'onnx-proto';
import { fullView, loadCore, predictLogits } from '@retort/distill';
import { exportOnnx, OnnxTeacher } from '@retort/distill/onnx';
import { loadMnist, loadModel, runJob } from '@retort/distill/node';

const teacherFile = resolve(process.argv[2] ?? 'runs/quickstart/teacher/model.retort');
const out = resolve(process.argv[3] ?? 'runs/onnx-teacher-check');
const seeds = Number(process.argv[4] ?? 3);
if (!Number.isInteger(seeds) || seeds < 1) throw new RangeError(`SEEDS must be a whole number >= 1, got ${process.argv[4]}`);
mkdirSync(out, { recursive: true });
const core = await loadCore();
const native = loadModel(core, teacherFile);
const p = onnxProto.onnx.ModelProto.decode(exportOnnx(native));
for (const n of p.graph.node) if (n.opType === 'Relu') { n.opType = 'LeakyRelu'; n.attribute = [{ name: 'alpha', type: 1, f: 0 }]; }
const onnxFile = join(out, 'teacher-leaky.onnx');
writeFileSync(onnxFile, onnxProto.onnx.ModelProto.encode(p).finish());
const { train } = loadMnist();
const ort = await OnnxTeacher.load(new Uint8Array(onnxProto.onnx.ModelProto.encode(p).finish()), 'teacher-leaky.onnx', train.sampleShape, native.classes);
const t0 = Date.now();
await ort.prepare([train]);
const a = ort.logits(fullView(train)), b = predictLogits(core, native, fullView(train));
let max = 0;
for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
console.log(`${train.count} rows: max |onnxruntime - native| = ${max.toExponential(2)} (onnxruntime ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
// a 1e-5 change of soft labels moves one student as a change of seed does: the students are compared over seeds 1..SEEDS
const student = { model: 'mlp:784-800-800-10', trainSize: 5000, epochs: 10, temperature: 8, alpha: 0.9 };
const errors = { native: [], onnxruntime: [] };
for (let seed = 1; seed <= seeds; seed++) {
  const r1 = await runJob('distill', { ...student, seed, teacher: teacherFile }, { out: join(out, `native-${seed}`), force: true });
  const r2 = await runJob('distill', { ...student, seed, teacher: onnxFile }, { out: join(out, `onnxruntime-${seed}`), force: true });
  errors.native.push(r1.test.errors); errors.onnxruntime.push(r2.test.errors);
  console.log(`seed ${seed}: distilled students' test errors: native teacher ${r1.test.errors}, onnxruntime teacher ${r2.test.errors}`);
}
const mean = (v) => v.reduce((a, b) => a + b, 0) / v.length;
const sd = (v) => Math.sqrt(v.reduce((a, b) => a + (b - mean(v)) ** 2, 0) / (v.length - 1 || 1));
const diffs = errors.onnxruntime.map((e, i) => e - errors.native[i]);
console.log(`mean of ${seeds} seeds: native ${mean(errors.native).toFixed(1)} ± ${sd(errors.native).toFixed(1)}, onnxruntime ${mean(errors.onnxruntime).toFixed(1)} ± ${sd(errors.onnxruntime).toFixed(1)} `
  + `(difference ${mean(diffs).toFixed(1)}; per seed ${diffs.join(', ')}; |difference| <= 2 on ${diffs.filter((d) => Math.abs(d) <= 2).length} of ${seeds})`);
