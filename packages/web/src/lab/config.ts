// The lab's settings as a run sees them: every field checked (the page checks them first; this is
// the worker's own guard), a model spec checked against the loaded data (MNIST, or the visitor's files), and a LabConfig turned into the
// RunConfig and method options of each run executeRun (packages/distill/src/run/execute.ts) makes.
import {
  compileSpec, configFieldProblem, featureTaps, formatModelSpec, METHODS, parseRunConfig, resolveModelSpec, parseModelSpec, SpecError, tapName,
  createModel, type Core, type MethodOptions, type Model, type ModelSpec, type RunConfig, type RunConfigInput, type InputNorm,
} from '@retort/distill';
import type { LabConfig, ModelDescription, TapInfo } from './types.js';

/** The data a lab run learns from, as the models and the page see it. */
export interface LabShape {
  /** 'MNIST', or the name of the picked files. */
  name: string;
  /** One sample's shape: [28, 28] for MNIST, [H, W, C] for images, [D] for table rows. */
  sampleShape: readonly number[];
  features: number;
  classes: number;
  /** What each class is called ('0'..'9' for MNIST and numbered labels). */
  classNames: readonly string[];
  /** How samples are prepared: u8 as x/255, then − mean, / std (one value, or one per channel). */
  norm: InputNorm;
}

/** MNIST's 28x28 images, read as x/255 (mean 0, std 1). */
export const MNIST_SHAPE: LabShape = {
  name: 'MNIST', sampleShape: [28, 28], features: 784, classes: 10, classNames: Array.from({ length: 10 }, (_, i) => String(i)), norm: { mean: 0, std: 1 },
};

let current: LabShape = MNIST_SHAPE;
/** The shape of the data loaded in this worker (MNIST until files are loaded). */
export function labShape(): LabShape { return current; }
export function setLabShape(s: LabShape): void { current = s; }

/** Whether the drawing pad applies: 28x28 grey samples, as MNIST's. */
export function isDigitShaped(s: LabShape): boolean {
  const d = s.sampleShape;
  return d[0] === 28 && d[1] === 28 && (d.length === 2 || (d.length === 3 && d[2] === 1));
}

/** A model spec (an MLP, a preset with its width, a JSON graph) resolved against the loaded data and checked to take its samples. */
export function labModelSpec(text: string | object, what: string): ModelSpec {
  const data = current;
  let spec: ModelSpec;
  try {
    spec = resolveModelSpec(parseModelSpec(text, what), { inputShape: data.sampleShape, classes: data.classes });
    const g = compileSpec(spec, what);
    const inputs = g.inputShape.reduce((a, b) => a * b, 1);
    if (inputs !== data.features) {
      throw new SpecError(`${what}.input`, `takes [${g.inputShape.join(', ')}] inputs, but the samples of ${data.name} are [${data.sampleShape.join(', ')}] (${data.features} values)`);
    }
    if (g.classes !== data.classes) throw new SpecError(what, `outputs ${g.classes} classes, but ${data.name} has ${data.classes}`);
  } catch (e) {
    // resolving against the data re-parses the spec under the root 'model': name it as the form does
    if (e instanceof SpecError) throw new RangeError(`${e.field.replace(/^model(?=$|[.[])/, what)}: ${e.problem}`);
    throw e;
  }
  return spec;
}

/** A short name of a spec for tables: the short form of an MLP or preset; a graph by its size. */
export function specLabel(spec: ModelSpec): string {
  if (spec.type !== 'graph') return formatModelSpec(spec);
  const g = compileSpec(spec);
  return `graph of ${g.nodes.length} layers (${g.taps.size} taps)`;
}

/** How many of a spec's taps are feature maps (H, W, C). */
export function mapTapsOfSpec(spec: ModelSpec): number {
  const g = compileSpec(spec);
  return [...g.taps.values()].filter((i) => g.nodes[i]!.outShape.length === 3).length;
}

/** The taps of a model, as the tap selects list them (an MLP's hidden layers as hidden<i>). */
export function tapsOf(model: Model): TapInfo[] {
  return featureTaps(model).map((t) => ({ name: tapName(t.ref), shape: [...t.shape] }));
}

/** What the page shows of a model spec: its label, parameters and taps (a model is built and freed to list them). */
export function describeSpec(core: Core, text: string, what: string): ModelDescription {
  const spec = labModelSpec(text, what);
  const m = createModel(core, spec);
  try {
    return { spec: specLabel(spec), params: m.paramCount, taps: tapsOf(m), isMlp: spec.type === 'mlp' };
  } finally {
    m.free();
  }
}

/** Every field of a config, checked. */
export function checkConfig(cfg: LabConfig, trainCount: number, testCount: number): void {
  const int = (v: number, name: string, min: number, max = Number.MAX_SAFE_INTEGER): void => {
    if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${name} must be a whole number in [${min}, ${max}], got ${v}`);
  };
  // the bounds a run's config states (config.ts), with the lab's names for the fields
  const field = (key: Parameters<typeof configFieldProblem>[0], v: number, name: string): void => {
    const problem = configFieldProblem(key, v);
    if (problem) throw new RangeError(`${name} ${problem}, got ${v}`);
  };
  field('temperature', cfg.temperature, 'temperature');
  field('alpha', cfg.alpha, 'α (the soft weight)');
  field('epochs', cfg.epochs, 'epochs');
  field('seed', cfg.seed, 'seed');
  field('batchSize', cfg.batchSize, 'batch size');
  if (!METHODS.some((m) => m.name === cfg.method)) throw new RangeError(`unknown method '${cfg.method}'`);
  int(cfg.epochs, 'epochs', 1, 1000);
  int(cfg.seed, 'seed', 0, 2 ** 32 - 1);
  int(cfg.batchSize, 'batch size', 1, 4096);
  int(cfg.validation, 'validation images', 1, Math.floor(trainCount / 2));
  int(cfg.transferSize, 'transfer-set size', 1, trainCount - cfg.validation);
  int(cfg.testSize, 'test images', 1, testCount);
  if (!(cfg.lr > 0 && cfg.lr < 10)) throw new RangeError(`learning rate must be in (0, 10), got ${cfg.lr}`);
  labModelSpec(cfg.student, 'student');
  if (cfg.teacher) {
    labModelSpec(cfg.teacher.spec, 'teacher');
    int(cfg.teacher.epochs, 'teacher epochs', 1, 1000);
    int(cfg.teacher.trainSize, 'teacher training images', 1, trainCount - cfg.validation);
  }
  switch (cfg.method) {
    case 'dkd':
      if (!(cfg.dkdAlpha >= 0) || !(cfg.dkdBeta >= 0)) throw new RangeError('DKD α and β must be numbers >= 0');
      break;
    case 'tfkd':
      if (!(cfg.correct > 0 && cfg.correct < 1)) throw new RangeError(`Tf-KD's probability on the label must be in (0, 1), got ${cfg.correct}`);
      break;
    case 'dml': int(cfg.peers, 'peers', 1, 4); break;
    case 'rkd':
      if (!(cfg.rkdDistance >= 0) || !(cfg.rkdAngle >= 0)) throw new RangeError('RKD distance and angle weights must be numbers >= 0');
      break;
    case 'fitnets': int(cfg.hintEpochs, 'hint epochs', 1, cfg.epochs - 1); break;
    case 'born-again': int(cfg.generations, 'generations', 1, 5); break;
    default: break;
  }
}

/** Methods that read taps, whose layers the page lets the visitor choose. */
export const TAP_METHODS: readonly string[] = ['fitnets', 'rkd', 'at'];

/** The run settings every model of a lab run shares (seed, split, batch, optimizer, test images). */
function common(cfg: LabConfig): RunConfigInput {
  const norm = current.norm;
  return {
    data: current === MNIST_SHAPE ? 'mnist' : current.name, model: cfg.student, seed: cfg.seed, validation: cfg.validation, testSize: cfg.testSize, batchSize: cfg.batchSize,
    optimizer: { type: 'adamw', lr: cfg.lr }, schedule: { type: 'cosine' }, jitter: 0, mean: norm.mean, std: norm.std,
    temperature: cfg.temperature, alpha: cfg.alpha,
  };
}

/** The teacher trained here: its spec, its epochs on its first trainSize images, labels alone. */
export function teacherRunConfig(cfg: LabConfig): RunConfig {
  const t = cfg.teacher!;
  return parseRunConfig({ ...common(cfg), model: t.spec, epochs: t.epochs, trainSize: t.trainSize, method: 'none' }, 'teacher');
}

/**
 * A student's run: `method` (the lab's, or none for the student alone, kd for a born-again
 * generation) on the transfer set; `teacherNorm` is a loaded teacher's input preparation.
 */
export function studentRunConfig(cfg: LabConfig, method: string, teacherNorm: InputNorm = current.norm): RunConfig {
  const differs = JSON.stringify(teacherNorm) !== JSON.stringify(current.norm);
  return parseRunConfig({
    ...common(cfg), epochs: cfg.epochs, trainSize: cfg.transferSize, method,
    ...(method === 'dml' ? { peers: cfg.peers } : {}),
    ...(differs ? { teacherInput: { mean: teacherNorm.mean, std: teacherNorm.std } } : {}),
  }, 'student');
}

/** The method's layers and weights from the form. */
export function labMethodOptions(cfg: LabConfig): MethodOptions {
  const taps = TAP_METHODS.includes(cfg.method);
  return {
    ...(taps && cfg.studentTap ? { studentLayer: cfg.studentTap } : {}),
    ...(taps && cfg.teacherTap ? { teacherLayer: cfg.teacherTap } : {}),
    ...(cfg.method === 'fitnets' ? { hintEpochs: cfg.hintEpochs } : {}),
    dkd: { alpha: cfg.dkdAlpha, beta: cfg.dkdBeta }, tfkd: { correct: cfg.correct }, rkd: { distance: cfg.rkdDistance, angle: cfg.rkdAngle },
  };
}
