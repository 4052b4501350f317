// The benchmark's vocabulary: what a contender implements, what a case hands it, and
// the JSON-serialisable result of a whole suite. Platform-neutral (no node:, no tfjs):
// the same harness runs in Node (cli.ts) and, later, in a browser Web Worker.

export type GemmForm = 'NN' | 'TN' | 'NT';
export type LossKernel = 'softmax' | 'kl' | 'kdLoss';
export type Mode = 'quick' | 'full';

/**
 * One GEMM problem, C (M,N) = op(A) (M,K) * op(B) (K,N), alpha 1, beta 0, tightly packed.
 * `a` and `b` are already in their stored layout: A is (M,K) or, for TN, (K,M);
 * B is (K,N) or, for NT, (N,K). Every form of one shape multiplies the same logical
 * matrices, so all of them have the same reference product.
 */
export interface GemmCase {
  form: GemmForm;
  M: number; K: number; N: number;
  transA: boolean; transB: boolean;
  a: Float32Array; aRows: number; aCols: number;
  b: Float32Array; bRows: number; bCols: number;
}

/**
 * One row-wise loss problem over logits of shape (rows, cols):
 * z student logits, v teacher logits, labels in [0, cols). See FORMULAS.
 */
export interface LossCase {
  kernel: LossKernel;
  rows: number; cols: number;
  temperature: number; alpha: number;
  z: Float32Array; v: Float32Array; labels: Int32Array;
}

/** softmax: values = y, loss undefined. kl / kdLoss: loss and values = dL/dz. */
export interface LossOutput { loss?: number; values: Float32Array }

/**
 * A case made ready on one contender: operands are in place, `run` is the timed call.
 * `output` runs the computation once more (untimed) from a clean state and returns
 * what it produced, for the accuracy check.
 */
export interface Prepared<O> {
  run(): void;
  output(): O;
  dispose(): void;
}

export interface PeakProbe {
  probe(iters: number): number;
  flopsPerIter(): number;
}

/**
 * Something to time. The harness calls `activate` (awaited) before every other call
 * into the contender, so contenders that share global state (tfjs's active backend)
 * can switch to theirs; the timed region itself is synchronous.
 * A contender that returns undefined from gemm/loss does not take part in that case.
 */
export interface Contender {
  /** Short unique id used as a column name and JSON key: 'simd', 'tfjs-wasm', ... */
  name: string;
  /** One line: what exactly is being timed. */
  description: string;
  activate?(): void | Promise<void>;
  gemm?(c: GemmCase): Prepared<Float32Array> | undefined;
  loss?(c: LossCase): Prepared<LossOutput> | undefined;
  peak?: PeakProbe;
}

export interface TimingOptions {
  /** Warm-up: at least this many calls, and until warmupMs have passed (capped at maxWarmupCalls). */
  warmupCalls: number;
  warmupMs: number;
  maxWarmupCalls: number;
  /** Calls are batched so that one sample lasts about this long (timer resolution, call overhead). */
  sampleMs: number;
  /** Samples per contender: up to maxReps, fewer (never below minReps) when the contender's budget runs out. */
  maxReps: number;
  minReps: number;
  /** Time budget per contender per case for the timed samples. */
  budgetMs: number;
}

export interface SuiteOptions {
  mode: Mode;
  /** GEMM shapes as [M, K, N]. */
  gemmShapes?: readonly (readonly [number, number, number])[];
  gemmForms?: readonly GemmForm[];
  /** Loss shapes as [rows, cols]. */
  lossShapes?: readonly (readonly [number, number])[];
  lossKernels?: readonly LossKernel[];
  temperature?: number;
  alpha?: number;
  timing?: Partial<TimingOptions>;
  /** Sizes of the built modules, in bytes (the runner reads the files). */
  wasmBytes?: { simd?: number; scalar?: number };
  /** Free-form facts about the machine and the contenders' setup, copied into the result. */
  environment?: Record<string, string | number | boolean>;
  /** Which contender supplies the peak that GEMM figures are a fraction of (default 'simd'). */
  peakFrom?: string;
  /** Names used for the ratios and targets (defaults: 'simd' and 'tfjs-wasm'). */
  ours?: string;
  baseline?: string;
  seed?: number;
  now?: () => number;
  onProgress?: (message: string) => void;
}

/** Per-call times of one contender on one case, over all its samples. */
export interface Stat {
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** Number of timed samples, and calls per sample. */
  samples: number;
  callsPerSample: number;
}

export interface GemmEntry {
  contender: string;
  stat: Stat;
  gflops: number;
  /** gflops / peak; null when no peak was measured. */
  fractionOfPeak: number | null;
  /** max |C - ref| / max |ref| against an f64 reference. */
  error: number;
}

export interface GemmRow {
  form: GemmForm;
  M: number; K: number; N: number;
  /** 2 M N K */
  flop: number;
  entries: GemmEntry[];
}

export interface LossEntry {
  contender: string;
  stat: Stat;
  usPerCall: number;
  /** Worst relative error of loss and values against an f64 reference. */
  error: number;
}

export interface LossRow {
  kernel: LossKernel;
  rows: number; cols: number;
  temperature: number; alpha: number;
  entries: LossEntry[];
}

export interface PeakEntry {
  contender: string;
  iters: number;
  flopsPerIter: number;
  stat: Stat;
  gflops: number;
}

export interface Ratio {
  name: string;
  /** null when a figure it needs was not measured. */
  value: number | null;
  note: string;
}

export interface TargetResult {
  name: string;
  requirement: string;
  measured: string;
  status: 'pass' | 'fail' | 'not measured';
}

export interface SuiteResult {
  schema: 'retort-bench/1';
  mode: Mode;
  startedAt: string;
  durationMs: number;
  environment: Record<string, string | number | boolean>;
  timing: TimingOptions;
  contenders: { name: string; description: string }[];
  /** Formulas the loss contenders compute, value and gradient. */
  formulas: Record<LossKernel, string>;
  peak: PeakEntry[];
  /** GFLOP/s of the `peakFrom` contender's probe, or null. */
  peakGflops: number | null;
  gemm: GemmRow[];
  losses: LossRow[];
  wasmBytes: { simd?: number; scalar?: number };
  ratios: Ratio[];
  targets: TargetResult[];
}
