// Temperature and soft weight chosen for the data at hand (`--temperature auto`, `--alpha auto`):
// before the run, a seeded search trains one fresh student per candidate (T, α) as the run will
// train it (its epochs, unless autoTune.epochs says fewer: the gain of soft targets shows late —
// on MNIST at a quarter of the epochs every candidate scored alike and the labels alone won by
// noise), on the run's own transfer set, with the run's seed and teacher signal, and keeps the
// candidate with the fewest validation errors (then the lowest validation loss, then the earlier
// candidate). The test set is never read. α = 0 is a candidate, and the one kept unless a
// distilling candidate beats it by more than the noise of the two counts (its validation errors
// fewer by more than √(e₀ + e), one standard deviation of the difference of two independent
// error counts): where the teacher's soft targets do not clearly help on this data the run keeps
// the labels alone, so the distilled student does not end behind the student trained alone
// because a few validation errors fell its way by chance (seen on a 500-row validation split:
// 26 against 28 on validation, 41 against 35 on test). Deterministic: the same
// config gives the same candidates, the same scores and the same choice (a resumed run repeats
// the search and chooses alike).

import type { Core } from '@retort/core-wasm';
import type { RunConfig } from '../config.js';
import type { DatasetView } from '../data/dataset.js';
import { createModel, type Model } from '../model/index.js';
import type { ModelSpec } from '../model/spec.js';
import type { ObjectiveSettings } from '../train/objective.js';
import { train, type TrainSettings } from '../train/trainer.js';
import type { RunEvent } from './teacher-signal.js';

/** The temperatures `--temperature auto` tries. */
export const AUTO_TEMPERATURES: readonly number[] = [1, 2, 4, 8];
/** The soft weights `--alpha auto` tries; 0 is the labels alone. */
export const AUTO_ALPHAS: readonly number[] = [0, 0.5, 0.9];

export interface AutoTuneCandidate {
  temperature: number;
  alpha: number;
  validationErrors: number;
  validationLoss: number;
  seconds: number;
}

/** What the search tried and chose, for the run's report. */
export interface AutoTuneResult {
  /** Epochs each candidate trained (its budget), and the validation rows it was scored on. */
  epochs: number;
  validationCount: number;
  candidates: AutoTuneCandidate[];
  chosen: { temperature: number; alpha: number };
}

/** Each candidate's epochs: autoTune.epochs, else the run's. */
export function autoTuneEpochs(c: RunConfig): number {
  return Math.min(c.autoTune?.epochs ?? c.epochs, c.epochs);
}

/** The (T, α) pairs to try, in order: every α × every T, with α = 0 once (T does not matter there). */
export function autoTuneCandidates(c: RunConfig): { temperature: number; alpha: number }[] {
  const a = c.autoTune!;
  const ts = a.temperature === undefined ? [c.temperature] : a.temperature === true ? [...AUTO_TEMPERATURES] : a.temperature;
  const as = a.alpha === undefined ? [c.alpha] : a.alpha === true ? [...AUTO_ALPHAS] : a.alpha;
  const out: { temperature: number; alpha: number }[] = [];
  for (const alpha of as) {
    if (alpha === 0) { out.push({ temperature: ts[0]!, alpha }); continue; }
    for (const temperature of ts) out.push({ temperature, alpha });
  }
  return out;
}

export interface AutoTuneJob {
  core: Core;
  spec: ModelSpec;
  config: RunConfig;
  transfer: DatasetView;
  validation: DatasetView;
  settings: TrainSettings;
  /** The objective of a candidate (its terms built for that T and α, the run's teachers). */
  objectiveFor: (candidate: { temperature: number; alpha: number }) => ObjectiveSettings;
  emit: (e: RunEvent) => void;
  yieldTo?: () => Promise<void>;
}

/** Whether `errors` beats `baseline` by more than one standard deviation of the difference (√ of their sum). */
export function clearlyBetter(errors: number, baseline: number): boolean {
  return baseline - errors > Math.sqrt(baseline + errors);
}

/** Runs the search; every candidate's student is freed before the next starts. */
export async function autoTune(job: AutoTuneJob): Promise<AutoTuneResult> {
  const epochs = autoTuneEpochs(job.config);
  const candidates = autoTuneCandidates(job.config);
  const scored: AutoTuneCandidate[] = [];
  for (const [i, cand] of candidates.entries()) {
    job.emit({ type: 'phase', message: `choosing T and alpha on the validation split: candidate ${i + 1} of ${candidates.length} (T = ${cand.temperature}, alpha = ${cand.alpha}), ${epochs} epoch${epochs > 1 ? 's' : ''}` });
    const model: Model = createModel(job.core, job.spec);
    try {
      const r = await train({
        core: job.core, model, train: job.transfer, validation: job.validation,
        settings: { ...job.settings, epochs }, objective: job.objectiveFor(cand),
        ...(job.yieldTo ? { yieldTo: job.yieldTo } : {}),
      });
      const last = r.history[r.history.length - 1]!;
      scored.push({ ...cand, validationErrors: last.validation!.errors, validationLoss: last.validation!.loss,
        seconds: r.history.reduce((s, h) => s + h.seconds, 0) });
    } finally {
      model.free();
    }
  }
  let best = scored[0]!;
  for (const s of scored.slice(1)) {
    if (s.validationErrors < best.validationErrors || (s.validationErrors === best.validationErrors && s.validationLoss < best.validationLoss)) best = s;
  }
  const labelsAlone = scored.find((s) => s.alpha === 0);
  if (labelsAlone && best !== labelsAlone && !clearlyBetter(best.validationErrors, labelsAlone.validationErrors)) best = labelsAlone;
  job.emit({ type: 'phase', message: `chose T = ${best.temperature}, alpha = ${best.alpha} (${best.validationErrors} validation errors of ${job.validation.indices.length})` });
  return { epochs, validationCount: job.validation.indices.length, candidates: scored, chosen: { temperature: best.temperature, alpha: best.alpha } };
}
