// The run configuration shared by the CLI, config files and (later) the web app: one
// strict schema, so an unknown or invalid field is one error that names it.
import { z } from 'zod';
import { Fnv1a64 } from './data/hash.js';
import { lossListSchema } from './losses/config.js';
import { METHOD_NAMES } from './losses/methods.js';
import { parseWith } from './model/spec.js';
import { optimizerConfigSchema } from './optim/optimizer.js';
import { scheduleConfigSchema } from './optim/schedule.js';

const count = (what: string) => z.number({ error: `must be ${what}` }).int({ error: `must be ${what}` });
const positiveInt = count('a positive integer').positive({ error: 'must be a positive integer' });
const nonNegativeInt = count('a non-negative integer').min(0, { error: 'must be a non-negative integer' });

export const runConfigSchema = z.strictObject({
  /**
   * 'mnist' (the bundled copy), a folder holding the four IDX files under MNIST's names, or data in
   * the Keras convention: a .npz archive, a .safetensors file or a folder of x_train.npy etc.
   */
  data: z.string({ error: 'must be "mnist", "spam", "sotu" or a path (a data folder, .npz, .safetensors, an image folder, a CSV table, or text as .jsonl/.csv)' }).min(1).default('mnist'),
  /** A test set of the user's own, in any form `data` takes; replaces the data's own test set. */
  testData: z.string({ error: 'must be a path' }).min(1).optional(),
  /** When the data has no test set and `testData` is absent: the fraction of each class held out as the test set (default 0.2)... */
  testFraction: z.number({ error: 'must be a number in (0, 1)' }).gt(0, { error: 'must be a number in (0, 1)' }).lt(1, { error: 'must be a number in (0, 1)' }).optional(),
  /** ... chosen by this seed (default 0; apart from `seed`, so runs with different seeds test on the same rows). */
  splitSeed: nonNegativeInt.max(2 ** 32 - 1, { error: 'must be at most 4294967295' }).optional(),
  /** The label column of a CSV table (default 'label'). */
  labelColumn: z.string({ error: 'must be a column name' }).min(1).optional(),
  /** Text data: the text column or field (default 'text'). */
  textColumn: z.string({ error: 'must be a column name' }).min(1).optional(),
  /** Text data: a Hugging Face tokenizer.json (default: a teacher model's, else a byte-level BPE trained on the training split). */
  tokenizer: z.string({ error: 'must be a path' }).min(1).optional(),
  /** Text data: tokens per sequence, special tokens included (default 128; a teacher model's when it has one). */
  maxLength: positiveInt.max(8192, { error: 'must be at most 8192' }).optional(),
  /** Text data: the vocabulary of a tokenizer trained on the training split (default 4096). */
  vocabSize: positiveInt.min(257, { error: 'must be at least 257 (the 256 bytes and <cls>)' }).max(1 << 20, { error: 'must be at most 1048576' }).optional(),
  /** The size [height, width] an image folder's images are resized to (default the first image's). */
  imageSize: z.tuple([positiveInt.max(4096, { error: 'must be at most 4096' }), positiveInt.max(4096, { error: 'must be at most 4096' })],
    { error: 'must be [height, width]' }).optional(),
  /** A model spec: JSON object, JSON text or short form like "mlp:784-800-800-10". */
  model: z.union([z.string().min(1), z.record(z.string(), z.unknown())], { error: 'must be a model spec (object or string)' }),
  epochs: positiveInt.default(10),
  batchSize: positiveInt.max(65536, { error: 'must be at most 65536' }).default(128),
  optimizer: optimizerConfigSchema.default({ type: 'adamw', lr: 1e-3 }),
  schedule: scheduleConfigSchema.default({ type: 'cosine' }),
  seed: nonNegativeInt.max(2 ** 32 - 1, { error: 'must be at most 4294967295' }).default(1),
  /** Training samples held out for validation (chosen by seed). */
  validation: nonNegativeInt.default(5000),
  /** Use only this many training samples (after the validation split); all when absent. */
  trainSize: positiveInt.optional(),
  /** Evaluate on only the first this-many test samples; all when absent. */
  testSize: positiveInt.optional(),
  /** Random shift of up to ±jitter pixels (0 = off). */
  jitter: nonNegativeInt.max(8, { error: 'must be at most 8' }).default(0),
  /**
   * Mixup: every batch is mixed with a permutation of itself, one weight λ ~ U(0, 1) per batch;
   * the labels mix the same way, and a teacher runs inside the step on the mixed inputs.
   */
  mixup: z.boolean({ error: 'must be true or false' }).default(false),
  /**
   * Token noise (text): each token of a training batch is replaced, with this probability, by a
   * random non-special id of the vocabulary, drawn afresh each epoch; a teacher runs inside the
   * step on the noised texts. Absent or 0 = off.
   */
  tokenNoise: z.number({ error: 'must be a number' }).min(0, { error: 'must be in [0, 0.5]' }).max(0.5, { error: 'must be in [0, 0.5]' }).optional(),
  /**
   * Input normalisation: u8 samples become (x/255 - mean)/std, f32 samples (x - mean)/std; one value,
   * or one per channel (the last axis of an image, each feature of a table).
   */
  mean: z.union([z.number().finite(), z.array(z.number().finite()).min(1)], { error: 'must be a number or a list of numbers' }).default(0),
  std: z.union([z.number().positive().finite(), z.array(z.number().positive().finite()).min(1)], { error: 'must be a number > 0 or a list of them' }).default(1),
  /**
   * 'channel': mean and std per channel computed on the training split (the run records them, and
   * the model file carries them to eval, report, exports and inference); leave mean and std unset.
   */
  normalize: z.enum(['channel'], { error: 'must be "channel"' }).optional(),
  /**
   * How the teacher's inputs are prepared, when it was trained differently from the student:
   * raw · scale (default 1/255 for u8 pixels), − mean, / std (one value, or one per channel for a
   * TF.js teacher), reshaped to `shape` (a TF.js teacher's input shape, e.g. [28, 28, 1]).
   * Default: the student's own preparation (mean, std).
   */
  teacherInput: z.strictObject({
    scale: z.number({ error: 'must be a finite number > 0' }).positive({ error: 'must be a finite number > 0' }).finite().optional(),
    mean: z.union([z.number().finite(), z.array(z.number().finite()).min(1)], { error: 'must be a number or a list of numbers' }).optional(),
    std: z.union([z.number().positive().finite(), z.array(z.number().positive().finite()).min(1)], { error: 'must be a number > 0 or a list of them' }).optional(),
    shape: z.array(z.number().int().positive(), { error: 'must be a list of positive integers' }).min(1).optional(),
    /** How an ONNX teacher run by onnxruntime takes images: 'nchw' (PyTorch) or 'nhwc'; default read from its input shape. */
    layout: z.enum(['nchw', 'nhwc'], { error: 'must be "nchw" or "nhwc"' }).optional(),
  }).optional(),
  /**
   * Distillation: the teacher model file, or its outputs over the training set (a .npy or
   * .safetensors [N, classes] of logits, or a sharded teacher-outputs directory: full logits or top-k).
   */
  teacher: z.string().min(1).optional(),
  teacherLogits: z.string().min(1).optional(),
  /**
   * Cache a teacher model's soft labels as the k largest logits per row (with their classes and the
   * row's log-sum-exp) instead of all of them: for class counts where full logits do not fit.
   */
  topK: positiveInt.optional(),
  /** Rows of the shuffle buffer a training set streamed from shards passes through (default 16384). */
  shuffleBuffer: positiveInt.optional(),
  /** T > 0 softens teacher and student in the soft term. */
  temperature: z.number({ error: 'must be a number > 0' }).positive({ error: 'must be a number > 0' }).finite().default(4),
  /** Weight of the soft (teacher) term; the hard (label) term gets 1 - alpha. */
  alpha: z.number({ error: 'must be a number in [0, 1]' }).min(0, { error: 'must be a number in [0, 1]' }).max(1, { error: 'must be a number in [0, 1]' }).default(0.9),
  /**
   * Transformer methods (tinybert, minilm): which teacher layer each student layer learns from:
   * 'uniform' (student layer m of M from teacher layer m·N/M of N; tinybert's default) or 'last'
   * (the last layers only; minilm's default). Explicit pairs: write the terms out in `losses`.
   */
  layerMap: z.enum(['uniform', 'last'], { error: "must be 'uniform' or 'last'" }).optional(),
  /**
   * Choose T and/or alpha by a short seeded search on the validation split before the run
   * (run/auto-tune.ts): true tries the defaults (T 1, 2, 4, 8; alpha 0, 0.5, 0.9), a list tries
   * those; `epochs` is each candidate's budget (default the run's). Method kd only.
   */
  autoTune: z.strictObject({
    temperature: z.union([z.literal(true), z.array(z.number().positive().finite()).min(1)], { error: 'must be true or a list of temperatures > 0' }).optional(),
    alpha: z.union([z.literal(true), z.array(z.number().min(0).max(1)).min(1)], { error: 'must be true or a list of numbers in [0, 1]' }).optional(),
    epochs: positiveInt.optional(),
  }).optional(),
  /** Multiply the soft term by T^2 (Hinton et al.). */
  scaleT2: z.boolean({ error: 'must be true or false' }).default(true),
  /**
   * A named method (`retort methods`) that fills in `losses` from alpha and temperature;
   * default 'kd' for distill, 'none' for train. Ignored when `losses` is given.
   */
  method: z.enum(METHOD_NAMES.filter((m) => m !== 'born-again') as [string, ...string[]],
    { error: `must be one of ${METHOD_NAMES.filter((m) => m !== 'born-again').join(', ')}` }).optional(),
  /** The loss terms, written out (overrides `method`). */
  losses: lossListSchema.optional(),
  /** Several teachers (multi-teacher distillation); `teacher` / `teacherLogits` is the one-teacher shorthand. */
  teachers: z.array(z.strictObject({
    model: z.string().min(1).optional(),
    logits: z.string().min(1).optional(),
    weight: z.number({ error: 'must be a finite number >= 0' }).min(0, { error: 'must be a finite number >= 0' }).finite().default(1),
  }), { error: 'must be a list of { model | logits, weight }' }).min(1, { error: 'must list at least one teacher' }).optional(),
  /** How several teachers combine: weighted mean of tempered probabilities (default), or of logits. */
  combine: z.enum(['probabilities', 'logits'], { error: 'must be "probabilities" or "logits"' }).default('probabilities'),
  /** Further students trained together with the first (Deep Mutual Learning). */
  /** Default: 1 with method dml (a cohort of two), else 0. An explicit 0 with dml is refused. */
  peers: nonNegativeInt.max(15, { error: 'must be at most 15' }).optional(),
  /** Transfer-set control: which training samples the student sees, and whether it sees their labels. */
  transfer: z.strictObject({
    /** Use this fraction of the training samples (after the validation split and trainSize), chosen by seed. */
    fraction: z.number({ error: 'must be a number in (0, 1]' }).gt(0, { error: 'must be a number in (0, 1]' }).max(1, { error: 'must be a number in (0, 1]' }).optional(),
    /** Keep only samples of these classes. */
    classes: z.array(nonNegativeInt, { error: 'must be a list of class numbers' }).min(1, { error: 'must list at least one class' }).optional(),
    /** Drop every sample of these classes (the student never sees them). */
    omitClasses: z.array(nonNegativeInt, { error: 'must be a list of class numbers' }).optional(),
    /** false: the student never reads a label (soft targets alone); terms that need labels are refused. */
    labels: z.boolean({ error: 'must be true or false' }).default(true),
  }).optional(),
});

export type RunConfig = z.infer<typeof runConfigSchema>;
export type RunConfigInput = z.input<typeof runConfigSchema>;

/**
 * What is wrong with `value` as RunConfig field `key` (the schema's message, e.g. "must be a positive
 * integer"), or null: the one statement of each field's bounds, for the CLI's flags and the lab's form.
 */
export function configFieldProblem(key: keyof typeof runConfigSchema.shape, value: unknown): string | null {
  const r = runConfigSchema.shape[key].safeParse(value);
  return r.success ? null : r.error.issues[0]?.message ?? 'out of range';
}

/** Validates a config; errors name the field ("config.alpha: must be a number in [0, 1]"). */
export function parseRunConfig(input: unknown, root = 'config'): RunConfig {
  return parseWith(runConfigSchema, input, root);
}

/** A stable hash of the fields that determine a run's result (resume refuses a different one). */
export function configHash(config: RunConfig): string {
  return new Fnv1a64().updateString(stableStringify(config)).digest();
}

function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
