// One run, from a validated config, data in memory and teachers already loaded, to the trained
// student and its report: the one orchestration of `retort train` / `retort distill` (runJob,
// node/run.ts, which adds the run directory) and of the web lab's teacher, distilled student and
// student alone (packages/web/src/lab/engine.ts, which adds fetching and the page).
//
//   spec resolved against the data -> student (and DML peers) -> the method's terms (taps of the
//   student and the first teacher model) -> checks of the objective against the models -> views
//   (validation split, train size, transfer set) -> each teacher's signal (cached soft labels, or
//   the model inside the step) and its test logits -> train -> test metrics, agreement -> report
//
// Every check runs before the first hook that writes (softLabels, beforeTraining): bad input
// leaves nothing behind. I/O is injected: where soft labels are cached, where checkpoints go,
// where events are shown, how the step loop yields and whether it should stop.
import type { BackendName, Core } from '@retort/core-wasm';
import type { RunConfig } from '../config.js';
import { channelStats, checkInputNorm, type Dataset, type DatasetView, type InputNorm } from '../data/dataset.js';
import { evaluateLogits, type EvalReport } from '../eval/metrics.js';
import { describeLosses, FEATURE_TERMS, type LossTermConfig } from '../losses/config.js';
import { createModel, type Model } from '../model/index.js';
import { formatModelSpec } from '../model/spec.js';
import { mixupTermError, validateObjective, type ObjectiveSettings } from '../train/objective.js';
import { predictLogits } from '../train/predict.js';
import { evaluateView, train, type EpochMetrics, type TrainerState } from '../train/trainer.js';
import { autoTune, type AutoTuneResult } from './auto-tune.js';
import { checkTeachers, teacherSignal, type RunEvent, type RunTeacher, type SoftLabels } from './teacher-signal.js';
import { checkTeacherKinds, chooseTerms, runMethod, type MethodOptions, type RunKind } from './terms.js';
import { checkModelFitsData, isStreamedTrain, labelsOf, runModelSpec, runViews, streamViews, transferView, type RunData, type StreamedTrain } from './views.js';
import { isStreamedSet, type StreamedSet } from '../data/batches.js';

export type { LogitsPredictor, RunEvent, RunTeacher } from './teacher-signal.js';

export interface RunInput {
  core: Core;
  kind: RunKind;
  /** Validated (parseRunConfig); its teacher fields are the caller's business: `teachers` are the teachers. */
  config: RunConfig;
  data: RunData;
  teachers?: RunTeacher[];
  /** The method's layers and weights where the config leaves them to the method. */
  methodOptions?: MethodOptions;
  /** Continue from a checkpoint instead of initialising from the seed. */
  resume?: TrainerState;
  /** runNorm(config, data.train) when the caller has it already (per-channel statistics are a pass over the data). */
  inputNorm?: InputNorm;
}

export interface RunHooks {
  onEvent?: (e: RunEvent) => void;
  shouldStop?: () => boolean;
  /** How the step loop yields (default: the trainer's); a UI may hold it to pause. */
  yieldTo?: () => Promise<void>;
  /** The student exists (before it trains): a UI may show its predictions while it learns. */
  onStudent?: (student: Model) => void;
  /**
   * Soft labels of a teacher that does not run inside the step, [train count, classes], of which
   * the rows of `rows` (the transfer set and the validation split) are read. Default: computed for
   * those rows alone. Node caches them over the whole training set in the run directory.
   */
  softLabels?: SoftLabels;
  /** Every check passed and the teacher signal is ready: training starts after this returns. */
  beforeTraining?: () => void;
  /** After every epoch: the state to persist (views into module memory, valid during the call). */
  checkpoint?: (state: TrainerState, student: Model) => void;
}

/** What a run gives: the report (without where it was written) and the trained student. */
export interface RunResult {
  kind: RunKind;
  backend: BackendName;
  /** Threads the kernels ran on (the bits do not depend on it: packages/core-wasm/src/threads/parallel.ts). */
  threads?: number;
  /** The objective, readable ("0.1·ce + 0.9·kd(T=4)"). */
  losses: string;
  /** Training samples the model learned from (after trainSize and the transfer-set filters). */
  trainSamples?: number;
  /** Test metrics of the other students of a cohort (Deep Mutual Learning). */
  peers?: { errors: number; accuracy: number }[];
  model: { spec: string; params: number };
  teacher?: { source: string; params?: number; test?: { errors: number; accuracy: number } };
  config: RunConfig;
  /** The input normalisation the student was trained with (the config's, or the data's per channel). */
  inputNorm: InputNorm;
  /** With config.autoTune: every candidate (T, alpha) and its validation score, and the one chosen. */
  autoTune?: AutoTuneResult;
  history: EpochMetrics[];
  test: Omit<EvalReport, 'confusion'> & { confusion: number[][] };
  trainSeconds: number;
  stopped: boolean;
}

export interface RunOutcome {
  report: RunResult;
  /** The trained student: the caller's now (free it when done). */
  student: Model;
  terms: LossTermConfig[];
  /** The student's test-set logits [test rows, classes], and the (combined) teachers' when every teacher gives some. */
  testLogits: Float32Array;
  teacherTestLogits?: Float32Array;
}

/** autoTune searches T and alpha of method kd, on a validation split. */
function checkAutoTune(kind: RunKind, c: RunConfig, validationRows: number): void {
  const method = runMethod(kind, c);
  if (kind !== 'distill' || c.losses || method !== 'kd') {
    throw new RangeError(`config.autoTune: chooses T and alpha of method kd (Hinton distillation), not of ${c.losses ? 'written-out losses' : kind === 'train' ? 'a run without a teacher' : `method ${method}`}`);
  }
  if (c.autoTune!.temperature === undefined && c.autoTune!.alpha === undefined) throw new RangeError('config.autoTune: give temperature and/or alpha to search');
  if (validationRows === 0) throw new RangeError('config.autoTune: the search scores candidates on the validation split; --validation must be > 0');
}

/**
 * The student's input normalisation: per-channel statistics of the training split with
 * `normalize: 'channel'`, else the config's mean and std.
 */
export function runNorm(c: RunConfig, train: Dataset | StreamedTrain): InputNorm {
  if (c.normalize !== 'channel') return { mean: c.mean, std: c.std };
  if (c.mean !== 0 || c.std !== 1) throw new RangeError("config.normalize: 'channel' computes mean and std from the data; leave config.mean and config.std unset");
  return isStreamedTrain(train) ? train.channelStats() : channelStats(train);
}

/** The teacher's input preparation for Retort teachers: teacherInput's mean/std, else the student's. */
export function teacherNorm(c: RunConfig, student: InputNorm): InputNorm {
  const ti = c.teacherInput;
  return { mean: ti?.mean ?? student.mean, std: ti?.std ?? student.std };
}

export async function executeRun(input: RunInput, hooks: RunHooks = {}): Promise<RunOutcome> {
  const { core, kind, config, data } = input;
  const teachers = input.teachers ?? [];
  const emit = hooks.onEvent ?? (() => {});
  checkTeacherKinds(kind, config, teachers.map((t) => t.kind));
  const streamed = isStreamedTrain(data.train) ? data.train : null;
  const memory = streamed ? null : data as { train: Dataset; test: Dataset };
  // in memory: the validation split, trainSize and the transfer set are views; streamed: the validation rows are read, the rest streamed
  const views = memory ? runViews(config, memory) : null;
  const sv = streamed ? streamViews(config, streamed, data.test) : null;
  const validation = views ? views.split.validation : sv!.validation;
  const testView = views ? views.test : sv!.test;
  const spec = runModelSpec(config, data);
  const model = createModel(core, spec);
  const peers: { model: Model; seed: number }[] = [];
  let handedOver = false;
  try {
    hooks.onStudent?.(model);
    const norm = input.inputNorm ?? runNorm(config, data.train);
    checkInputNorm(norm, data.train.features, 'config.mean/std');
    const tNorm = teacherNorm(config, norm);
    checkTeachers(teachers, data.train, model.classes);
    if (config.topK !== undefined) {
      if (!(config.topK <= model.classes)) throw new RangeError(`config.topK: top-k keeps k of the ${model.classes} classes; k must be in [1, ${model.classes}], got ${config.topK}`);
      if (!teachers.some((t) => t.kind !== 'logits')) throw new RangeError('config.topK: applies to the soft labels a run computes from a teacher model; precomputed teacher outputs are used as they are');
    }
    const firstModel = teachers.find((t) => t.kind === 'model');
    let terms = chooseTerms(kind, config, model, firstModel?.kind === 'model' ? firstModel.model : null, teachers.length, input.methodOptions);
    if (config.autoTune) {
      if (streamed) throw new RangeError(`config.autoTune: the search trains each candidate on the training set; it does not apply to one streamed from shards (${streamed.name}): give temperature and alpha`);
      checkAutoTune(kind, config, validation.indices.length);
    }
    const peerCount = config.peers ?? (!config.losses && config.method === 'dml' ? 1 : 0);
    for (let i = 1; i <= peerCount; i++) peers.push({ model: createModel(core, spec), seed: (config.seed + i) >>> 0 });
    checkModelFitsData(model, data.train, 'model');
    const tokenNoise = config.tokenNoise ?? 0;
    if (tokenNoise > 0 && (data.train as { vocab?: number }).vocab === undefined) throw new RangeError(`config.tokenNoise: token noise replaces token ids; ${data.train.name} is not text`);
    const augmented = config.jitter > 0 || config.mixup || tokenNoise > 0;
    const needsInStep = augmented || terms.some((t) => FEATURE_TERMS.has(t.type));
    const mixupError = config.mixup ? mixupTermError(terms) : null;
    if (mixupError) throw new RangeError(`config.${mixupError}`);
    if (needsInStep && (teachers.some((t) => t.kind === 'model') && JSON.stringify(tNorm) !== JSON.stringify(norm) ||
        teachers.some((t) => t.kind === 'predictor' && !t.step))) {
      throw new RangeError(`config.teacherInput: ${config.jitter > 0 ? 'jitter' : config.mixup ? 'mixup' : tokenNoise > 0 ? 'token noise' : 'a hint or rkd term'} runs the teacher inside the step on the student's batch, ` +
        'so the teacher must take the student\'s input preparation and run there: a Retort model, or an ONNX graph in onnxruntime whose teacherInput is the student\'s');
    }
    // every check of the objective against the models, each teacher as it will be used
    validateObjective({
      terms, combine: config.combine,
      teachers: teachers.map((t) => ({
        weight: t.weight,
        source: needsInStep && t.kind === 'model' ? { kind: 'model', model: t.model }
          : needsInStep && t.kind === 'predictor' && t.step ? { kind: 'step', teacher: t.step } : { kind: 'logits', logits: new Float32Array(0) },
      })),
    }, [model, ...peers.map((p) => p.model)]);
    const transfer: DatasetView | StreamedSet = memory ? transferView(config, views!.train) : sv!.train;

    // the teacher signal: each teacher's soft labels over the rows the students read, or the model in the step
    const rows: DatasetView = memory && !isStreamedSet(transfer)
      ? { dataset: memory.train, indices: Int32Array.from(new Set([...transfer.indices, ...validation.indices])) }
      : validation;
    const trainRows = streamed ? streamed.rows : memory!.train.count;
    const signal = teacherSignal(core, teachers, {
      rows, test: testView, inStep: needsInStep, norm: tNorm, classes: model.classes, combine: config.combine, trainRows, ...(streamed ? { streamed: true } : {}),
    }, hooks.softLabels, emit);
    const teacherInfo = signal.info, teacherTestLogits = signal.testLogits;
    let objective: ObjectiveSettings = { terms, teachers: signal.teachers, combine: config.combine };
    const settings = {
      epochs: config.epochs, batchSize: config.batchSize, optimizer: config.optimizer, schedule: config.schedule,
      seed: config.seed, jitter: config.jitter, mixup: config.mixup, ...(tokenNoise > 0 ? { tokenNoise } : {}), mean: norm.mean, std: norm.std,
    };
    let tuned: AutoTuneResult | undefined;
    if (config.autoTune && !isStreamedSet(transfer)) {
      const objectiveFor = (c: { temperature: number; alpha: number }): ObjectiveSettings => ({
        terms: chooseTerms(kind, { ...config, ...c }, model, firstModel?.kind === 'model' ? firstModel.model : null, teachers.length, input.methodOptions),
        teachers: signal.teachers, combine: config.combine,
      });
      tuned = await autoTune({ core, spec, config, transfer, validation, settings, objectiveFor, emit, ...(hooks.yieldTo ? { yieldTo: hooks.yieldTo } : {}) });
      objective = objectiveFor(tuned.chosen);
      terms = objective.terms;
    }

    hooks.beforeTraining?.();
    const result = await train({
      core, model, train: transfer, validation: validation.indices.length > 0 ? validation : null,
      settings,
      objective,
      ...(peers.length ? { peers } : {}),
      ...(input.resume ? { resume: input.resume } : {}),
      ...(hooks.checkpoint ? { checkpoint: (state: TrainerState) => hooks.checkpoint!(state, model) } : {}),
      onEvent: emit,
      ...(hooks.shouldStop ? { shouldStop: hooks.shouldStop } : {}),
      ...(hooks.yieldTo ? { yieldTo: hooks.yieldTo } : {}),
    });

    const evaluated = evaluateRun(core, model, peers.map((p) => p.model), testView, norm, teacherTestLogits);
    if (teacherInfo && evaluated.teacherTest) teacherInfo.test = evaluated.teacherTest;
    const report: RunResult = {
      kind, backend: core.backend, threads: core.threads,
      losses: describeLosses(terms),
      trainSamples: isStreamedSet(transfer) ? transfer.count : transfer.indices.length,
      ...(evaluated.peers.length ? { peers: evaluated.peers } : {}),
      model: { spec: formatModelSpec(model.spec), params: model.paramCount },
      ...(teacherInfo ? { teacher: teacherInfo } : {}),
      config, inputNorm: norm, ...(tuned ? { autoTune: tuned } : {}), history: result.history, test: evaluated.test,
      trainSeconds: result.history.reduce((s, h) => s + h.seconds, 0),
      stopped: result.stopped,
    };
    handedOver = true;
    return { report, student: model, terms, testLogits: evaluated.logits, ...(teacherTestLogits ? { teacherTestLogits } : {}) };
  } finally {
    if (!handedOver) model.free();
    for (const p of peers) p.model.free();
  }
}

/**
 * The student's test metrics as evaluateView computes them (its batch of 256), keeping the logits;
 * the (combined) teachers' and the cohort peers' test metrics.
 */
function evaluateRun(core: Core, model: Model, peers: Model[], testView: DatasetView, norm: InputNorm, teacherTestLogits: Float32Array | undefined) {
  const labels = labelsOf(testView);
  const logits = predictLogits(core, model, testView, { batchSize: 256, ...norm });
  const test = evaluateLogits(core, logits, labels, model.classes, teacherTestLogits ? { teacherLogits: teacherTestLogits } : {});
  const t = teacherTestLogits ? evaluateLogits(core, teacherTestLogits, labels, model.classes) : undefined;
  return {
    logits, test,
    ...(t ? { teacherTest: { errors: t.errors, accuracy: t.accuracy } } : {}),
    peers: peers.map((p) => {
      const r = evaluateView(core, p, testView, norm);
      return { errors: r.errors, accuracy: r.accuracy };
    }),
  };
}
