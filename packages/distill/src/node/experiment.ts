// Experiments made of many runs (paper reproductions, born-again generations, method
// comparisons, sweeps): each sub-run is an ordinary run directory, so an experiment resumes
// where it stopped: finished runs are read back, interrupted ones resume from their checkpoint.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunConfigInput } from '../config.js';
import { RUN_FILES } from './run-dir.js';
import { runJob, type JobKind, type RunOptions, type RunReport } from './run.js';

/** Thrown when a sub-run stopped early (shouldStop): the experiment stops too, resumable. */
export class ExperimentStopped extends Error {
  constructor(readonly runDir: string) {
    super(`stopped during ${runDir}; rerun the same command to resume`);
    this.name = 'ExperimentStopped';
  }
}

/** Runs `dir` from scratch, resumes it, or (finished) reads its report; `fresh` replaces it. */
export async function runOrResume(dir: string, kind: JobKind, config: RunConfigInput,
                                  opts: Omit<RunOptions, 'out'> & { fresh?: boolean }): Promise<RunReport> {
  const { fresh, ...rest } = opts;
  const reportPath = join(dir, RUN_FILES.report);
  if (!fresh && existsSync(reportPath)) return JSON.parse(readFileSync(reportPath, 'utf8')) as RunReport;
  const resume = !fresh && existsSync(join(dir, RUN_FILES.config));
  const report = await runJob(kind, resume ? undefined : config, { ...rest, out: dir, resume, force: fresh === true });
  if (report.stopped) throw new ExperimentStopped(dir);
  return report;
}

/** Mean and (sample) standard deviation. */
export function meanStd(xs: readonly number[]): { mean: number; std: number } {
  const n = xs.length;
  if (n === 0) return { mean: NaN, std: NaN };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) * (b - mean), 0) / (n - 1)) : 0;
  return { mean, std };
}
