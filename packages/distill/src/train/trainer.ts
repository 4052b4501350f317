// The training loop: one loop for a teacher, a baseline student and a distilled
// student. Distillation is a loss term (the fused Hinton KD kernel), not a loop of
// its own; a student trained with alpha = 0 sees exactly the same data order,
// initialisation, dropout masks and schedule as a distilled one.
//
// Determinism: everything random is derived from (seed, epoch): the batch order and
// jitter (BatchLoader), the dropout masks (one core PRNG re-seeded each epoch). A
// checkpoint at the end of epoch e therefore resumes bit-identically: epoch e + 1 of a
// resumed run is the same computation as in an uninterrupted one.
import type { Core, Tensor } from '@retort/core-wasm';
import { BatchLoader, isStreamedSet, type EpochLoader, type StreamedSet } from '../data/batches.js';
import type { DatasetView } from '../data/dataset.js';
import { evaluateLogits, type EvalReport } from '../eval/metrics.js';
import type { Model } from '../model/model.js';
import { createOptimizer, type OptimizerConfig, type OptimizerState } from '../optim/optimizer.js';
import { lrSchedule, type ScheduleConfig } from '../optim/schedule.js';
import { valueAt, type ScheduleContext } from '../losses/scheduled.js';
import { Objective, termActive, type ObjectiveSettings, type TeacherSource } from './objective.js';
import { predictLogits } from './predict.js';
import { tableRows } from '../data/teacher-outputs.js';
import { normalisedRows } from '../data/dataset.js';

export type { TeacherSource, ObjectiveSettings };

/**
 * Classic Hinton distillation from one teacher (shorthand for the objective
 * (1 - alpha)·ce + alpha·kd(T)); `objective` states any combination of terms.
 */
export interface DistillSettings {
  teacher: TeacherSource;
  /** T > 0: softens teacher and student in the soft term. */
  temperature: number;
  /** Weight of the soft (teacher) term; the hard (label) term gets 1 - alpha. */
  alpha: number;
  /** Multiply the soft term by T^2 (default true). */
  scaleT2?: boolean;
}

/** The objective a DistillSettings stands for. */
export function hintonObjective(kd: DistillSettings): ObjectiveSettings {
  return {
    terms: [
      { type: 'ce', weight: 1 - kd.alpha },
      { type: 'kd', weight: kd.alpha, temperature: kd.temperature, scaleT2: kd.scaleT2 !== false },
    ],
    teachers: [{ source: kd.teacher, weight: 1 }],
  };
}

export interface TrainSettings {
  epochs: number;
  batchSize: number;
  optimizer: OptimizerConfig;
  schedule: ScheduleConfig;
  seed: number;
  /** Random shift of up to ±jitter pixels (0 = off). */
  jitter: number;
  /** Mixup of each batch with a permutation of itself (data/batches.ts); default false. */
  mixup?: boolean;
  /** Token noise of token-id batches (data/batches.ts): the probability of replacing a token; default 0. */
  tokenNoise?: number;
  /** Input normalisation (InputNorm in data/dataset.ts): one value or one per channel. */
  mean: number | number[];
  std: number | number[];
}

export interface EpochMetrics {
  epoch: number;
  /** Global optimizer steps after this epoch. */
  step: number;
  lr: number;
  trainLoss: number;
  trainAccuracy: number;
  seconds: number;
  samplesPerSec: number;
  validation?: { loss: number; accuracy: number; errors: number; count: number; ece: number; agreement?: number };
  /** Validation of the other students of a cohort (Deep Mutual Learning), in order. */
  peers?: { accuracy: number; errors: number }[];
  /** The loss terms' weights (and temperatures) in the last step of the epoch, in term order. */
  losses?: { type: string; weight: number; temperature?: number }[];
}

/** A trainable beside the main student: a cohort peer or a hint regressor. */
export interface AuxState { name: string; params: Float32Array; optimizer: OptimizerState; state?: Float32Array }

/** What a checkpoint holds: enough to continue exactly. */
export interface TrainerState {
  /** Epochs completed. */
  epoch: number;
  step: number;
  params: Float32Array;
  /** The model's non-trained state (batch-norm running statistics); absent when it has none. */
  state?: Float32Array;
  optimizer: OptimizerState;
  history: EpochMetrics[];
  /** Peers' and regressors' parameters and optimizer states (absent when there are none). */
  aux?: AuxState[];
}

export type TrainEvent =
  | { type: 'start'; epochs: number; startEpoch: number; batchesPerEpoch: number; samplesPerEpoch: number }
  | { type: 'step'; epoch: number; batch: number; batches: number; step: number; loss: number; accuracy: number;
      lr: number; samplesPerSec: number; etaSeconds: number }
  | { type: 'epoch'; metrics: EpochMetrics }
  | { type: 'end'; history: EpochMetrics[]; seconds: number };

export interface TrainJob {
  core: Core;
  model: Model;
  /** The rows to learn from: a view of a dataset in memory, or a stream of shards larger than memory. */
  train: DatasetView | StreamedSet;
  validation: DatasetView | null;
  settings: TrainSettings;
  /** Classic Hinton distillation (shorthand); ignored when `objective` is given. */
  distill?: DistillSettings;
  /** The loss terms and teachers; default: cross-entropy with the labels alone. */
  objective?: ObjectiveSettings;
  /**
   * Further students trained together with `model` on the same batches (Deep Mutual Learning):
   * each initialised from its own seed, with its own dropout stream and optimizer.
   */
  peers?: { model: Model; seed: number }[];
  /** Continue from a checkpoint instead of initialising from the seed. */
  resume?: TrainerState;
  /**
   * Called after every epoch with the state to persist (before the 'epoch' event). Its params and
   * optimizer buffers are views into module memory, valid only during the call (no copies: a
   * checkpoint of a large model should not double its memory); copy what must outlive it.
   */
  checkpoint?: (state: TrainerState) => void;
  onEvent?: (event: TrainEvent) => void;
  /** Checked between steps; returning true stops after the current step (no checkpoint). */
  shouldStop?: () => boolean;
  /**
   * How the step loop yields to the event loop (about every 50 ms of training): default a
   * setImmediate (or setTimeout(0)) turn. A UI may hold the promise to pause a run in place.
   */
  yieldTo?: () => Promise<void>;
}

export interface TrainResult {
  history: EpochMetrics[];
  /** Wall time of this call, seconds. */
  seconds: number;
  stopped: boolean;
}

/** How often (wall time) the step loop yields to the event loop. */
const YIELD_EVERY_MS = 50;

function yieldToEventLoop(): Promise<void> {
  const g = globalThis as { setImmediate?: (cb: () => void) => unknown };
  return new Promise((resolve) => { if (g.setImmediate) g.setImmediate(resolve); else setTimeout(resolve, 0); });
}

/** Seed of the dropout PRNG for one epoch: a fixed mix of the run seed and the epoch. */
export function dropoutSeed(seed: number, epoch: number): number {
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca77) ^ 0xd1b54a35) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
  return (h ^ (h >>> 13)) >>> 0;
}

/** The objective a job trains: `objective`, the `distill` shorthand, or cross-entropy alone. */
export function jobObjective(job: Pick<TrainJob, 'objective' | 'distill'>): ObjectiveSettings {
  if (job.objective) return job.objective;
  if (job.distill) return hintonObjective(job.distill);
  return { terms: [{ type: 'ce', weight: 1 }], teachers: [] };
}

interface Member { model: Model; seed: number; dz: Tensor<'f32'>; rng: Tensor<'u32'>; optimizer: ReturnType<typeof createOptimizer> }

export async function train(job: TrainJob): Promise<TrainResult> {
  const { core, model, settings: s } = job;
  const classes = model.classes;
  validateJob(job);
  const loaderOptions = { shuffle: true, seed: s.seed, jitter: s.jitter, mixup: s.mixup ?? false, tokenNoise: s.tokenNoise ?? 0, mean: s.mean, std: s.std };
  const loader: EpochLoader = isStreamedSet(job.train) ? job.train.loader(core, s.batchSize, loaderOptions) : new BatchLoader(core, job.train, s.batchSize, loaderOptions);
  const trainCount = isStreamedSet(job.train) ? job.train.count : job.train.indices.length;
  const totalSteps = s.epochs * loader.batchCount;
  const lrAt = lrSchedule(s.schedule, totalSteps, s.optimizer.lr);
  const emit = job.onEvent ?? (() => {});
  const settings = jobObjective(job);
  const cohort = [{ model, seed: s.seed }, ...(job.peers ?? [])];
  const members: Member[] = [];
  const pred = core.allocI32(s.batchSize);
  let objective: Objective | null = null;
  let auxOptimizers: ReturnType<typeof createOptimizer>[] = [];
  const t0 = performance.now();
  let lastYield = t0;
  let history: EpochMetrics[] = [];
  let step = 0;
  let startEpoch = 0;
  let stopped = false;
  try {
    for (const m of cohort) {
      members.push({ model: m.model, seed: m.seed, dz: core.alloc(s.batchSize * classes), rng: core.createRng(0),
        optimizer: createOptimizer(core, m.model.paramCount, s.optimizer) });
      m.model.plan(s.batchSize);
    }
    for (const t of settings.teachers) if (t.source.kind === 'model') t.source.model.plan(s.batchSize);
    objective = new Objective(core, settings, cohort.map((m) => m.model), s.batchSize);
    auxOptimizers = objective.aux.map((a) => createOptimizer(core, a.paramCount, s.optimizer));
    const auxNames = [...members.slice(1).map((_, i) => `peer${i + 1}`), ...objective.aux.map((a) => a.name)];
    if (job.resume) {
      model.writeParams(job.resume.params);
      if (model.state) {
        if (!job.resume.state) throw new RangeError('train: the checkpoint holds no running statistics but the model has batch norm');
        model.writeState(job.resume.state);
      }
      members[0]!.optimizer.load(job.resume.optimizer);
      const saved = new Map((job.resume.aux ?? []).map((a) => [a.name, a]));
      if (saved.size !== auxNames.length || auxNames.some((n) => !saved.has(n))) {
        throw new RangeError(`train: the checkpoint holds [${[...saved.keys()].join(', ')}] beside the student but this job trains [${auxNames.join(', ')}]`);
      }
      members.slice(1).forEach((m, i) => {
        const a = saved.get(`peer${i + 1}`)!;
        m.model.writeParams(a.params);
        if (m.model.state && a.state) m.model.writeState(a.state);
        m.optimizer.load(a.optimizer);
      });
      objective.aux.forEach((a, i) => {
        const st = saved.get(a.name)!;
        if (st.params.length !== a.paramCount) throw new RangeError(`train: checkpoint ${a.name} holds ${st.params.length} values, expected ${a.paramCount}`);
        a.params.set(st.params); auxOptimizers[i]!.load(st.optimizer);
      });
      history = job.resume.history.slice();
      step = job.resume.step;
      startEpoch = job.resume.epoch;
    } else {
      for (const m of members) m.model.init(m.seed);
      objective.init(s.seed);
    }
    const kdValidation = settings.teachers.length > 0 && job.validation
      ? objective.combineForAgreement(await Promise.all(settings.teachers.map((t) => teacherLogitsOver(core, t.source, job.validation!, job.train, s))), job.validation.indices.length)
      : undefined;
    if (objective.usesAgreement && !kdValidation) throw new RangeError("train: an 'agreement' schedule needs a validation split to measure the student's agreement with the teacher");
    emit({ type: 'start', epochs: s.epochs, startEpoch, batchesPerEpoch: loader.batchCount, samplesPerEpoch: trainCount });

    const logits: Tensor<'f32'>[] = new Array<Tensor<'f32'>>(members.length);
    for (let epoch = startEpoch; epoch < s.epochs && !stopped; epoch++) {
      for (const m of members) core.rngSeed(m.rng, dropoutSeed(m.seed, epoch));
      const te = performance.now();
      const agreement = history.at(-1)?.validation?.agreement;
      const ctx: ScheduleContext = { progress: 0, epoch: epoch + 1, ...(agreement !== undefined ? { agreement } : {}) };
      let lossSum = 0, correct = 0, seen = 0, lr = lrAt(step);
      for (const batch of loader.epoch(epoch)) {
        const rows = batch.size;
        lr = lrAt(step);
        ctx.progress = step / totalSteps;
        for (let i = 0; i < members.length; i++) {
          const m = members[i]!;
          logits[i] = m.model.forward(batch.x, rows, 'train', m.model.usesDropout ? m.rng : undefined);
        }
        if (objective.hasStepTeachers) await objective.runStepTeachers(batch.x, rows);
        objective.prepare({ x: batch.x, y: batch.y, indices: batch.indices, rows, ...(batch.mix ? { mix: batch.mix } : {}) });
        for (const a of objective.aux) a.zeroGrad();
        let loss = 0;
        for (let i = 0; i < members.length; i++) {
          const m = members[i]!;
          core.fill(m.dz, rows * classes, 0);
          const li = objective.loss(i, m.dz, logits, ctx);
          if (i === 0) loss = li;
          if (!Number.isFinite(li)) {
            throw new RangeError(`train: the loss became ${li} at epoch ${epoch + 1}, step ${step + 1} (learning rate ${lr} too high, or NaN in the inputs?)`);
          }
        }
        core.argmaxRows(pred, logits[0]!, rows, classes);
        const p = pred.view(), y = batch.y.view();
        let hits = 0;
        for (let i = 0; i < rows; i++) if (p[i] === y[i]) hits++;
        for (const m of members) {
          m.model.zeroGrad();
          m.model.backward(m.dz, rows);
          m.optimizer.step(m.model.params, m.model.grads, lr);
          if (m.model.usesMaxNorm) m.model.applyMaxNorm();
        }
        objective.aux.forEach((a, i) => auxOptimizers[i]!.step(a.params, a.grads, lr));
        step++;
        lossSum += loss * rows; correct += hits; seen += rows;
        const elapsed = (performance.now() - te) / 1000;
        const rate = seen / Math.max(elapsed, 1e-9);
        const remaining = (s.epochs - epoch - 1) * trainCount + (trainCount - seen);
        emit({ type: 'step', epoch, batch: batch.index, batches: loader.batchCount, step, loss, accuracy: hits / rows,
          lr, samplesPerSec: rate, etaSeconds: remaining / rate });
        // let timers, signals and messages run (the loop is otherwise synchronous), so that a
        // shouldStop driven by SIGINT or a UI message can ever become true
        if (performance.now() - lastYield > YIELD_EVERY_MS) { await (job.yieldTo ?? yieldToEventLoop)(); lastYield = performance.now(); }
        if (job.shouldStop?.()) { stopped = true; break; }
      }
      if (stopped) break;
      const seconds = (performance.now() - te) / 1000;
      const metrics: EpochMetrics = {
        epoch: epoch + 1, step, lr, trainLoss: lossSum / seen, trainAccuracy: correct / seen, seconds, samplesPerSec: seen / seconds,
      };
      if (job.validation && job.validation.indices.length > 0) {
        const r = evaluateView(core, model, job.validation, s, kdValidation);
        metrics.validation = { loss: r.loss, accuracy: r.accuracy, errors: r.errors, count: r.count, ece: r.ece,
          ...(r.agreement !== undefined ? { agreement: r.agreement } : {}) };
        if (members.length > 1) {
          metrics.peers = members.slice(1).map((m) => {
            const pr = evaluateView(core, m.model, job.validation!, s);
            return { accuracy: pr.accuracy, errors: pr.errors };
          });
        }
      }
      if (job.objective) {
        metrics.losses = settings.terms.map((t) => ({
          type: t.type, weight: termActive(t, ctx.epoch) ? valueAt(t.weight, ctx) : 0,
          ...('temperature' in t ? { temperature: valueAt(t.temperature, ctx) } : {}),
        }));
      }
      history.push(metrics);
      if (job.checkpoint) {
        const aux: AuxState[] = [
          ...members.slice(1).map((m, i) => ({ name: `peer${i + 1}`, params: m.model.params.view(), optimizer: m.optimizer.stateView(),
            ...(m.model.state ? { state: m.model.state.view() } : {}) })),
          ...objective.aux.map((a, i) => ({ name: a.name, params: a.params.view(), optimizer: auxOptimizers[i]!.stateView() })),
        ];
        job.checkpoint({ epoch: epoch + 1, step, params: model.params.view(), ...(model.state ? { state: model.state.view() } : {}),
          optimizer: members[0]!.optimizer.stateView(),
          history: history.slice(), ...(aux.length ? { aux } : {}) });
      }
      emit({ type: 'epoch', metrics });
    }
    const seconds = (performance.now() - t0) / 1000;
    emit({ type: 'end', history, seconds });
    return { history, seconds, stopped };
  } finally {
    loader.free();
    for (const m of members) { m.optimizer.free(); core.free(m.dz); core.free(m.rng); }
    for (const o of auxOptimizers) o.free();
    objective?.free();
    core.free(pred);
  }
}

/** Eval-mode metrics of `model` on `view` (the teacher's logits give agreement). */
export function evaluateView(core: Core, model: Model, view: DatasetView, s: Pick<TrainSettings, 'mean' | 'std'> & { batchSize?: number },
                             teacherLogits?: Float32Array): EvalReport {
  // the training batch size, when given, reuses the model's planned activations instead of re-planning
  const logits = predictLogits(core, model, view, { batchSize: s.batchSize ?? 256, mean: s.mean, std: s.std });
  const labels = new Int32Array(view.indices.length);
  const y = view.dataset.y;
  for (let i = 0; i < labels.length; i++) labels[i] = y[view.indices[i]!]!;
  return evaluateLogits(core, logits, labels, model.classes, teacherLogits ? { teacherLogits } : {});
}

/** The teacher's logits for the rows of `view` (for the agreement metric). */
async function teacherLogitsOver(core: Core, teacher: TeacherSource, view: DatasetView, train: TrainJob['train'], s: TrainSettings): Promise<Float32Array> {
  if (teacher.kind === 'model') return predictLogits(core, teacher.model, view, { mean: s.mean, std: s.std });
  if (teacher.kind === 'step') {
    // the student's prepared inputs, a batch at a time through the other runtime
    const x = normalisedRows(view, { mean: s.mean, std: s.std });
    const F = x.length / Math.max(1, view.indices.length), C = teacher.teacher.classes, n = view.indices.length;
    const out = new Float32Array(n * C);
    for (let start = 0; start < n; start += s.batchSize) {
      const rows = Math.min(s.batchSize, n - start);
      out.set((await teacher.teacher.run(x.subarray(start * F, (start + rows) * F), rows)).logits.subarray(0, rows * C), start * C);
    }
    return out;
  }
  const ids = view.ids ?? view.indices;
  if (teacher.kind === 'table') return tableRows(teacher.table, ids);
  const classes = teacher.logits.length / (isStreamedSet(train) ? train.rows : train.dataset.count);
  const out = new Float32Array(ids.length * classes);
  for (let i = 0; i < ids.length; i++) {
    const from = ids[i]! * classes;
    out.set(teacher.logits.subarray(from, from + classes), i * classes);
  }
  return out;
}

function validateJob(job: TrainJob): void {
  const { model, settings: s } = job;
  // what is checked of the training rows: their shape and classes, and how many rows teacher outputs must cover
  const ds = isStreamedSet(job.train) ? { ...job.train, count: job.train.rows } : job.train.dataset;
  const trainCount = isStreamedSet(job.train) ? job.train.count : job.train.indices.length;
  if (ds.features !== model.inputSize) {
    throw new RangeError(`train: the model takes ${model.inputSize} inputs but ${ds.name} samples have ${ds.features} features`);
  }
  if (ds.classes > model.classes) {
    throw new RangeError(`train: ${ds.name} has ${ds.classes} classes but the model outputs ${model.classes}`);
  }
  if (!Number.isInteger(s.epochs) || s.epochs < 1) throw new RangeError(`train: epochs must be a positive integer, got ${s.epochs}`);
  if (trainCount === 0) throw new RangeError('train: the training set is empty');
  const kd = job.objective ? undefined : job.distill;
  if (kd) {
    if (!(kd.temperature > 0) || !Number.isFinite(kd.temperature)) throw new RangeError(`distill: temperature must be > 0, got ${kd.temperature}`);
    if (!(kd.alpha >= 0 && kd.alpha <= 1)) throw new RangeError(`distill: alpha must be in [0, 1], got ${kd.alpha}`);
  }
  jobObjective(job).teachers.forEach(({ source }, k) => {
    const who = kd ? 'distill: the teacher' : `teachers[${k}]`;
    if (source.kind === 'model') {
      const t = source.model;
      if (t.classes !== model.classes) throw new RangeError(`${who} has ${t.classes} classes but the student has ${model.classes}`);
      if (t.inputSize !== model.inputSize) throw new RangeError(`${who} takes ${t.inputSize} inputs but the student takes ${model.inputSize}`);
    } else if (source.kind === 'table') {
      if (source.table.rows !== ds.count) throw new RangeError(`${kd ? 'distill: teacher outputs' : `teachers[${k}]: outputs`} cover ${source.table.rows} rows but ${ds.name} has ${ds.count}`);
      if (source.table.classes !== model.classes) throw new RangeError(`${kd ? 'distill: teacher outputs' : `teachers[${k}]: outputs`} have ${source.table.classes} classes but the model outputs ${model.classes}`);
    } else if (source.kind === 'step') {
      if (source.teacher.classes !== model.classes) throw new RangeError(`${who} has ${source.teacher.classes} classes but the student has ${model.classes}`);
    } else {
      const want = ds.count * model.classes;
      if (source.logits.length !== want) {
        throw new RangeError(`${kd ? 'distill: teacher logits' : `teachers[${k}]: logits`} hold ${source.logits.length} values but ${ds.count} samples x ${model.classes} classes = ${want}`);
      }
    }
  });
}
