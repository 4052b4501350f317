// Sampling from a language model: each new character from the model's next-id distribution at
// the last position of the context, divided by a temperature and cut to the top k, drawn with the
// data layer's PRNG (../data/random.ts), so the same seed writes the same text in Node and in a
// browser. The context is the last L ids (the model's length): a longer text slides. There is no
// key/value cache: each character runs the model over its whole context (L positions), which at
// a student's size is a few milliseconds. The model is a Model or any LmScorer (an int8 model).
import type { Core } from '@retort/core-wasm';
import { Xoshiro128 } from '../data/random.js';
import { Model } from '../model/model.js';
import { lmShape, checkLmIds, type LmScorer } from './train.js';

export interface GenerateOptions {
  /** Characters to write. */
  length: number;
  /** Softmax temperature of the sampling (> 0; small is greedy-like). */
  temperature: number;
  /** Sample among the k most likely ids only (0 or >= V: all). */
  topK: number;
  seed: number;
}

/** Next-id probabilities after `context` (at least one id), at the sampling temperature, for the lab and tests. */
export function nextProbabilities(core: Core, model: Model | LmScorer, context: ArrayLike<number>, temperature = 1): Float64Array {
  const { length: L, vocab: V } = model instanceof Model ? lmShape(model) : model;
  if (context.length === 0) throw new RangeError('language model: the context is empty (give a prompt of at least one character)');
  checkLmIds(context, V, 'prompt');
  if (model instanceof Model && model.batchSize < 1) model.plan(1);
  const n = Math.min(L, context.length), from = context.length - n;
  const x = core.alloc(model instanceof Model ? model.batchSize * L : L);
  try {
    const xv = x.view();
    xv.fill(-1, 0, L);
    for (let l = 0; l < n; l++) xv[l] = context[from + l]!;
    const z = model instanceof Model ? model.forward(x, 1, 'eval').view() : model.logits(xv.slice(0, L), 1);
    const at = (n - 1) * V;
    const p = new Float64Array(V);
    let max = -Infinity;
    for (let j = 0; j < V; j++) max = Math.max(max, z[at + j]! / temperature);
    let sum = 0;
    for (let j = 0; j < V; j++) { p[j] = Math.exp(z[at + j]! / temperature - max); sum += p[j]!; }
    for (let j = 0; j < V; j++) p[j]! /= sum;
    return p;
  } finally {
    core.free(x);
  }
}

/** Ids sampled after `prompt` (the prompt's ids not included). */
export function generateIds(core: Core, model: Model | LmScorer, prompt: ArrayLike<number>, o: GenerateOptions): Int32Array {
  if (!(Number.isInteger(o.length) && o.length >= 0)) throw new RangeError(`generate: the length must be a non-negative integer, got ${o.length}`);
  if (!(o.temperature > 0 && Number.isFinite(o.temperature))) throw new RangeError(`generate: the temperature must be a finite number > 0, got ${o.temperature}`);
  if (!(Number.isInteger(o.topK) && o.topK >= 0)) throw new RangeError(`generate: top-k must be a non-negative integer (0: all), got ${o.topK}`);
  const rng = new Xoshiro128(o.seed, 0x67656e);
  const context = Array.from(prompt);
  const out = new Int32Array(o.length);
  for (let i = 0; i < o.length; i++) {
    const p = nextProbabilities(core, model, context, o.temperature);
    const id = sample(p, o.topK, rng);
    out[i] = id;
    context.push(id);
  }
  return out;
}

/** One id from probabilities p, among the top k (ties: the lower id first), renormalised. */
export function sample(p: Float64Array, topK: number, rng: Xoshiro128): number {
  const V = p.length;
  const order = Array.from({ length: V }, (_, j) => j).sort((a, b) => p[b]! - p[a]! || a - b);
  const k = topK > 0 ? Math.min(topK, V) : V;
  let mass = 0;
  for (let j = 0; j < k; j++) mass += p[order[j]!]!;
  let u = rng.unit() * mass;
  for (let j = 0; j < k; j++) {
    u -= p[order[j]!]!;
    if (u < 0) return order[j]!;
  }
  return order[k - 1]!;
}
