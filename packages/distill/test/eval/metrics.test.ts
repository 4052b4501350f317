import { describe, expect, it } from 'vitest';
import { loadCore } from '@retort/core-wasm';
import { confusionLines, evaluateLogits } from '../../src/eval/metrics.js';

describe.each(['simd', 'scalar', 'js'] as const)('evaluateLogits on %s', (backend) => {
  it('counts errors, per-class errors, the confusion matrix and agreement', async () => {
    const core = await loadCore({ backend });
    // 5 samples, 3 classes; predictions 2, 0, 1, 1, 0; labels 2, 0, 0, 1, 2
    const logits = new Float32Array([0, 1, 5, 9, -1, 3, 0.5, 0.7, 0.1, -3, -2, -2.5, 4, 0, 0]);
    const labels = Int32Array.from([2, 0, 0, 1, 2]);
    // teacher predicts 2, 0, 0, 1, 0 -> agrees with the student on 4 of 5
    const teacher = new Float32Array([0, 0, 1, 1, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0]);
    const r = evaluateLogits(core, logits, labels, 3, { teacherLogits: teacher });
    expect(r.count).toBe(5);
    expect(r.correct).toBe(3);
    expect(r.errors).toBe(2);
    expect(r.accuracy).toBeCloseTo(0.6, 12);
    expect(r.confusion).toEqual([[1, 1, 0], [0, 1, 0], [1, 0, 1]]);
    expect(r.perClassErrors).toEqual([1, 0, 1]);
    expect(r.agreement).toBeCloseTo(0.8, 12);
    // cross-entropy against an independent f64 computation
    let ce = 0;
    for (let i = 0; i < 5; i++) {
      const row = Array.from(logits.subarray(i * 3, i * 3 + 3));
      const m = Math.max(...row);
      const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
      ce += lse - row[labels[i]!]!;
    }
    expect(r.loss).toBeCloseTo(ce / 5, 5);
    expect(core.bytesInUse).toBe(0);
  });

  it('expected calibration error: 0 for confident correct answers, large for confident wrong ones', async () => {
    const core = await loadCore({ backend });
    const confidentRight = new Float32Array([50, 0, 0, 50]);
    expect(evaluateLogits(core, confidentRight, Int32Array.from([0, 1]), 2).ece).toBeLessThan(1e-6);
    const confidentWrong = new Float32Array([50, 0, 0, 50]);
    expect(evaluateLogits(core, confidentWrong, Int32Array.from([1, 0]), 2).ece).toBeGreaterThan(0.99);
    // a 60%-confident predictor that is right 60% of the time is calibrated
    const logit = Math.log(0.6 / 0.4);
    const rows = 10;
    const logits = new Float32Array(rows * 2);
    for (let i = 0; i < rows; i++) logits[i * 2] = logit;
    const labels = Int32Array.from({ length: rows }, (_, i) => (i < 6 ? 0 : 1));
    expect(evaluateLogits(core, logits, labels, 2).ece).toBeLessThan(1e-6);
  });

  it('rejects mismatched shapes with a message naming them', async () => {
    const core = await loadCore({ backend });
    expect(() => evaluateLogits(core, new Float32Array(5), Int32Array.from([0, 1]), 3)).toThrow(/logits has 5 values/);
    expect(() => evaluateLogits(core, new Float32Array(6), Int32Array.from([0, 1]), 3, { teacherLogits: new Float32Array(3) }))
      .toThrow(/teacher logits have 3 values/);
  });
});

describe('confusionLines', () => {
  it('prints the whole matrix for few classes, the most frequent confusions for many (1000 classes without overflowing the stack)', () => {
    const small = confusionLines([[5, 1], [0, 7]]);
    expect(small).toEqual(['confusion matrix (rows: true class, columns: predicted):', '      0  1', '  0   5  1', '  1   0  7']);
    const C = 1000;
    const big = Array.from({ length: C }, (_, i) => { const r = new Array<number>(C).fill(0); r[i] = 3; return r; });
    big[7]![9] = 4; big[2]![5] = 4; big[500]![1] = 1;
    const lines = confusionLines(big, null, 2);
    expect(lines).toEqual(['most frequent confusions of 1000 classes (true -> predicted: count):', '  2 -> 5: 4', '  7 -> 9: 4']);
  });
});
