// The distillation objective as data: a list of loss terms, each with a weight, summed into
// one loss per student. Every method of the family is a term (or a preset of terms) of this
// one list, evaluated by one trainer; no method has a training loop of its own.
//
//   L = Σ_k weight_k(t) · term_k
//
// Weights and temperatures may be numbers or schedules (./scheduled.ts). Layers are named by tap
// (a named layer of the model's graph: "block2", "conv1", an MLP's "hidden1") or 'logits'; an
// MLP's hidden layers may also be given by number (1 = the first hidden layer).
import { z } from 'zod';
import { parseWith } from '../model/spec.js';
import { scheduledValueSchema, type ScheduledValue } from './scheduled.js';

const nonNegative = z.number({ error: 'must be a finite number >= 0' }).min(0, { error: 'must be a finite number >= 0' }).finite();
const positive = z.number({ error: 'must be a finite number > 0' }).positive({ error: 'must be a finite number > 0' }).finite();
const epochNumber = z.number({ error: 'must be a positive integer (an epoch, 1-based)' })
  .int({ error: 'must be a positive integer (an epoch, 1-based)' }).positive({ error: 'must be a positive integer (an epoch, 1-based)' });
const LAYER_ERROR = "must be a tap name (a named layer), 'logits', or for an MLP a hidden layer number (1 = first hidden layer)";
const layerRef = z.union([
  z.number({ error: LAYER_ERROR }).int({ error: LAYER_ERROR }).positive({ error: LAYER_ERROR }),
  z.string({ error: LAYER_ERROR }).min(1, { error: LAYER_ERROR }).max(200, { error: LAYER_ERROR }),
], { error: LAYER_ERROR });
const TEACHER_ERROR = 'must be a teacher index (0 = the first teacher)';
const teacherIndex = z.number({ error: TEACHER_ERROR }).int({ error: TEACHER_ERROR }).min(0, { error: TEACHER_ERROR });

const weight = (dflt: number) => scheduledValueSchema(nonNegative).default(dflt);
const temperature = (dflt: number) => scheduledValueSchema(positive).default(dflt);
/** Every term may be switched on only for a window of epochs (stage-wise training such as FitNets). */
const window = {
  /** First epoch (1-based) in which the term is on; default 1. */
  fromEpoch: epochNumber.optional(),
  /** Last epoch (1-based, inclusive) in which the term is on; default: the last epoch. */
  untilEpoch: epochNumber.optional(),
};

export const lossTermSchema = z.discriminatedUnion('type', [
  /** Hard targets: cross-entropy with the labels. */
  z.strictObject({ type: z.literal('ce'), weight: weight(1), ...window }),
  /** Hinton et al. (2015) soft targets: T² · KL(softmax(v/T) ‖ softmax(z/T)). */
  z.strictObject({
    type: z.literal('kd'), weight: weight(1), temperature: temperature(4),
    scaleT2: z.boolean({ error: 'must be true or false' }).default(true), ...window,
  }),
  /** Decoupled KD (Zhao et al. 2022): T² · (alpha · TCKD + beta · NCKD). */
  z.strictObject({
    type: z.literal('dkd'), weight: weight(1), alpha: nonNegative.default(1), beta: nonNegative.default(8),
    temperature: temperature(4), scaleT2: z.boolean({ error: 'must be true or false' }).default(true), ...window,
  }),
  /** Teacher-free KD (Yuan et al. 2020): KD towards a virtual teacher with probability `correct` on the label. */
  z.strictObject({
    type: z.literal('tfkd'), weight: weight(1),
    correct: z.number({ error: 'must be a number in (0, 1)' }).gt(0, { error: 'must be a number in (0, 1)' }).lt(1, { error: 'must be a number in (0, 1)' }).default(0.9),
    temperature: temperature(4), scaleT2: z.boolean({ error: 'must be true or false' }).default(true), ...window,
  }),
  /** FitNets hints (Romero et al. 2015): MSE between regressor(student layer) and a teacher layer. */
  z.strictObject({
    type: z.literal('hint'), weight: weight(1), studentLayer: layerRef, teacherLayer: layerRef, teacher: teacherIndex.default(0), ...window,
  }),
  /** Relational KD (Park et al. 2019): distance and angle structure of a layer's embeddings in the batch. */
  z.strictObject({
    type: z.literal('rkd'), weight: weight(1), distance: nonNegative.default(25), angle: nonNegative.default(50),
    studentLayer: layerRef, teacherLayer: layerRef, teacher: teacherIndex.default(0), ...window,
  }),
  /** Attention transfer (Zagoruyko & Komodakis 2017): normalised spatial attention maps (p = 2) of two feature maps. */
  z.strictObject({
    type: z.literal('at'), weight: weight(500), studentLayer: layerRef, teacherLayer: layerRef, teacher: teacherIndex.default(0), ...window,
  }),
  /**
   * Self-attention of a Transformer (the attention layer in the named taps): 'kl' compares the
   * attention distributions head by head (MiniLM, Wang et al. 2020), 'mse' the unnormalised scores
   * (TinyBERT, Jiao et al. 2020). Head counts must agree.
   */
  z.strictObject({
    type: z.literal('attn'), weight: weight(1), loss: z.enum(['kl', 'mse'], { error: "must be 'kl' (MiniLM) or 'mse' (TinyBERT)" }).default('kl'),
    studentLayer: layerRef, teacherLayer: layerRef, teacher: teacherIndex.default(0), ...window,
  }),
  /** MiniLM's value relation: KL between softmax(V Vᵀ / sqrt(d)) of both, in relation heads (default: the student's head count); widths may differ. */
  z.strictObject({
    type: z.literal('vr'), weight: weight(1),
    relationHeads: z.number({ error: 'must be a positive integer' }).int({ error: 'must be a positive integer' }).positive({ error: 'must be a positive integer' }).optional(),
    studentLayer: layerRef, teacherLayer: layerRef, teacher: teacherIndex.default(0), ...window,
  }),
  /** Deep Mutual Learning (Zhang et al. 2018): mean KL from each peer's predictions to this student's. */
  z.strictObject({
    type: z.literal('dml'), weight: weight(1), temperature: temperature(1),
    scaleT2: z.boolean({ error: 'must be true or false' }).default(true), ...window,
  }),
], { error: 'must be a loss term: an object with type ce, kd, dkd, tfkd, hint, rkd, at, attn, vr or dml' });

export type LossTermConfig = z.infer<typeof lossTermSchema>;
export type LossTermInput = z.input<typeof lossTermSchema>;
export type LossTermType = LossTermConfig['type'];
export type LayerRef = number | string;
export type { ScheduledValue };

/** Terms that need a real teacher (tfkd's virtual teacher and dml's peers are not teachers). */
export const TEACHER_TERMS: ReadonlySet<LossTermType> = new Set(['kd', 'dkd', 'hint', 'rkd', 'at', 'attn', 'vr']);
/** Terms that need the teacher's intermediate features (the teacher must run inside the step). */
export const FEATURE_TERMS: ReadonlySet<LossTermType> = new Set(['hint', 'rkd', 'at', 'attn', 'vr']);
/** Terms that read the labels. */
export const LABEL_TERMS: ReadonlySet<LossTermType> = new Set(['ce', 'dkd', 'tfkd']);

export const lossListSchema = z.array(lossTermSchema, { error: 'must be a list of loss terms' })
  .min(1, { error: 'must list at least one loss term' });

export function parseLossTerms(input: unknown, root = 'losses'): LossTermConfig[] {
  return parseWith(lossListSchema, input, root);
}

/** Readable one-line form of a term list, e.g. "0.1·ce + 0.9·kd(T=4)". */
export function describeLosses(terms: readonly LossTermConfig[]): string {
  const num = (x: number): string => String(Number(x.toPrecision(6)));
  const sv = (v: ScheduledValue): string => (typeof v === 'number' ? num(v) : `${v.schedule}(${num(v.from)}→${num(v.to)}${v.schedule === 'step' ? ` at epoch ${v.atEpoch}` : ''})`);
  return terms.map((t) => {
    const w = sv(t.weight);
    const args: string[] = [];
    if ('temperature' in t) args.push(`T=${sv(t.temperature)}`);
    if (t.type === 'dkd') args.push(`alpha=${t.alpha}`, `beta=${t.beta}`);
    if (t.type === 'tfkd') args.push(`correct=${t.correct}`);
    if (t.type === 'rkd') args.push(`distance=${t.distance}`, `angle=${t.angle}`, `${t.studentLayer}→${t.teacherLayer}`);
    if (t.type === 'hint' || t.type === 'at' || t.type === 'attn' || t.type === 'vr') args.push(`${t.studentLayer}→${t.teacherLayer}`);
    if (t.type === 'attn') args.push(t.loss);
    if (t.fromEpoch !== undefined || t.untilEpoch !== undefined) args.push(`epochs ${t.fromEpoch ?? 1}..${t.untilEpoch ?? 'end'}`);
    return `${w}·${t.type}${args.length ? `(${args.join(', ')})` : ''}`;
  }).join(' + ');
}
