import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { renderCnnSummary, summarizeCnn, CNN_TEACHER_SPEC, type CnnRun } from '../../src/node/repro-cnn.js';

const run = (name: string, seed: number, testErrors: number, validationErrors: number): CnnRun =>
  ({ name, seed, testErrors, validationErrors, trainSeconds: 10, params: 19810 });

describe('retort repro cnn-mnist: the summary', () => {
  const teacher = run('teacher', 1, 40, 20);
  // the variant with fewer test errors has more validation errors: validation must choose
  const alone = new Map([
    ['student-alone', [run('a', 1, 300, 150), run('a', 2, 310, 160)]],
    ['student-alone-jitter', [run('aj', 1, 200, 110), run('aj', 2, 220, 120)]],
  ]);
  const distilled = new Map([
    ['student-kd', [run('k', 1, 100, 70), run('k', 2, 120, 72)]],
    ['student-kd-jitter', [run('kj', 1, 90, 80), run('kj', 2, 94, 84)]],
  ]);
  const cross = new Map([['mlp-kd', [run('m', 1, 60, 30)]], ['mlp-kd-jitter', [] as CnnRun[]]]);

  it('reports in each group the variant with the fewest validation errors, never the fewest test errors', () => {
    const s = summarizeCnn(teacher, alone, distilled, cross, 5);
    expect(s.chosenStudentAlone).toBe('student-alone-jitter');
    expect(s.chosenStudent).toBe('student-kd');
    expect(s.chosenCrossArch).toBe('mlp-kd');
    expect(s.mean).toEqual({ studentAlone: 210, distilled: 110, crossArch: 60 });
    expect(s.studentAlone.map((r) => r.testErrors)).toEqual([200, 220]);
    // (210 - 110) / (210 - 40)
    expect(s.gapClosed).toBeCloseTo(100 / 170, 12);
    // a variant without runs (the cross-architecture runs left out) is not listed
    expect(s.crossArchVariants.map((v) => v.name)).toEqual(['mlp-kd']);
  });

  it('renders every variant with its validation mean and per-seed test errors', () => {
    const md = renderCnnSummary(summarizeCnn(teacher, alone, distilled, cross, 5));
    expect(md).toContain('| student-alone | 155.0 | 300, 310 |');
    expect(md).toContain('| student-kd-jitter | 82.0 | 90, 94 |');
    expect(md).toContain('CNN student alone (student-alone-jitter, mean of 2 seeds)');
    expect(md).toContain('closed by distillation: 59 %');
  });

  it('refuses a summary without student runs', () => {
    expect(() => summarizeCnn(teacher, new Map(), distilled, cross, 1)).toThrow(/no runs of the student/);
  });
});

describe('the CNN teacher spec', () => {
  it('docs/models/cnn-teacher.json is the spec the experiment trains (the README points users at it)', () => {
    const file = JSON.parse(readFileSync(new URL('../../../../docs/models/cnn-teacher.json', import.meta.url), 'utf8'));
    expect(file).toEqual(JSON.parse(JSON.stringify(CNN_TEACHER_SPEC)));
  });
});
