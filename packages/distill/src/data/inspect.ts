// What a dataset holds, for `retort data inspect`: per split the count, sample shape, element
// type, class balance and value range, and what looks wrong (a class with no samples, values that
// are not finite, a class far rarer than the others, a test class never seen in training).
// Whatever a reader refuses outright (lengths that disagree, labels out of range, a truncated
// file) never gets here: the reader's own error names the file. Pure.

import type { Dataset } from './dataset.js';

export interface SplitSummary {
  split: string;
  name: string;
  count: number;
  sampleShape: number[];
  dtype: 'uint8' | 'float32';
  /** Samples per class, index = class. */
  classCounts: number[];
  /** Over every finite element. */
  min: number;
  max: number;
  mean: number;
  /** Elements that are NaN or infinite (float samples only). */
  nonFinite: number;
}

export interface DataSummary {
  classes: number;
  splits: SplitSummary[];
  /** One line each; empty when nothing looks wrong. */
  warnings: string[];
}

/** A class this many times rarer than the most common one is reported. */
export const IMBALANCE_RATIO = 10;

export function summarizeSplit(split: string, ds: Dataset): SplitSummary {
  const classCounts = new Array<number>(ds.classes).fill(0);
  for (let i = 0; i < ds.count; i++) classCounts[ds.y[i]!]! += 1;
  let min = Infinity, max = -Infinity, sum = 0, finite = 0, nonFinite = 0;
  const x = ds.x;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (!Number.isFinite(v)) { nonFinite++; continue; }
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    finite++;
  }
  return {
    split, name: ds.name, count: ds.count, sampleShape: [...ds.sampleShape], dtype: x instanceof Uint8Array ? 'uint8' : 'float32',
    classCounts, min: finite ? min : NaN, max: finite ? max : NaN, mean: finite ? sum / finite : NaN, nonFinite,
  };
}

export function summarizeData(splits: Readonly<Record<string, Dataset>>): DataSummary {
  const summaries = Object.entries(splits).map(([split, ds]) => summarizeSplit(split, ds));
  const classes = Math.max(...Object.values(splits).map((d) => d.classes));
  const warnings: string[] = [];
  for (const s of summaries) {
    const empty = s.classCounts.flatMap((n, c) => (n === 0 ? [c] : []));
    if (empty.length) warnings.push(`${s.split}: no samples of class${empty.length > 1 ? 'es' : ''} ${empty.join(', ')}`);
    if (s.nonFinite) warnings.push(`${s.split}: ${s.nonFinite} sample values are NaN or infinite`);
    const present = s.classCounts.filter((n) => n > 0);
    const most = Math.max(...present), least = Math.min(...present);
    if (present.length > 1 && most >= IMBALANCE_RATIO * least) {
      const rare = s.classCounts.findIndex((n) => n === least), common = s.classCounts.findIndex((n) => n === most);
      warnings.push(`${s.split}: imbalanced: class ${rare} has ${least} samples, class ${common} has ${most}`);
    }
    if (s.dtype === 'float32' && s.max - s.min === 0) warnings.push(`${s.split}: every sample value is ${s.min}`);
  }
  const train = summaries.find((s) => s.split === 'train'), test = summaries.find((s) => s.split === 'test');
  if (train && test) {
    const unseen = test.classCounts.flatMap((n, c) => (n > 0 && (train.classCounts[c] ?? 0) === 0 ? [c] : []));
    if (unseen.length) warnings.push(`test has class${unseen.length > 1 ? 'es' : ''} ${unseen.join(', ')}, which train has no samples of`);
  }
  return { classes, splits: summaries, warnings };
}
