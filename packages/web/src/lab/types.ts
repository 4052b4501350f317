// What the lab's page and its worker say to each other (types only: both sides import them).

/** The three models a run trains or uses. */
export type Role = 'teacher' | 'distilled' | 'baseline';
export const ROLES: readonly Role[] = ['teacher', 'distilled', 'baseline'];

/** The single-run methods of @retort/distill's METHODS, and born-again as generations. */
export type LabMethod = 'none' | 'kd' | 'dkd' | 'fitnets' | 'rkd' | 'at' | 'dml' | 'tfkd' | 'adaptive' | 'born-again';

/** A teacher trained in the page (the other kinds are loaded from files beforehand). */
export interface TeacherTraining {
  /** Model spec: an MLP (mlp:784-800-800-10,dropout=0.1/0.3), a preset (lenet5, resnet8:width=0.5) or a JSON graph. */
  spec: string;
  epochs: number;
  /** Training images the teacher learns from (the first N of the training split). */
  trainSize: number;
}

export interface LabConfig {
  /** Train this teacher, or null: use the teacher loaded with loadTeacher(). */
  teacher: TeacherTraining | null;
  /** The student's model spec: an MLP (mlp:784-100-100-10), a preset CNN (lenet5:width=0.5) or a JSON graph. */
  student: string;
  method: LabMethod;
  /** fitnets, rkd, at: the student's and the teacher's tap ('' = the method's choice). */
  studentTap: string;
  teacherTap: string;
  /** T > 0 of the soft terms. */
  temperature: number;
  /** Soft weight α in [0, 1] (kd, fitnets, tfkd, adaptive, born-again). */
  alpha: number;
  /** dkd: weights of TCKD and NCKD inside the term. */
  dkdAlpha: number;
  dkdBeta: number;
  /** tfkd: probability the virtual teacher puts on the label. */
  correct: number;
  /** dml: further students trained with the first. */
  peers: number;
  /** rkd: distance and angle weights. */
  rkdDistance: number;
  rkdAngle: number;
  /** fitnets: epochs of the hint stage (then KD). */
  hintEpochs: number;
  /** born-again: generations after the first (the first is the baseline). */
  generations: number;
  /** Student epochs (distilled and baseline alike). */
  epochs: number;
  /** Training images the students learn from (the first N of the training split). */
  transferSize: number;
  seed: number;
  batchSize: number;
  lr: number;
  /** Training images held out (by the seed) for validation; also the int8 calibration rows. */
  validation: number;
  /** Test images evaluated (the first N of the 10,000). */
  testSize: number;
  /** Seconds per timing round of the latency figures. */
  timingSeconds: number;
}

export interface DataInfo {
  /** 'MNIST', or the name of the picked files. */
  name: string;
  /** One sample's shape ([28, 28], [H, W, C], or [D] for table rows), its values, and the classes. */
  sampleShape: number[];
  features: number;
  classes: number;
  classNames: string[];
  trainCount: number;
  testCount: number;
  /** How the test set came about (the data's own, picked test files, or a seeded split). */
  split: string;
  /** How samples are prepared for the models (mean/std). */
  normalization: string;
  /** Test samples as 8-bit pictures (h x w x c each, transferred), or null when they are not pictures (table rows). */
  testImages: Uint8Array | null;
  picture: { h: number; w: number; c: number } | null;
  testLabels: Int32Array;
  /** 28x28 grey samples: the drawing pad applies. */
  drawable: boolean;
  /** A loaded teacher was dropped: it was made for samples of another shape. */
  teacherDropped: boolean;
  seconds: number;
}

/** The visitor's data files (a file picker's, or a folder's with paths inside it) and how to read them. */
export interface DataFilesRequest {
  files: { path: string; bytes: Uint8Array }[];
  /** A test set of their own (any of the same forms); else the data's own, or a seeded split. */
  testFiles?: { path: string; bytes: Uint8Array }[];
  /** A CSV table's label column (default 'label'). */
  labelColumn?: string;
  /** Images resized to [height, width] (default the first image's size). */
  imageSize?: [number, number];
  /** The seeded split when there is no test set: the fraction of each class held out, and its seed. */
  testFraction?: number;
  splitSeed?: number;
  /** Standardise each channel (each feature of a table) by the training split's mean and std. */
  normalize: boolean;
}

/** A tap of a model (a named layer's output) and its per-sample shape. */
export interface TapInfo { name: string; shape: number[] }

export interface TeacherInfo {
  kind: 'retort' | 'tfjs' | 'tfjs-model' | 'onnx' | 'onnx-model' | 'logits';
  /** One line for the page: what was loaded. */
  description: string;
  spec?: string;
  params?: number;
  /** False for a logits file: there is no model to run on test images or drawings. */
  canPredict: boolean;
  /** True when the teacher is a Retort model that can run inside the step (FitNets, RKD, attention transfer). */
  inStep: boolean;
  /** Its taps (none for a TF.js model run by TensorFlow.js or a logits file). */
  taps: TapInfo[];
}

/** What the page shows of a model spec it was given. */
export interface ModelDescription {
  /** Its short form (a graph: its size). */
  spec: string;
  params: number;
  taps: TapInfo[];
  isMlp: boolean;
}

/** A map drawn as a heat map: h x w values in [0, 1], row-major. */
export interface HeatMap { tap: string; h: number; w: number; values: Float32Array }

export interface ChannelMaps {
  tap: string;
  /** The model's feature-map taps (to choose from). */
  taps: string[];
  h: number;
  w: number;
  /** The strongest channels for this image, strongest first, each scaled to [0, 1]. */
  channels: { index: number; values: Float32Array }[];
}

/** The feature-map view of one image: attention maps per tap pair, and channels of a chosen tap of each model. */
export interface FeatureMaps {
  /** Where the pairs come from: the method's terms, maps of the same resolution, or none (no feature maps). */
  pairing: 'method' | 'resolution' | 'none';
  pairs: { student?: HeatMap; teacher?: HeatMap }[];
  channels: { teacher?: ChannelMaps; student?: ChannelMaps };
}

/** Which image the feature maps are of: a test image, or the drawing (784 values in [0, 1]). */
export interface FeatureMapsRequest {
  image: number | Float32Array;
  teacherTap?: string;
  studentTap?: string;
}

/** Live training progress, throttled in the worker (about every 100 ms and at each epoch end). */
export interface ProgressPoint {
  role: Role;
  /** Fraction of this model's training done, in (0, 1]. */
  x: number;
  /** Mean training loss (the model's objective) and batch accuracy since the previous point. */
  loss: number;
  accuracy: number;
  samplesPerSec: number;
  epoch: number;
  epochs: number;
  etaSeconds: number;
  /** born-again: the generation being trained. */
  generation?: number;
}

export interface EpochPoint {
  role: Role;
  x: number;
  epoch: number;
  epochs: number;
  trainLoss: number;
  valLoss: number;
  valAccuracy: number;
  samplesPerSec: number;
  generation?: number;
}

export interface TestMetrics {
  count: number;
  errors: number;
  accuracy: number;
  loss: number;
  ece: number;
  /** Top-1 agreement with the teacher (students, when the teacher has test predictions). */
  agreement?: number;
  confusion: number[][];
  perClassErrors: number[];
}

export interface ModelResult {
  role: Role;
  spec: string;
  params: number;
  /** The objective, readable ("0.1·ce + 0.9·kd(T=4)"); absent for a loaded teacher. */
  losses?: string;
  /** The model's taps (feature terms and feature maps read them). */
  taps?: TapInfo[];
  /** Test-set logits, testCount x 10 (transferred); absent for a logits-file teacher. */
  testLogits?: Float32Array;
  test?: TestMetrics;
  history: {
    epoch: number; trainLoss: number; trainAccuracy: number; valLoss?: number; valAccuracy?: number;
    valErrors?: number; agreement?: number; seconds: number; samplesPerSec: number;
  }[];
  trainSeconds: number;
  /** The teacher came from a file, or was reused from the previous run. */
  source: 'trained' | 'loaded' | 'reused';
  generation?: number;
}

export interface ModelFigures {
  parameters: number;
  /** Bytes of the weights: 4 per parameter for f32; the int8 model's size for int8. */
  bytes: number;
  /** Milliseconds per sample at batch 1, and samples per second at batch 128 (median of 5 rounds). */
  latencyMs: number;
  throughput: number;
  accuracy: number;
  errors: number;
}

export interface Deployment {
  backend: string;
  teacher?: ModelFigures;
  student: ModelFigures;
  /** Absent when the quantizer refused the student (int8Note says why). */
  studentInt8?: ModelFigures & { weights: number; scales: number; biases: number; fileBytes: number };
  int8Note?: string;
  calibrationRows: number;
  /** student accuracy / teacher accuracy (when the teacher has test predictions). */
  retained?: number;
  retainedInt8?: number;
}

export interface RunSummary {
  config: LabConfig;
  backend: string;
  /** Threads the kernels ran on (navigator.hardwareConcurrency where the page is cross-origin isolated). */
  threads: number;
  stopped: boolean;
  teacher?: Omit<ModelResult, 'testLogits'>;
  distilled?: Omit<ModelResult, 'testLogits'>;
  baseline?: Omit<ModelResult, 'testLogits'>;
  deployment?: Deployment;
  wallSeconds: number;
}

/** Callbacks the page hands to run() (wrapped in Comlink.proxy). */
export interface RunCallbacks {
  phase(message: string): void;
  progress(p: ProgressPoint): void;
  epoch(p: EpochPoint): void;
  modelDone(m: ModelResult): void;
}

export type ExportFormat = 'retort' | 'tfjs' | 'onnx' | 'int8';
export interface ExportedFile { name: string; mime: string; bytes: Uint8Array }
