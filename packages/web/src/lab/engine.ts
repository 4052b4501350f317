// The lab's engine: everything that computes runs here, in the module Worker (src/worker.ts
// exposes it with comlink). It re-assembles in the browser what packages/distill's Node runs do
// (node/run.ts, node/compare.ts, node/born-again.ts, node/deploy-report.ts) without node:fs: the
// data come from the app's own origin (gzipped IDX files, inflated with DecompressionStream and
// read by the same readIdx/datasetFromIdx as the CLI), files the visitor picks arrive as bytes.
//
// A run: a teacher (trained here, or loaded), then the student distilled from it with the chosen
// method, then the same student alone (method none: same seed, so the same initialisation, data
// order and schedule). Only seeded library APIs decide anything that affects training.
import { transfer as transferred } from 'comlink';
import {
  DataFormatError, METHODS, loadCore, Mlp, datasetFromIdx, decodeModelFile, describeLosses, encodeModelFile,
  evaluateLogits, formatModelSpec, fullView, methodLosses, parseLossTerms, parseModelSpec, predictLogits,
  quantizeMlp, readIdx, readNpy, slice, splitValidation, toFloat32, train,
  type Core, type Dataset, type DatasetView, type EpochMetrics, type LossTermConfig, type LossTermInput, type MethodName,
  type ModelSpec, type QuantizedMlp, type TeacherSource, type TrainEvent, type TrainSettings, type WeightedTeacher,
  medianSeconds as medianSecondsOf, normalisedRows, timeMlpForward, paramsFromTensors, checkFiniteParams,
} from '@retort/distill';
import type { TfjsTeacher } from '@retort/distill/tfjs';
import type {
  DataInfo, Deployment, ExportFormat, ExportedFile, LabConfig, ModelFigures, ModelResult, Role, RunCallbacks,
  RunSummary, TeacherInfo, TestMetrics,
} from './types.js';

const IDX = {
  trainImages: 'train-images-idx3-ubyte', trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte', testLabels: 't10k-labels-idx1-ubyte',
} as const;
const CLASSES = 10;
const INPUTS = 784;
/** Students and the teachers trained here read pixels as x/255 (mean 0, std 1). */
const NORM = { mean: 0, std: 1 };

// ---- pause and stop ------------------------------------------------------------------------------

/**
 * The trainer's step loop yields to the event loop about every 50 ms through its `yieldTo` hook;
 * the lab passes this scheduler's turn (`yieldTurn`). A MessageChannel turn instead of
 * setTimeout(0) avoids the browsers' 4 ms clamp on nested timers, and while the lab is paused the
 * callbacks are held: the loop waits at its next yield, and the worker keeps answering messages
 * (drawings, exports).
 */
export const scheduler = (() => {
  const queue: (() => void)[] = [];
  const held: (() => void)[] = [];
  let paused = false;
  let channel: MessageChannel | null = null;
  const flush = (): void => {
    const run = queue.splice(0, queue.length);
    for (const cb of run) { if (paused) held.push(cb); else cb(); }
  };
  return {
    setImmediate(cb: () => void): void {
      if (!channel) { channel = new MessageChannel(); channel.port1.onmessage = flush; }
      queue.push(cb);
      if (queue.length === 1) channel.port2.postMessage(0);
    },
    get paused(): boolean { return paused; },
    pause(): void { paused = true; },
    resume(): void {
      paused = false;
      for (const cb of held.splice(0, held.length)) cb();
    },
    /** Resolves now, or when the lab is resumed (for the points between models). */
    async gate(): Promise<void> {
      while (paused) await new Promise<void>((r) => held.push(r));
    },
  };
})();

/** One scheduler turn: the trainer's yield (held while paused). */
const yieldTurn = (): Promise<void> => new Promise<void>((r) => scheduler.setImmediate(r));

// ---- state -----------------------------------------------------------------------------------------

interface LoadedTeacher {
  info: TeacherInfo;
  mlp?: Mlp;
  norm: { mean: number; std: number };
  tfjs?: TfjsTeacher;
  /** A logits file: [train count, 10] over the training set in file order. */
  logits?: Float32Array;
}

interface Trained {
  role: Role;
  model: Mlp;
  norm: { mean: number; std: number };
}

let core: Core | undefined;
let data: { train: Dataset; test: Dataset } | undefined;
let dataLoading: Promise<{ train: Dataset; test: Dataset }> | undefined;
let loaded: LoadedTeacher | undefined;
/** The models of the last run (a trained teacher is kept to be reused by the next run with the same settings). */
const models: Partial<Record<Role, Trained>> = {};
let teacherKey = '';
let teacherCache: { result: ModelResult; testLogits?: Float32Array } | undefined;
let quantized: QuantizedMlp | undefined;
let lastSummary: RunSummary | undefined;
let running = false;
/** Whether the current (or last) run's teacher was trained here or loaded from files. */
let teacherOfRun: 'trained' | 'loaded' | undefined;
let stopRequested = false;

async function getCore(): Promise<Core> {
  core ??= await loadCore({ backend: 'auto' });
  return core;
}

// ---- data ------------------------------------------------------------------------------------------

/** One IDX file of the app's MNIST assets, inflated. */
async function fetchIdxFile(base: string, name: string): Promise<Uint8Array> {
  const url = new URL(`${name}.gz`, base);
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new Error(`MNIST: ${url.pathname} could not be fetched (${(e as Error).message})`);
  }
  if (!res.ok) throw new Error(`MNIST: ${url.pathname} could not be fetched (HTTP ${res.status}); was the app built with npm run build?`);
  const raw = new Uint8Array(await res.arrayBuffer());
  // a server that sent it with Content-Encoding: gzip has inflated it already
  if (raw[0] !== 0x1f || raw[1] !== 0x8b) return raw;
  const stream = new Blob([raw]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function loadMnist(base: string): Promise<{ train: Dataset; test: Dataset }> {
  const [xi, yi, xt, yt] = await Promise.all(
    [IDX.trainImages, IDX.trainLabels, IDX.testImages, IDX.testLabels].map((n) => fetchIdxFile(base, n)));
  const opts = { name: 'mnist', classes: CLASSES };
  const train = datasetFromIdx(readIdx(xi!, IDX.trainImages), readIdx(yi!, IDX.trainLabels), { xFile: IDX.trainImages, yFile: IDX.trainLabels }, opts);
  const test = datasetFromIdx(readIdx(xt!, IDX.testImages), readIdx(yt!, IDX.testLabels), { xFile: IDX.testImages, yFile: IDX.testLabels }, opts);
  if (train.features !== INPUTS || test.features !== INPUTS) throw new Error(`MNIST: expected 28x28 images, got ${train.sampleShape.join('x')}`);
  return { train, test };
}

function requireData(): { train: Dataset; test: Dataset } {
  if (!data) throw new Error('The MNIST data are not loaded yet');
  return data;
}

// ---- helpers ---------------------------------------------------------------------------------------

const labelsOf = (view: DatasetView): Int32Array => Int32Array.from(view.indices, (i) => view.dataset.y[i]!);



function checkShape(inputs: number, classes: number, what: string): void {
  if (inputs !== INPUTS) throw new DataFormatError(what, `takes ${inputs} inputs, but MNIST images have ${INPUTS} (28x28)`);
  if (classes !== CLASSES) throw new DataFormatError(what, `outputs ${classes} classes, but MNIST has ${CLASSES}`);
}

function testMetrics(c: Core, logits: Float32Array, labels: Int32Array, teacherLogits?: Float32Array): TestMetrics {
  const r = evaluateLogits(c, logits, labels, CLASSES, teacherLogits ? { teacherLogits } : {});
  return {
    count: r.count, errors: r.errors, accuracy: r.accuracy, loss: r.loss, ece: r.ece, confusion: r.confusion,
    perClassErrors: r.perClassErrors, ...(r.agreement !== undefined ? { agreement: r.agreement } : {}),
  };
}

function historyOf(h: EpochMetrics[]): ModelResult['history'] {
  return h.map((m) => ({
    epoch: m.epoch, trainLoss: m.trainLoss, trainAccuracy: m.trainAccuracy, seconds: m.seconds, samplesPerSec: m.samplesPerSec,
    ...(m.validation ? { valLoss: m.validation.loss, valAccuracy: m.validation.accuracy, valErrors: m.validation.errors } : {}),
    ...(m.validation?.agreement !== undefined ? { agreement: m.validation.agreement } : {}),
  }));
}

/** Timing as the deployment report measures it, letting the worker's messages through between rounds. */
const medianSeconds = (fn: () => void, minSeconds: number): Promise<number> => medianSecondsOf(fn, minSeconds, yieldTurn);
const timeMlp = (c: Core, m: Mlp, x: Float32Array, rows: number, minSeconds: number): Promise<{ latencyMs: number; throughput: number }> =>
  timeMlpForward(c, m, x, rows, minSeconds, yieldTurn);

/** The loss terms of a single-run method with the lab's parameters filled in. */
function methodTerms(cfg: LabConfig, method: MethodName, studentHidden: number, teacherHidden: number): LossTermConfig[] {
  const terms: LossTermInput[] = methodLosses(method, {
    alpha: cfg.alpha, temperature: cfg.temperature, scaleT2: true, epochs: cfg.epochs, studentHidden, teacherHidden,
  });
  const patched = terms.map((t): LossTermInput => {
    switch (t.type) {
      case 'dkd': return { ...t, alpha: cfg.dkdAlpha, beta: cfg.dkdBeta };
      case 'tfkd': return { ...t, correct: cfg.correct };
      case 'rkd': return { ...t, distance: cfg.rkdDistance, angle: cfg.rkdAngle };
      case 'hint': return method === 'fitnets' ? { ...t, untilEpoch: cfg.hintEpochs } : t;
      case 'ce': case 'kd': return method === 'fitnets' ? { ...t, fromEpoch: cfg.hintEpochs + 1 } : t;
      default: return t;
    }
  });
  return parseLossTerms(patched, `method ${method}`);
}

/** Every field of a config, checked (the page checks them first; this is the engine's own guard). */
export function checkConfig(cfg: LabConfig, trainCount: number, testCount: number): void {
  const int = (v: number, name: string, min: number, max = Number.MAX_SAFE_INTEGER): void => {
    if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${name} must be a whole number in [${min}, ${max}], got ${v}`);
  };
  if (!(Number.isFinite(cfg.temperature) && cfg.temperature > 0)) throw new RangeError(`temperature must be a number > 0, got ${cfg.temperature}`);
  if (!(cfg.alpha >= 0 && cfg.alpha <= 1)) throw new RangeError(`α (the soft weight) must be in [0, 1], got ${cfg.alpha}`);
  if (!METHODS.some((m) => m.name === cfg.method)) throw new RangeError(`unknown method '${cfg.method}'`);
  int(cfg.epochs, 'epochs', 1, 1000);
  int(cfg.seed, 'seed', 0, 2 ** 32 - 1);
  int(cfg.batchSize, 'batch size', 1, 4096);
  int(cfg.validation, 'validation images', 1, Math.floor(trainCount / 2));
  int(cfg.transferSize, 'transfer-set size', 1, trainCount - cfg.validation);
  int(cfg.testSize, 'test images', 1, testCount);
  if (!(cfg.lr > 0 && cfg.lr < 10)) throw new RangeError(`learning rate must be in (0, 10), got ${cfg.lr}`);
  if (cfg.studentHidden.length === 0 || cfg.studentHidden.some((w) => !Number.isInteger(w) || w < 1 || w > 4096)) {
    throw new RangeError(`student hidden widths must be whole numbers in [1, 4096], got ${cfg.studentHidden.join('-') || 'none'}`);
  }
  if (cfg.teacher) {
    int(cfg.teacher.epochs, 'teacher epochs', 1, 1000);
    int(cfg.teacher.trainSize, 'teacher training images', 1, trainCount - cfg.validation);
  }
  switch (cfg.method) {
    case 'dkd':
      if (!(cfg.dkdAlpha >= 0) || !(cfg.dkdBeta >= 0)) throw new RangeError('DKD α and β must be numbers >= 0');
      break;
    case 'tfkd':
      if (!(cfg.correct > 0 && cfg.correct <= 1)) throw new RangeError(`Tf-KD's probability on the label must be in (0, 1], got ${cfg.correct}`);
      break;
    case 'dml': int(cfg.peers, 'peers', 1, 4); break;
    case 'rkd':
      if (!(cfg.rkdDistance >= 0) || !(cfg.rkdAngle >= 0)) throw new RangeError('RKD distance and angle weights must be numbers >= 0');
      break;
    case 'fitnets': int(cfg.hintEpochs, 'hint epochs', 1, cfg.epochs - 1); break;
    case 'born-again': int(cfg.generations, 'generations', 1, 5); break;
    default: break;
  }
}

// ---- teachers from files ---------------------------------------------------------------------------

function freeLoaded(): void {
  loaded?.mlp?.free();
  loaded?.tfjs?.dispose();
  loaded = undefined;
}

async function loadRetortTeacher(c: Core, file: { name: string; bytes: Uint8Array }): Promise<LoadedTeacher> {
  const decoded = decodeModelFile(file.bytes, file.name);
  const spec = decoded.spec;
  checkShape(spec.sizes[0]!, spec.sizes[spec.sizes.length - 1]!, file.name);
  const mlp = new Mlp(c, spec);
  try {
    paramsFromTensors(spec, decoded.tensors, file.name, mlp.params.view());
    checkFiniteParams(mlp, file.name);
  } catch (e) {
    mlp.free();
    throw e;
  }
  const meta = decoded.meta as { mean?: unknown; std?: unknown };
  const norm = {
    mean: typeof meta.mean === 'number' && Number.isFinite(meta.mean) ? meta.mean : 0,
    std: typeof meta.std === 'number' && meta.std > 0 ? meta.std : 1,
  };
  const s = formatModelSpec(spec);
  return {
    mlp, norm,
    info: { kind: 'retort', spec: s, params: mlp.paramCount, canPredict: true, isMlp: true,
      description: `${file.name}: ${s} (${mlp.paramCount.toLocaleString('en-US')} parameters)` },
  };
}

async function loadTfjsTeacher(c: Core, files: { name: string; bytes: Uint8Array }[]): Promise<LoadedTeacher> {
  const { tfjsReady } = await import('./tfjs-setup.js');
  await tfjsReady();
  const tfjs = await import('@retort/distill/tfjs');
  const artifacts = await tfjs.tfjsArtifactsFromFiles(files);
  const model = await tfjs.buildTfjsModel(artifacts.artifacts, artifacts.file);
  // a model made of Dense layers becomes a Retort MLP (fast, usable inside the step); any other
  // architecture stays a TensorFlow.js model that gives soft labels
  try {
    const imp = tfjs.mlpFromTfjsModel(c, model, artifacts.file);
    tfjs.disposeTfjsModel(model);
    try {
      checkShape(imp.model.inputSize, imp.model.classes, artifacts.file);
      checkFiniteParams(imp.model, artifacts.file);
    } catch (e) {
      imp.model.free();
      throw e;
    }
    const s = formatModelSpec(imp.spec);
    return {
      mlp: imp.model, norm: NORM,
      info: { kind: 'tfjs-mlp', spec: s, params: imp.model.paramCount, canPredict: true, isMlp: true,
        description: `${artifacts.file}: a TF.js model of Dense layers, read as ${s}${imp.softmaxDropped ? ' (its final softmax dropped)' : ''}` },
    };
  } catch (e) {
    if (!(e instanceof DataFormatError)) { tfjs.disposeTfjsModel(model); throw e; }
  }
  let teacher: TfjsTeacher;
  try {
    teacher = new tfjs.TfjsTeacher(model, {}, artifacts.fingerprint);
  } catch (e) {
    tfjs.disposeTfjsModel(model);
    throw new DataFormatError(artifacts.file, (e as Error).message);
  }
  try {
    checkShape(teacher.inputShape.reduce((a, b) => a * b, 1), teacher.classes, artifacts.file);
  } catch (e) {
    teacher.dispose();
    throw e;
  }
  const params = model.countParams();
  return {
    tfjs: teacher, norm: NORM,
    info: { kind: 'tfjs', params, canPredict: true, isMlp: false,
      description: `${artifacts.file}: a TF.js model (${model.layers.length} layers, ${params.toLocaleString('en-US')} parameters, input [${teacher.inputShape.join(', ')}]), run by TensorFlow.js for its soft labels` },
  };
}

function loadLogitsTeacher(file: { name: string; bytes: Uint8Array }, trainCount: number): LoadedTeacher {
  let shape: number[];
  let values: Float32Array;
  const isNpy = file.bytes.length >= 6 && file.bytes[0] === 0x93 && String.fromCharCode(...file.bytes.subarray(1, 6)) === 'NUMPY';
  if (isNpy) {
    const a = readNpy(file.bytes, file.name);
    if (a.dtype !== 'f4' && a.dtype !== 'f8') throw new DataFormatError(file.name, `teacher logits must be float32 or float64, got ${a.dtype}`);
    shape = a.shape;
    values = toFloat32(a.data);
  } else if (/\.npy$/i.test(file.name)) {
    throw new DataFormatError(file.name, 'not a .npy file (bad magic)');
  } else {
    if (!safetensorsReader) throw new Error('internal: the safetensors reader is not loaded');
    const st = safetensorsReader(file.bytes, file.name);
    const names = Object.keys(st.tensors);
    const name = names.length === 1 ? names[0]! : names.includes('logits') ? 'logits' : undefined;
    if (!name) throw new DataFormatError(file.name, names.length === 0 ? 'holds no tensors' : `holds ${names.length} tensors and none is named 'logits'`);
    shape = st.tensors[name]!.shape;
    values = st.tensors[name]!.data;
  }
  if (shape.length !== 2) throw new DataFormatError(file.name, `teacher logits must be 2-D [samples, classes], got shape [${shape.join(', ')}]`);
  const [n, k] = shape as [number, number];
  if (k !== CLASSES) throw new DataFormatError(file.name, `teacher logits have ${k} classes but MNIST has ${CLASSES}`);
  if (n !== trainCount) throw new DataFormatError(file.name, `teacher logits cover ${n} samples but the MNIST training set has ${trainCount} (one row per training image, in file order)`);
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) throw new DataFormatError(file.name, `teacher logit [${Math.floor(i / k)}, ${i % k}] is ${values[i]}`);
  }
  return {
    logits: values, norm: NORM,
    info: { kind: 'logits', canPredict: false, isMlp: false,
      description: `${file.name}: teacher logits [${n}, ${k}] over the training set (no model: no test-set predictions)` },
  };
}

// readSafetensors lives in the ./tfjs entry, which loads TensorFlow.js; it is imported when a
// safetensors file is picked (loadTeacher sets this first)
let safetensorsReader: typeof import('@retort/distill/tfjs').readSafetensors | undefined;

// ---- the run -----------------------------------------------------------------------------------------

type Remote<T> = { [K in keyof T]: T[K] extends (...a: infer A) => unknown ? (...a: A) => unknown : never };

function sink(cb: Remote<RunCallbacks>, role: Role, epochs: number, generation?: number): (e: TrainEvent) => void {
  let last = 0, loss = 0, acc = 0, n = 0;
  const gen = generation !== undefined ? { generation } : {};
  return (e) => {
    if (e.type === 'step') {
      loss += e.loss; acc += e.accuracy; n++;
      const now = performance.now();
      // about every 100 ms, and at the very end (not at every epoch end: a point holding only an
      // epoch's small last batch would be noise)
      if (now - last >= 100 || (e.batch + 1 === e.batches && e.epoch + 1 === epochs)) {
        void cb.progress({
          role, x: (e.epoch + (e.batch + 1) / e.batches) / epochs, loss: loss / n, accuracy: acc / n,
          samplesPerSec: e.samplesPerSec, epoch: e.epoch + 1, epochs, etaSeconds: e.etaSeconds, ...gen,
        });
        last = now; loss = 0; acc = 0; n = 0;
      }
    } else if (e.type === 'epoch') {
      const m = e.metrics;
      void cb.epoch({
        role, x: m.epoch / epochs, epoch: m.epoch, epochs, trainLoss: m.trainLoss, valLoss: m.validation?.loss ?? NaN,
        valAccuracy: m.validation?.accuracy ?? NaN, samplesPerSec: m.samplesPerSec, ...gen,
      });
    }
  };
}

function freeModels(keepTeacher: boolean): void {
  for (const role of ['distilled', 'baseline'] as const) { models[role]?.model.free(); delete models[role]; }
  if (!keepTeacher) { models.teacher?.model.free(); delete models.teacher; teacherKey = ''; teacherCache = undefined; }
  quantized?.free();
  quantized = undefined;
}

/** Logits of `m` over the rows of `rows`, scattered into a [dataset count, 10] array (rows not listed stay 0). */
function scatteredLogits(c: Core, m: Mlp | TfjsTeacher, rows: DatasetView, norm: { mean: number; std: number }): Float32Array {
  const part = m instanceof Mlp ? predictLogits(c, m, rows, norm) : m.logits(rows);
  const out = new Float32Array(rows.dataset.count * CLASSES);
  rows.indices.forEach((r, i) => out.set(part.subarray(i * CLASSES, (i + 1) * CLASSES), r * CLASSES));
  return out;
}

async function runLab(cfg: LabConfig, cb: Remote<RunCallbacks>): Promise<RunSummary> {
  const t0 = performance.now();
  const c = await getCore();
  const d = requireData();
  checkConfig(cfg, d.train.count, d.test.count);
  if (!cfg.teacher && !loaded) throw new RangeError('Load a teacher file first, or choose to train a teacher here');
  const needsInStep = cfg.method === 'fitnets' || cfg.method === 'rkd';
  if (needsInStep && !cfg.teacher && !loaded?.mlp) {
    throw new RangeError(`${cfg.method} reads a hidden layer of the teacher inside every step: it needs an MLP teacher (trained here, a Retort file, or a TF.js model of Dense layers), not ${loaded?.info.kind === 'logits' ? 'a logits file' : 'this TF.js model'}`);
  }
  if (needsInStep && loaded?.mlp && !cfg.teacher && (loaded.norm.mean !== 0 || loaded.norm.std !== 1)) {
    throw new RangeError(`${cfg.method} runs the teacher on the student's batches, but the loaded teacher expects inputs normalised with mean ${loaded.norm.mean}, std ${loaded.norm.std}`);
  }
  const key = cfg.teacher ? JSON.stringify([cfg.teacher, cfg.seed, cfg.validation, cfg.testSize, cfg.batchSize, cfg.lr]) : '';
  teacherOfRun = cfg.teacher ? 'trained' : 'loaded';
  const reuseTeacher = cfg.teacher !== null && key === teacherKey && models.teacher !== undefined;
  freeModels(reuseTeacher);

  const split = splitValidation(d.train, cfg.validation, cfg.seed);
  const transfer = slice(split.train, cfg.transferSize);
  const testView = slice(fullView(d.test), cfg.testSize);
  const testLabels = labelsOf(testView);
  const settings = (epochs: number): TrainSettings => ({
    epochs, batchSize: cfg.batchSize, optimizer: { type: 'adamw', lr: cfg.lr }, schedule: { type: 'cosine' },
    seed: cfg.seed, jitter: 0, mean: NORM.mean, std: NORM.std,
  });
  const summary: RunSummary = { config: cfg, backend: c.backend, stopped: false, wallSeconds: 0 };
  const shouldStop = (): boolean => stopRequested;
  const finish = (stopped: boolean): RunSummary => {
    summary.stopped = stopped;
    summary.wallSeconds = (performance.now() - t0) / 1000;
    lastSummary = summary;
    return summary;
  };
  const send = (r: ModelResult): void => {
    const { testLogits, ...rest } = r;
    summary[r.role] = rest;
    // a copy crosses (transferred): the teacher's test logits stay here for the students' agreement
    const copy = testLogits?.slice();
    void cb.modelDone(copy ? transferred({ ...r, testLogits: copy }, [copy.buffer]) : r);
  };

  // 1. the teacher
  let teacherMlp: Mlp | undefined;
  let teacherNorm = NORM;
  let teacherTest: Float32Array | undefined;
  if (cfg.teacher) {
    if (reuseTeacher && teacherCache) {
      void cb.phase('Teacher: the same settings as the previous run — reusing it');
      teacherMlp = models.teacher!.model;
      teacherTest = teacherCache.testLogits;
      // (the page draws a reused teacher's curves from its history)
      send({ ...teacherCache.result, source: 'reused', ...(teacherTest ? { testLogits: teacherTest } : {}) });
    } else {
      const spec = parseModelSpec(cfg.teacher.spec, 'teacher');
      checkShape(spec.sizes[0]!, spec.sizes[spec.sizes.length - 1]!, 'the teacher spec');
      teacherMlp = new Mlp(c, spec);
      models.teacher = { role: 'teacher', model: teacherMlp, norm: NORM };
      void cb.phase(`Training the teacher ${formatModelSpec(spec)} on ${cfg.teacher.trainSize.toLocaleString('en-US')} images for ${cfg.teacher.epochs} epochs`);
      const r = await train({
        core: c, model: teacherMlp, train: slice(split.train, cfg.teacher.trainSize), validation: split.validation,
        settings: settings(cfg.teacher.epochs), onEvent: sink(cb, 'teacher', cfg.teacher.epochs), shouldStop, yieldTo: yieldTurn,
      });
      if (r.stopped) { freeModels(false); return finish(true); }
      teacherTest = predictLogits(c, teacherMlp, testView, NORM);
      const result: ModelResult = {
        role: 'teacher', spec: formatModelSpec(spec), params: teacherMlp.paramCount, losses: '1·ce',
        test: testMetrics(c, teacherTest, testLabels), history: historyOf(r.history), trainSeconds: r.seconds, source: 'trained',
      };
      teacherKey = key;
      teacherCache = { result, testLogits: teacherTest };
      send({ ...result, testLogits: teacherTest });
    }
  } else {
    const l = loaded!;
    void cb.phase(`Teacher: ${l.info.description}`);
    if (l.mlp) { teacherMlp = l.mlp; teacherNorm = l.norm; teacherTest = predictLogits(c, l.mlp, testView, l.norm); }
    else if (l.tfjs) { void cb.phase('Computing the TF.js teacher\'s test-set logits'); teacherTest = l.tfjs.logits(testView); }
    send({
      role: 'teacher', spec: l.info.spec ?? (l.info.kind === 'logits' ? 'teacher logits (file)' : 'TF.js model'), params: l.info.params ?? 0,
      ...(teacherTest ? { test: testMetrics(c, teacherTest, testLabels), testLogits: teacherTest } : {}),
      history: [], trainSeconds: 0, source: 'loaded',
    });
  }
  await scheduler.gate();
  if (stopRequested) return finish(true);

  // 2. the teacher's signal: soft labels over the rows the students read (transfer set and
  // validation split), or the teacher itself inside each step (FitNets, RKD)
  const rows: DatasetView = { dataset: d.train, indices: Int32Array.from(new Set([...transfer.indices, ...split.validation.indices])) };
  const studentSpec = parseModelSpec(`mlp:${INPUTS}-${cfg.studentHidden.join('-')}-${CLASSES}`, 'student');
  const studentHidden = cfg.studentHidden.length;
  let teacherSource: TeacherSource | undefined;
  if (cfg.method !== 'born-again' && cfg.method !== 'none' && cfg.method !== 'dml' && cfg.method !== 'tfkd') {
    if (needsInStep) teacherSource = { kind: 'model', model: teacherMlp! };
    else if (loaded?.logits && !cfg.teacher) teacherSource = { kind: 'logits', logits: loaded.logits };
    else {
      void cb.phase('Computing the teacher\'s soft labels on the transfer set');
      teacherSource = { kind: 'logits', logits: scatteredLogits(c, teacherMlp ?? loaded!.tfjs!, rows, teacherNorm) };
    }
  }

  // A student is registered as soon as it exists, so that drawings on the page are classified
  // by it while it learns; the one it replaces is freed (the baseline of born-again is kept).
  const trainStudent = async (role: 'distilled' | 'baseline', method: MethodName, teachers: WeightedTeacher[], generation?: number) => {
    const terms = methodTerms(cfg, method, studentHidden, teacherMlp?.hiddenCount ?? 0);
    const model = new Mlp(c, studentSpec);
    const replaced = models[role]?.model;
    models[role] = { role, model, norm: NORM };
    if (replaced && replaced !== models.baseline?.model) replaced.free();
    const peers = method === 'dml' ? Array.from({ length: cfg.peers }, (_, i) => ({ model: new Mlp(c, studentSpec), seed: (cfg.seed + i + 1) >>> 0 })) : [];
    try {
      const result = await train({
        core: c, model, train: transfer, validation: split.validation, settings: settings(cfg.epochs),
        objective: { terms, teachers }, ...(peers.length ? { peers } : {}),
        onEvent: sink(cb, role, cfg.epochs, generation), shouldStop, yieldTo: yieldTurn,
      });
      if (!result.stopped) {
        const logits = predictLogits(c, model, testView, NORM);
        send({
          role, spec: formatModelSpec(studentSpec), params: model.paramCount, losses: describeLosses(terms),
          test: testMetrics(c, logits, testLabels, teacherTest), testLogits: logits, history: historyOf(result.history),
          trainSeconds: result.seconds, source: 'trained', ...(generation !== undefined ? { generation } : {}),
        });
      }
      return { model, stopped: result.stopped };
    } finally {
      for (const p of peers) p.model.free();
    }
  };

  if (cfg.method === 'born-again') {
    // 3'. born-again: generation 0 is the student alone (the baseline), generation g is taught by g − 1
    void cb.phase(`Born-again, generation 0: the student ${formatModelSpec(studentSpec)} alone, which is also the baseline`);
    let previous = await trainStudent('baseline', 'none', []);
    if (previous.stopped) return finish(true);
    for (let g = 1; g <= cfg.generations; g++) {
      await scheduler.gate();
      if (stopRequested) return finish(true);
      void cb.phase(`Born-again, generation ${g} of ${cfg.generations}: taught by generation ${g - 1}`);
      const logits = scatteredLogits(c, previous.model, rows, NORM);
      previous = await trainStudent('distilled', 'kd', [{ source: { kind: 'logits', logits }, weight: 1 }], g);
      if (previous.stopped) return finish(true);
    }
  } else {
    // 3. the distilled student
    const method = cfg.method;
    void cb.phase(`Distilling the student ${formatModelSpec(studentSpec)} with ${METHODS.find((m) => m.name === method)!.title} on ${cfg.transferSize.toLocaleString('en-US')} images`);
    if ((await trainStudent('distilled', method, teacherSource ? [{ source: teacherSource, weight: 1 }] : [])).stopped) return finish(true);
    await scheduler.gate();
    if (stopRequested) return finish(true);
    // 4. the same student alone: same seed, so the same initialisation, data order and schedule
    void cb.phase('Training the same student alone (method none, same seed) as the baseline');
    if ((await trainStudent('baseline', 'none', [])).stopped) return finish(true);
  }

  // 5. deployment: int8 (calibrated on the held-out validation images, never the test set) and timings
  await scheduler.gate();
  if (stopRequested) return finish(true);
  void cb.phase('Measuring the deployment figures (int8 quantization, latency in this worker)');
  summary.deployment = await deployment(c, cfg, split.validation, testView, testLabels, teacherMlp, teacherNorm, teacherTest);
  void cb.phase('Done');
  return finish(false);
}

async function deployment(c: Core, cfg: LabConfig, calibration: DatasetView, testView: DatasetView, labels: Int32Array,
                          teacher: Mlp | undefined, teacherNorm: { mean: number; std: number }, teacherTest: Float32Array | undefined): Promise<Deployment> {
  const student = models.distilled!.model;
  const calibRows = Math.min(1000, calibration.indices.length);
  quantized = quantizeMlp(c, student, normalisedRows(slice(calibration, calibRows), NORM), { meta: { source: 'Retort web lab' } });
  const testX = normalisedRows(testView, NORM);
  const rows = Math.min(128, testView.indices.length);
  const qLogits = quantized.predict(testX, testView.indices.length);
  const qEval = evaluateLogits(c, qLogits, labels, CLASSES);
  const sEval = evaluateLogits(c, predictLogits(c, student, testView, NORM), labels, CLASSES);
  const s = cfg.timingSeconds;
  const batch = testX.subarray(0, rows * INPUTS), one = testX.subarray(0, INPUTS);
  const sTime = await timeMlp(c, student, batch, rows, s);
  const q = quantized;
  const qTime = {
    latencyMs: 1000 * await medianSeconds(() => q.predict(one, 1), s),
    throughput: rows / await medianSeconds(() => q.predict(batch, rows, { batchSize: rows }), s),
  };
  const size = q.size;
  const studentF: ModelFigures = { parameters: student.paramCount, bytes: 4 * student.paramCount, ...sTime, accuracy: sEval.accuracy, errors: sEval.errors };
  const int8F = {
    parameters: student.paramCount, bytes: size.total, ...qTime, accuracy: qEval.accuracy, errors: qEval.errors,
    weights: size.weights, scales: size.scales, biases: size.biases, fileBytes: q.encode().length,
  };
  const out: Deployment = { backend: c.backend, student: studentF, studentInt8: int8F, calibrationRows: calibRows };
  if (teacherTest) {
    const tEval = evaluateLogits(c, teacherTest, labels, CLASSES);
    out.retained = sEval.accuracy / tEval.accuracy;
    out.retainedInt8 = qEval.accuracy / tEval.accuracy;
    if (teacher) {
      const tTime = await timeMlp(c, teacher, normalisedRows(slice(testView, rows), teacherNorm), rows, s);
      out.teacher = { parameters: teacher.paramCount, bytes: 4 * teacher.paramCount, ...tTime, accuracy: tEval.accuracy, errors: tEval.errors };
    }
  }
  return out;
}

// ---- the API the worker exposes --------------------------------------------------------------------

export const lab = {
  /** The distillation methods (METHODS of @retort/distill): name, title, paper, terms, parameters. */
  methods(): { name: string; title: string; source: string; needsTeacher: boolean; terms: string; doc: string }[] {
    return METHODS.map((m) => ({ name: m.name, title: m.title, source: m.source, needsTeacher: m.needsTeacher, terms: m.terms, doc: m.doc }));
  },

  /** Fetches the app's MNIST files (base: the URL of the mnist/ folder) and returns the test set for the page. */
  async loadData(base: string): Promise<DataInfo> {
    const t0 = performance.now();
    await getCore();
    dataLoading ??= loadMnist(base);
    try {
      data = await dataLoading;
    } catch (e) {
      dataLoading = undefined;
      throw e;
    }
    const images = (data.test.x as Uint8Array).slice();
    const labels = data.test.y.slice();
    return transferred({ trainCount: data.train.count, testCount: data.test.count, testImages: images, testLabels: labels, seconds: (performance.now() - t0) / 1000 },
      [images.buffer, labels.buffer]);
  },

  /** A teacher from picked files: a Retort model, a TF.js model (model.json + shards), or logits (.npy/.safetensors). */
  async loadTeacher(kind: 'retort' | 'tfjs' | 'logits', files: { name: string; bytes: Uint8Array }[]): Promise<TeacherInfo> {
    if (running) throw new Error('A run is in progress; load the teacher when it has finished');
    const c = await getCore();
    if (files.length === 0) throw new Error('No file was picked');
    let next: LoadedTeacher;
    if (kind === 'retort') next = await loadRetortTeacher(c, files[0]!);
    else if (kind === 'tfjs') next = await loadTfjsTeacher(c, files);
    else {
      if (!/\.npy$/i.test(files[0]!.name) && !(files[0]!.bytes[0] === 0x93)) {
        safetensorsReader ??= (await import('@retort/distill/tfjs')).readSafetensors;
      }
      next = loadLogitsTeacher(files[0]!, requireData().train.count);
    }
    freeLoaded();
    loaded = next;
    return next.info;
  },

  /** Runs teacher, distilled student and baseline; progress arrives through the proxied callbacks. */
  async run(cfg: LabConfig, cb: Remote<RunCallbacks>): Promise<RunSummary> {
    if (running) throw new Error('A run is already in progress');
    running = true;
    stopRequested = false;
    scheduler.resume();
    try {
      return await runLab(cfg, cb);
    } finally {
      running = false;
      stopRequested = false;
      scheduler.resume();
    }
  },

  pause(): void { if (running) scheduler.pause(); },
  resume(): void { scheduler.resume(); },
  stop(): void {
    if (!running) return;
    stopRequested = true;
    scheduler.resume();
  },

  /** Logits (10 each) of the models there are for one image: 784 values in [0, 1] (x/255). */
  predict(pixels: Float32Array): Partial<Record<Role, Float32Array>> {
    if (!core || pixels.length !== INPUTS) return {};
    const out: Partial<Record<Role, Float32Array>> = {};
    const c = core;
    const one = (m: Mlp, norm: { mean: number; std: number }): Float32Array => {
      const x = c.fromArray(pixels.map((v) => (v - norm.mean) / norm.std));
      const previous = m.batchSize;
      try {
        if (previous < 1) m.plan(1);
        return m.forward(x, 1, 'eval').view().slice(0, CLASSES);
      } finally {
        c.free(x);
      }
    };
    for (const role of ['distilled', 'baseline'] as const) { const t = models[role]; if (t) out[role] = one(t.model, t.norm); }
    // the teacher of the last run (before any run: the loaded one)
    const trainedTeacher = teacherOfRun ? teacherOfRun === 'trained' : !loaded;
    if (trainedTeacher && models.teacher) out.teacher = one(models.teacher.model, models.teacher.norm);
    else if (!trainedTeacher && loaded?.mlp) out.teacher = one(loaded.mlp, loaded.norm);
    else if (!trainedTeacher && loaded?.tfjs) {
      const ds: Dataset = { name: 'drawing', count: 1, sampleShape: [28, 28], features: INPUTS, classes: CLASSES,
        x: Float32Array.from(pixels), y: new Int32Array(1) }; // f32 samples are taken as already scaled to [0, 1]
      out.teacher = loaded.tfjs.logits(fullView(ds));
    }
    return out;
  },

  /** The distilled student as a file (or two, for TF.js). */
  async exportStudent(format: ExportFormat): Promise<ExportedFile[]> {
    const m = models.distilled?.model;
    if (!m) throw new Error('No student yet: run a distillation first');
    const meta = { source: 'Retort web lab', mean: NORM.mean, std: NORM.std, method: lastSummary?.config.method ?? null,
      testErrors: lastSummary?.distilled?.test?.errors ?? null, testAccuracy: lastSummary?.distilled?.test?.accuracy ?? null };
    let files: ExportedFile[];
    if (format === 'retort') {
      const params = m.readParams();
      const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
      for (const [i, l] of m.layers.entries()) {
        tensors[`layer${i}.w`] = { shape: [l.inputs, l.outputs], data: params.subarray(l.weightOffset, l.biasOffset) };
        tensors[`layer${i}.b`] = { shape: [l.outputs], data: params.subarray(l.biasOffset, l.biasOffset + l.outputs) };
      }
      files = [{ name: 'student.retort', mime: 'application/octet-stream', bytes: encodeModelFile({ spec: m.spec, tensors, meta }) }];
    } else if (format === 'tfjs') {
      const { mlpToTfjs } = await import('@retort/distill/tfjs');
      const e = mlpToTfjs(m, { name: 'retort_student' });
      files = [
        { name: 'model.json', mime: 'application/json', bytes: new TextEncoder().encode(JSON.stringify(e.modelJson)) },
        { name: 'weights.bin', mime: 'application/octet-stream', bytes: e.weightData },
      ];
    } else if (format === 'onnx') {
      const { exportOnnx } = await import('@retort/distill/onnx');
      files = [{ name: 'student.onnx', mime: 'application/octet-stream', bytes: exportOnnx(m, { normalization: NORM }) }];
    } else {
      if (!quantized) throw new Error('No int8 student: the run stopped before quantization');
      files = [{ name: 'student.int8', mime: 'application/octet-stream', bytes: quantized.encode() }];
    }
    return transferred(files, files.map((f) => f.bytes.buffer as ArrayBuffer));
  },
};

export type LabApi = typeof lab;
