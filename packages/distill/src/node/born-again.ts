// Born-Again Networks (Furlanello et al. 2018): self-distillation over generations of one
// architecture. Generation 0 trains on the labels alone; generation k is distilled (the kd
// method, the run's alpha and T) from generation k − 1, or with `ensemble` from the average
// of the tempered probabilities of all earlier generations. All generations share the run's seed
// (same split, transfer set, initialisation and batch order). Every generation is an ordinary
// run of the one trainer, in <out>/gen<k>; the experiment resumes where it stopped.
//
// The report gives each generation's test errors and those of the BAN ensemble: the average
// of all generations' probabilities (the paper's BAN ensemble).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadCore } from '@retort/core-wasm';
import { parseRunConfig, type RunConfigInput } from '../config.js';
import { fullView, slice } from '../data/dataset.js';
import { evaluateLogits } from '../eval/metrics.js';
import { loadModel } from '../format/model-io.js';
import { combineTeachers } from '../losses/targets.js';
import { predictLogits } from '../train/predict.js';
import { runOrResume } from './experiment.js';
import { RUN_FILES, writeJsonAtomic, writeTextAtomic } from './run-dir.js';
import { loadTestSet, type RunEvent, type RunOptions } from './run.js';

export interface BornAgainOptions {
  out: string;
  /** The student's run config (model, epochs, alpha, temperature, ...); method and teachers are set per generation. */
  config: RunConfigInput;
  /** Generations after the first (each taught by the previous); default 3. */
  generations?: number;
  /** Teach each generation with the average of all earlier generations. */
  ensemble?: boolean;
  /** Rerun finished generations instead of reading them back. */
  fresh?: boolean;
  backend?: RunOptions['backend'];
  shouldStop?: () => boolean;
  onEvent?: (run: string, e: RunEvent) => void;
}

export interface BornAgainGeneration { generation: number; runDir: string; testErrors: number; testAccuracy: number; trainSeconds: number; teachers: number[] }

export interface BornAgainResult {
  generations: BornAgainGeneration[];
  /** Test metrics of the average of all generations' probabilities. */
  ensemble: { testErrors: number; testAccuracy: number };
  wallSeconds: number;
}

export async function bornAgainJob(opts: BornAgainOptions): Promise<BornAgainResult> {
  const t0 = Date.now();
  const G = opts.generations ?? 3;
  if (!Number.isInteger(G) || G < 1 || G > 20) throw new RangeError(`born-again: generations must be an integer in [1, 20], got ${G}`);
  // validate once, before any directory exists
  const base = parseRunConfig({ ...opts.config }, 'config');
  if (base.teacher || base.teacherLogits || base.teachers) throw new RangeError('config.teacher: born-again trains its own teachers (generation k − 1); give none');
  if (base.method !== undefined || base.losses !== undefined) throw new RangeError('config.method: born-again sets the method of each generation itself (none, then kd); give none');
  if ((base.peers ?? 0) > 0) throw new RangeError('config.peers: born-again trains one student per generation');
  if (base.transfer?.labels === false) throw new RangeError('config.transfer.labels: generation 0 learns from the labels; they cannot be turned off');
  mkdirSync(opts.out, { recursive: true });
  const gens: BornAgainGeneration[] = [];
  for (let g = 0; g <= G; g++) {
    const name = `gen${g}`;
    const dir = join(opts.out, name);
    const teachers = g === 0 ? [] : opts.ensemble ? gens.map((x) => x.generation) : [g - 1];
    // every generation keeps the run's seed: the same validation split and transfer set (the seed
    // chooses them), initialisation and batch order, so a generation differs from the one before
    // only in its targets
    const config: RunConfigInput = g === 0
      ? { ...opts.config, method: 'none' }
      : { ...opts.config, method: 'kd', teachers: teachers.map((k) => ({ model: join(opts.out, `gen${k}`, RUN_FILES.model), weight: 1 })) };
    delete (config as { losses?: unknown }).losses;
    const report = await runOrResume(dir, g === 0 ? 'train' : 'distill', config, {
      ...(opts.backend ? { backend: opts.backend } : {}),
      ...(opts.fresh ? { fresh: true } : {}), ...(opts.shouldStop ? { shouldStop: opts.shouldStop } : {}),
      onEvent: (e) => opts.onEvent?.(name, e),
    });
    gens.push({ generation: g, runDir: dir, testErrors: report.test.errors, testAccuracy: report.test.accuracy, trainSeconds: report.trainSeconds, teachers });
  }
  // the BAN ensemble: average of every generation's probabilities on the test set
  const core = await loadCore({ backend: opts.backend ?? 'auto' });
  const data = loadTestSet(base);
  const test = base.testSize ? slice(fullView(data.test), Math.min(base.testSize, data.test.count)) : fullView(data.test);
  const perGen = gens.map((g) => {
    const m = loadModel(core, join(g.runDir, RUN_FILES.model));
    try { return predictLogits(core, m, test, { mean: base.mean, std: base.std }); } finally { m.free(); }
  });
  const classes = perGen[0]!.length / test.indices.length;
  const avg = new Float32Array(perGen[0]!.length);
  combineTeachers(avg, perGen, perGen.map(() => 1), test.indices.length, classes, 1, 'probabilities');
  const labels = Int32Array.from(test.indices, (i) => data.test.y[i]!);
  const ens = evaluateLogits(core, avg, labels, classes);
  const result: BornAgainResult = { generations: gens, ensemble: { testErrors: ens.errors, testAccuracy: ens.accuracy }, wallSeconds: (Date.now() - t0) / 1000 };
  writeJsonAtomic(join(opts.out, 'summary.json'), result);
  writeTextAtomic(join(opts.out, 'summary.md'), renderBornAgain(result, opts.ensemble === true));
  return result;
}

export function renderBornAgain(r: BornAgainResult, ensemble: boolean): string {
  const lines = [
    `# Born-again networks: ${r.generations.length - 1} generations${ensemble ? ' (each taught by the average of all earlier ones)' : ''}`, '',
    '| generation | taught by | test errors | test accuracy | training time |', '|---|---|---|---|---|',
    ...r.generations.map((g) => `| ${g.generation} | ${g.teachers.length ? g.teachers.map((t) => `gen ${t}`).join(' + ') : 'labels only'} | ${g.testErrors} | ${(100 * g.testAccuracy).toFixed(2)} % | ${g.trainSeconds.toFixed(1)} s |`),
    `| ensemble of all | - | ${r.ensemble.testErrors} | ${(100 * r.ensemble.testAccuracy).toFixed(2)} % | - |`, '',
  ];
  return lines.join('\n');
}
