// One small, seeded distillation run whose result is a hash of the trained parameters' bytes:
// the same module runs under Node (test/browser/determinism.test.ts imports it) and in a
// browser worker (selftest.html), and for a given backend both must give the same hash.
//
// Everything is a function of (options, backend):
// - the data: 480 28x28 u8 "glyphs" of 10 classes, generated here from a 32-bit integer
//   PRNG (integer arithmetic only, so the bytes are the same in every engine; no file access);
// - a teacher, mlp:784-130-70-10 with input and hidden dropout, trained 2 epochs on labels;
// - a student, mlp:784-43-27-10 with hidden dropout, trained 2 epochs with the objective
//   0.3·ce + 0.7·kd(T = 4) + 0.5·hint(student layer 1 <- teacher layer 1): the fused KD
//   kernel, a FitNets regressor, the teacher's eval-mode forward inside every step;
// - AdamW with weight decay, a cosine schedule after a linear warm-up, ±2-pixel jitter,
//   input normalisation, a validation split and a last batch that is not full.
// 784 inputs span several of the GEMM's K blocks (384) and, in the weight gradients, several
// M blocks (128); widths and the batch (50) are not multiples of 4, so the tails run too.
//
//
// The CNN run (model 'cnn') goes through executeRun, the orchestration the Node commands and the
// lab share (packages/distill/src/run/execute.ts), on the same glyphs: a teacher graph of
// conv/batch-norm/ReLU/pool blocks with dropout, trained 2 epochs on labels; then a student graph
// (a strided convolution with batch norm, a residual block, a depthwise convolution) distilled 2
// epochs with 0.3·ce + 0.7·kd(T = 4) + 50·at at two tap pairs whose maps differ in size (the
// teacher's pooled in the one, the student's in the other), the teacher inside every step (the
// attention terms read its taps; jitter). The hash covers both models' parameters and batch-norm
// running statistics.
//
// The Transformer run (model 'transformer') is the text path through executeRun: synthetic token
// sequences of 3 classes with padding (integer PRNG), a Transformer teacher (2 blocks, width 24,
// 2 heads) trained 2 epochs, then a narrower Transformer student (1 block, width 16, 2 heads)
// distilled 2 epochs with 0.2·ce + 0.8·kd(T = 2) + attn(kl) + vr on the last blocks (the MiniLM
// terms: attention distributions and value relations, the teacher inside every step). Embedding
// gather and scatter-add, masked attention, layer norm, GELU and mean pooling all run.
//
// What is deliberately not used: terms whose math runs in host JS (dkd, tfkd, several
// teachers combined: Math.exp / Math.log, whose last bit ECMAScript leaves to the engine),
// and the 'js' backend (its kernels use Math.exp). Every transcendental here runs inside the
// wasm module (its own exp/log/cos), attention transfer uses + × ÷ √ only
// (packages/distill/src/losses/at.ts), and the trainer's schedule uses + * / only.

import {
  Fnv1a64, executeRun, loadCore, makeDataset, Mlp, parseLossTerms, parseRunConfig, splitValidation, train,
  type Core, type Dataset, type Model, type RunConfigInput, type TrainSettings,
} from '@retort/distill';

export type SeededBackend = 'simd' | 'scalar';
/** The MLP run (ce + kd + a FitNets hint), the CNN run (batch norm, residual, depthwise, attention transfer), or the Transformer run (text, MiniLM terms). */
export type SeededModel = 'mlp' | 'cnn' | 'transformer';

export interface SeededRunOptions {
  backend: SeededBackend;
  /** Seed of the training run: initialisation, batch order, jitter, dropout (default 1). */
  seed?: number;
  /** Seed of the synthetic data (default 2015); independent of `seed`. */
  dataSeed?: number;
  /** Which run (default 'mlp'). */
  model?: SeededModel;
  /** Threads the kernels run on (default 1); any count must give the same bits. */
  threads?: number;
}

export interface SeededRunResult {
  /**
   * FNV-1a 64 (16 hex digits) of the teacher's and then the student's final parameters (for the
   * CNN run each followed by its batch-norm running statistics), as little-endian f32 bytes.
   */
  hash: string;
  /** Number of the student's parameters. */
  params: number;
  /** The student's training loss at every step, in order. */
  loss: number[];
  /** With threads > 1: the kernel calls that ran in parts on several threads (so the run was really cut). */
  parallelCalls?: number;
}

/** Samples in the synthetic data set; 91 of them are the validation split. */
export const SAMPLES = 480;
export const VALIDATION = 91;
export const TEACHER_SPEC = 'mlp:784-130-70-10,dropout=0.1/0.25';
export const STUDENT_SPEC = 'mlp:784-43-27-10,dropout=0/0.1';

/** xorshift32: integer-only, identical bits in every engine. */
function xorshift32(seed: number): () => number {
  let s = (seed >>> 0) || 0x9e3779b9;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s;
  };
}

/**
 * `count` 28x28 u8 samples of 10 classes: each class a random 7x7 template of lit cells, drawn
 * as 4x4-pixel blocks; a sample is its class's template with about 1 cell in 10 flipped and
 * integer noise on every pixel.
 */
export function syntheticGlyphs(count: number, seed: number): Dataset {
  const next = xorshift32(seed);
  const templates = new Uint8Array(10 * 49);
  for (let i = 0; i < templates.length; i++) templates[i] = next() % 100 < 35 ? 1 : 0;
  const x = new Uint8Array(count * 784);
  const y = new Int32Array(count);
  const cells = new Uint8Array(49);
  for (let n = 0; n < count; n++) {
    const c = next() % 10;
    y[n] = c;
    for (let k = 0; k < 49; k++) cells[k] = templates[c * 49 + k]! ^ (next() % 10 === 0 ? 1 : 0);
    for (let p = 0; p < 784; p++) {
      const noise = next() % 48;
      const lit = cells[((p / 112) | 0) * 7 + (((p % 28) / 4) | 0)] === 1;
      x[n * 784 + p] = lit ? 255 - noise : noise;
    }
  }
  return makeDataset(x, [count, 28, 28], y, { xFile: 'glyphs-x', yFile: 'glyphs-y' }, { name: 'glyphs', classes: 10 });
}

function hashParams(h: Fnv1a64, model: Model, withState = false): void {
  // module memory is little-endian by definition: its bytes are the f32 values' LE bytes
  for (const t of withState && model.state ? [model.params, model.state] : [model.params]) {
    const v = t.view();
    h.update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  }
}

export const TEACHER_CNN = {
  type: 'graph', layers: [
    { type: 'conv2d', filters: 6, kernel: 3, bias: false }, { type: 'batchNorm' }, { type: 'relu', name: 'block1' },
    { type: 'maxPool2d', size: 2 },
    { type: 'conv2d', filters: 10, kernel: 3, stride: 2 }, { type: 'batchNorm' }, { type: 'relu', name: 'block2' },
    { type: 'dropout', rate: 0.2 }, { type: 'globalAvgPool' }, { type: 'dense', units: 10 },
  ],
};
export const STUDENT_CNN = {
  type: 'graph', layers: [
    { type: 'conv2d', filters: 5, kernel: 3, stride: 2 }, { type: 'batchNorm' }, { type: 'relu', name: 'map1' },
    { type: 'residual', name: 'res', body: [
      { type: 'conv2d', filters: 5, kernel: 3, bias: false }, { type: 'batchNorm' }, { type: 'relu' },
      { type: 'depthwiseConv2d', kernel: 3 }, { type: 'batchNorm' },
    ] },
    { type: 'relu', name: 'map2' }, { type: 'avgPool2d', size: 2 }, { type: 'flatten' }, { type: 'dense', units: 10 },
  ],
};

/** The CNN run through executeRun: a teacher on labels, then the student distilled with kd and attention transfer. */
async function seededCnnRun(core: Core, seed: number, dataSeed: number): Promise<SeededRunResult> {
  const data = { train: syntheticGlyphs(SAMPLES, dataSeed), test: syntheticGlyphs(60, (dataSeed + 1) >>> 0) };
  const common: RunConfigInput = {
    data: 'glyphs', model: TEACHER_CNN, epochs: 2, batchSize: 50, optimizer: { type: 'adamw', lr: 2e-3, weightDecay: 1e-4 },
    schedule: { type: 'cosine', warmupSteps: 3 }, jitter: 2, mean: 0.25, std: 0.4, validation: VALIDATION,
  };
  const teacher = await executeRun({ core, kind: 'train', data, config: parseRunConfig({ ...common, seed: (seed * 7 + 3) >>> 0 }) });
  try {
    const loss: number[] = [];
    const student = await executeRun({
      core, kind: 'distill', data,
      config: parseRunConfig({
        ...common, model: STUDENT_CNN, seed,
        losses: [
          { type: 'ce', weight: 0.3 }, { type: 'kd', weight: 0.7, temperature: 4 },
          // map1 14x14 against block1 28x28 (the teacher's map pooled), map2 14x14 against block2 7x7 (the student's pooled)
          { type: 'at', weight: 50, studentLayer: 'map1', teacherLayer: 'block1' }, { type: 'at', weight: 50, studentLayer: 'map2', teacherLayer: 'block2' },
        ],
      }),
      teachers: [{ kind: 'model', model: teacher.student, source: 'teacher', name: 'teacher', weight: 1 }],
    }, { onEvent: (e) => { if (e.type === 'step') loss.push(e.loss); } });
    try {
      const h = new Fnv1a64();
      hashParams(h, teacher.student, true);
      hashParams(h, student.student, true);
      return { hash: h.digest(), params: student.student.paramCount, loss };
    } finally {
      student.student.free();
    }
  } finally {
    teacher.student.free();
  }
}

/**
 * `count` token sequences of length `length` over `vocab` ids, 3 classes: a class's tokens come
 * mostly from its own third of the vocabulary; lengths vary from 3 to `length`, -1 pads after.
 */
export function syntheticTokens(count: number, seed: number, length = 12, vocab = 30): Dataset {
  const next = xorshift32(seed);
  const x = new Float32Array(count * length).fill(-1), y = new Int32Array(count);
  const third = Math.floor(vocab / 3);
  for (let n = 0; n < count; n++) {
    const c = next() % 3, len = 3 + (next() % (length - 2));
    y[n] = c;
    for (let l = 0; l < len; l++) x[n * length + l] = next() % 4 === 0 ? next() % vocab : c * third + (next() % third);
  }
  return { ...makeDataset(x, [count, length], y, { xFile: 'tokens-x', yFile: 'tokens-y' }, { name: 'tokens', classes: 3 }), vocab };
}

export const TEACHER_TRANSFORMER = 'transformer-s:layers=2,dim=24,heads=2';
export const STUDENT_TRANSFORMER = 'transformer-s:layers=1,dim=16,heads=2';

/** The Transformer run through executeRun: a teacher on labels, then a narrower student with kd and the MiniLM terms. */
async function seededTransformerRun(core: Core, seed: number, dataSeed: number): Promise<SeededRunResult> {
  const data = { train: syntheticTokens(SAMPLES, dataSeed), test: syntheticTokens(60, (dataSeed + 1) >>> 0) };
  const common: RunConfigInput = {
    data: 'tokens', model: TEACHER_TRANSFORMER, epochs: 2, batchSize: 50, optimizer: { type: 'adamw', lr: 3e-3, weightDecay: 1e-4 },
    schedule: { type: 'cosine', warmupSteps: 3 }, validation: VALIDATION,
  };
  const teacher = await executeRun({ core, kind: 'train', data, config: parseRunConfig({ ...common, seed: (seed * 7 + 3) >>> 0 }) });
  try {
    const loss: number[] = [];
    const student = await executeRun({
      core, kind: 'distill', data,
      config: parseRunConfig({
        ...common, model: STUDENT_TRANSFORMER, seed,
        losses: [
          { type: 'ce', weight: 0.2 }, { type: 'kd', weight: 0.8, temperature: 2 },
          { type: 'attn', weight: 1, loss: 'kl', studentLayer: 'attn1', teacherLayer: 'attn2' },
          { type: 'vr', weight: 1, studentLayer: 'attn1', teacherLayer: 'attn2' },
        ],
      }),
      teachers: [{ kind: 'model', model: teacher.student, source: 'teacher', name: 'teacher', weight: 1 }],
    }, { onEvent: (e) => { if (e.type === 'step') loss.push(e.loss); } });
    try {
      const h = new Fnv1a64();
      hashParams(h, teacher.student);
      hashParams(h, student.student);
      return { hash: h.digest(), params: student.student.paramCount, loss };
    } finally {
      student.student.free();
    }
  } finally {
    teacher.student.free();
  }
}

/** Trains the teacher, then the student, on `backend`, and hashes their parameters. */
export async function seededRun(options: SeededRunOptions): Promise<SeededRunResult> {
  const { backend } = options;
  if (backend !== 'simd' && backend !== 'scalar') {
    throw new RangeError(`seededRun: backend must be 'simd' or 'scalar', got ${String(backend)}`);
  }
  const seed = options.seed ?? 1;
  const model = options.model ?? 'mlp';
  if (model !== 'mlp' && model !== 'cnn' && model !== 'transformer') throw new RangeError(`seededRun: model must be 'mlp', 'cnn' or 'transformer', got ${String(model)}`);
  const threads = options.threads ?? 1;
  const core = await loadCore({ backend, threads });
  try {
    const r = await seededRunOn(core, model, seed, options.dataSeed ?? 2015);
    return threads > 1 ? { ...r, parallelCalls: core.parallelCalls } : r;
  } finally {
    core.close();
  }
}

async function seededRunOn(core: Core, model: SeededModel, seed: number, dataSeed: number): Promise<SeededRunResult> {
  if (model === 'cnn') return seededCnnRun(core, seed, dataSeed);
  if (model === 'transformer') return seededTransformerRun(core, seed, dataSeed);
  const data = syntheticGlyphs(SAMPLES, dataSeed);
  const split = splitValidation(data, VALIDATION, seed);
  const settings: TrainSettings = {
    epochs: 2, batchSize: 50, optimizer: { type: 'adamw', lr: 2e-3, weightDecay: 1e-4 },
    schedule: { type: 'cosine', warmupSteps: 3 }, seed, jitter: 2, mean: 0.25, std: 0.4,
  };

  const teacher = new Mlp(core, TEACHER_SPEC);
  const student = new Mlp(core, STUDENT_SPEC);
  try {
    await train({ core, model: teacher, train: split.train, validation: split.validation,
      settings: { ...settings, seed: (seed * 7 + 3) >>> 0 } });
    const loss: number[] = [];
    await train({
      core, model: student, train: split.train, validation: split.validation, settings,
      objective: {
        terms: parseLossTerms([
          { type: 'ce', weight: 0.3 },
          { type: 'kd', weight: 0.7, temperature: 4 },
          { type: 'hint', weight: 0.5, studentLayer: 1, teacherLayer: 1 },
        ]),
        teachers: [{ source: { kind: 'model', model: teacher }, weight: 1 }],
      },
      onEvent: (e) => { if (e.type === 'step') loss.push(e.loss); },
    });
    const h = new Fnv1a64();
    hashParams(h, teacher);
    hashParams(h, student);
    return { hash: h.digest(), params: student.paramCount, loss };
  } finally {
    teacher.free();
    student.free();
  }
}
