// `retort compare` (the main job) and `retort repro` end to end, on a small slice.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expectOneLineError, retort, tempDir } from './helpers.js';

const tmp = tempDir('retort-compare-');
afterAll(() => tmp.cleanup());

interface Row { name: string; params: number; testErrors: number; testAccuracy: number; agreement: number; trainSeconds: number }

describe('retort compare', () => {
  const out = join(tmp.dir, 'cmp');
  const args = ['compare', '--teacher-model', 'mlp:784-48-10', '--model', 'mlp:784-12-10', '--teacher-epochs', '1', '--epochs', '2',
    '--train-size', '3000', '--transfer-size', '600', '--test-size', '400', '--out', out];

  it('trains a teacher, a distilled student and the student alone, and prints one table', () => {
    const r = retort(args);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\| teacher \| mlp:784-48-10 \|/);
    expect(r.stdout).toMatch(/\| distilled student \| mlp:784-12-10 \|/);
    expect(r.stdout).toMatch(/\| student alone \| mlp:784-12-10 \|/);
    const result = JSON.parse(readFileSync(join(out, 'comparison.json'), 'utf8')) as { rows: Row[] };
    expect(result.rows.map((x) => x.name)).toEqual(['teacher', 'distilled student', 'student alone']);
    for (const row of result.rows) {
      expect(row.testErrors).toBeGreaterThanOrEqual(0);
      expect(row.testErrors).toBeLessThanOrEqual(400);
      expect(row.testAccuracy).toBeCloseTo(1 - row.testErrors / 400, 10);
      expect(row.agreement).toBeGreaterThanOrEqual(0);
      expect(row.agreement).toBeLessThanOrEqual(1);
    }
    expect(result.rows[0]!.agreement).toBe(1);
    expect(result.rows[1]!.params).toBe(784 * 12 + 12 + 12 * 10 + 10);
    // students learned from the transfer set only; the teacher from the whole slice
    const cfg = (d: string) => JSON.parse(readFileSync(join(out, d, 'config.json'), 'utf8')).config as { trainSize?: number; teacher?: string };
    expect(cfg('teacher').trainSize).toBe(3000);
    expect(cfg('distilled').trainSize).toBe(600);
    expect(cfg('alone').trainSize).toBe(600);
    expect(cfg('distilled').teacher).toBe(join(out, 'teacher', 'model.retort'));
    for (const d of ['teacher', 'distilled', 'alone']) expect(existsSync(join(out, d, 'model.retort'))).toBe(true);
    // T and alpha are chosen by the search by default: every candidate scored on validation, the choice in the table's note
    const tune = (JSON.parse(readFileSync(join(out, 'comparison.json'), 'utf8')) as { autoTune: { candidates: { validationErrors: number }[]; chosen: { temperature: number; alpha: number } } }).autoTune;
    expect(tune.candidates).toHaveLength(9);
    expect(r.stdout).toContain(`T = ${tune.chosen.temperature}, alpha = ${tune.chosen.alpha} (soft weight), chosen on the validation split from 9 candidates`);
    expect(readFileSync(join(out, 'distilled', 'report.md'), 'utf8')).toMatch(/chosen on the validation split \(\d+ rows; the test set is not read\)/);
  });

  it('takes a fixed T and alpha instead, and refuses auto with --methods', () => {
    const fixed = join(tmp.dir, 'fixed');
    const r = retort([...args.slice(0, -1), fixed, '--temperature', '4', '--alpha', '0.5']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Distillation: T = 4, alpha = 0.5 \(soft weight\), T² scaling on/);
    expect(JSON.parse(readFileSync(join(fixed, 'comparison.json'), 'utf8')).autoTune).toBeUndefined();
    expectOneLineError(retort(['compare', '--methods', 'kd', '--temperature', 'auto']), [/--temperature: auto chooses T and alpha of the main comparison/], 2);
    expectOneLineError(retort(['distill', '--temperature', 'hot']), [/--temperature: expected 'auto' or a number \(must be a number\), got 'hot'/], 2);
  });

  it('refuses to overwrite its runs without --force, and replaces them with it', () => {
    const again = retort(args);
    expectOneLineError(again, [/already exists and is not empty: pass --force/]);
    const forced = retort([...args, '--force']);
    expect(forced.status, forced.stderr).toBe(0);
  });

  it('rejects an unknown experiment for retort repro', () => {
    const r = retort(['repro', 'imagenet', '--out', join(tmp.dir, 'nope')]);
    expectOneLineError(r, [/unknown experiment 'imagenet'/], 2);
    expect(existsSync(join(tmp.dir, 'nope'))).toBe(false);
  });
});
