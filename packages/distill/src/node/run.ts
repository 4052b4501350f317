// A whole run from a config (Node): data, models, teacher signal, training with
// checkpoints, the final model, test metrics and the report, all in one run directory.
// `retort train` and `retort distill` are thin clients of runJob.
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { loadCore, type BackendName, type Core } from '@retort/core-wasm';
import { configHash, parseRunConfig, type RunConfig } from '../config.js';
import { fullView, slice, splitValidation, type Dataset, type DatasetView } from '../data/dataset.js';
import { loadDataDir } from '../data/files.js';
import { loadMnist } from '../data/mnist.js';
import { evaluateLogits, type EvalReport } from '../eval/metrics.js';
import { loadModel, saveModel } from '../format/model-io.js';
import { Mlp } from '../model/mlp.js';
import { formatModelSpec } from '../model/spec.js';
import { evaluateView, train, type DistillSettings, type EpochMetrics, type TrainEvent } from '../train/trainer.js';
import { predictLogits } from '../train/predict.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { renderReportMarkdown } from './report.js';
import { appendJsonLine, createRunDir, RUN_FILES, RunDirError, truncateMetrics, writeJsonAtomic, writeTextAtomic } from './run-dir.js';
import { cachedTeacherLogits, readTeacherLogits } from './teacher-logits.js';

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
  const prepareRunDir = (): void => {
    if (dirReady) return;
    createRunDir(out, { force: opts.force });
    writeJsonAtomic(join(out, RUN_FILES.config), { kind, hash, config } satisfies SavedConfig);
    dirReady = true;
  };

  const core = opts.core ?? await loadCore({ backend: opts.backend ?? 'auto' });
  emit({ type: 'phase', message: `loading data (${config.data})` });
  const data = loadData(config);
  const split = splitValidation(data.train, Math.min(config.validation, data.train.count - 1), config.seed);
  const trainView = config.trainSize ? slice(split.train, Math.min(config.trainSize, split.train.indices.length)) : split.train;
  const testView = config.testSize ? slice(fullView(data.test), Math.min(config.testSize, data.test.count)) : fullView(data.test);

  const model = new Mlp(core, config.model);
  let teacherModel: Mlp | null = null;
  let teacherTestLogits: Float32Array | undefined;
  try {
    let distill: DistillSettings | undefined;
    let teacherInfo: RunReport['teacher'];
    if (kind === 'distill') {
      const soft = { temperature: config.temperature, alpha: config.alpha, scaleT2: config.scaleT2 };
      if (config.teacher) {
        emit({ type: 'phase', message: `loading teacher ${config.teacher}` });
        teacherModel = loadModel(core, resolve(config.teacher));
        checkModelFitsData(teacherModel, data.train, `teacher ${basename(config.teacher)}`);
        if (teacherModel.classes !== model.classes) {
          throw new RangeError(`teacher ${basename(config.teacher)} has ${teacherModel.classes} classes but the student has ${model.classes}`);
        }
        teacherInfo = { source: config.teacher, params: teacherModel.paramCount };
        // the teacher's test-set logits now, while it is loaded: the final comparison needs no teacher
        teacherTestLogits = predictLogits(core, teacherModel, testView, { mean: config.mean, std: config.std });
        if (config.jitter > 0) {
          // augmented batches are new every epoch: the teacher runs inside each step
          distill = { ...soft, teacher: { kind: 'model', model: teacherModel } };
        } else {
          checkModelFitsData(model, data.train, 'model');
          prepareRunDir();
          emit({ type: 'phase', message: 'computing teacher soft labels (cached in the run directory)' });
          const cache = cachedTeacherLogits(core, teacherModel, fullView(data.train), join(out, RUN_FILES.teacherLogits),
            { mean: config.mean, std: config.std });
          distill = { ...soft, teacher: { kind: 'logits', logits: cache.logits } };
          // the soft labels (and the test logits taken above) are all that is needed of the
          // teacher from here on: give its memory to the student
          teacherModel.free();
          teacherModel = null;
        }
      } else {
        const path = resolve(config.teacherLogits!);
        const logits = readTeacherLogits(path, data.train.count, model.classes);
        teacherInfo = { source: config.teacherLogits! };
        distill = { ...soft, teacher: { kind: 'logits', logits } };
      }
    }

    checkModelFitsData(model, data.train, 'model');
    prepareRunDir();
    const result = await train({
      core, model, train: trainView, validation: split.validation.indices.length > 0 ? split.validation : null,
      settings: {
        epochs: config.epochs, batchSize: config.batchSize, optimizer: config.optimizer, schedule: config.schedule,
        seed: config.seed, jitter: config.jitter, mean: config.mean, std: config.std,
      },
      ...(distill ? { distill } : {}),
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
    const report: RunReport = {
      kind, runDir: out, backend: core.backend,
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
  } finally {
    model.free();
    teacherModel?.free();
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

function checkTeacherFields(kind: JobKind, c: RunConfig): void {
  if (kind === 'train') {
    if (c.teacher || c.teacherLogits) throw new RangeError("config.teacher: 'train' takes no teacher (use 'distill')");
    return;
  }
  if (!c.teacher && !c.teacherLogits) throw new RangeError('config.teacher: distill needs a teacher model file (--teacher) or teacher logits (--teacher-logits)');
  if (c.teacher && c.teacherLogits) throw new RangeError('config.teacher: give either a teacher model or teacher logits, not both');
  if (c.teacherLogits && c.jitter > 0) throw new RangeError('config.jitter: precomputed teacher logits cannot follow augmented inputs; use a teacher model or jitter 0');
}

function checkModelFitsData(model: Mlp, ds: Dataset, what: string): void {
  if (model.inputSize !== ds.features) {
    throw new RangeError(`${what}: takes ${model.inputSize} inputs but ${ds.name} samples have ${ds.features} features (${ds.sampleShape.join('x')})`);
  }
  if (model.classes < ds.classes) throw new RangeError(`${what}: outputs ${model.classes} classes but ${ds.name} has ${ds.classes}`);
}

export type { DatasetView };
