// The search for T and alpha (src/run/auto-tune.ts): its candidates; a tuned run is exactly the
// run with the chosen values written in; against a teacher that points at the wrong class it
// falls back to the labels alone and ends level with the student trained alone; it refuses what
// it cannot tune.
import { loadCore, type Core } from '@retort/core-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseRunConfig, type RunConfigInput } from '../../src/config.js';
import type { Dataset } from '../../src/data/dataset.js';
import { loadMnist } from '../../src/data/mnist.js';
import { autoTuneCandidates, autoTuneEpochs, clearlyBetter } from '../../src/run/auto-tune.js';
import { executeRun, type RunTeacher } from '../../src/run/execute.js';
import type { RunKind } from '../../src/run/terms.js';

const SMALL: RunConfigInput = { model: 'mlp:784-32-10', trainSize: 600, validation: 300, testSize: 300, epochs: 4, batchSize: 50, seed: 3 };

let core: Core;
let data: { train: Dataset; test: Dataset };
beforeAll(async () => {
  core = await loadCore({ backend: 'simd' });
  data = loadMnist();
});

/** Logits over the training set: `scale` on class (label + shift) mod 10. */
function labelTeacher(shift: number, scale = 6): RunTeacher {
  return {
    kind: 'logits', source: `shift-${shift}`, name: `shift-${shift}`, weight: 1,
    read: (count, classes) => {
      const z = new Float32Array(count * classes);
      for (let i = 0; i < count; i++) z[i * classes + ((data.train.y[i]! + shift) % classes)] = scale;
      return z;
    },
  };
}

async function run(kind: RunKind, config: RunConfigInput, teachers: RunTeacher[]) {
  const outcome = await executeRun({ core, kind, config: parseRunConfig(config), data, teachers });
  try {
    return { report: outcome.report, params: Array.from(outcome.student.readParams()) };
  } finally {
    outcome.student.free();
  }
}

describe('autoTune', () => {
  it('tries alpha 0 once and every T for the other alphas; a budget of the run\'s epochs unless given', () => {
    const c = parseRunConfig({ ...SMALL, epochs: 10, autoTune: { temperature: true, alpha: true } });
    const cands = autoTuneCandidates(c);
    expect(cands).toEqual([
      { temperature: 1, alpha: 0 },
      ...[0.5, 0.9].flatMap((alpha) => [1, 2, 4, 8].map((temperature) => ({ temperature, alpha }))),
    ]);
    expect(autoTuneEpochs(c)).toBe(10);
    const onlyT = parseRunConfig({ ...SMALL, alpha: 0.7, autoTune: { temperature: [3, 5], epochs: 2 } });
    expect(autoTuneCandidates(onlyT)).toEqual([{ temperature: 3, alpha: 0.7 }, { temperature: 5, alpha: 0.7 }]);
    expect(autoTuneEpochs(onlyT)).toBe(2);
  });

  it('a tuned run reports every candidate, chooses the best on validation, and is bit for bit the run with the chosen T and alpha written in', async () => {
    const tuned = await run('distill', { ...SMALL, autoTune: { temperature: [1, 4], alpha: [0, 0.9], epochs: 1 } }, [labelTeacher(0)]);
    const t = tuned.report.autoTune!;
    expect(t.epochs).toBe(1);
    expect(t.validationCount).toBe(300);
    expect(t.candidates.map((c) => [c.temperature, c.alpha])).toEqual([[1, 0], [1, 0.9], [4, 0.9]]);
    // the fewest validation errors, unless that does not beat the labels alone beyond noise
    const best = t.candidates.reduce((b, c) => (c.validationErrors < b.validationErrors ? c : b));
    const alone = t.candidates.find((c) => c.alpha === 0)!;
    const expected = best === alone || clearlyBetter(best.validationErrors, alone.validationErrors) ? best : alone;
    expect(t.chosen).toEqual({ temperature: expected.temperature, alpha: expected.alpha });
    const explicit = await run('distill', { ...SMALL, temperature: t.chosen.temperature, alpha: t.chosen.alpha }, [labelTeacher(0)]);
    expect(tuned.params).toEqual(explicit.params);
    expect(tuned.report.test.errors).toBe(explicit.report.test.errors);
    expect(tuned.report.losses).toBe(explicit.report.losses);
  }, 60_000);

  it('against a teacher that points at the wrong class it keeps the labels alone (alpha 0) and ends level with the student trained alone', async () => {
    const tuned = await run('distill', { ...SMALL, autoTune: { temperature: true, alpha: true, epochs: 2 } }, [labelTeacher(1)]);
    expect(tuned.report.autoTune!.chosen.alpha).toBe(0);
    const alone = await run('train', SMALL, []);
    expect(tuned.report.test.errors).toBe(alone.report.test.errors);
  }, 120_000);

  it('keeps the labels alone unless a distilling candidate is fewer errors by more than the noise of the two counts', () => {
    expect(clearlyBetter(195, 301)).toBe(true); // MNIST's search: 106 fewer, noise √496 ≈ 22
    expect(clearlyBetter(26, 28)).toBe(false); // 2 fewer, noise √54 ≈ 7
    expect(clearlyBetter(28, 28)).toBe(false);
    expect(clearlyBetter(0, 2)).toBe(true); // 2 > √2
  });

  it('refuses to tune what it cannot: another method, no validation split, a run without a teacher', async () => {
    await expect(run('distill', { ...SMALL, method: 'fitnets', autoTune: { temperature: true } }, [labelTeacher(0)])).rejects.toThrow(/config.autoTune: chooses T and alpha of method kd.*fitnets/);
    await expect(run('distill', { ...SMALL, validation: 0, autoTune: { alpha: true } }, [labelTeacher(0)])).rejects.toThrow(/--validation must be > 0/);
    await expect(run('distill', { ...SMALL, autoTune: {} }, [labelTeacher(0)])).rejects.toThrow(/give temperature and\/or alpha/);
    await expect(run('train', { ...SMALL, autoTune: { temperature: true } }, [])).rejects.toThrow(/a run without a teacher/);
  });
});
