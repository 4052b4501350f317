import { describe, expect, it } from 'vitest';
import { makeDataset } from '../../src/data/dataset.js';
import { IMBALANCE_RATIO, summarizeData } from '../../src/data/inspect.js';

const files = { xFile: 'x', yFile: 'y' };
const u8 = (labels: number[], classes?: number) => makeDataset(
  Uint8Array.from({ length: labels.length * 4 }, (_, i) => (i * 37) % 256), [labels.length, 2, 2], Int32Array.from(labels), files,
  classes === undefined ? {} : { classes });

describe('summarizeData (retort data inspect)', () => {
  it('counts samples per class, the value range and mean, per split, and finds nothing wrong in balanced data', () => {
    const s = summarizeData({ train: u8([0, 1, 2, 1, 0, 2]), test: u8([2, 0, 1]) });
    expect(s.classes).toBe(3);
    const [train, test] = s.splits;
    expect(train!.classCounts).toEqual([2, 2, 2]);
    expect(test!.classCounts).toEqual([1, 1, 1]);
    expect(train!.sampleShape).toEqual([2, 2]);
    expect(train!.dtype).toBe('uint8');
    const values = Array.from({ length: 24 }, (_, i) => (i * 37) % 256);
    expect(train!.min).toBe(Math.min(...values));
    expect(train!.max).toBe(Math.max(...values));
    expect(train!.mean).toBeCloseTo(values.reduce((a, b) => a + b, 0) / 24, 12);
    expect(s.warnings).toEqual([]);
  });

  it('reports an empty class, a test class unseen in training, non-finite values and imbalance', () => {
    const x = new Float32Array([1, NaN, 2, Infinity, 0.5, 0.25, 3, 4]);
    const f = makeDataset(x, [4, 2], Int32Array.from([0, 0, 0, 0]), files, { classes: 3 });
    const labels = [...new Array<number>(IMBALANCE_RATIO).fill(1), 2];
    const s = summarizeData({ train: f, test: u8(labels, 3) });
    expect(s.splits[0]!.nonFinite).toBe(2);
    expect(s.splits[0]!.min).toBe(0.25);
    expect(s.splits[0]!.max).toBe(4);
    expect(s.warnings).toEqual([
      'train: no samples of classes 1, 2',
      'train: 2 sample values are NaN or infinite',
      'test: no samples of class 0',
      `test: imbalanced: class 2 has 1 samples, class 1 has ${IMBALANCE_RATIO}`,
      'test has classes 1, 2, which train has no samples of',
    ]);
  });

  it('does not call a ratio just under the threshold imbalanced', () => {
    const labels = [...new Array<number>(IMBALANCE_RATIO - 1).fill(0), 1];
    expect(summarizeData({ train: u8(labels) }).warnings).toEqual([]);
  });
});
