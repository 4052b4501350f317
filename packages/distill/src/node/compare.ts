// The main job: train a teacher, distill a student from it, train the same student
// without distillation (same seed: same data order, initialisation and schedule), and
// compare the three on the test set. `npm start` runs it with these defaults on the
// bundled MNIST in a few minutes on two cores.
//
// The defaults were chosen on the validation split: the teacher trains on all training
// images; both students get the same 5,000-image transfer set, the one with labels only,
// the other with the teacher's soft labels as well. That is where dark knowledge shows in a
// few minutes (validation errors 301 alone vs 202 distilled); with the full set and 5
// epochs the two students were level (78 vs 80): distillation pays off there only with
// longer training (see the paper experiment).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadCore } from '@retort/core-wasm';
import type { RunConfigInput } from '../config.js';
import { fullView } from '../data/dataset.js';
import { loadModel } from '../format/model-io.js';
import { predictLogits } from '../train/predict.js';
import { RUN_FILES, writeJsonAtomic, writeTextAtomic } from './run-dir.js';
import type { AutoTuneResult } from '../run/auto-tune.js';
import { loadTestSet, runJob, type DataOptionsConfig, type JobKind, type RunEvent, type RunOptions, type RunReport } from './run.js';

export const COMPARE_DEFAULTS = {
  data: 'mnist',
  teacherModel: 'mlp:784-1200-1200-10,dropout=0.1/0.3',
  studentModel: 'mlp:784-800-800-10',
  teacherEpochs: 8,
  studentEpochs: 10,
  /** Training images the students learn from (the teacher uses them all); 0 = all. */
  transferSize: 5000,
  batchSize: 128,
  lr: 1e-3,
  /** Training images held out for validation (chosen by seed), by every run (the search scores on them). */
  validation: 5000,
  /** 'auto': chosen with alpha by a short search on the validation split (run/auto-tune.ts). */
  temperature: 'auto' as number | 'auto',
  alpha: 'auto' as number | 'auto',
  seed: 1,
};

export type CompareSettings = typeof COMPARE_DEFAULTS & {
  /** Train the teacher on only this many samples / test on only this many (quick runs and tests); all when absent. */
  trainSize?: number;
  testSize?: number;
  /** How `data` is read and its test set found (test data, split, label column, image size). */
  dataOptions?: DataOptionsConfig;
};

export interface CompareRow {
  name: 'teacher' | 'distilled student' | 'student alone';
  model: string;
  params: number;
  testErrors: number;
  testAccuracy: number;
  /** Top-1 agreement with the teacher on the test set (1 for the teacher itself). */
  agreement: number;
  trainSeconds: number;
  runDir: string;
}

export interface CompareResult {
  settings: CompareSettings;
  rows: CompareRow[];
  wallSeconds: number;
  /** The distilled student's search for T and alpha, when they were 'auto'. */
  autoTune?: AutoTuneResult;
}

export interface CompareOptions {
  out: string;
  force?: boolean;
  settings?: Partial<CompareSettings>;
  backend?: RunOptions['backend'];
  onEvent?: (run: CompareRow['name'], e: RunEvent) => void;
  shouldStop?: () => boolean;
}

export async function compareJob(opts: CompareOptions): Promise<CompareResult> {
  const t0 = Date.now();
  const s: CompareSettings = { ...COMPARE_DEFAULTS, ...opts.settings };
  mkdirSync(opts.out, { recursive: true });
  const common: Partial<RunConfigInput> = {
    data: s.data, ...s.dataOptions, batchSize: s.batchSize, seed: s.seed, validation: s.validation,
    ...(s.trainSize ? { trainSize: s.trainSize } : {}), ...(s.testSize ? { testSize: s.testSize } : {}),
    optimizer: { type: 'adamw', lr: s.lr }, schedule: { type: 'cosine' },
  };
  const run = (name: CompareRow['name'], dir: string, kind: JobKind, config: RunConfigInput): Promise<RunReport> =>
    runJob(kind, config, {
      out: join(opts.out, dir), force: opts.force ?? false,
      ...(opts.backend ? { backend: opts.backend } : {}),
      ...(opts.shouldStop ? { shouldStop: opts.shouldStop } : {}),
      onEvent: (e) => opts.onEvent?.(name, e),
    });

  const teacher = await run('teacher', 'teacher', 'train', { ...common, model: s.teacherModel, epochs: s.teacherEpochs });
  const transfer = s.transferSize > 0 ? Math.min(s.transferSize, s.trainSize ?? Infinity) : s.trainSize;
  const student = { ...common, model: s.studentModel, epochs: s.studentEpochs, ...(transfer ? { trainSize: transfer } : { trainSize: undefined }) };
  const distilled = await run('distilled student', 'distilled', 'distill', {
    ...student, teacher: join(teacher.runDir, RUN_FILES.model),
    ...(s.temperature === 'auto' ? {} : { temperature: s.temperature }), ...(s.alpha === 'auto' ? {} : { alpha: s.alpha }),
    ...(s.temperature === 'auto' || s.alpha === 'auto'
      ? { autoTune: { ...(s.temperature === 'auto' ? { temperature: true as const } : {}), ...(s.alpha === 'auto' ? { alpha: true as const } : {}) } } : {}),
  });
  const alone = await run('student alone', 'alone', 'train', student);

  const rows: CompareRow[] = [
    row('teacher', teacher, 1),
    row('distilled student', distilled, distilled.test.agreement ?? NaN),
    row('student alone', alone, await testAgreement(s, teacher, alone, opts.backend)),
  ];
  const result: CompareResult = { settings: s, rows, wallSeconds: (Date.now() - t0) / 1000, ...(distilled.autoTune ? { autoTune: distilled.autoTune } : {}) };
  writeJsonAtomic(join(opts.out, 'comparison.json'), result);
  writeTextAtomic(join(opts.out, 'comparison.md'), renderComparison(result));
  return result;
}

function row(name: CompareRow['name'], r: RunReport, agreement: number): CompareRow {
  return {
    name, model: r.model.spec, params: r.model.params, testErrors: r.test.errors, testAccuracy: r.test.accuracy,
    agreement, trainSeconds: r.trainSeconds, runDir: r.runDir,
  };
}

/** Top-1 agreement of two saved models on the test set (the baseline never saw the teacher). */
async function testAgreement(s: CompareSettings, a: RunReport, b: RunReport, backend: RunOptions['backend']): Promise<number> {
  const core = await loadCore({ backend: backend ?? 'auto' });
  const test = fullView(loadTestSet({ data: s.data, ...s.dataOptions }).test);
  const view = a.config.testSize ? { ...test, indices: test.indices.subarray(0, a.config.testSize) } : test;
  const ma = loadModel(core, join(a.runDir, RUN_FILES.model));
  const mb = loadModel(core, join(b.runDir, RUN_FILES.model));
  try {
    const norm = a.inputNorm ?? { mean: a.config.mean, std: a.config.std }; // reports before inputNorm
    const la = predictLogits(core, ma, view, norm), lb = predictLogits(core, mb, view, norm);
    const classes = ma.classes;
    let same = 0;
    for (let i = 0; i < view.indices.length; i++) {
      if (argmax(la, i * classes, classes) === argmax(lb, i * classes, classes)) same++;
    }
    return same / view.indices.length;
  } finally {
    ma.free();
    mb.free();
  }
}

function argmax(x: Float32Array, from: number, n: number): number {
  let best = 0;
  for (let j = 1; j < n; j++) if (x[from + j]! > x[from + best]!) best = j;
  return best;
}

/** "T = 8, alpha = 0.9 (soft weight)", and how they were chosen when the search chose them. */
function describeTuning(s: CompareSettings, t: AutoTuneResult | undefined): string {
  if (!t) return `T = ${s.temperature}, alpha = ${s.alpha} (soft weight)`;
  const secs = t.candidates.reduce((n, c) => n + c.seconds, 0);
  return `T = ${t.chosen.temperature}, alpha = ${t.chosen.alpha} (soft weight), chosen on the validation split from ` +
    `${t.candidates.length} candidates of ${t.epochs} epoch${t.epochs > 1 ? 's' : ''} each (${secs.toFixed(1)} s; ` +
    `validation errors ${t.candidates.map((c) => `T ${c.temperature}/α ${c.alpha}: ${c.validationErrors}`).join(', ')})`;
}

export function renderComparison(r: CompareResult): string {
  const head = ['model', 'spec', 'parameters', 'test errors', 'accuracy', 'agreement with teacher', 'training time'];
  const body = r.rows.map((x) => [
    x.name, x.model, x.params.toLocaleString('en-US'), String(x.testErrors), `${(100 * x.testAccuracy).toFixed(2)} %`,
    Number.isNaN(x.agreement) ? '–' : `${(100 * x.agreement).toFixed(2)} %`, `${x.trainSeconds.toFixed(1)} s`,
  ]);
  const s = r.settings;
  return [
    `| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...body.map((b) => `| ${b.join(' | ')} |`), '',
    `Distillation: ${describeTuning(s, r.autoTune)}, T² scaling on; ${s.teacherEpochs} teacher epochs, ` +
    `${s.studentEpochs} student epochs on ${s.transferSize > 0 ? `a ${s.transferSize.toLocaleString('en-US')}-image transfer set` : 'the full training set'}, ` +
    `batch ${s.batchSize}, AdamW lr ${s.lr} with cosine decay, seed ${s.seed}. ` +
    `Wall time ${(r.wallSeconds / 60).toFixed(1)} min.`, '',
  ].join('\n');
}
