// The training-step benchmark, platform-neutral: no node: imports and no tfjs, so the
// same code runs under Node (cli.ts) and, later, in a browser Web Worker. Contenders
// are injected (contenders.ts for our backends, tfjs-step.ts for TensorFlow.js).
//
// What one step is, on every contender: forward of the MLP (train mode, no dropout),
// the fused KD loss (Hinton et al. 2015) against teacher logits given as a (B, C)
// tensor, backward, one Adam(W) update. The batch, its labels and the teacher logits
// are already in the contender's memory (data loading is not the step).
//
// Before anything is timed, every contender trains a few untimed steps from the same
// initial weights on the same batch: the loss must fall (so no step is a no-op) and
// follow the reference contender's losses (so every contender computes the same step).
// Then all contenders are timed interleaved in this one thread (core-wasm's
// measureInterleaved), one step per sample, median after warm-up.

import { measureInterleaved, type Ratio, type Stat, type TargetResult, type TimingOptions } from '@retort/core-wasm/bench';
import { paramCount, paramLayout, parseModelSpec, type DenseLayout, asMlpSpec } from '../model/spec.js';

export type StepMode = 'quick' | 'full';

/** One training step's problem: the same numbers for every contender. */
export interface StepProblem {
  /** Layer sizes, input first: [784, 800, 800, 10]. */
  sizes: readonly number[];
  layers: readonly DenseLayout[];
  paramCount: number;
  batch: number;
  temperature: number;
  /** Weight of the soft (teacher) term; the hard (label) term gets 1 - alpha. T² scaling is on. */
  alpha: number;
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /**
   * AdamW's decoupled weight decay. 0, which makes AdamW exactly Adam: tfjs has no AdamW, and
   * a decay written by hand there would add ops of its own. Our kernel's cost does not depend
   * on the value (it runs the decay multiply regardless).
   */
  weightDecay: number;
  /** Flat initial parameters in our layout (`layers`: per layer W (IN, OUT) row-major, then b). */
  initialParams: Float32Array;
  /** The batch (B, IN), already normalised; labels (B); the teacher's logits (B, C). */
  x: Float32Array;
  labels: Int32Array;
  teacherLogits: Float32Array;
  /** Matrix-multiply flops of one step: forward 2B·ΣIN·OUT, dW the same, dX for every layer but the first. */
  flop: number;
}

/** A step made ready on one contender, from problem.initialParams and a fresh optimizer. */
export interface PreparedStep {
  /** One full training step; returns the loss of the batch before the update. */
  step(): number;
  dispose(): void;
}

/**
 * Something to time. `activate` is awaited before every other call into the contender
 * (tfjs contenders share the active backend); the step itself is synchronous.
 */
export interface StepContender {
  name: string;
  description: string;
  activate?(): void | Promise<void>;
  prepare(problem: StepProblem): PreparedStep;
}

export interface StepEntry {
  contender: string;
  stat: Stat;
  msPerStep: number;
  samplesPerSec: number;
  /** Matrix-multiply GFLOP/s of the whole step (problem.flop / median time). */
  gflops: number;
}

export interface SanityEntry {
  contender: string;
  /** Losses of the first `checkSteps` steps from the initial weights, untimed. */
  losses: number[];
  /** Worst |loss - reference loss| / reference loss over those steps. */
  deviation: number;
}

export interface StepBenchResult {
  schema: 'retort-step-bench/1';
  mode: StepMode;
  startedAt: string;
  durationMs: number;
  environment: Record<string, string | number | boolean>;
  timing: TimingOptions;
  problem: { model: string; sizes: number[]; batch: number; classes: number; temperature: number; alpha: number; scaleT2: true;
             optimizer: string; lr: number; paramCount: number; flop: number; seed: number };
  contenders: { name: string; description: string }[];
  /** Which contender the sanity losses are compared with. */
  reference: string;
  sanity: SanityEntry[];
  entries: StepEntry[];
  ratios: Ratio[];
  targets: TargetResult[];
}

export interface StepBenchOptions {
  mode: StepMode;
  /** Default: [784, 800, 800, 10] at batch 128 (full), a small odd-sized net (quick). */
  sizes?: readonly number[];
  batch?: number;
  temperature?: number;
  alpha?: number;
  lr?: number;
  seed?: number;
  timing?: Partial<TimingOptions>;
  /** Untimed steps of the sanity check (default 5). */
  checkSteps?: number;
  /** Largest deviation from the reference's sanity losses that is accepted (default 1e-3). */
  tolerance?: number;
  /** Names used for the ratios and the target (defaults 'simd', 'tfjs-wasm'); reference default 'js'. */
  ours?: string;
  baseline?: string;
  reference?: string;
  environment?: Record<string, string | number | boolean>;
  now?: () => number;
  onProgress?: (message: string) => void;
}

export const FULL_STEP = { sizes: [784, 800, 800, 10], batch: 128 } as const;
/** Quick mode: sizes that are not multiples of 4, so that the kernels' tails run too. */
export const QUICK_STEP = { sizes: [37, 30, 22, 10], batch: 13 } as const;
/** The issue's target: one step on simd at least this many times faster than on tfjs-backend-wasm. */
export const STEP_TARGET_SPEEDUP = 8;

/** One step per sample (a step lasts milliseconds); slow contenders (tfjs-cpu) get minReps. */
export const STEP_TIMING: Record<StepMode, TimingOptions> = {
  quick: { warmupCalls: 1, warmupMs: 0, maxWarmupCalls: 1, sampleMs: 0, maxReps: 3, minReps: 3, budgetMs: 0 },
  full: { warmupCalls: 3, warmupMs: 500, maxWarmupCalls: 30, sampleMs: 0, maxReps: 31, minReps: 5, budgetMs: 4000 },
};

/** Runs the sanity check and then the timed, interleaved steps on `contenders`. */
export async function runStepBench(contenders: readonly StepContender[], options: StepBenchOptions): Promise<StepBenchResult> {
  const names = contenders.map((c) => c.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new Error(`runStepBench: two contenders are named '${dup}'`);
  if (contenders.length === 0) throw new Error('runStepBench: no contenders');
  const now = options.now ?? (() => performance.now());
  const progress = options.onProgress ?? (() => {});
  const timing: TimingOptions = { ...STEP_TIMING[options.mode], ...options.timing };
  const shape = options.mode === 'full' ? FULL_STEP : QUICK_STEP;
  const seed = options.seed ?? 20150309;
  const problem = makeStepProblem({
    sizes: options.sizes ?? shape.sizes, batch: options.batch ?? shape.batch,
    temperature: options.temperature ?? 4, alpha: options.alpha ?? 0.9, lr: options.lr ?? 1e-3, seed,
  });
  const startedAt = new Date().toISOString();
  const t0 = now();

  const reference = contenders.find((c) => c.name === (options.reference ?? 'js'))?.name ?? contenders[0]!.name;
  const sanity = await sanityCheck(contenders, problem, reference, options.checkSteps ?? 5, options.tolerance ?? 1e-3);
  for (const s of sanity) progress(`sanity ${s.contender}: loss ${s.losses.map((l) => l.toFixed(4)).join(' > ')} (deviation from ${reference} ${s.deviation.toExponential(1)})`);

  const prepared: { contender: StepContender; step: PreparedStep }[] = [];
  let last = 0;
  let stats: Stat[];
  try {
    for (const contender of contenders) {
      await contender.activate?.();
      prepared.push({ contender, step: contender.prepare(problem) });
    }
    stats = await measureInterleaved(prepared.map(({ contender, step }) => ({
      activate: () => contender.activate?.(),
      run: () => { last = step.step(); },
    })), timing, now);
    if (!Number.isFinite(last)) throw new Error(`runStepBench: the loss became ${last} while timing`);
  } finally {
    for (const { contender, step } of prepared) {
      await contender.activate?.();
      step.dispose();
    }
  }
  const entries: StepEntry[] = stats.map((stat, i) => ({
    contender: names[i]!,
    stat,
    msPerStep: stat.medianMs,
    samplesPerSec: problem.batch / (stat.medianMs / 1e3),
    gflops: problem.flop / (stat.medianMs * 1e6),
  }));
  progress(`step: ${entries.map((e) => `${e.contender} ${e.samplesPerSec.toFixed(0)}`).join(', ')} samples/s`);

  const { ratios, targets } = evaluateStep(entries, options.ours ?? 'simd', options.baseline ?? 'tfjs-wasm');
  return {
    schema: 'retort-step-bench/1',
    mode: options.mode,
    startedAt,
    durationMs: now() - t0,
    environment: { ...options.environment },
    timing,
    problem: {
      model: `mlp:${problem.sizes.join('-')} (no dropout)`, sizes: [...problem.sizes], batch: problem.batch, lr: problem.lr,
      classes: problem.sizes[problem.sizes.length - 1]!, temperature: problem.temperature,
      alpha: problem.alpha, scaleT2: true, paramCount: problem.paramCount, flop: problem.flop, seed,
      optimizer: `AdamW lr ${problem.lr}, betas (${problem.beta1}, ${problem.beta2}), eps ${problem.eps}, weight decay ${problem.weightDecay} (= Adam)`,
    },
    contenders: contenders.map((c) => ({ name: c.name, description: c.description })),
    reference,
    sanity,
    entries,
    ratios,
    targets,
  };
}

/**
 * Trains `steps` untimed steps on each contender from the same start: every loss finite,
 * the last below the first, and every loss within `tolerance` (relative) of the reference's.
 * Throws otherwise: a benchmark of a step that does not train, or trains something else,
 * means nothing.
 */
export async function sanityCheck(contenders: readonly StepContender[], problem: StepProblem, reference: string,
                                  steps: number, tolerance: number): Promise<SanityEntry[]> {
  const runs: { contender: string; losses: number[] }[] = [];
  for (const contender of contenders) {
    await contender.activate?.();
    const prepared = contender.prepare(problem);
    try {
      const losses: number[] = [];
      for (let i = 0; i < steps; i++) losses.push(prepared.step());
      runs.push({ contender: contender.name, losses });
    } finally {
      prepared.dispose();
    }
  }
  const ref = runs.find((r) => r.contender === reference)?.losses;
  if (!ref) throw new Error(`sanityCheck: no contender is named '${reference}'`);
  return runs.map(({ contender, losses }) => {
    const bad = losses.find((l) => !Number.isFinite(l));
    if (bad !== undefined) throw new Error(`sanity check: ${contender}'s loss is ${bad} (losses ${losses.join(', ')})`);
    if (!(losses[losses.length - 1]! < losses[0]!)) {
      throw new Error(`sanity check: ${contender} does not train: loss ${losses.map((l) => l.toFixed(5)).join(' > ')}`);
    }
    const deviation = Math.max(...losses.map((l, i) => Math.abs(l - ref[i]!) / Math.abs(ref[i]!)));
    if (!(deviation <= tolerance)) {
      throw new Error(`sanity check: ${contender}'s losses ${losses.join(', ')} differ from ${reference}'s ${ref.join(', ')} by ${deviation.toExponential(2)} (> ${tolerance})`);
    }
    return { contender, losses, deviation };
  });
}

/**
 * The step's numbers from `seed` alone, in plain JS so that every contender starts from the
 * same bits: He/Kaiming normal weights (b = 0), a batch like normalised MNIST pixels (most at
 * the background value, the rest spread), uniform labels, and teacher logits that agree with
 * the labels most of the time, as a trained teacher's do.
 */
export function makeStepProblem(o: { sizes: readonly number[]; batch: number; temperature: number; alpha: number;
                                      lr: number; seed: number }): StepProblem {
  const spec = asMlpSpec(parseModelSpec({ type: 'mlp', sizes: [...o.sizes] }), 'makeStepProblem');
  const layers = paramLayout(spec);
  const IN = spec.sizes[0]!, C = spec.sizes[spec.sizes.length - 1]!, B = o.batch;
  if (!Number.isInteger(B) || B < 1) throw new RangeError(`makeStepProblem: batch must be a positive integer, got ${B}`);
  const { uniform, normal } = seeded(o.seed);
  const initialParams = new Float32Array(paramCount(spec));
  for (const l of layers) {
    const std = Math.sqrt(2 / l.inputs);
    for (let i = 0; i < l.inputs * l.outputs; i++) initialParams[l.weightOffset + i] = std * normal();
  }
  const x = new Float32Array(B * IN);
  const background = -0.1307 / 0.3081; // MNIST's mean and std
  for (let i = 0; i < x.length; i++) {
    const u = 0.5 + 0.5 * normal();
    x[i] = u > 0.8 ? (Math.min(1, u) - 0.1307) / 0.3081 : background;
  }
  const labels = new Int32Array(B);
  const teacherLogits = new Float32Array(B * C);
  for (let r = 0; r < B; r++) {
    labels[r] = Math.min(C - 1, Math.floor(uniform() * C));
    for (let c = 0; c < C; c++) teacherLogits[r * C + c] = 2 * normal() + (c === labels[r] ? 6 : 0);
  }
  let mk = 0;
  for (const l of layers) mk += l.inputs * l.outputs;
  const flop = 2 * B * (3 * mk - layers[0]!.inputs * layers[0]!.outputs);
  return {
    sizes: spec.sizes, layers, paramCount: initialParams.length, batch: B, temperature: o.temperature, alpha: o.alpha,
    lr: o.lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0,
    initialParams, x, labels, teacherLogits, flop,
  };
}

/** Seeded uniform (0, 1) and standard normal (xorshift32, Box-Muller), for the problem's numbers. */
function seeded(seed: number): { uniform: () => number; normal: () => number } {
  let s = (seed >>> 0) || 0x9e3779b9;
  const uniform = (): number => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
  return { uniform, normal: () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform()) };
}

function evaluateStep(entries: readonly StepEntry[], ours: string, base: string): { ratios: Ratio[]; targets: TargetResult[] } {
  const find = (n: string): StepEntry | undefined => entries.find((e) => e.contender === n);
  const speedup = (a: string, b: string): number | null => {
    const x = find(a), y = find(b);
    return x && y ? y.stat.medianMs / x.stat.medianMs : null;
  };
  const ratios: Ratio[] = [];
  for (const other of entries.map((e) => e.contender).filter((n) => n !== ours)) {
    ratios.push({ name: `${ours} / ${other} training step`, value: speedup(ours, other), note: 'speed-up (ratio of median step times)' });
  }
  const s = speedup(ours, base);
  const requirement = `>= ${STEP_TARGET_SPEEDUP}x`;
  const name = `training step ${ours} vs ${base}`;
  const targets: TargetResult[] = [s === null || !Number.isFinite(s)
    ? { name, requirement, measured: '-', status: 'not measured' }
    : { name, requirement, measured: `${s.toFixed(2)}x`, status: s >= STEP_TARGET_SPEEDUP ? 'pass' : 'fail' }];
  return { ratios, targets };
}
