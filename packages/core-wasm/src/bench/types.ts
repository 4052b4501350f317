// The benchmark's vocabulary: what a contender implements, what a case hands it, and
// the JSON-serialisable result of a whole suite. Platform-neutral (no node:, no tfjs):
// the same harness runs in Node (cli.ts) and, later, in a browser Web Worker.

import type { ConvGeometry } from '../kernels/geometry.js';

export type GemmForm = 'NN' | 'TN' | 'NT';
export type LossKernel = 'softmax' | 'kl' | 'kdLoss';
/** Normalisation / activation kernels, timed forward + backward (layers.ts). */
export type LayerKernel = 'batchNorm' | 'gelu';
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

/** One pass of a convolution layer: y = conv(x, w), dx += dy * wᵀ (transposed conv), dw += im2col(x)ᵀ dy. */
export type ConvPass = 'forward' | 'backwardData' | 'backwardFilter';

/**
 * A convolution layer of the suite: NHWC activations, HWIO weights (KH,KW,C/G,OC), square
 * kernel and stride, TensorFlow padding ('same': out = ceil(in / stride), the odd padding
 * pixel at the end). groups == C > 1 is a depthwise layer (channel multiplier OC/C).
 */
export interface ConvLayer {
  name: string;
  B: number; H: number; W: number; C: number; OC: number;
  K: number; stride: number; padding: 'same' | 'valid'; groups: number;
}

/**
 * One pass of one layer on fixed operands: x (B,H,W,C), w (KH,KW,C/G,OC) and dy
 * (B,OH,OW,OC). The output compared is y for the forward, and for the backward passes the
 * gradient accumulated into a zeroed dx or dw.
 */
export interface ConvCase {
  layer: ConvLayer;
  pass: ConvPass;
  geometry: ConvGeometry;
  x: Float32Array; w: Float32Array; dy: Float32Array;
}

/** What a contender answers for a case it cannot run (an op its backend lacks): shown as such, never as 0. */
export interface Unavailable { unavailable: string }

/** A layer case's size: batch norm over x (rows, cols = C); GELU over rows * cols elements. */
export interface LayerShape { kernel: LayerKernel; rows: number; cols: number }

/** Operands of a layer case: x and dy (rows, cols); gamma, beta (cols) for batch norm. */
export interface LayerCase extends LayerShape {
  x: Float32Array; dy: Float32Array; gamma: Float32Array; beta: Float32Array; eps: number;
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
  conv?(c: ConvCase): Prepared<Float32Array> | Unavailable | undefined;
  loss?(c: LossCase): Prepared<LossOutput> | undefined;
  /** Forward + backward of a normalisation / activation kernel; the output is [y, dx]. */
  layer?(c: LayerCase): Prepared<Float32Array> | Unavailable | undefined;
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
  /** Convolution layers (default: CONV_LAYERS in full mode, QUICK_CONV_LAYERS in quick mode) and passes. */
  convLayers?: readonly ConvLayer[];
  convPasses?: readonly ConvPass[];
  /** Normalisation / activation cases (default: LAYER_SHAPES in full mode, QUICK_LAYER_SHAPES in quick mode). */
  layerShapes?: readonly LayerShape[];
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

export interface ConvEntry {
  contender: string;
  stat: Stat;
  /** flop / t, flop = 2 B OH OW KH KW (C/G) OC for every pass. */
  gflops: number;
  fractionOfPeak: number | null;
  /** max |out - ref| / max |ref| against an f64 reference. */
  error: number;
}

export interface ConvRow {
  layer: string;
  pass: ConvPass;
  geometry: ConvGeometry;
  flop: number;
  /**
   * The peak probe of `peakFrom` timed in this case's own rounds, interleaved with the
   * contenders (the run's first peak where it was not); the entries' fractionOfPeak are of it.
   */
  peakGflops: number | null;
  entries: ConvEntry[];
  /** Contenders that cannot run this pass, and why (e.g. tfjs-backend-wasm has no Conv2DBackpropFilter). */
  unavailable: { contender: string; reason: string }[];
  /**
   * The lead's target for `ours` on layers with >= 16 input channels (C, depthwise layers
   * included): >= 60% of the SIMD peak. null where it does not apply (fewer input channels).
   */
  target: TargetResult | null;
}

export interface LayerEntry {
  contender: string;
  stat: Stat;
  /** One forward + backward, µs. */
  usPerCall: number;
  /** max |out - ref| / max |ref| over [y, dx] against an f64 reference. */
  error: number;
}

export interface LayerRow {
  kernel: LayerKernel;
  rows: number; cols: number;
  entries: LayerEntry[];
  unavailable: { contender: string; reason: string }[];
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
  conv: ConvRow[];
  /** Batch norm and GELU, forward + backward (layers.ts). */
  layers: LayerRow[];
  losses: LossRow[];
  wasmBytes: { simd?: number; scalar?: number };
  ratios: Ratio[];
  targets: TargetResult[];
}
