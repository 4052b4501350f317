// Training a causal language model (a "tokens" graph: ../model/graph.ts; the lm-s and lm-l
// presets), alone or distilled token by token from a larger one's top-k outputs.
//
// Data: a text as ids (./vocab.ts) cut into windows of L + 1 ids at stride L: window w reads
// ids[wL, wL + L) and predicts ids[wL + 1, wL + L + 1), every position its next character. The
// windows are the rows of an epoch, shuffled by (seed, epoch) as every Retort run is; a window's
// L positions are its L "token rows", token row w·L + l, which index the teacher's cached outputs.
//
// Loss per token row (the batch mean over its B·L rows):
//   alone      CE(next id, softmax(z))
//   distilled  (1 − a) CE(next id, softmax(z)) + a T² KL(softmax(v/T) ‖ softmax(z/T))
// with v the teacher's logits of that position, read from a LogitTable: in practice the teacher's
// top-k per position (the teacher-outputs format, ../data/teacher-outputs.ts: k logits, their ids,
// the log-sum-exp and the tail's mean), expanded to V logits whose K probabilities are exactly
// the teacher's and whose rest shares the remaining mass. The fused KD kernel evaluates it, the
// same one Hinton KD uses for classes (packages/core-wasm/assembly/kernels/kd_loss.ts).
//
// Bits per character on held-out text: the mean CE (nats) over every position of every window of
// that text, / ln 2; each window starts without context, the same for every model compared.
import type { Core, Tensor } from '@retort/core-wasm';
import { permutation, STREAM, Xoshiro128 } from '../data/random.js';
import { expandTopK, topKRows, type LogitTable } from '../data/teacher-outputs.js';
import type { Model } from '../model/model.js';
import { createOptimizer, type OptimizerConfig, type OptimizerState } from '../optim/optimizer.js';
import { lrSchedule } from '../optim/schedule.js';

/** Context length L and vocabulary V of a "tokens" model. */
export function lmShape(model: Model): { length: number; vocab: number } {
  if (!model.graph.tokens) throw new RangeError('this model is not a language model: it gives one score vector per sample, not (L, V) next-token scores (use lm-s, lm-l or a graph with output "tokens")');
  const [length, vocab] = model.graph.outputShape as [number, number];
  return { length, vocab };
}

/** Windows of L + 1 ids at stride L in `ids`. */
export function windowCount(ids: ArrayLike<number>, length: number): number {
  return ids.length > length ? Math.floor((ids.length - 1) / length) : 0;
}

/** Checks that every id is a token of a V-word vocabulary; throws naming the first that is not. */
export function checkLmIds(ids: ArrayLike<number>, vocab: number, what: string): void {
  for (let i = 0; i < ids.length; i++) {
    const v = ids[i]!;
    if (!(Number.isInteger(v) && v >= 0 && v < vocab)) throw new RangeError(`${what}: token id ${v} at position ${i} is outside the model's vocabulary [0, ${vocab})`);
  }
}

/** Model input (f32 ids) and next-id labels of windows ws[0..n). */
function fillWindows(ids: ArrayLike<number>, L: number, ws: ArrayLike<number>, n: number, x: Float32Array, y: Int32Array | null): void {
  for (let i = 0; i < n; i++) {
    const from = ws[i]! * L;
    for (let l = 0; l < L; l++) {
      x[i * L + l] = ids[from + l]!;
      if (y) y[i * L + l] = ids[from + l + 1]!;
    }
  }
}

/** The model's logits at every position of windows [first, first + count) of `ids`: [count · L, V]. */
export function windowLogits(core: Core, model: Model, ids: ArrayLike<number>, first: number, count: number, batch = 64): Float32Array {
  const { length: L, vocab: V } = lmShape(model);
  const out = new Float32Array(count * L * V);
  const b = Math.min(batch, count);
  if (model.batchSize < b) model.plan(b);
  const B = model.batchSize;
  const x = core.alloc(B * L);
  try {
    const ws = new Int32Array(B);
    for (let at = 0; at < count; at += B) {
      const n = Math.min(B, count - at);
      for (let i = 0; i < n; i++) ws[i] = first + at + i;
      fillWindows(ids, L, ws, n, x.view(), null);
      const z = model.forward(x, n, 'eval');
      out.set(z.view().subarray(0, n * L * V), at * L * V);
    }
  } finally {
    core.free(x);
  }
  return out;
}

/**
 * The teacher's top-k outputs at every token row of `ids`' windows, in memory, as a LogitTable
 * over token rows (the same expansion the teacher-outputs files use). For a cache on disk, write
 * windowLogits through the teacher-outputs writer with topK (node: lmTeacherCache).
 */
export function memoryTopKTable(core: Core, teacher: Model, ids: ArrayLike<number>, k: number): LogitTable {
  const { length: L, vocab: V } = lmShape(teacher);
  const W = windowCount(ids, L), rows = W * L;
  if (!(Number.isInteger(k) && k >= 1 && k <= V)) throw new RangeError(`top-k: k must be an integer in [1, ${V}] (the vocabulary), got ${k}`);
  const values = new Float32Array(rows * k), indices = new Int32Array(rows * k), lse = new Float32Array(rows), tail = new Float32Array(rows);
  const chunk = 256;
  for (let w = 0; w < W; w += chunk) {
    const n = Math.min(chunk, W - w);
    const t = topKRows(windowLogits(core, teacher, ids, w, n), n * L, V, k);
    values.set(t.values, w * L * k); indices.set(t.indices, w * L * k); lse.set(t.logsumexp, w * L); tail.set(t.tailmean, w * L);
  }
  return {
    rows, classes: V, temperatureAware: true,
    gather(ids_, n, out, temperature = 1) {
      for (let i = 0; i < n; i++) {
        const r = ids_[i]!;
        expandTopK(values, indices, r * k, k, lse[r]!, V, out, i * V, { mean: tail[r]!, temperature });
      }
    },
  };
}

/**
 * A language model as bits per character and sampling see it: its context length and vocabulary,
 * and the logits of (n, L) windows of ids ((n · L, V) row-major). A Model or an int8 model (Int8Model).
 */
export interface LmScorer {
  readonly length: number;
  readonly vocab: number;
  logits(x: Float32Array, n: number): Float32Array;
}

/** An int8 language model (../quant/int8-model.ts, predict) as a scorer. */
export function scorerOf(m: { inputSize: number; classes: number; predict(x: Float32Array, rows: number): Float32Array }): LmScorer {
  const length = m.inputSize, vocab = m.classes / m.inputSize;
  if (!Number.isInteger(vocab) || vocab < 1) throw new RangeError(`this model gives ${m.classes} scores per ${length}-id window, not (L, V) next-token scores`);
  return { length, vocab, logits: (x, n) => m.predict(x, n) };
}

/** Bits per character of a scorer (an int8 language model) on the windows of `ids`, by the same cross-entropy kernel as bitsPerChar. */
export function scorerBitsPerChar(core: Core, s: LmScorer, ids: ArrayLike<number>, batch = 64): number {
  const L = s.length, V = s.vocab, W = windowCount(ids, L);
  if (W === 0) throw new RangeError(`bits per character: the text has ${ids.length} characters, fewer than one window of ${L + 1}`);
  checkLmIds(ids, V, 'bits per character');
  const B = Math.min(batch, W);
  const x = new Float32Array(B * L), y = core.allocI32(B * L), z = core.alloc(B * L * V);
  let nats = 0;
  try {
    const ws = new Int32Array(B);
    for (let at = 0; at < W; at += B) {
      const n = Math.min(B, W - at);
      for (let i = 0; i < n; i++) ws[i] = at + i;
      fillWindows(ids, L, ws, n, x, y.view());
      const logits = s.logits(x.subarray(0, n * L), n); // may grow the memory: take the view after
      z.view().set(logits);
      nats += core.crossEntropy(null, z, y, n * L, V) * n * L;
    }
  } finally {
    core.free(y); core.free(z);
  }
  return nats / (W * L) / Math.LN2;
}

/** Bits per character of `model` on the windows of `ids` (mean next-id cross-entropy / ln 2). */
export function bitsPerChar(core: Core, model: Model, ids: ArrayLike<number>, batch = 64): number {
  const { length: L, vocab: V } = lmShape(model);
  const W = windowCount(ids, L);
  if (W === 0) throw new RangeError(`bits per character: the text has ${ids.length} characters, fewer than one window of ${L + 1}`);
  checkLmIds(ids, V, 'bits per character');
  const b = Math.min(batch, W);
  if (model.batchSize < b) model.plan(b);
  const B = model.batchSize;
  const x = core.alloc(B * L), y = core.allocI32(B * L);
  let nats = 0;
  try {
    const ws = new Int32Array(B);
    for (let at = 0; at < W; at += B) {
      const n = Math.min(B, W - at);
      for (let i = 0; i < n; i++) ws[i] = at + i;
      fillWindows(ids, L, ws, n, x.view(), y.view());
      const z = model.forward(x, n, 'eval');
      nats += core.crossEntropy(null, z, y, n * L, V) * n * L;
    }
  } finally {
    core.free(x); core.free(y);
  }
  return nats / (W * L) / Math.LN2;
}

export interface LmDistillSettings {
  /** The teacher's logits per token row of the training windows (top-k in practice). */
  table: LogitTable;
  temperature: number;
  /** Weight a of the soft term; 1 − a on the next-id cross-entropy. */
  alpha: number;
}

export interface LmTrainOptions {
  epochs: number;
  batch: number;
  seed: number;
  /** AdamW's learning rate (and the optimizer; default AdamW, weight decay 0.01). */
  lr: number;
  optimizer?: OptimizerConfig;
  /** Warm-up steps of the cosine schedule (default: a tenth of the first epoch, at most 200). */
  warmupSteps?: number;
  distill?: LmDistillSettings;
  /** Held-out ids: bits per character after every epoch. */
  test?: ArrayLike<number>;
  /** Continue from a state taken after some epoch (resume). */
  resume?: LmTrainState;
  onStep?: (e: { epoch: number; batch: number; batches: number; step: number; loss: number }) => void;
  /** After every epoch, with the state to checkpoint. */
  onEpoch?: (e: LmEpoch, state: () => LmTrainState) => void;
}

export interface LmEpoch { epoch: number; trainLoss: number; testBpc: number | null; seconds: number }

export interface LmTrainState { epoch: number; step: number; params: Float32Array; optimizer: OptimizerState; history: LmEpoch[] }

/** Trains `model` on `ids` (its next-id windows); returns the per-epoch history. */
export function trainLm(core: Core, model: Model, ids: ArrayLike<number>, o: LmTrainOptions): LmEpoch[] {
  const { length: L, vocab: V } = lmShape(model);
  const W = windowCount(ids, L);
  if (W === 0) throw new RangeError(`language model: the training text has ${ids.length} characters, fewer than one window of ${L + 1}`);
  if (!(Number.isInteger(o.epochs) && o.epochs >= 1)) throw new RangeError(`language model: epochs must be a positive integer, got ${o.epochs}`);
  if (!(Number.isInteger(o.batch) && o.batch >= 1)) throw new RangeError(`language model: batch must be a positive integer, got ${o.batch}`);
  checkLmIds(ids, V, 'training text');
  const d = o.distill;
  if (d) {
    if (d.table.classes !== V) throw new RangeError(`distillation: the teacher's outputs have ${d.table.classes} classes but the student's vocabulary is ${V}`);
    if (d.table.rows !== W * L) throw new RangeError(`distillation: the teacher's outputs cover ${d.table.rows} positions but the training text has ${W * L} (${W} windows of ${L})`);
    if (!(d.temperature > 0 && Number.isFinite(d.temperature))) throw new RangeError(`distillation: the temperature must be a finite number > 0, got ${d.temperature}`);
    if (!(d.alpha >= 0 && d.alpha <= 1)) throw new RangeError(`distillation: alpha must be in [0, 1], got ${d.alpha}`);
  }
  const B = Math.min(o.batch, W), batches = Math.ceil(W / B), total = batches * o.epochs;
  model.plan(B);
  const opt = createOptimizer(core, model.paramCount, o.optimizer ?? { type: 'adamw', lr: o.lr, weightDecay: 0.01 });
  const lrAt = lrSchedule({ type: 'cosine', warmupSteps: o.warmupSteps ?? Math.min(200, Math.ceil(batches / 10)) }, total, o.lr);
  const x = core.alloc(B * L), y = core.allocI32(B * L), dz = core.alloc(B * L * V);
  const v = d ? core.alloc(B * L * V) : null;
  const rowsBuf = new Int32Array(B * L), ws = new Int32Array(B);
  const history: LmEpoch[] = o.resume ? o.resume.history.slice() : [];
  let step = 0, start = 0;
  if (o.resume) {
    model.writeParams(o.resume.params);
    opt.load(o.resume.optimizer);
    step = o.resume.step; start = o.resume.epoch;
  }
  const state = (): LmTrainState => ({ epoch: history.length, step, params: model.params.toArray(), optimizer: opt.state(), history: history.slice() });
  try {
    for (let epoch = start; epoch < o.epochs; epoch++) {
      const t0 = Date.now();
      const order = permutation(W, new Xoshiro128(o.seed, STREAM.shuffle, epoch));
      let sum = 0;
      for (let b = 0; b < batches; b++) {
        const n = Math.min(B, W - b * B);
        for (let i = 0; i < n; i++) ws[i] = order[b * B + i]!;
        fillWindows(ids, L, ws, n, x.view(), y.view());
        model.zeroGrad();
        const z = model.forward(x, n, 'train');
        core.kernels.fill(dz.ptr, n * L * V, 0);
        let loss: number;
        if (d) {
          for (let i = 0; i < n; i++) for (let l = 0; l < L; l++) rowsBuf[i * L + l] = ws[i]! * L + l;
          d.table.gather(rowsBuf, n * L, v!.view(), d.temperature);
          loss = core.distillationLoss(dz, z, v!, y, n * L, V, { temperature: d.temperature, alpha: d.alpha, scaleT2: true });
        } else {
          loss = core.crossEntropy(dz, z, y, n * L, V);
        }
        if (!Number.isFinite(loss)) throw new RangeError(`language model: the loss became ${loss} at epoch ${epoch + 1}, batch ${b + 1} (learning rate ${o.lr} too high?)`);
        model.backward(dz, n);
        opt.step(model.params, model.grads, lrAt(step));
        step++;
        sum += loss;
        o.onStep?.({ epoch: epoch + 1, batch: b + 1, batches, step, loss });
      }
      const testBpc = o.test ? bitsPerChar(core, model, o.test, B) : null;
      history.push({ epoch: epoch + 1, trainLoss: sum / batches, testBpc, seconds: (Date.now() - t0) / 1000 });
      o.onEpoch?.(history[history.length - 1]!, state);
    }
  } finally {
    for (const t of [x, y, dz, v] as (Tensor<'f32'> | Tensor<'i32'> | null)[]) if (t) core.free(t);
    opt.free();
  }
  return history;
}
