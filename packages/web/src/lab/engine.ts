// The lab's engine: everything that computes runs here, in the module Worker (src/worker.ts
// exposes it with comlink). Each model of a lab run is one run of executeRun, the orchestration
// the Node commands use too (packages/distill/src/run/execute.ts): the teacher (trained here, or
// loaded from files), the student distilled from it with the chosen method (or born-again
// generations), and the same student alone (method none: same seed, so the same initialisation,
// data order and schedule). What is the lab's own: fetching MNIST (./mnist-data.ts), teachers from
// picked files (./teachers.ts), pausing (./scheduler.ts), the deployment figures
// (./deployment.ts), feature maps (./feature-maps.ts), drawings and exports.
import { transfer as transferred } from 'comlink';
import {
  METHODS, applyChannelNorm, canShareMemory, channelStats, dataFromFiles, describeNorm, describeTestSplit, evaluateLogits, executeRun, fullView, labelsOf, loadCore,
  modelTensors, encodeModelFile, predictLogits, runViews,
  type Core, type DataFile, type Dataset, type EpochMetrics, type Int8Model, type LossTermConfig, type Model, type RunEvent, type RunHooks,
  type RunTeacher, type InputNorm,
} from '@retort/distill';
import {
  MNIST_SHAPE, TAP_METHODS, checkConfig, describeSpec, isDigitShaped, labMethodOptions, labModelSpec, labShape, mapTapsOfSpec, setLabShape, specLabel,
  studentRunConfig, tapsOf, teacherRunConfig, type LabShape,
} from './config.js';
import { measureDeployment } from './deployment.js';
import { loadTextModel, readText, writeText, type TextModelInfo, type TextReading, type TextRole } from './text-engine.js';
import { featureMapsOf } from './feature-maps.js';
import { fetchMnist } from './mnist-data.js';
import { scheduler, yieldTurn } from './scheduler.js';
import { freeTeacher, loadLogitsTeacher, loadOnnxTeacher, loadRetortTeacher, loadTfjsTeacher, runTeacher, type LoadedTeacher } from './teachers.js';
import type {
  DataFilesRequest, DataInfo, ExportFormat, ExportedFile, FeatureMaps, FeatureMapsRequest, LabConfig, ModelDescription, ModelResult, Role, RunCallbacks,
  RunSummary, TeacherInfo, TestMetrics,
} from './types.js';

export { checkConfig } from './config.js';
export { scheduler } from './scheduler.js';

// ---- state -----------------------------------------------------------------------------------------

interface Trained { role: Role; model: Model; norm: InputNorm }

let core: Core | undefined;
let data: { train: Dataset; test: Dataset; split: string; classNames: string[] | null } | undefined;
let mnistLoading: Promise<{ train: Dataset; test: Dataset }> | undefined;
let loaded: LoadedTeacher | undefined;
/** The models of the last run (a trained teacher is kept to be reused by the next run with the same settings). */
const models: Partial<Record<Role, Trained>> = {};
let teacherKey = '';
let teacherCache: { result: ModelResult; testLogits?: Float32Array } | undefined;
let quantized: Int8Model | undefined;
let lastSummary: RunSummary | undefined;
/** The loss terms of the last distilled student (the feature maps pair taps by them). */
let lastTerms: LossTermConfig[] = [];
let running = false;
/** Whether the current (or last) run's teacher was trained here or loaded from files. */
let teacherOfRun: 'trained' | 'loaded' | undefined;
let stopRequested = false;

/**
 * The lab's core: on the cores the browser reports (navigator.hardwareConcurrency) but one, which
 * is left to the page so that its charts and drawing stay smooth while a run computes (at least
 * one thread, at most 16), when the page is cross-origin isolated; else on one thread. The bits
 * do not depend on it. Helpers sleep (Atomics.wait) between runs; closing the tab ends them.
 */
export function labThreads(): number {
  return canShareMemory() ? Math.max(1, Math.min(16, (navigator.hardwareConcurrency || 1) - 1)) : 1;
}

async function getCore(): Promise<Core> {
  const threads = labThreads();
  core ??= await loadCore({ backend: 'auto', threads });
  return core;
}

function requireData(): { train: Dataset; test: Dataset } {
  if (!data) throw new Error('The data are not loaded yet');
  return data;
}

// ---- helpers ---------------------------------------------------------------------------------------

function testMetrics(c: Core, logits: Float32Array, labels: Int32Array, teacherLogits?: Float32Array): TestMetrics {
  const r = evaluateLogits(c, logits, labels, labShape().classes, teacherLogits ? { teacherLogits } : {});
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

type Remote<T> = { [K in keyof T]: T[K] extends (...a: infer A) => unknown ? (...a: A) => unknown : never };

/** A run's events as the page's progress points (throttled to about one per 100 ms) and phases. */
function sink(cb: Remote<RunCallbacks>, role: Role, epochs: number, generation?: number): (e: RunEvent) => void {
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
    } else if (e.type === 'phase') {
      void cb.phase(`${e.message[0]!.toUpperCase()}${e.message.slice(1)}`);
    }
  };
}

function freeModels(keepTeacher: boolean): void {
  for (const role of ['distilled', 'baseline'] as const) { models[role]?.model.free(); delete models[role]; }
  if (!keepTeacher) { models.teacher?.model.free(); delete models.teacher; teacherKey = ''; teacherCache = undefined; }
  quantized?.free();
  quantized = undefined;
}

/** The teacher of the last run (before any run: the loaded one) as a model, if it is one. */
function teacherSide(): { model: Model; norm: InputNorm } | undefined {
  const trained = teacherOfRun ? teacherOfRun === 'trained' : !loaded;
  const t = trained ? models.teacher : loaded?.model ? { model: loaded.model, norm: loaded.norm } : undefined;
  return t && !t.model.isFreed ? { model: t.model, norm: t.norm } : undefined;
}

function studentSide(): Trained | undefined {
  const s = models.distilled ?? models.baseline;
  return s && !s.model.isFreed ? s : undefined;
}

/** One sample as the models read it before normalisation (u8 as x/255): a test sample by index, or the drawing as given. */
function imagePixels(image: number | Float32Array): Float32Array | null {
  const F = labShape().features;
  if (typeof image !== 'number') return image.length === F ? image : null;
  const test = data?.test;
  if (!test || !Number.isInteger(image) || image < 0 || image >= test.count) return null;
  const row = test.x.subarray(image * F, (image + 1) * F);
  return test.x instanceof Uint8Array ? Float32Array.from(row, (v) => v / 255) : Float32Array.from(row);
}

// ---- the run -----------------------------------------------------------------------------------------

async function runLab(cfg: LabConfig, cb: Remote<RunCallbacks>): Promise<RunSummary> {
  const t0 = performance.now();
  const c = await getCore();
  const d = requireData();
  checkConfig(cfg, d.train.count, d.test.count);
  if (!cfg.teacher && !loaded) throw new RangeError('Load a teacher file first, or choose to train a teacher here');
  const readsTaps = TAP_METHODS.includes(cfg.method);
  if (readsTaps && !cfg.teacher && !loaded?.model) {
    throw new RangeError(`${cfg.method} reads a layer of the teacher inside every step: it needs a Retort model as the teacher (trained here, a Retort file, or a TF.js or ONNX model of layers Retort represents), not ${loaded?.info.kind === 'logits' ? 'a logits file' : loaded?.onnx ? 'this ONNX model run by onnxruntime' : 'this TF.js model'}`);
  }
  const norm = labShape().norm;
  if (readsTaps && loaded?.model && !cfg.teacher && JSON.stringify(loaded.norm) !== JSON.stringify(norm)) {
    throw new RangeError(`${cfg.method} runs the teacher on the student's batches, but the loaded teacher expects inputs normalised as ${describeNorm(loaded.norm)}`);
  }
  if (cfg.method === 'at') {
    const teacherMaps = cfg.teacher ? mapTapsOfSpec(labModelSpec(cfg.teacher.spec, 'teacher')) : (loaded?.info.taps ?? []).filter((t) => t.shape.length === 3).length;
    if (teacherMaps === 0 || mapTapsOfSpec(labModelSpec(cfg.student, 'student')) === 0) {
      throw new RangeError(`attention transfer compares feature maps: the ${teacherMaps === 0 ? 'teacher' : 'student'} has none (an MLP has only flat layers); choose a CNN (lenet5, resnet8, mobilenet-tiny or a graph with named convolutions) for both`);
    }
  }
  const key = cfg.teacher ? JSON.stringify([cfg.teacher, cfg.seed, cfg.validation, cfg.testSize, cfg.batchSize, cfg.lr]) : '';
  teacherOfRun = cfg.teacher ? 'trained' : 'loaded';
  const reuseTeacher = cfg.teacher !== null && key === teacherKey && models.teacher !== undefined;
  freeModels(reuseTeacher);
  lastTerms = [];

  // the views every model of the run shares (the seed's validation split, the test images)
  const views = runViews(studentRunConfig(cfg, 'none'), d);
  const testLabels = labelsOf(views.test);
  const summary: RunSummary = { config: cfg, backend: c.backend, threads: c.threads, stopped: false, wallSeconds: 0 };
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
  // a model is registered as soon as it exists, so that drawings are classified by it while it learns
  const hooks = (role: Role, epochs: number, generation?: number): RunHooks => ({
    onEvent: sink(cb, role, epochs, generation), shouldStop: () => stopRequested, yieldTo: yieldTurn,
    onStudent: (model) => { models[role] = { role, model, norm }; },
  });

  // 1. the teacher
  let teacher: RunTeacher;
  let teacherTest: Float32Array | undefined;
  if (cfg.teacher) {
    if (reuseTeacher && teacherCache) {
      void cb.phase('Teacher: the same settings as the previous run — reusing it');
      teacherTest = teacherCache.testLogits;
      // (the page draws a reused teacher's curves from its history)
      send({ ...teacherCache.result, source: 'reused', ...(teacherTest ? { testLogits: teacherTest } : {}) });
    } else {
      const config = teacherRunConfig(cfg);
      void cb.phase(`Training the teacher ${specLabel(labModelSpec(cfg.teacher.spec, 'teacher'))} on ${cfg.teacher.trainSize.toLocaleString('en-US')} images for ${cfg.teacher.epochs} epochs`);
      const outcome = await executeRun({ core: c, kind: 'train', config, data: d }, hooks('teacher', cfg.teacher.epochs));
      models.teacher = { role: 'teacher', model: outcome.student, norm };
      if (outcome.report.stopped) { freeModels(false); return finish(true); }
      teacherTest = outcome.testLogits;
      const m = outcome.student;
      const result: ModelResult = {
        role: 'teacher', spec: specLabel(m.spec), params: m.paramCount, losses: outcome.report.losses, taps: tapsOf(m),
        test: testMetrics(c, teacherTest, testLabels), history: historyOf(outcome.report.history), trainSeconds: outcome.report.trainSeconds, source: 'trained',
      };
      teacherKey = key;
      teacherCache = { result, testLogits: teacherTest };
      send({ ...result, testLogits: teacherTest });
    }
    teacher = { kind: 'model', model: models.teacher!.model, source: 'the teacher trained here', name: 'the teacher', weight: 1 };
  } else {
    const l = loaded!;
    void cb.phase(`Teacher: ${l.info.description}`);
    if (l.model) teacherTest = predictLogits(c, l.model, views.test, l.norm);
    else if (l.tfjs) { void cb.phase('Computing the TF.js teacher\'s test-set logits'); teacherTest = l.tfjs.logits(views.test); }
    else if (l.onnx) {
      void cb.phase(`Running the ONNX teacher in onnxruntime-web over the ${d.train.count.toLocaleString('en-US')} training and ${d.test.count.toLocaleString('en-US')} test samples`);
      await l.onnx.prepare([d.train, d.test]);
      teacherTest = l.onnx.logits(views.test);
    }
    send({
      role: 'teacher', spec: l.info.spec ?? (l.info.kind === 'logits' ? 'teacher logits (file)' : l.onnx ? 'ONNX model' : 'TF.js model'), params: l.info.params ?? 0, taps: l.info.taps,
      ...(teacherTest ? { test: testMetrics(c, teacherTest, testLabels), testLogits: teacherTest } : {}),
      history: [], trainSeconds: 0, source: 'loaded',
    });
    teacher = runTeacher(l);
  }
  await scheduler.gate();
  if (stopRequested) return finish(true);
  const teacherNorm = cfg.teacher ? norm : loaded!.norm;

  // 2. a student: one run; the student it replaces in its role is freed once the run is over (it
  // may be this run's teacher: a born-again generation)
  const trainStudent = async (role: 'distilled' | 'baseline', method: string, teachers: RunTeacher[], generation?: number) => {
    const replaced = models[role]?.model;
    try {
      const outcome = await executeRun({
        core: c, kind: teachers.length ? 'distill' : 'train', data: d, teachers,
        config: studentRunConfig(cfg, method, teachers.length && teachers[0] === teacher ? teacherNorm : norm),
        ...(role === 'distilled' && generation === undefined ? { methodOptions: labMethodOptions(cfg) } : {}),
      }, hooks(role, cfg.epochs, generation));
      const m = outcome.student;
      if (role === 'distilled') lastTerms = outcome.terms;
      if (!outcome.report.stopped) {
        send({
          role, spec: specLabel(m.spec), params: m.paramCount, losses: outcome.report.losses, taps: tapsOf(m),
          test: testMetrics(c, outcome.testLogits, testLabels, teacherTest), testLogits: outcome.testLogits, history: historyOf(outcome.report.history),
          trainSeconds: outcome.report.trainSeconds, source: 'trained', ...(generation !== undefined ? { generation } : {}),
        });
      }
      return { model: m, stopped: outcome.report.stopped };
    } finally {
      if (replaced && replaced !== models[role]?.model && replaced !== models.baseline?.model) replaced.free();
    }
  };
  const studentLabel = specLabel(labModelSpec(cfg.student, 'student'));

  if (cfg.method === 'born-again') {
    // 3'. born-again: generation 0 is the student alone (the baseline), generation g is taught by g − 1
    void cb.phase(`Born-again, generation 0: the student ${studentLabel} alone, which is also the baseline`);
    let previous = await trainStudent('baseline', 'none', []);
    if (previous.stopped) return finish(true);
    for (let g = 1; g <= cfg.generations; g++) {
      await scheduler.gate();
      if (stopRequested) return finish(true);
      void cb.phase(`Born-again, generation ${g} of ${cfg.generations}: taught by generation ${g - 1}`);
      const by: RunTeacher = { kind: 'model', model: previous.model, source: `generation ${g - 1}`, name: `generation ${g - 1}`, weight: 1 };
      previous = await trainStudent('distilled', 'kd', [by], g);
      if (previous.stopped) return finish(true);
    }
  } else {
    // 3. the distilled student
    const method = cfg.method;
    const reads = method === 'none' || method === 'dml' || method === 'tfkd' ? [] : [teacher];
    void cb.phase(`Distilling the student ${studentLabel} with ${METHODS.find((m) => m.name === method)!.title} on ${cfg.transferSize.toLocaleString('en-US')} images`);
    if ((await trainStudent('distilled', method, reads)).stopped) return finish(true);
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
  const measured = await measureDeployment(c, models.distilled!.model, views.split.validation, views.test, testLabels,
    teacherSide(), teacherTest, cfg.timingSeconds);
  summary.deployment = measured.deployment;
  quantized = measured.quantized;
  void cb.phase('Done');
  return finish(false);
}

// ---- the data -------------------------------------------------------------------------------------

/** Test samples as 8-bit pictures for the page (H x W x C, C = 1 or 3), or null when they are not pictures (table rows). */
function pictures(test: Dataset): { pixels: Uint8Array; h: number; w: number; c: number } | null {
  const d = test.sampleShape;
  if (d.length < 2 || d.length > 3 || (d.length === 3 && d[2] !== 1 && d[2] !== 3)) return null;
  const [h, w] = d as [number, number], c = d.length === 3 ? d[2]! : 1;
  if (test.x instanceof Uint8Array) return { pixels: test.x.slice(), h, w, c };
  // float samples: the test set's range spread over 0..255
  let lo = Infinity, hi = -Infinity;
  for (const v of test.x) { if (v < lo) lo = v; if (v > hi) hi = v; }
  const k = hi > lo ? 255 / (hi - lo) : 0;
  return { pixels: Uint8Array.from(test.x, (v) => Math.round((v - lo) * k)), h, w, c };
}

/**
 * Makes `next` the lab's data: the models of the last run are dropped (they learnt other data),
 * and so is a loaded teacher when the samples' shape, classes or preparation differ.
 */
function adopt(next: NonNullable<typeof data>, shape: LabShape, t0: number): DataInfo {
  const before = labShape();
  const same = before.features === shape.features && before.classes === shape.classes
    && before.sampleShape.join() === shape.sampleShape.join() && JSON.stringify(before.norm) === JSON.stringify(shape.norm);
  freeModels(false);
  lastSummary = undefined;
  lastTerms = [];
  teacherOfRun = undefined;
  if (!same) { freeTeacher(loaded); loaded = undefined; }
  data = next;
  setLabShape(shape);
  const pics = pictures(next.test);
  const labels = next.test.y.slice();
  const info: DataInfo = {
    name: shape.name, sampleShape: [...shape.sampleShape], features: shape.features, classes: shape.classes, classNames: [...shape.classNames],
    trainCount: next.train.count, testCount: next.test.count, split: next.split,
    normalization: typeof shape.norm.mean === 'number' ? (shape.norm.mean === 0 && shape.norm.std === 1 ? 'as they are (8-bit values as x/255)' : describeNorm(shape.norm))
      : 'standardised per channel by the training split\'s mean and std',
    testImages: pics?.pixels ?? null, picture: pics ? { h: pics.h, w: pics.w, c: pics.c } : null, testLabels: labels,
    drawable: isDigitShaped(shape), teacherDropped: !same, seconds: (performance.now() - t0) / 1000,
  };
  return transferred(info, [labels.buffer, ...(pics ? [pics.pixels.buffer] : [])]);
}

// ---- the API the worker exposes --------------------------------------------------------------------

export const lab = {
  /** The distillation methods (METHODS of @retort/distill): name, title, paper, terms, parameters. */
  methods(): { name: string; title: string; source: string; needsTeacher: boolean; terms: string; doc: string }[] {
    return METHODS.map((m) => ({ name: m.name, title: m.title, source: m.source, needsTeacher: m.needsTeacher, terms: m.terms, doc: m.doc }));
  },

  /** Fetches the app's MNIST files (base: the URL of the mnist/ folder) and makes them the lab's data. */
  async loadData(base: string): Promise<DataInfo> {
    const t0 = performance.now();
    await getCore();
    if (running) throw new Error('A run is in progress; change the data when it has finished');
    mnistLoading ??= fetchMnist(base);
    let mnist: { train: Dataset; test: Dataset };
    try {
      mnist = await mnistLoading;
    } catch (e) {
      mnistLoading = undefined;
      throw e;
    }
    return adopt({ ...mnist, split: "the data's own", classNames: null }, MNIST_SHAPE, t0);
  },

  /**
   * The visitor's own data from picked files, read by the readers `--data` uses
   * (@retort/distill's dataFromFiles: .npz, .safetensors, .npy files, CSV, IDX, images in class
   * folders), with their test set: the data's own, picked test files, or a seeded split.
   */
  async loadFiles(req: DataFilesRequest): Promise<DataInfo> {
    const t0 = performance.now();
    await getCore();
    if (running) throw new Error('A run is in progress; change the data when it has finished');
    const files: DataFile[] = req.files.map((f) => ({ path: f.path, bytes: f.bytes }));
    const loadedData = dataFromFiles(files, {
      ...(req.labelColumn ? { labelColumn: req.labelColumn } : {}), ...(req.imageSize ? { imageSize: req.imageSize } : {}),
      ...(req.testFraction !== undefined ? { testFraction: req.testFraction } : {}), ...(req.splitSeed !== undefined ? { splitSeed: req.splitSeed } : {}),
    }, req.testFiles?.map((f) => ({ path: f.path, bytes: f.bytes })));
    const { train, test, classNames } = loadedData;
    const classes = train.classes;
    const shape: LabShape = {
      name: train.name.replace(/\/train$/, ''), sampleShape: [...train.sampleShape], features: train.features, classes,
      classNames: classNames ?? Array.from({ length: classes }, (_, i) => String(i)),
      // per-channel statistics of the training split (per feature for a table), as --normalize channel
      norm: req.normalize ? channelStats(train) : { mean: 0, std: 1 },
    };
    return adopt({ train, test, split: describeTestSplit(loadedData.split), classNames }, shape, t0);
  },

  /** A model spec the page was given, checked against the loaded data: its short form, parameters and taps. */
  async describeModel(spec: string, what: 'teacher' | 'student'): Promise<ModelDescription> {
    return describeSpec(await getCore(), spec, what);
  },

  /** A teacher from picked files: a Retort model, a TF.js model (model.json + shards), or logits (.npy/.safetensors). */
  async loadTeacher(kind: 'retort' | 'tfjs' | 'onnx' | 'logits', files: { name: string; bytes: Uint8Array }[]): Promise<TeacherInfo> {
    if (running) throw new Error('A run is in progress; load the teacher when it has finished');
    const c = await getCore();
    if (files.length === 0) throw new Error('No file was picked');
    const next = kind === 'retort' ? loadRetortTeacher(c, files[0]!)
      : kind === 'tfjs' ? await loadTfjsTeacher(c, files)
        : kind === 'onnx' ? await loadOnnxTeacher(c, files[0]!)
        : await loadLogitsTeacher(files[0]!, requireData().train.count);
    freeTeacher(loaded);
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

  /** Logits of the models there are for one sample (a drawing: 784 values in [0, 1], as x/255 of 28x28 data). */
  async predict(pixels: Float32Array): Promise<Partial<Record<Role, Float32Array>>> {
    const shape = labShape();
    if (!core || pixels.length !== shape.features) return {};
    const out: Partial<Record<Role, Float32Array>> = {};
    const c = core;
    const one = (m: Model, norm: InputNorm): Float32Array | undefined => {
      if (m.isFreed) return undefined;
      const prepared = Float32Array.from(pixels);
      applyChannelNorm(prepared, prepared.length, norm);
      const x = c.fromArray(prepared);
      try {
        if (m.batchSize < 1) m.plan(1);
        return m.forward(x, 1, 'eval').view().slice(0, shape.classes);
      } finally {
        c.free(x);
      }
    };
    for (const role of ['distilled', 'baseline'] as const) {
      const t = models[role];
      const z = t && one(t.model, t.norm);
      if (z) out[role] = z;
    }
    // the teacher of the last run (before any run: the loaded one)
    const t = teacherSide();
    const trainedTeacher = teacherOfRun ? teacherOfRun === 'trained' : !loaded;
    if (t) { const z = one(t.model, t.norm); if (z) out.teacher = z; }
    else if (!trainedTeacher && (loaded?.tfjs || loaded?.onnx)) {
      const ds: Dataset = { name: 'drawing', count: 1, sampleShape: [...shape.sampleShape], features: shape.features, classes: shape.classes,
        x: Float32Array.from(pixels), y: new Int32Array(1) }; // f32 samples are taken as already scaled to [0, 1]
      out.teacher = loaded.tfjs ? loaded.tfjs.logits(fullView(ds)) : await loaded.onnx!.logitsOf(ds);
    }
    return out;
  },

  /**
   * Attention maps (Σ_c F², normalised, as attention transfer compares them) of the teacher and the
   * student at each tap pair of the method (or each feature-map tap), and the strongest channels of
   * a chosen tap of each, for a test image or the drawing.
   */
  featureMaps(req: FeatureMapsRequest): FeatureMaps | null {
    const pixels = imagePixels(req.image);
    if (!core || !pixels) return null;
    return featureMapsOf(core, teacherSide(), studentSide(), pixels, lastTerms,
      { ...(req.teacherTap ? { teacher: req.teacherTap } : {}), ...(req.studentTap ? { student: req.studentTap } : {}) });
  },

  /** The distilled student as a file (or two, for TF.js). */
  async exportStudent(format: ExportFormat): Promise<ExportedFile[]> {
    const m = models.distilled?.model;
    if (!m || m.isFreed) throw new Error('No student yet: run a distillation first');
    const { norm } = labShape();
    const meta = { source: 'Retort web lab', mean: norm.mean, std: norm.std, ...(data?.classNames ? { classNames: data.classNames } : {}), method: lastSummary?.config.method ?? null,
      testErrors: lastSummary?.distilled?.test?.errors ?? null, testAccuracy: lastSummary?.distilled?.test?.accuracy ?? null };
    let files: ExportedFile[];
    if (format === 'retort') {
      // any model: its parameters and batch-norm statistics as named tensors
      const tensors = modelTensors(m.spec, m.readParams(), m.hasState ? m.readState() : undefined);
      files = [{ name: 'student.retort', mime: 'application/octet-stream', bytes: encodeModelFile({ spec: m.spec, tensors, meta }) }];
    } else if (format === 'tfjs') {
      // any model: Dense, Conv2D, DepthwiseConv2D, pooling, BatchNormalization, Add layers (an MLP as before)
      // tfjs-layers builds and saves it: the wasm backend first
      const [{ modelToTfjs }, { tfjsReady }] = await Promise.all([import('@retort/distill/tfjs'), import('./tfjs-setup.js')]);
      await tfjsReady();
      const e = await modelToTfjs(m, { name: 'retort_student' });
      files = [
        { name: 'model.json', mime: 'application/json', bytes: new TextEncoder().encode(JSON.stringify(e.modelJson)) },
        { name: 'weights.bin', mime: 'application/octet-stream', bytes: e.weightData },
      ];
    } else if (format === 'onnx') {
      const { exportOnnx } = await import('@retort/distill/onnx');
      files = [{ name: 'student.onnx', mime: 'application/octet-stream', bytes: exportOnnx(m, { normalization: norm }) }];
    } else {
      if (!quantized) throw new Error(lastSummary?.deployment?.int8Note ?? 'No int8 student: the run stopped before quantization');
      files = [{ name: 'student.int8', mime: 'application/octet-stream', bytes: quantized.encode() }];
    }
    return transferred(files, files.map((f) => f.bytes.buffer as ArrayBuffer));
  },

  /** The text tab: a text model file (tokenizer or character vocabulary in its meta) as the teacher or the student. */
  async loadTextModel(role: TextRole, file: { name: string; bytes: Uint8Array }): Promise<TextModelInfo> {
    return loadTextModel(await getCore(), role, file);
  },
  /** Both loaded text models' reading of `text`: probabilities and attention maps per head. */
  async readText(text: string): Promise<TextReading[]> {
    return readText(await getCore(), text);
  },
  /** The loaded language models continue `prompt`, seeded. */
  async writeText(prompt: string, o: { length: number; temperature: number; topK: number; seed: number }): Promise<{ role: TextRole; text: string }[]> {
    return writeText(await getCore(), prompt, o);
  },
};

export type LabApi = typeof lab;
