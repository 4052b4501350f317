// Flags and the --config file -> one validated RunConfig. Numbers are parsed strictly
// ("--alpha abc" is an error naming --alpha); flags override config-file fields; paths are
// stored absolute (relative ones in a config file are relative to that file), so a run
// resumes from any working directory.
import type { BackendName } from '@retort/core-wasm';
import { availableParallelism } from 'node:os';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { configFieldProblem, parseModelSpec, parseRunConfig, runConfigSchema, SpecError, type RunConfig } from '@retort/distill';
import { isBundledData, type DataConfig, type DataOptionsConfig } from '@retort/distill/node';
import { UsageError } from './errors.js';

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i;
const INTEGER = /^\+?\d+$/;

interface Bounds { min?: number; max?: number; above?: number; below?: number }

function describeBounds(kind: string, b: Bounds): string {
  if (b.min !== undefined && b.below !== undefined) return `${kind} in [${b.min}, ${b.below})`;
  if (b.above !== undefined && b.max !== undefined) return `${kind} in (${b.above}, ${b.max}]`;
  if (b.above !== undefined) return `${kind} > ${b.above}`;
  if (b.min !== undefined && b.max !== undefined) return `${kind} in [${b.min}, ${b.max}]`;
  if (b.min !== undefined) return `${kind} >= ${b.min}`;
  return kind;
}

function inBounds(v: number, b: Bounds): boolean {
  return (b.min === undefined || v >= b.min) && (b.max === undefined || v <= b.max) && (b.above === undefined || v > b.above)
    && (b.below === undefined || v < b.below);
}

/** A commander parser for a finite number flag within bounds. */
export function numberArg(flag: string, bounds: Bounds = {}): (value: string) => number {
  return (value) => {
    const v = NUMBER.test(value.trim()) ? Number(value) : NaN;
    if (!Number.isFinite(v) || !inBounds(v, bounds)) {
      throw new UsageError(`${flag}: expected a ${describeBounds('number', bounds)}, got '${value}'`);
    }
    return v;
  };
}

/**
 * A commander parser for a number flag that sets a RunConfig field: its bounds are the config
 * schema's (config.ts), declared once, and so is the message ("--epochs: must be a positive
 * integer, got '0'").
 */
export function configArg(flag: string, key: keyof typeof runConfigSchema.shape): (value: string) => number {
  return (value) => {
    const v = NUMBER.test(value.trim()) ? Number(value) : NaN;
    const problem = Number.isFinite(v) ? configFieldProblem(key, v) : 'must be a number';
    if (problem) throw new UsageError(`${flag}: ${problem}, got '${value}'`);
    return v;
  };
}

/** configArg, or the word 'auto' (chosen by the search on the validation split). */
export function configOrAutoArg(flag: string, key: 'temperature' | 'alpha'): (value: string) => number | 'auto' {
  const num = configArg(flag, key);
  return (value) => {
    if (value.trim() === 'auto') return 'auto';
    try {
      return num(value);
    } catch (e) {
      throw new UsageError(`${flag}: expected 'auto' or a number (${(e as Error).message.replace(`${flag}: `, '').replace(/, got '.*'$/s, '')}), got '${value}'`);
    }
  };
}

const BACKEND_NAMES = ['auto', 'simd', 'scalar', 'js', 'relaxed'] as const;

/** --backend, the same on every command that computes. */
export function backendOption(): Option {
  return new Option('--backend <name>', 'auto (default), simd, scalar, js, or relaxed (opt-in relaxed SIMD: faster, bits depend on the CPU)').argParser(choiceArg('--backend', BACKEND_NAMES));
}

/** --threads: how many threads the kernels run on (the same bits for every count). */
export function threadsOption(): Option {
  return new Option('--threads <n>', 'threads the kernels run on, 1 to 256 (default: every core, '
    + `${availableParallelism()} here); any count gives the same bits`).argParser(intArg('--threads', { min: 1, max: 256 }));
}

/** --json, the same flag on every command; what it prints depends on the command. */
export function jsonOption(prints: 'events' | 'object' | 'list'): Option {
  return new Option('--json', prints === 'events' ? 'print every event as one JSON object per line' : prints === 'object' ? 'print one JSON object' : 'print them as JSON');
}

/** A commander parser for an integer flag within bounds. */
export function intArg(flag: string, bounds: Bounds = {}): (value: string) => number {
  return (value) => {
    const v = INTEGER.test(value.trim()) ? Number(value) : NaN;
    if (!Number.isSafeInteger(v) || !inBounds(v, bounds)) {
      throw new UsageError(`${flag}: expected an ${describeBounds('integer', bounds)}, got '${value}'`);
    }
    return v;
  };
}

/** A commander parser for one of a fixed set of words. */
export function choiceArg<T extends string>(flag: string, choices: readonly T[]): (value: string) => T {
  return (value) => {
    if (!(choices as readonly string[]).includes(value)) throw new UsageError(`${flag}: expected one of ${choices.join(', ')}, got '${value}'`);
    return value as T;
  };
}

/** --schedule constant | cosine | step:EVERY:GAMMA (EVERY optimizer steps, lr *= GAMMA). */
export function scheduleArg(value: string): Record<string, unknown> {
  if (value === 'constant' || value === 'cosine') return { type: value };
  const m = /^step:(\d+):([^:]+)$/.exec(value);
  if (m) {
    const every = intArg('--schedule step:EVERY', { min: 1 })(m[1]!);
    const gamma = numberArg('--schedule step:EVERY:GAMMA', { above: 0, max: 1 })(m[2]!);
    return { type: 'step', every, gamma };
  }
  if (value.startsWith('step')) throw new UsageError(`--schedule: the step schedule is step:EVERY:GAMMA (e.g. step:2000:0.5), got '${value}'`);
  throw new UsageError(`--schedule: expected constant, cosine or step:EVERY:GAMMA, got '${value}'`);
}

/** The one description of --data, shared by every command that reads data. */
export const DATA_HELP = "'mnist' (bundled; default), 'spam' or 'sotu' (bundled text corpora), a folder with the four IDX files under MNIST's names, data in the Keras "
  + 'convention (x_train, y_train, x_test, y_test: a .npz archive (numpy.savez), a .safetensors file or a folder of the four .npy files), '
  + 'an image folder (DIR/CLASS/*.png|jpg, or DIR/train/CLASS/… and DIR/test/CLASS/…), a CSV table with a header, '
  + "or text: .jsonl or .csv with a 'text' and a 'label' field";

/** The data flags every command that reads data shares, as commander parsed them. */
export interface DataFlags {
  data?: string;
  testData?: string;
  testFraction?: number;
  splitSeed?: number;
  labelColumn?: string;
  imageSize?: [number, number];
  textColumn?: string;
  tokenizer?: string;
  maxLength?: number;
  vocabSize?: number;
}

/** --image-size HxW (or one number for a square). */
export function imageSizeArg(value: string): [number, number] {
  const m = /^\s*(\d+)\s*(?:[x×,]\s*(\d+)\s*)?$/i.exec(value);
  const h = m ? Number(m[1]) : NaN, w = m ? Number(m[2] ?? m[1]) : NaN;
  if (!(h >= 1 && w >= 1 && h <= 4096 && w <= 4096)) throw new UsageError(`--image-size: expected HEIGHTxWIDTH (e.g. 32x32), each 1 to 4096, got '${value}'`);
  return [h, w];
}

/**
 * Declares --data (unless `withData` is false: the command takes the data as an argument) and
 * the flags that say how it is read and where its test set comes from.
 */
export function addDataOptions(cmd: Command, opts: { dataHelp?: string; withData?: boolean } = {}): Command {
  if (opts.withData !== false) cmd.option('--data <path|mnist>', opts.dataHelp ?? DATA_HELP);
  return cmd
    .option('--test-data <path>', "a test set of your own, in any form --data takes (replaces the data's own test set)")
    .option('--test-fraction <f>', 'when the data has no test set: the fraction of each class held out to test on (default 0.2)',
      configArg('--test-fraction', 'testFraction'))
    .option('--split-seed <n>', 'the seed of that held-out split (default 0; apart from --seed, so every run tests on the same rows)',
      configArg('--split-seed', 'splitSeed'))
    .option('--label-column <name>', "a CSV table's label column (default 'label')")
    .option('--image-size <HxW>', "the size images of an image folder are resized to (default the first image's)", imageSizeArg)
    .option('--text-column <name>', "text data: the text column or field (default 'text')")
    .option('--tokenizer <tokenizer.json>', "text data: a Hugging Face tokenizer.json (default: the teacher model's, else a byte-level BPE trained on the training split)")
    .option('--max-length <n>', 'text data: tokens per sequence, special tokens included (default 128)', configArg('--max-length', 'maxLength'))
    .option('--vocab-size <n>', 'text data: the vocabulary of a tokenizer trained on the training split (default 4096)', configArg('--vocab-size', 'vocabSize'));
}

/** The data flags as config fields (paths absolute from `cwd`); `data` defaults to 'mnist'. */
export function dataConfigFromFlags(flags: DataFlags, cwd = process.cwd()): DataConfig {
  return {
    data: flags.data === undefined ? 'mnist' : isBundledData(flags.data) ? flags.data : resolve(cwd, flags.data),
    ...dataOptionsFromFlags(flags, cwd),
  };
}

/** The data flags as `{ data, dataOptions }`, the shape the multi-run jobs take. */
export function dataSettingsFromFlags(flags: DataFlags, cwd = process.cwd()): { data: string; dataOptions: DataOptionsConfig } {
  const { data, ...dataOptions } = dataConfigFromFlags(flags, cwd);
  return { data, dataOptions };
}

/** The data flags other than --data as config fields. */
export function dataOptionsFromFlags(flags: DataFlags, cwd = process.cwd()): DataOptionsConfig {
  return {
    ...(flags.testData !== undefined ? { testData: resolve(cwd, flags.testData) } : {}),
    ...(flags.testFraction !== undefined ? { testFraction: flags.testFraction } : {}),
    ...(flags.splitSeed !== undefined ? { splitSeed: flags.splitSeed } : {}),
    ...(flags.labelColumn !== undefined ? { labelColumn: flags.labelColumn } : {}),
    ...(flags.imageSize !== undefined ? { imageSize: flags.imageSize } : {}),
    ...(flags.textColumn !== undefined ? { textColumn: flags.textColumn } : {}),
    ...(flags.tokenizer !== undefined ? { tokenizer: resolve(cwd, flags.tokenizer) } : {}),
    ...(flags.maxLength !== undefined ? { maxLength: flags.maxLength } : {}),
    ...(flags.vocabSize !== undefined ? { vocabSize: flags.vocabSize } : {}),
  };
}

/** The flags of `retort train` / `retort distill`, as commander parsed them (undefined = not given). */
export interface RunFlags extends DataFlags {
  config?: string;
  model?: string;
  teacher?: string;
  teacherLogits?: string;
  topK?: number;
  shuffleBuffer?: number;
  temperature?: number | 'auto';
  alpha?: number | 'auto';
  tuneEpochs?: number;
  t2Scaling?: boolean;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  seed?: number;
  optimizer?: 'adamw' | 'sgd';
  momentum?: number;
  weightDecay?: number;
  schedule?: Record<string, unknown>;
  warmup?: number;
  validation?: number;
  trainSize?: number;
  testSize?: number;
  jitter?: number;
  mixup?: boolean;
  tokenNoise?: number;
  normalize?: 'channel';
  method?: string;
  layerMap?: 'uniform' | 'last';
  losses?: string;
  teachers?: string;
  teacherWeights?: number[];
  combine?: 'probabilities' | 'logits';
  peers?: number;
  transferFraction?: number;
  transferClasses?: number[];
  omitClasses?: number[];
  labels?: boolean;
  out?: string;
  resume?: string;
  force?: boolean;
  json?: boolean;
  backend?: 'auto' | BackendName;
}

/** Whether a --teachers entry is precomputed outputs (a .npy / .safetensors file, a teacher-outputs index or directory) rather than a model. */
function isLogitsPath(path: string): boolean {
  if (/\.(npy|safetensors)$/i.test(path) || /(^|[\\/])index\.json$/i.test(path)) return true;
  return existsSync(join(path, 'index.json')) && statSync(path).isDirectory();
}

/** Default learning rates when --optimizer picks the type (SGD also gets momentum 0.9). */
const DEFAULT_LR = { adamw: 1e-3, sgd: 0.1 } as const;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads a --config file: a JSON object of RunConfig fields. */
export function readConfigFile(path: string): Obj {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`--config ${path}: ${code === 'ENOENT' ? 'no such file' : `cannot read (${code ?? (e as Error).message})`}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--config ${path}: not valid JSON (${(e as Error).message})`);
  }
  if (!isObj(json)) throw new UsageError(`--config ${path}: must hold a JSON object of run settings`);
  return json;
}

/** Flags over config-file values -> a validated RunConfig; errors name the flag or the field. */
export function buildRunConfig(kind: 'train' | 'distill', flags: RunFlags, cwd = process.cwd()): RunConfig {
  const file = flags.config ? readConfigFile(resolve(cwd, flags.config)) : {};
  const fileDir = flags.config ? dirname(resolve(cwd, flags.config)) : cwd;
  const cfg: Obj = { ...file };
  const fromFile = (key: string): boolean => key in file;
  // paths: from flags relative to cwd, from the file relative to the file
  const path = (key: 'data' | 'testData' | 'teacher' | 'teacherLogits' | 'tokenizer', flag: string | undefined): void => {
    if (flag !== undefined) cfg[key] = key === 'data' && isBundledData(flag) ? flag : resolve(cwd, flag);
    else if (typeof cfg[key] === 'string' && !(key === 'data' && isBundledData(cfg[key])) && cfg[key] !== '') cfg[key] = resolve(fileDir, cfg[key]);
  };
  path('data', flags.data);
  path('tokenizer', flags.tokenizer);
  path('testData', flags.testData);
  path('teacher', flags.teacher);
  path('teacherLogits', flags.teacherLogits);
  if (flags.teacher !== undefined && fromFile('teacherLogits') && flags.teacherLogits === undefined) delete cfg.teacherLogits;
  if (flags.teacherLogits !== undefined && fromFile('teacher') && flags.teacher === undefined) delete cfg.teacher;

  if (flags.model !== undefined) {
    try {
      // a JSON graph can be given as a file
      const text = /\.json$/i.test(flags.model.trim()) ? readSpecFile(resolve(cwd, flags.model.trim())) : flags.model;
      cfg.model = parseModelSpec(text, '--model');
    } catch (e) {
      if (e instanceof SpecError) throw new UsageError(e.message);
      throw e;
    }
  }
  const set = (key: string, value: unknown): void => { if (value !== undefined) cfg[key] = value; };
  // 'auto': chosen by the search of run/auto-tune.ts (config.autoTune); a number replaces a search from the file
  const auto: Obj = isObj(cfg.autoTune) ? { ...cfg.autoTune } : {};
  for (const key of ['temperature', 'alpha'] as const) {
    const v = flags[key];
    if (v === 'auto') auto[key] = true;
    else if (v !== undefined) { cfg[key] = v; delete auto[key]; }
  }
  if (flags.tuneEpochs !== undefined) {
    if (auto.temperature === undefined && auto.alpha === undefined) throw new UsageError('--tune-epochs: only applies with --temperature auto or --alpha auto');
    auto.epochs = flags.tuneEpochs;
  }
  if (Object.keys(auto).length) cfg.autoTune = auto;
  else if (isObj(cfg.autoTune)) delete cfg.autoTune;
  if (flags.t2Scaling === false) cfg.scaleT2 = false;
  set('epochs', flags.epochs);
  set('batchSize', flags.batchSize);
  set('seed', flags.seed);
  set('validation', flags.validation);
  set('trainSize', flags.trainSize);
  set('testSize', flags.testSize);
  set('jitter', flags.jitter);
  set('testFraction', flags.testFraction);
  set('splitSeed', flags.splitSeed);
  set('labelColumn', flags.labelColumn);
  set('imageSize', flags.imageSize);
  set('textColumn', flags.textColumn);
  set('maxLength', flags.maxLength);
  set('vocabSize', flags.vocabSize);
  set('mixup', flags.mixup);
  set('tokenNoise', flags.tokenNoise);
  set('normalize', flags.normalize);
  set('method', flags.method);
  set('layerMap', flags.layerMap);
  set('combine', flags.combine);
  set('peers', flags.peers);
  set('topK', flags.topK);
  set('shuffleBuffer', flags.shuffleBuffer);
  if (flags.losses !== undefined) {
    cfg.losses = readLossesArg(flags.losses, cwd);
    delete cfg.method;
  }
  if (flags.teachers !== undefined) {
    const files = flags.teachers.split(',').map((f) => f.trim()).filter((f) => f !== '');
    if (files.length === 0) throw new UsageError('--teachers: expected a comma-separated list of model files (.retort) or logits (.npy)');
    const weights = flags.teacherWeights ?? files.map(() => 1);
    if (weights.length !== files.length) throw new UsageError(`--teacher-weights: ${weights.length} weights for ${files.length} teachers`);
    cfg.teachers = files.map((f, k) => ({ [isLogitsPath(resolve(cwd, f)) ? 'logits' : 'model']: resolve(cwd, f), weight: weights[k] }));
    delete cfg.teacher; delete cfg.teacherLogits;
  } else if (flags.teacherWeights !== undefined) {
    throw new UsageError('--teacher-weights: only applies with --teachers');
  } else if (Array.isArray(cfg.teachers)) {
    cfg.teachers = cfg.teachers.map((t: unknown) => {
      if (!isObj(t)) return t;
      const r: Obj = { ...t };
      for (const k of ['model', 'logits']) if (typeof r[k] === 'string' && r[k] !== '') r[k] = resolve(fileDir, r[k]);
      return r;
    });
  }
  if (flags.transferFraction !== undefined || flags.transferClasses !== undefined || flags.omitClasses !== undefined || flags.labels === false) {
    const tr: Obj = isObj(cfg.transfer) ? { ...cfg.transfer } : {};
    if (flags.transferFraction !== undefined) tr.fraction = flags.transferFraction;
    if (flags.transferClasses !== undefined) tr.classes = flags.transferClasses;
    if (flags.omitClasses !== undefined) tr.omitClasses = flags.omitClasses;
    if (flags.labels === false) tr.labels = false;
    cfg.transfer = tr;
  }

  if (flags.optimizer !== undefined || flags.lr !== undefined || flags.momentum !== undefined || flags.weightDecay !== undefined) {
    let opt: Obj = isObj(cfg.optimizer) ? { ...cfg.optimizer } : { type: 'adamw', lr: DEFAULT_LR.adamw };
    const type = flags.optimizer ?? (opt.type === 'sgd' ? 'sgd' : 'adamw');
    if (opt.type !== type) opt = type === 'sgd' ? { type, lr: DEFAULT_LR.sgd, momentum: 0.9 } : { type, lr: DEFAULT_LR.adamw };
    if (flags.lr !== undefined) opt.lr = flags.lr;
    if (flags.momentum !== undefined) {
      if (type !== 'sgd') throw new UsageError('--momentum: only applies to --optimizer sgd');
      opt.momentum = flags.momentum;
    }
    if (flags.weightDecay !== undefined) opt.weightDecay = flags.weightDecay;
    cfg.optimizer = opt;
  }
  if (flags.schedule !== undefined || flags.warmup !== undefined) {
    const sched: Obj = flags.schedule ? { ...flags.schedule } : isObj(cfg.schedule) ? { ...cfg.schedule } : { type: 'cosine' };
    if (flags.warmup !== undefined) sched.warmupSteps = flags.warmup;
    cfg.schedule = sched;
  }

  if (cfg.model === undefined) {
    throw new UsageError('--model: required (a short form such as mlp:784-800-800-10, or a JSON spec), or "model" in the --config file');
  }
  checkTeacherChoice(kind, cfg, flags);
  try {
    return parseRunConfig(cfg, flags.config ? `--config ${flags.config}: config` : 'config');
  } catch (e) {
    if (e instanceof SpecError) throw new UsageError(e.message);
    throw e;
  }
}

function checkTeacherChoice(kind: 'train' | 'distill', cfg: Obj, flags: RunFlags): void {
  const hasTeacher = cfg.teacher !== undefined, hasLogits = cfg.teacherLogits !== undefined, hasList = cfg.teachers !== undefined;
  if (kind === 'train') {
    if (hasTeacher || hasLogits || hasList) {
      const field = hasTeacher ? 'teacher' : hasLogits ? 'teacherLogits' : 'teachers';
      throw new UsageError(`${flags.config ? `--config ${flags.config}: field '${field}'` : field}: 'retort train' takes no teacher (use 'retort distill')`);
    }
    return;
  }
  if (hasTeacher && hasLogits) throw new UsageError('--teacher and --teacher-logits: give one of them, not both');
  const method = typeof cfg.method === 'string' ? cfg.method : 'kd';
  const teacherFree = cfg.losses === undefined && ['none', 'dml', 'tfkd'].includes(method);
  if (!hasTeacher && !hasLogits && !hasList && !teacherFree && cfg.losses === undefined) {
    throw new UsageError(`distill --method ${method} needs a teacher: --teacher MODEL_FILE, --teacher-logits FILE.npy or --teachers A,B`);
  }
  const jitter = flags.jitter ?? cfg.jitter;
  if (hasLogits && typeof jitter === 'number' && jitter > 0) {
    throw new UsageError('--jitter: precomputed --teacher-logits cannot follow shifted inputs; use --teacher MODEL_FILE or --jitter 0');
  }
  const tokenNoise = flags.tokenNoise ?? cfg.tokenNoise;
  if (hasLogits && typeof tokenNoise === 'number' && tokenNoise > 0) {
    throw new UsageError('--token-noise: precomputed --teacher-logits cannot follow noised texts; use --teacher MODEL_FILE or --token-noise 0');
  }
  if (hasLogits && (flags.mixup ?? cfg.mixup) === true) {
    throw new UsageError('--mixup: precomputed --teacher-logits cannot follow mixed inputs; use --teacher MODEL_FILE');
  }
}

/** --losses: JSON text (a list of loss terms) or the path of a JSON file holding one. */
function readLossesArg(value: string, cwd: string): unknown {
  const text = value.trim();
  if (text.startsWith('[') || text.startsWith('{')) {
    try {
      const v = JSON.parse(text) as unknown;
      return Array.isArray(v) ? v : [v];
    } catch (e) {
      throw new UsageError(`--losses: not valid JSON (${(e as Error).message})`);
    }
  }
  const path = resolve(cwd, text);
  let raw: string;
  try { raw = readFileSync(path, 'utf8'); } catch (e) {
    throw new UsageError(`--losses ${value}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : 'cannot read'}`);
  }
  try { return JSON.parse(raw) as unknown; } catch (e) {
    throw new UsageError(`--losses ${value}: not valid JSON (${(e as Error).message})`);
  }
}

/** A commander parser for a comma-separated list of numbers (or integers). */
export function listArg(flag: string, integer: boolean, bounds: Bounds = {}): (value: string) => number[] {
  const one = integer ? intArg(flag, bounds) : numberArg(flag, bounds);
  return (value) => {
    const parts = value.split(',').map((p) => p.trim());
    if (parts.length === 0 || parts.some((p) => p === '')) throw new UsageError(`${flag}: expected a comma-separated list, got '${value}'`);
    return parts.map(one);
  };
}

/** Options that may accompany --resume (everything else comes from the saved config). */
export const RESUME_COMPATIBLE = new Set(['resume', 'json', 'backend', 'threads']);

/** `runs/<kind>-YYYYMMDD-HHMMSS` in local time. */
export function defaultRunDir(kind: string, now = new Date()): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `runs/${kind}-${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`;
}

/**
 * A model spec flag's text: a JSON graph given as a file (NAME.json) is read (relative to cwd);
 * anything else (a short form, inline JSON) is passed on. Undefined stays undefined.
 */
export function specText(flag: string | undefined, name: string, cwd = process.cwd()): string | undefined {
  if (flag === undefined) return undefined;
  const text = /\.json$/i.test(flag.trim()) ? readSpecFile(resolve(cwd, flag.trim()), name) : flag;
  try {
    parseModelSpec(text, name);
  } catch (e) {
    if (e instanceof SpecError) throw new UsageError(e.message);
    throw e;
  }
  return text;
}

function readSpecFile(path: string, name = '--model'): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`${name} ${path}: cannot read the spec file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}
