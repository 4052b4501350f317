// The comparison users look for: one teacher (and a second, narrower one for the multi-
// teacher row), the same student trained with every method of the family and without
// distillation, over several seeds; test accuracy of the LAST epoch as mean ± standard
// deviation (never the best epoch: that would select on the test set).
//
// And the temperature study of Hinton et al. (2015): a T × student-width sweep.
//
// Every cell is an ordinary run directory under <out>; rerunning the command resumes
// (finished runs are read back), --fresh reruns everything. Hyperparameters are the
// methods' documented defaults (retort methods) and the run's alpha / T, not tuned here.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { RunConfigInput } from '../config.js';
import { attentionPairs } from '../losses/methods.js';
import { compileSpec, parseModelSpec, resolveModelSpec } from '../model/spec.js';
import { isTextData } from '../text/load.js';
import { bornAgainJob } from './born-again.js';
import { meanStd, runOrResume } from './experiment.js';
import { RUN_FILES, writeJsonAtomic, writeTextAtomic } from './run-dir.js';
import type { DataOptionsConfig, RunEvent, RunOptions, RunReport } from './run.js';

export const METHOD_COMPARE_DEFAULTS = {
  data: 'mnist',
  teacherModel: 'mlp:784-1200-1200-10,dropout=0.1/0.3',
  /** The second teacher of the multi-teacher row: another architecture. */
  secondTeacherModel: 'mlp:784-800-800-10,dropout=0.1/0.3',
  teacherEpochs: 8,
  studentModel: 'mlp:784-300-300-10',
  studentEpochs: 10,
  /** Training images the students learn from (the teachers use them all); 0 = all. */
  transferSize: 10000,
  batchSize: 128,
  lr: 1e-3,
  temperature: 4,
  alpha: 0.9,
  seeds: 3,
  /** Training samples every run holds out for validation (chosen by seed; the same for every run). */
  validation: 5000,
  /** Train the teachers on only this many samples / test on this many (quick runs); all when 0. */
  trainSize: 0,
  testSize: 0,
};

export type MethodCompareSettings = typeof METHOD_COMPARE_DEFAULTS & {
  /** How `data` is read and its test set found (test data, split, label column, image size). */
  dataOptions?: DataOptionsConfig;
};

/**
 * On text data (a bundled corpus or a .jsonl/.csv): a Transformer teacher and student, a 1-D CNN as
 * the second teacher (the two-teacher row mixes architectures), every labelled text as the transfer
 * set, and the settings of the spam measurements in the README (3 epochs, batch 32).
 */
export const METHOD_COMPARE_TEXT_DEFAULTS: Partial<MethodCompareSettings> = {
  teacherModel: 'transformer-l', secondTeacherModel: 'cnn1d', studentModel: 'transformer-s',
  teacherEpochs: 3, studentEpochs: 3, transferSize: 0, batchSize: 32, validation: 500,
};

/** The settings a comparison on `data` starts from (MNIST's or text's), before the caller's. */
export function methodCompareBase(data: string): MethodCompareSettings {
  return { ...METHOD_COMPARE_DEFAULTS, ...(isTextData(data) ? METHOD_COMPARE_TEXT_DEFAULTS : {}), data };
}

/** The smoke-run settings of --quick: seconds, not minutes; the numbers mean nothing. */
export const METHOD_COMPARE_QUICK: Partial<MethodCompareSettings> = {
  teacherModel: 'mlp:784-64-64-10', secondTeacherModel: 'mlp:784-48-10', teacherEpochs: 1,
  studentModel: 'mlp:784-32-32-10', studentEpochs: 2, transferSize: 600, trainSize: 1200, testSize: 500, seeds: 2,
};

/** --quick on text: two narrow Transformers and a small bag of embeddings. */
export const METHOD_COMPARE_TEXT_QUICK: Partial<MethodCompareSettings> = {
  teacherModel: 'transformer-s:layers=2,dim=32,heads=2', secondTeacherModel: 'bag:dim=16', teacherEpochs: 2,
  studentModel: 'transformer-s:layers=2,dim=16,heads=2', studentEpochs: 2, transferSize: 0, trainSize: 600, testSize: 300, seeds: 2, batchSize: 32, validation: 60,
};

/** The rows: a method name, how it runs, and what it is. */
export const COMPARED_METHODS = [
  { name: 'none', label: 'no distillation (student alone)' },
  { name: 'kd', label: 'Hinton KD' },
  { name: 'kd-2-teachers', label: 'Hinton KD, two teachers (mean of probabilities)' },
  { name: 'kd-soft-only', label: 'Hinton KD, soft targets only (no labels)' },
  { name: 'dkd', label: 'Decoupled KD' },
  { name: 'fitnets', label: 'FitNets hints, then KD' },
  { name: 'rkd', label: 'RKD distance + angle' },
  { name: 'at', label: 'Attention transfer (feature maps of equal resolution)' },
  { name: 'dml', label: 'Deep mutual learning (2 students)' },
  { name: 'tfkd', label: 'Teacher-free KD' },
  { name: 'adaptive', label: 'KD, annealed T, agreement-driven weight' },
  { name: 'born-again', label: 'Born-again, 2 generations (last one)' },
  { name: 'tinybert', label: 'TinyBERT: attention scores, hidden states, embeddings, then KD' },
  { name: 'minilm', label: 'MiniLM: last-block attention and value relations, with KD' },
] as const;

export type ComparedMethod = (typeof COMPARED_METHODS)[number]['name'];

export interface MethodRow {
  method: ComparedMethod;
  label: string;
  /** Test accuracy of each seed's last epoch. */
  accuracies: number[];
  errors: number[];
  mean: number;
  std: number;
  trainSeconds: number;
}

export interface MethodCompareResult {
  settings: MethodCompareSettings;
  teachers: { model: string; params: number; testErrors: number; testAccuracy: number; trainSeconds: number }[];
  student: { model: string; params: number };
  rows: MethodRow[];
  wallSeconds: number;
}

export interface MethodCompareOptions {
  out: string;
  settings?: Partial<MethodCompareSettings>;
  /** Only these methods (default: all). */
  methods?: readonly ComparedMethod[];
  fresh?: boolean;
  backend?: RunOptions['backend'];
  shouldStop?: () => boolean;
  onEvent?: (run: string, e: RunEvent) => void;
}

export async function compareMethods(opts: MethodCompareOptions): Promise<MethodCompareResult> {
  const t0 = Date.now();
  const s: MethodCompareSettings = { ...methodCompareBase(opts.settings?.data ?? METHOD_COMPARE_DEFAULTS.data), ...opts.settings };
  const text = isTextData(s.data);
  if (!Number.isInteger(s.seeds) || s.seeds < 1) throw new RangeError(`compare: seeds must be a positive integer, got ${s.seeds}`);
  for (const m of opts.methods ?? []) if (!COMPARED_METHODS.some((c) => c.name === m)) throw new RangeError(`compare: unknown method '${m}' (known: ${COMPARED_METHODS.map((c) => c.name).join(', ')})`);
  // attention transfer needs feature maps of the same resolution on both sides: 'all' leaves it
  // out for a pair without them (an MLP); asking for it by name is an error naming the taps
  const atPairs = featureMapPairs(s);
  if (opts.methods?.includes('at') && atPairs instanceof Error) throw new RangeError(`compare: ${atPairs.message}`);
  // TinyBERT and MiniLM need attention on both sides: 'all' leaves them out otherwise (asked by
  // name, the run names the missing taps); on text, attention transfer (image maps) has no pairs
  const transformers = hasAttention(s.studentModel, text) && hasAttention(s.teacherModel, text);
  const methods = opts.methods ?? COMPARED_METHODS.map((m) => m.name).filter((m) =>
    (m !== 'at' || (!text && !(atPairs instanceof Error))) && ((m !== 'tinybert' && m !== 'minilm') || transformers));
  mkdirSync(opts.out, { recursive: true });
  const run = (name: string, kind: 'train' | 'distill', config: RunConfigInput): Promise<RunReport> =>
    runOrResume(join(opts.out, name), kind, config, {
      ...(opts.backend ? { backend: opts.backend } : {}), ...(opts.fresh ? { fresh: true } : {}), ...(opts.shouldStop ? { shouldStop: opts.shouldStop } : {}),
      onEvent: (e) => opts.onEvent?.(name, e),
    });
  const common: Partial<RunConfigInput> = {
    data: s.data, ...s.dataOptions, batchSize: s.batchSize, validation: s.validation, optimizer: { type: 'adamw', lr: s.lr }, schedule: { type: 'cosine' },
    ...(s.testSize ? { testSize: s.testSize } : {}),
  };
  const teacherCfg = (model: string, seed: number): RunConfigInput => ({ ...common, model, epochs: s.teacherEpochs, seed, ...(s.trainSize ? { trainSize: s.trainSize } : {}) });
  const teacher = await run('teacher', 'train', teacherCfg(s.teacherModel, 1));
  const needsSecond = methods.includes('kd-2-teachers');
  const teacher2 = needsSecond ? await run('teacher-2', 'train', teacherCfg(s.secondTeacherModel, 2)) : null;
  const t1 = join(opts.out, 'teacher', RUN_FILES.model), t2 = join(opts.out, 'teacher-2', RUN_FILES.model);
  const transfer = s.transferSize > 0 ? (s.trainSize ? Math.min(s.transferSize, s.trainSize) : s.transferSize) : (s.trainSize || undefined);
  const kd = { temperature: s.temperature, alpha: s.alpha };
  const rows: MethodRow[] = [];
  let studentInfo: MethodCompareResult['student'] | null = null;
  for (const m of methods) {
    const accuracies: number[] = [], errors: number[] = [];
    let seconds = 0;
    for (let seed = 1; seed <= s.seeds; seed++) {
      const student: RunConfigInput = { ...common, model: s.studentModel, epochs: s.studentEpochs, seed, ...(transfer ? { trainSize: transfer } : {}), ...kd };
      const dir = `${m}/seed${seed}`;
      let r: RunReport;
      switch (m) {
        case 'none': r = await run(dir, 'train', student); break;
        case 'kd': r = await run(dir, 'distill', { ...student, method: 'kd', teacher: t1 }); break;
        case 'kd-2-teachers': r = await run(dir, 'distill', { ...student, method: 'kd', teachers: [{ model: t1, weight: 1 }, { model: t2, weight: 1 }] }); break;
        case 'kd-soft-only': r = await run(dir, 'distill', { ...student, losses: [{ type: 'kd', weight: 1, temperature: s.temperature }], teacher: t1, transfer: { labels: false } }); break;
        case 'dml': r = await run(dir, 'train', { ...student, method: 'dml' }); break;
        case 'tfkd': r = await run(dir, 'train', { ...student, method: 'tfkd' }); break;
        case 'born-again': {
          const ban = await bornAgainJob({
            out: join(opts.out, dir), config: student, generations: 2,
            ...(opts.backend ? { backend: opts.backend } : {}), ...(opts.fresh ? { fresh: true } : {}), ...(opts.shouldStop ? { shouldStop: opts.shouldStop } : {}),
            onEvent: (name, e) => opts.onEvent?.(`${dir}/${name}`, e),
          });
          const last = ban.generations.at(-1)!;
          accuracies.push(last.testAccuracy); errors.push(last.testErrors);
          seconds += ban.generations.reduce((a, g) => a + g.trainSeconds, 0);
          continue;
        }
        default: r = await run(dir, 'distill', { ...student, method: m, teacher: t1 }); break;
      }
      studentInfo ??= { model: r.model.spec, params: r.model.params };
      accuracies.push(r.test.accuracy); errors.push(r.test.errors);
      seconds += r.trainSeconds;
    }
    const { mean, std } = meanStd(accuracies);
    rows.push({ method: m, label: COMPARED_METHODS.find((c) => c.name === m)!.label, accuracies, errors, mean, std, trainSeconds: seconds });
  }
  const t = (r: RunReport) => ({ model: r.model.spec, params: r.model.params, testErrors: r.test.errors, testAccuracy: r.test.accuracy, trainSeconds: r.trainSeconds });
  const result: MethodCompareResult = {
    settings: s, teachers: [t(teacher), ...(teacher2 ? [t(teacher2)] : [])],
    student: studentInfo ?? { model: s.studentModel, params: 0 }, rows, wallSeconds: (Date.now() - t0) / 1000,
  };
  writeJsonAtomic(join(opts.out, 'methods.json'), result);
  writeTextAtomic(join(opts.out, 'methods.md'), renderMethodComparison(result));
  return result;
}

/** Whether the model has a Transformer attention layer (the shape of the data does not change that). */
function hasAttention(spec: string, text: boolean): boolean {
  try {
    const data = text ? { inputShape: [16], classes: 2, vocab: 64 } : { inputShape: [28, 28], classes: 10 };
    return compileSpec(resolveModelSpec(parseModelSpec(spec), data)).nodes.some((n) => n.spec.type === 'attention');
  } catch {
    return false;
  }
}

/** The attention-transfer pairs of the compared teacher and student (as the data shapes them), or the reason there are none. */
function featureMapPairs(s: MethodCompareSettings): unknown[] | Error {
  try {
    const data = s.data === 'mnist' ? { inputShape: [28, 28], classes: 10 } : null;
    if (!data) return [];
    const taps = (spec: string) => {
      const g = compileSpec(resolveModelSpec(parseModelSpec(spec), data));
      return [...g.taps].map(([name, i]) => ({ ref: name, shape: g.nodes[i]!.outShape }));
    };
    return attentionPairs(taps(s.studentModel), taps(s.teacherModel));
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
}

export function renderMethodComparison(r: MethodCompareResult): string {
  const s = r.settings;
  const pct = (x: number) => (100 * x).toFixed(2);
  const unit = isTextData(s.data) ? 'text' : s.data === 'mnist' ? 'image' : 'sample';
  const lines = [
    `| method | test accuracy % (mean ± sd, ${s.seeds} seeds, last epoch) | test errors per seed | training time (all seeds) |`,
    '|---|---|---|---|',
    ...r.rows.map((x) => `| ${x.label} (\`${x.method}\`) | ${pct(x.mean)} ± ${pct(x.std)} | ${x.errors.join(', ')} | ${(x.trainSeconds / 60).toFixed(1)} min |`),
    '',
    `Teacher: ${r.teachers[0]!.model} (${r.teachers[0]!.params.toLocaleString('en-US')} parameters, ${r.teachers[0]!.testErrors} test errors)` +
      (r.teachers[1] ? `; second teacher (two-teacher row): ${r.teachers[1].model} (${r.teachers[1].params.toLocaleString('en-US')}, ${r.teachers[1].testErrors} errors)` : '') +
      `; ${s.teacherEpochs} epochs on ${s.trainSize ? s.trainSize.toLocaleString('en-US') : 'all'} training ${unit}s.`,
    `Student: ${r.student.model} (${r.student.params.toLocaleString('en-US')} parameters), ${s.studentEpochs} epochs on ` +
      `${s.transferSize ? `a ${s.transferSize.toLocaleString('en-US')}-${unit} transfer set` : s.trainSize ? `${s.trainSize.toLocaleString('en-US')} training ${unit}s` : 'the full training set'}; ` +
      `batch ${s.batchSize}, AdamW lr ${s.lr}, cosine decay; T = ${s.temperature}, alpha = ${s.alpha} where a method uses them, ` +
      'other parameters at their documented defaults (retort methods).',
    `Test set: ${s.testSize ? `the first ${s.testSize.toLocaleString('en-US')}` : 'all'} ${unit}s of ${s.data}. Wall time ${(r.wallSeconds / 60).toFixed(1)} min.`, '',
  ];
  return lines.join('\n');
}

// ---- the temperature study ---------------------------------------------------------------------

export const SWEEP_DEFAULTS = {
  widths: [30, 300, 800],
  temperatures: [1, 2, 2.5, 4, 8, 20],
  seeds: 2,
  studentEpochs: 10,
  transferSize: 20000,
  alpha: 0.9,
  batchSize: 128,
  lr: 1e-3,
  testSize: 0,
};

export type SweepSettings = typeof SWEEP_DEFAULTS;

export interface SweepResult {
  settings: SweepSettings;
  teacher: string;
  /** cells[w][t]: mean and sd of test errors over seeds. */
  cells: { width: number; temperature: number; errors: number[]; mean: number; std: number }[][];
  wallSeconds: number;
}

/**
 * Students 784-W-W-10 distilled at every temperature from `teacher` (a model file), over seeds.
 * Test errors of the last epoch.
 */
export async function temperatureSweep(opts: { out: string; teacher: string; settings?: Partial<SweepSettings>; data?: string; dataOptions?: DataOptionsConfig; fresh?: boolean; shouldStop?: () => boolean;
                                               backend?: RunOptions['backend']; onEvent?: (run: string, e: RunEvent) => void }): Promise<SweepResult> {
  const t0 = Date.now();
  const s: SweepSettings = { ...SWEEP_DEFAULTS, ...opts.settings };
  mkdirSync(opts.out, { recursive: true });
  const cells: SweepResult['cells'] = [];
  for (const width of s.widths) {
    const row: SweepResult['cells'][number] = [];
    for (const T of s.temperatures) {
      const errors: number[] = [];
      for (let seed = 1; seed <= s.seeds; seed++) {
        const name = `w${width}/T${T}/seed${seed}`;
        const r = await runOrResume(join(opts.out, name), 'distill', {
          data: opts.data ?? 'mnist', ...opts.dataOptions, model: `mlp:784-${width}-${width}-10`, epochs: s.studentEpochs, seed, batchSize: s.batchSize,
          optimizer: { type: 'adamw', lr: s.lr }, schedule: { type: 'cosine' }, teacher: opts.teacher, temperature: T, alpha: s.alpha,
          ...(s.transferSize ? { trainSize: s.transferSize } : {}), ...(s.testSize ? { testSize: s.testSize } : {}),
        }, { ...(opts.backend ? { backend: opts.backend } : {}), ...(opts.fresh ? { fresh: true } : {}), ...(opts.shouldStop ? { shouldStop: opts.shouldStop } : {}), onEvent: (e) => opts.onEvent?.(name, e) });
        errors.push(r.test.errors);
      }
      const { mean, std } = meanStd(errors);
      row.push({ width, temperature: T, errors, mean, std });
    }
    cells.push(row);
  }
  const result: SweepResult = { settings: s, teacher: opts.teacher, cells, wallSeconds: (Date.now() - t0) / 1000 };
  writeJsonAtomic(join(opts.out, 'sweep.json'), result);
  writeTextAtomic(join(opts.out, 'sweep.md'), renderSweep(result));
  return result;
}

export function renderSweep(r: SweepResult): string {
  const s = r.settings;
  const head = ['student', ...s.temperatures.map((T) => `T = ${T}`)];
  const lines = [
    `Test errors (mean ± sd over ${s.seeds} seed${s.seeds > 1 ? 's' : ''}, last epoch); best temperature of each width in bold.`, '',
    `| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`,
    ...r.cells.map((row) => {
      const best = Math.min(...row.map((c) => c.mean));
      return `| 784-${row[0]!.width}-${row[0]!.width}-10 | ${row.map((c) => {
        const txt = `${c.mean.toFixed(1)} ± ${c.std.toFixed(1)}`;
        return c.mean === best ? `**${txt}**` : txt;
      }).join(' | ')} |`;
    }),
    '',
    `Teacher ${r.teacher}; students trained ${s.studentEpochs} epochs on ${s.transferSize ? `${s.transferSize.toLocaleString('en-US')} training images` : 'the full training set'}, ` +
      `alpha = ${s.alpha}, T² scaling on, batch ${s.batchSize}, AdamW lr ${s.lr} with cosine decay. Wall time ${(r.wallSeconds / 60).toFixed(1)} min.`, '',
  ];
  return lines.join('\n');
}
