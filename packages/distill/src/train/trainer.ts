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
import { BatchLoader } from '../data/batches.js';
import type { DatasetView } from '../data/dataset.js';
import { evaluateLogits, type EvalReport } from '../eval/metrics.js';
import type { Mlp } from '../model/mlp.js';
import { createOptimizer, type OptimizerConfig, type OptimizerState } from '../optim/optimizer.js';
import { lrSchedule, type ScheduleConfig } from '../optim/schedule.js';
import { predictLogits } from './predict.js';

/** Where the soft targets come from. */
export type TeacherSource =
  /**
   * Precomputed logits for the whole training dataset: [dataset count, classes], row i = dataset
   * row i (as a teacher saved them with numpy.save), so any view or slice of the data indexes them.
   */
  | { kind: 'logits'; logits: Float32Array }
  /** A teacher model run in eval mode inside each step, on the same (possibly jittered) batch. */
  | { kind: 'model'; model: Mlp };

export interface DistillSettings {
  teacher: TeacherSource;
  /** T > 0: softens teacher and student in the soft term. */
  temperature: number;
  /** Weight of the soft (teacher) term; the hard (label) term gets 1 - alpha. */
  alpha: number;
  /** Multiply the soft term by T^2 (default true). */
  scaleT2?: boolean;
}

export interface TrainSettings {
  epochs: number;
  batchSize: number;
  optimizer: OptimizerConfig;
  schedule: ScheduleConfig;
  seed: number;
  /** Random shift of up to ±jitter pixels (0 = off). */
  jitter: number;
  /** Input normalisation of u8 samples: (x/255 - mean)/std. */
  mean: number;
  std: number;
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
}

/** What a checkpoint holds: enough to continue exactly. */
export interface TrainerState {
  /** Epochs completed. */
  epoch: number;
  step: number;
  params: Float32Array;
  optimizer: OptimizerState;
  history: EpochMetrics[];
}

export type TrainEvent =
  | { type: 'start'; epochs: number; startEpoch: number; batchesPerEpoch: number; samplesPerEpoch: number }
  | { type: 'step'; epoch: number; batch: number; batches: number; step: number; loss: number; accuracy: number;
      lr: number; samplesPerSec: number; etaSeconds: number }
  | { type: 'epoch'; metrics: EpochMetrics }
  | { type: 'end'; history: EpochMetrics[]; seconds: number };

export interface TrainJob {
  core: Core;
  model: Mlp;
  train: DatasetView;
  validation: DatasetView | null;
  settings: TrainSettings;
  distill?: DistillSettings;
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

export async function train(job: TrainJob): Promise<TrainResult> {
  const { core, model, settings: s } = job;
  const classes = model.classes;
  validateJob(job);
  const loader = new BatchLoader(core, job.train, s.batchSize, { shuffle: true, seed: s.seed, jitter: s.jitter, mean: s.mean, std: s.std });
  const optimizer = createOptimizer(core, model.paramCount, s.optimizer);
  const totalSteps = s.epochs * loader.batchCount;
  const lrAt = lrSchedule(s.schedule, totalSteps, s.optimizer.lr);
  const emit = job.onEvent ?? (() => {});
  const kd = job.distill;
  const dz = core.alloc(s.batchSize * classes);
  const v = kd ? core.alloc(s.batchSize * classes) : null;
  const pred = core.allocI32(s.batchSize);
  const rng = core.createRng(0);
  const t0 = performance.now();
  let lastYield = t0;
  let history: EpochMetrics[] = [];
  let step = 0;
  let startEpoch = 0;
  let stopped = false;
  try {
    model.plan(s.batchSize);
    if (kd?.teacher.kind === 'model') kd.teacher.model.plan(s.batchSize);
    if (job.resume) {
      model.writeParams(job.resume.params);
      optimizer.load(job.resume.optimizer);
      history = job.resume.history.slice();
      step = job.resume.step;
      startEpoch = job.resume.epoch;
    } else {
      model.init(s.seed);
    }
    const kdValidation = kd && job.validation ? teacherLogitsOver(core, kd.teacher, job.validation, s) : undefined;
    emit({ type: 'start', epochs: s.epochs, startEpoch, batchesPerEpoch: loader.batchCount, samplesPerEpoch: job.train.indices.length });

    for (let epoch = startEpoch; epoch < s.epochs && !stopped; epoch++) {
      core.rngSeed(rng, dropoutSeed(s.seed, epoch));
      const te = performance.now();
      let lossSum = 0, correct = 0, seen = 0, lr = lrAt(step);
      for (const batch of loader.epoch(epoch)) {
        const rows = batch.size;
        lr = lrAt(step);
        const z = model.forward(batch.x, rows, 'train', model.usesDropout ? rng : undefined);
        core.fill(dz, rows * classes, 0);
        let loss: number;
        if (kd && v) {
          fillTeacherLogits(kd.teacher, v, batch.x, batch.indices, rows, classes);
          loss = core.distillationLoss(dz, z, v, batch.y, rows, classes,
            { temperature: kd.temperature, alpha: kd.alpha, scaleT2: kd.scaleT2 !== false });
        } else {
          loss = core.crossEntropy(dz, z, batch.y, rows, classes);
        }
        if (!Number.isFinite(loss)) {
          throw new RangeError(`train: the loss became ${loss} at epoch ${epoch + 1}, step ${step + 1} (learning rate ${lr} too high, or NaN in the inputs?)`);
        }
        core.argmaxRows(pred, z, rows, classes);
        const p = pred.view(), y = batch.y.view();
        let hits = 0;
        for (let i = 0; i < rows; i++) if (p[i] === y[i]) hits++;
        model.zeroGrad();
        model.backward(dz, rows);
        optimizer.step(model.params, model.grads, lr);
        if (model.spec.maxNorm !== undefined) model.applyMaxNorm();
        step++;
        lossSum += loss * rows; correct += hits; seen += rows;
        const elapsed = (performance.now() - te) / 1000;
        const rate = seen / Math.max(elapsed, 1e-9);
        const remaining = (s.epochs - epoch - 1) * job.train.indices.length + (job.train.indices.length - seen);
        emit({ type: 'step', epoch, batch: batch.index, batches: loader.batchCount, step, loss, accuracy: hits / rows,
          lr, samplesPerSec: rate, etaSeconds: remaining / rate });
        // let timers, signals and messages run (the loop is otherwise synchronous), so that a
        // shouldStop driven by SIGINT or a UI message can ever become true
        if (performance.now() - lastYield > YIELD_EVERY_MS) { await yieldToEventLoop(); lastYield = performance.now(); }
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
      }
      history.push(metrics);
      job.checkpoint?.({ epoch: epoch + 1, step, params: model.params.view(), optimizer: optimizer.stateView(), history: history.slice() });
      emit({ type: 'epoch', metrics });
    }
    const seconds = (performance.now() - t0) / 1000;
    emit({ type: 'end', history, seconds });
    return { history, seconds, stopped };
  } finally {
    loader.free();
    optimizer.free();
    for (const t of [dz, v, pred, rng]) if (t) core.free(t as Tensor);
  }
}

/** Eval-mode metrics of `model` on `view` (the teacher's logits give agreement). */
export function evaluateView(core: Core, model: Mlp, view: DatasetView, s: Pick<TrainSettings, 'mean' | 'std'> & { batchSize?: number },
                             teacherLogits?: Float32Array): EvalReport {
  // the training batch size, when given, reuses the model's planned activations instead of re-planning
  const logits = predictLogits(core, model, view, { batchSize: s.batchSize ?? 256, mean: s.mean, std: s.std });
  const labels = new Int32Array(view.indices.length);
  const y = view.dataset.y;
  for (let i = 0; i < labels.length; i++) labels[i] = y[view.indices[i]!]!;
  return evaluateLogits(core, logits, labels, model.classes, teacherLogits ? { teacherLogits } : {});
}

/** The teacher's logits for the rows of `view` (for the agreement metric). */
function teacherLogitsOver(core: Core, teacher: TeacherSource, view: DatasetView, s: TrainSettings): Float32Array {
  if (teacher.kind === 'model') return predictLogits(core, teacher.model, view, { mean: s.mean, std: s.std });
  const classes = teacher.logits.length / view.dataset.count;
  const out = new Float32Array(view.indices.length * classes);
  for (let i = 0; i < view.indices.length; i++) {
    const from = view.indices[i]! * classes;
    out.set(teacher.logits.subarray(from, from + classes), i * classes);
  }
  return out;
}

/** v[0..rows) = the teacher's logits for this batch: run the teacher, or gather cached rows. */
function fillTeacherLogits(teacher: TeacherSource, v: Tensor<'f32'>, x: Tensor<'f32'>,
                           datasetRows: Int32Array, rows: number, classes: number): void {
  if (teacher.kind === 'model') {
    const out = teacher.model.forward(x, rows, 'eval');
    v.view().set(out.view().subarray(0, rows * classes));
    return;
  }
  const dst = v.view();
  const src = teacher.logits;
  for (let i = 0; i < rows; i++) {
    const from = datasetRows[i]! * classes;
    dst.set(src.subarray(from, from + classes), i * classes);
  }
}

function validateJob(job: TrainJob): void {
  const { model, settings: s } = job;
  const ds = job.train.dataset;
  if (ds.features !== model.inputSize) {
    throw new RangeError(`train: the model takes ${model.inputSize} inputs but ${ds.name} samples have ${ds.features} features`);
  }
  if (ds.classes > model.classes) {
    throw new RangeError(`train: ${ds.name} has ${ds.classes} classes but the model outputs ${model.classes}`);
  }
  if (!Number.isInteger(s.epochs) || s.epochs < 1) throw new RangeError(`train: epochs must be a positive integer, got ${s.epochs}`);
  if (job.train.indices.length === 0) throw new RangeError('train: the training set is empty');
  const kd = job.distill;
  if (!kd) return;
  if (!(kd.temperature > 0) || !Number.isFinite(kd.temperature)) throw new RangeError(`distill: temperature must be > 0, got ${kd.temperature}`);
  if (!(kd.alpha >= 0 && kd.alpha <= 1)) throw new RangeError(`distill: alpha must be in [0, 1], got ${kd.alpha}`);
  if (kd.teacher.kind === 'model') {
    const t = kd.teacher.model;
    if (t.classes !== model.classes) throw new RangeError(`distill: the teacher has ${t.classes} classes but the student has ${model.classes}`);
    if (t.inputSize !== model.inputSize) throw new RangeError(`distill: the teacher takes ${t.inputSize} inputs but the student takes ${model.inputSize}`);
  } else {
    const want = ds.count * model.classes;
    if (kd.teacher.logits.length !== want) {
      throw new RangeError(`distill: teacher logits hold ${kd.teacher.logits.length} values but ${ds.count} samples x ${model.classes} classes = ${want}`);
    }
  }
}
