// A whole run from a config (Node): data, models, teacher signal, training with
// checkpoints, the final model, test metrics and the report, all in one run directory.
// `retort train` and `retort distill` are thin clients of runJob.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { loadCore, type BackendName, type Core } from '@retort/core-wasm';
import { configHash, parseRunConfig, type RunConfig } from '../config.js';
import { fullView, slice, splitValidation, transferSubset, type Dataset, type DatasetView } from '../data/dataset.js';
import { loadDataDir } from '../data/files.js';
import { loadMnist } from '../data/mnist.js';
import { evaluateLogits, type EvalReport } from '../eval/metrics.js';
import { saveModel } from '../format/model-io.js';
import { createModel, Model } from '../model/index.js';
import { isMlp } from '../model/mlp.js';
import { formatModelSpec, parseModelSpec, resolveModelSpec } from '../model/spec.js';
import { shapeText } from '../model/graph.js';
import { describeLosses, FEATURE_TERMS, LABEL_TERMS, parseLossTerms, TEACHER_TERMS, type LossTermConfig } from '../losses/config.js';
import { METHODS, methodLosses, type MethodName, type MethodTap } from '../losses/methods.js';
import { usesAgreement } from '../losses/scheduled.js';
import { combineTeachers } from '../losses/targets.js';
import { validateObjective, type ObjectiveSettings, type WeightedTeacher } from '../train/objective.js';
import { evaluateView, train, type EpochMetrics, type TrainEvent } from '../train/trainer.js';
import { predictLogits } from '../train/predict.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { renderReportMarkdown } from './report.js';
import { appendJsonLine, createRunDir, RUN_FILES, RunDirError, truncateMetrics, writeJsonAtomic, writeTextAtomic } from './run-dir.js';
import { cachedTeacherLogits } from './teacher-logits.js';
import { readTeacherLogitsFile } from '../interop/files-node.js';
import type { TfjsTeacher } from '../interop/tfjs-layers.js';
import { loadAnyModel, modelFormatOf } from './any-model.js';
import { DataFormatError } from '../data/errors.js';

export type JobKind = 'train' | 'distill';

export type RunEvent = TrainEvent | { type: 'phase'; message: string };

export interface RunOptions {
  /** The run directory (new, or the one to resume). */
  out: string;
  force?: boolean;
  /** Continue the run in `out` from its last checkpoint. */
  resume?: boolean;
  backend?: 'auto' | BackendName;
  core?: Core;
  onEvent?: (e: RunEvent) => void;
  shouldStop?: () => boolean;
}

export interface RunReport {
  kind: JobKind;
  runDir: string;
  backend: BackendName;
  model: { spec: string; params: number };
  /** The objective, readable ("0.1·ce + 0.9·kd(T=4)"). */
  losses: string;
  /** Training samples the model learned from (after trainSize and the transfer-set filters). */
  trainSamples?: number;
  /** Test metrics of the other students of a cohort (Deep Mutual Learning). */
  peers?: { errors: number; accuracy: number }[];
  teacher?: { source: string; params?: number; test?: { errors: number; accuracy: number } };
  config: RunConfig;
  history: EpochMetrics[];
  test: Omit<EvalReport, 'confusion'> & { confusion: number[][] };
  trainSeconds: number;
  stopped: boolean;
}

interface SavedConfig { kind: JobKind; hash: string; config: RunConfig }

/** Loads the data a config names: the bundled MNIST or a folder of IDX files. */
export function loadData(config: Pick<RunConfig, 'data'>): { train: Dataset; test: Dataset } {
  return config.data === 'mnist' ? loadMnist() : loadDataDir(resolve(config.data));
}

export async function runJob(kind: JobKind, input: unknown, opts: RunOptions): Promise<RunReport> {
  const out = resolve(opts.out);
  const emit = opts.onEvent ?? (() => {});
  let config: RunConfig;
  let resumeState;
  if (opts.resume) {
    const saved = readSavedConfig(out);
    if (saved.kind !== kind) throw new RunDirError(`${out} holds a '${saved.kind}' run; resume it with 'retort ${saved.kind} --resume'`);
    config = saved.config;
    const ckPath = join(out, RUN_FILES.checkpoint);
    if (existsSync(ckPath)) {
      const ck = loadCheckpoint(ckPath);
      if (ck.configHash !== saved.hash) throw new RunDirError(`${ckPath} was written by a different configuration than ${RUN_FILES.config}`);
      resumeState = ck.state;
      truncateMetrics(join(out, RUN_FILES.metrics), ck.state.epoch);
      emit({ type: 'phase', message: `resuming ${out} after epoch ${ck.state.epoch}` });
    } else {
      truncateMetrics(join(out, RUN_FILES.metrics), 0);
      emit({ type: 'phase', message: `resuming ${out}: no checkpoint yet, starting from epoch 1` });
    }
  } else {
    config = parseRunConfig(input);
    checkTeacherFields(kind, config);
  }
  const hash = configHash(config);
  // A new run's directory is created only once its data, models and teacher files have been
  // read and checked, right before the first file is written into it: bad input leaves nothing.
  let dirReady = opts.resume === true;
  let createdHere = false;
  let trainingStarted = false;
  const prepareRunDir = (): void => {
    if (dirReady) return;
    createRunDir(out, { force: opts.force });
    createdHere = true;
    writeJsonAtomic(join(out, RUN_FILES.config), { kind, hash, config } satisfies SavedConfig);
    dirReady = true;
  };

  const core = opts.core ?? await loadCore({ backend: opts.backend ?? 'auto' });
  emit({ type: 'phase', message: `loading data (${config.data})` });
  const data = loadData(config);
  const split = splitValidation(data.train, Math.min(config.validation, data.train.count - 1), config.seed);
  const trainView = config.trainSize ? slice(split.train, Math.min(config.trainSize, split.train.indices.length)) : split.train;
  const testView = config.testSize ? slice(fullView(data.test), Math.min(config.testSize, data.test.count)) : fullView(data.test);

  // a preset or graph without an input shape or class count takes them from the data
  const spec = resolveModelSpec(parseModelSpec(config.model), { inputShape: data.train.sampleShape, classes: data.train.classes });
  const model = createModel(core, spec);
  const teacherModels: Model[] = [];
  const tfjsTeachers: TfjsTeacher[] = [];
  const peers: { model: Model; seed: number }[] = [];
  let teacherTestLogits: Float32Array | undefined;
  try {
    const specs = teacherSpecs(config);
    const tNorm = teacherNorm(config);
    // teacher taps are needed to choose a method's default layers: read the model files first.
    // A teacher is a Retort model (a Retort file, an ONNX or TF.js model Retort can represent), or
    // else a TF.js model run by TensorFlow.js itself, which only gives logits.
    const loaded: (Model | TfjsTeacher | null)[] = [];
    for (const [k, t] of specs.entries()) {
      if (!t.model) { loaded.push(null); continue; }
      const path = resolve(t.model);
      emit({ type: 'phase', message: `loading teacher ${t.model}` });
      const ti = config.teacherInput;
      const tfjsOnly = ti?.shape !== undefined || Array.isArray(ti?.mean) || Array.isArray(ti?.std) || ti?.scale !== undefined;
      let m: Model | TfjsTeacher | null = null;
      if (modelFormatOf(path) === 'tfjs') {
        // a TF.js model made of Dense layers becomes a Retort model (fast, and usable inside the step);
        // any other architecture is run by TensorFlow.js for its soft labels
        if (!tfjsOnly) {
          try { m = (await loadAnyModel(core, path)).model; } catch (e) { if (!(e instanceof DataFormatError)) throw e; }
        }
        if (!m) {
          const { loadTfjsTeacher } = await import('../interop/node.js'); // tfjs only for such a teacher
          const teacher = await loadTfjsTeacher(path, { input: { ...(ti ?? { mean: config.mean, std: config.std }) } });
          tfjsTeachers.push(teacher);
          m = teacher;
        }
      } else {
        if (tfjsOnly) throw new RangeError(`config.teacherInput: scale, shape and per-channel mean/std apply to TF.js teachers; ${basename(t.model)} is a Retort model (give one mean and std)`);
        m = (await loadAnyModel(core, path)).model;
      }
      if (m instanceof Model) {
        teacherModels.push(m);
        checkModelFitsData(m, data.train, `teacher ${basename(t.model)}`);
      }
      loaded.push(m);
      if (m.classes !== model.classes) {
        throw new RangeError(`teacher ${basename(t.model)} has ${m.classes} classes but the student has ${model.classes}${specs.length > 1 ? ` (teachers[${k}])` : ''}`);
      }
    }
    const terms = resolveLosses(kind, config, model, loaded.find((m): m is Model => m instanceof Model) ?? null);
    const peerCount = config.peers ?? (!config.losses && config.method === 'dml' ? 1 : 0);
    for (let i = 1; i <= peerCount; i++) peers.push({ model: createModel(core, spec), seed: (config.seed + i) >>> 0 });
    checkModelFitsData(model, data.train, 'model');
    const needsInStep = config.jitter > 0 || terms.some((t) => FEATURE_TERMS.has(t.type));
    if (needsInStep && loaded.some((m) => m !== null) && (tNorm.mean !== config.mean || tNorm.std !== config.std || tfjsTeachers.length > 0)) {
      throw new RangeError(`config.teacherInput: ${config.jitter > 0 ? 'jitter' : 'a hint or rkd term'} runs the teacher inside the step on the student's batch, ` +
        'so the teacher must be a Retort model that takes the student\'s input preparation');
    }
    // every check of the objective against the models runs before the directory exists (the
    // teacher signal below may write its cache into it): each teacher as it will be used
    validateObjective({
      terms, combine: config.combine,
      teachers: specs.map((t, k) => {
        const m = loaded[k];
        return { weight: t.weight, source: needsInStep && m instanceof Model ? { kind: 'model', model: m } : { kind: 'logits', logits: new Float32Array(0) } };
      }),
    }, [model, ...peers.map((p) => p.model)]);
    for (const key of ['classes', 'omitClasses'] as const) {
      const bad = config.transfer?.[key]?.find((c) => c >= data.train.classes);
      if (bad !== undefined) throw new RangeError(`config.transfer.${key}: class ${bad} is not in ${data.train.name} (classes 0..${data.train.classes - 1})`);
    }
    const transferView = config.transfer ? transferSubset(trainView, config.transfer, config.seed) : trainView;
    if (transferView.indices.length === 0) throw new RangeError('config.transfer: no training samples are left after the transfer-set filters');
    const teachers: WeightedTeacher[] = [];
    const testLogits: Float32Array[] = [];
    let teacherInfo: RunReport['teacher'];
    for (let k = 0; k < specs.length; k++) {
      const t = specs[k]!;
      const m = loaded[k];
      if (m && !(m instanceof Model)) {
        const { cachedTfjsTeacherLogits } = await import('../interop/node.js');
        prepareRunDir();
        emit({ type: 'phase', message: `computing soft labels of the TensorFlow.js teacher ${basename(t.model!)} (cached in the run directory)` });
        const cacheName = k === 0 ? RUN_FILES.teacherLogits : RUN_FILES.teacherLogits.replace(/\.npy$/, `-${k}.npy`);
        const cache = cachedTfjsTeacherLogits(m, fullView(data.train), join(out, cacheName));
        const test = m.logits(testView);
        for (const [what, arr] of [['training', cache.logits], ['test', test]] as const) {
          const bad = arr.findIndex((v) => !Number.isFinite(v));
          if (bad >= 0) {
            throw new DataFormatError(basename(t.model!), `the teacher's logit [${Math.floor(bad / model.classes)}, ${bad % model.classes}] on the ${what} set is ${arr[bad]} (NaN or Inf weights?)`);
          }
        }
        testLogits.push(test);
        teachers.push({ source: { kind: 'logits', logits: cache.logits }, weight: t.weight });
      } else if (m) {
        // the teacher's test-set logits now, while it is loaded: the final comparison needs no teacher
        testLogits.push(predictLogits(core, m, testView, tNorm));
        if (needsInStep) {
          // augmented batches are new every epoch, and feature terms read hidden layers: the teacher runs inside each step
          teachers.push({ source: { kind: 'model', model: m }, weight: t.weight });
        } else {
          prepareRunDir();
          emit({ type: 'phase', message: `computing teacher soft labels${specs.length > 1 ? ` (teacher ${k + 1} of ${specs.length})` : ''} (cached in the run directory)` });
          const cacheName = k === 0 ? RUN_FILES.teacherLogits : RUN_FILES.teacherLogits.replace(/\.npy$/, `-${k}.npy`);
          const cache = cachedTeacherLogits(core, m, fullView(data.train), join(out, cacheName), tNorm);
          teachers.push({ source: { kind: 'logits', logits: cache.logits }, weight: t.weight });
          // the soft labels (and the test logits taken above) are all that is needed of the
          // teacher from here on: give its memory to the student
          m.free();
          teacherModels.splice(teacherModels.indexOf(m), 1);
        }
      } else {
        const logits = readTeacherLogitsFile(resolve(t.logits!), data.train.count, model.classes);
        teachers.push({ source: { kind: 'logits', logits }, weight: t.weight });
      }
    }
    if (specs.length > 0) {
      const first = specs[0]!;
      teacherInfo = specs.length === 1
        ? { source: first.model ?? first.logits!, ...(loaded[0] instanceof Model ? { params: loaded[0].paramCount } : {}) }
        : { source: specs.map((t) => t.model ?? t.logits!).join(' + ') };
      if (testLogits.length === specs.length) {
        teacherTestLogits = new Float32Array(testView.indices.length * model.classes);
        combineTeachers(teacherTestLogits, testLogits, specs.map((t) => t.weight), testView.indices.length, model.classes, 1, config.combine);
      }
    }
    const objective: ObjectiveSettings = { terms, teachers, combine: config.combine };

    prepareRunDir();
    trainingStarted = true;
    const result = await train({
      core, model, train: transferView, validation: split.validation.indices.length > 0 ? split.validation : null,
      settings: {
        epochs: config.epochs, batchSize: config.batchSize, optimizer: config.optimizer, schedule: config.schedule,
        seed: config.seed, jitter: config.jitter, mean: config.mean, std: config.std,
      },
      objective,
      ...(peers.length ? { peers } : {}),
      ...(resumeState ? { resume: resumeState } : {}),
      checkpoint: (state) => {
        saveCheckpoint(join(out, RUN_FILES.checkpoint), model.spec, state, hash);
        const last = state.history[state.history.length - 1];
        if (last) appendJsonLine(join(out, RUN_FILES.metrics), { type: 'epoch', ...last });
      },
      onEvent: emit,
      ...(opts.shouldStop ? { shouldStop: opts.shouldStop } : {}),
    });

    const norm = { mean: config.mean, std: config.std };
    const test = evaluateView(core, model, testView, norm, teacherTestLogits);
    if (teacherTestLogits && teacherInfo) {
      const t = evaluateLogits(core, teacherTestLogits, labelsOf(testView), model.classes);
      teacherInfo.test = { errors: t.errors, accuracy: t.accuracy };
    }
    const peerTest = peers.map((p) => {
      const r = evaluateView(core, p.model, testView, norm);
      return { errors: r.errors, accuracy: r.accuracy };
    });
    const report: RunReport = {
      kind, runDir: out, backend: core.backend,
      losses: describeLosses(terms),
      trainSamples: transferView.indices.length,
      ...(peerTest.length ? { peers: peerTest } : {}),
      model: { spec: formatModelSpec(model.spec), params: model.paramCount },
      ...(teacherInfo ? { teacher: teacherInfo } : {}),
      config, history: result.history, test,
      trainSeconds: result.history.reduce((s, h) => s + h.seconds, 0),
      stopped: result.stopped,
    };
    if (!result.stopped) {
      saveModel(join(out, RUN_FILES.model), model, { kind, configHash: hash, mean: config.mean, std: config.std, testErrors: test.errors, testAccuracy: test.accuracy });
      writeJsonAtomic(join(out, RUN_FILES.report), report);
      writeTextAtomic(join(out, RUN_FILES.reportMarkdown), renderReportMarkdown(report));
    }
    return report;
  } catch (e) {
    // a run that failed while its teacher signal was being prepared leaves nothing behind
    if (createdHere && !trainingStarted) rmSync(out, { recursive: true, force: true });
    throw e;
  } finally {
    model.free();
    for (const p of peers) p.model.free();
    for (const m of teacherModels) m.free();
    for (const t of tfjsTeachers) t.dispose();
  }
}

function labelsOf(view: DatasetView): Int32Array {
  const labels = new Int32Array(view.indices.length);
  for (let i = 0; i < labels.length; i++) labels[i] = view.dataset.y[view.indices[i]!]!;
  return labels;
}

function readSavedConfig(out: string): SavedConfig {
  const path = join(out, RUN_FILES.config);
  if (!existsSync(path)) throw new RunDirError(`${out} is not a run directory (no ${RUN_FILES.config}); nothing to resume`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new RunDirError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  const rec = raw as Partial<SavedConfig>;
  if ((rec.kind !== 'train' && rec.kind !== 'distill') || typeof rec.hash !== 'string') {
    throw new RunDirError(`${path}: not a Retort run config`);
  }
  const config = parseRunConfig(rec.config, `${RUN_FILES.config}: config`);
  if (configHash(config) !== rec.hash) throw new RunDirError(`${path}: its config does not match its hash (edited by hand?)`);
  return { kind: rec.kind, hash: rec.hash, config };
}

/** The teacher's input preparation for MLP teachers: teacherInput's mean/std, else the student's. */
function teacherNorm(c: RunConfig): { mean: number; std: number } {
  const ti = c.teacherInput;
  return {
    mean: typeof ti?.mean === 'number' ? ti.mean : c.mean,
    std: typeof ti?.std === 'number' ? ti.std : c.std,
  };
}

/** The teachers a config names: `teachers`, or the `teacher` / `teacherLogits` shorthand. */
function teacherSpecs(c: RunConfig): { model?: string; logits?: string; weight: number }[] {
  if (c.teachers) return c.teachers;
  if (c.teacher) return [{ model: c.teacher, weight: 1 }];
  if (c.teacherLogits) return [{ logits: c.teacherLogits, weight: 1 }];
  return [];
}

function checkTeacherFields(kind: JobKind, c: RunConfig): void {
  const given = [c.teacher && '--teacher', c.teacherLogits && '--teacher-logits', c.teachers && 'teachers'].filter(Boolean);
  if (kind === 'train') {
    if (given.length) throw new RangeError("config.teacher: 'train' takes no teacher (use 'distill')");
  }
  if (given.length > 1) throw new RangeError(`config.teacher: give one of a teacher model, teacher logits or a teachers list, not ${given.join(' and ')}`);
  (c.teachers ?? []).forEach((t, k) => {
    if (!t.model === !t.logits) throw new RangeError(`config.teachers[${k}]: give either model or logits`);
  });
  if (c.jitter > 0 && teacherSpecs(c).some((t) => t.logits)) {
    throw new RangeError('config.jitter: precomputed teacher logits cannot follow augmented inputs; use a teacher model or jitter 0');
  }
  const method = c.method ?? (kind === 'distill' ? 'kd' : 'none');
  if (!c.losses && kind === 'train' && METHODS.find((m) => m.name === method)?.needsTeacher) {
    throw new RangeError(`config.method: '${method}' needs a teacher; use 'retort distill'`);
  }
}

/** The loss terms of a run: `losses`, or the method's preset (kd for distill, none for train). */
function resolveLosses(kind: JobKind, c: RunConfig, student: Model, teacher: Model | null): LossTermConfig[] {
  const method = c.method ?? (kind === 'distill' ? 'kd' : 'none');
  let preset = methodLosses(method as MethodName, {
    alpha: c.alpha, temperature: c.temperature, scaleT2: c.scaleT2, epochs: c.epochs,
    student: featureTaps(student), teacher: teacher ? featureTaps(teacher) : [],
  });
  // without labels a method keeps its soft terms (kd: soft targets alone); the hard term goes
  if (c.transfer?.labels === false) preset = preset.filter((t) => t.type !== 'ce');
  const terms = c.losses ?? parseLossTerms(preset, `method ${method}`);
  const needsTeacher = terms.some((t) => TEACHER_TERMS.has(t.type));
  if (needsTeacher && teacherSpecs(c).length === 0) {
    throw new RangeError(kind === 'train'
      ? `config.losses: ${terms.filter((t) => TEACHER_TERMS.has(t.type)).map((t) => t.type).join(', ')} need a teacher; use 'retort distill'`
      : 'config.teacher: distill needs a teacher model file (--teacher) or teacher logits (--teacher-logits) for ' +
        `${terms.filter((t) => TEACHER_TERMS.has(t.type)).map((t) => t.type).join(', ')}`);
  }
  if (!needsTeacher && teacherSpecs(c).length > 0 && !terms.some((t) => usesAgreementTerm(t))) {
    throw new RangeError(`config.teacher: a teacher is given but no loss term reads it (${describeLosses(terms)})`);
  }
  if (c.transfer && c.transfer.labels === false) {
    const bad = terms.filter((t) => LABEL_TERMS.has(t.type) && !(typeof t.weight === 'number' && t.weight === 0));
    if (bad.length) throw new RangeError(`config.transfer.labels: false, but ${bad.map((t) => t.type).join(', ')} read the labels; use a method with soft targets (kd, fitnets, rkd, adaptive) or write the terms out`);
  }
  return terms;
}

/** The taps a method's defaults choose among: an MLP's hidden layers (by number), a graph's named layers. */
function featureTaps(m: Model): MethodTap[] {
  if (isMlp(m)) return Array.from({ length: m.hiddenCount }, (_, i) => ({ ref: i + 1, shape: m.tapShape(`hidden${i + 1}`) }));
  return m.tapNames.map((name) => ({ ref: name, shape: m.tapShape(name) }));
}

function usesAgreementTerm(t: LossTermConfig): boolean {
  return usesAgreement(t.weight) || ('temperature' in t && usesAgreement(t.temperature));
}

function checkModelFitsData(model: Model, ds: Dataset, what: string): void {
  const input = model.inputShape, sample = ds.sampleShape;
  // channels last: an [H, W] image is [H, W, 1]; flat features of the same size are taken as they are
  const image = sample.length === 2 ? [...sample, 1] : sample;
  const fits = model.inputSize === ds.features && (input.length === 1 || sample.length === 1 || image.every((d, i) => d === input[i]));
  if (!fits) {
    throw new RangeError(`${what}: takes ${shapeText(input)} inputs but ${ds.name} samples are ${shapeText(image)}` +
      (input.length === 1 ? ` (${ds.features} features)` : ''));
  }
  if (model.classes < ds.classes) throw new RangeError(`${what}: outputs ${model.classes} classes but ${ds.name} has ${ds.classes}`);
}

export type { DatasetView };
