// What a dataset holds, for `retort data inspect`: per split the count, sample shape, element
// type, class balance and value range, and what looks wrong (a class with no samples, values that
// are not finite, a class far rarer than the others, a test class never seen in training).
// Whatever a reader refuses outright (lengths that disagree, labels out of range, a truncated
// file) never gets here: the reader's own error names the file. Pure.

import type { Dataset } from './dataset.js';
import type { TextDataset } from './table.js';

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
  const acc = new SplitAccumulator(split, ds.name, ds.sampleShape, ds.classes, ds.x instanceof Uint8Array);
  acc.add(ds, ds.count);
  return acc.result();
}

/** summarizeSplit over a split given in parts (a dataset read from shards a chunk at a time). */
export class SplitAccumulator {
  private readonly classCounts: number[];
  private min = Infinity;
  private max = -Infinity;
  private sum = 0;
  private finite = 0;
  private nonFinite = 0;
  private count = 0;

  constructor(private readonly split: string, private readonly name: string, private readonly sampleShape: readonly number[],
              classes: number, private readonly isU8: boolean) {
    this.classCounts = new Array<number>(classes).fill(0);
  }

  /** Adds the first `count` samples of `part`. */
  add(part: Pick<Dataset, 'x' | 'y' | 'features'>, count: number): void {
    for (let i = 0; i < count; i++) this.classCounts[part.y[i]!]! += 1;
    const x = part.x, n = count * part.features;
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      if (!Number.isFinite(v)) { this.nonFinite++; continue; }
      if (v < this.min) this.min = v;
      if (v > this.max) this.max = v;
      this.sum += v;
      this.finite++;
    }
    this.count += count;
  }

  result(): SplitSummary {
    const f = this.finite;
    return {
      split: this.split, name: this.name, count: this.count, sampleShape: [...this.sampleShape], dtype: this.isU8 ? 'uint8' : 'float32',
      classCounts: this.classCounts.slice(), min: f ? this.min : NaN, max: f ? this.max : NaN, mean: f ? this.sum / f : NaN, nonFinite: this.nonFinite,
    };
  }
}

export function summarizeData(splits: Readonly<Record<string, Dataset>>): DataSummary {
  return summarizeSplits(Object.entries(splits).map(([split, ds]) => summarizeSplit(split, ds)));
}

/** The summary of splits already summarised: their class count and what looks wrong. */
export function summarizeSplits(summaries: SplitSummary[]): DataSummary {
  let classes = 0;
  for (const s of summaries) classes = Math.max(classes, s.classCounts.length);
  const warnings: string[] = [];
  for (const s of summaries) {
    warnings.push(...classWarnings(s.split, s.classCounts));
    if (s.nonFinite) warnings.push(`${s.split}: ${s.nonFinite} sample values are NaN or infinite`);
    if (s.dtype === 'float32' && s.max - s.min === 0) warnings.push(`${s.split}: every sample value is ${s.min}`);
  }
  warnings.push(...unseenWarnings(summaries));
  return { classes, splits: summaries, warnings };
}

/** Empty classes and a class IMBALANCE_RATIO times rarer than the most common one. */
function classWarnings(split: string, classCounts: readonly number[]): string[] {
  const warnings: string[] = [];
  const empty = classCounts.flatMap((n, c) => (n === 0 ? [c] : []));
  if (empty.length) warnings.push(`${split}: no samples of class${empty.length > 1 ? 'es' : ''} ${empty.join(', ')}`);
  const present = classCounts.filter((n) => n > 0);
  const most = present.reduce((a, b) => Math.max(a, b), 0), least = present.reduce((a, b) => Math.min(a, b), Infinity);
  if (present.length > 1 && most >= IMBALANCE_RATIO * least) {
    const rare = classCounts.findIndex((n) => n === least), common = classCounts.findIndex((n) => n === most);
    warnings.push(`${split}: imbalanced: class ${rare} has ${least} samples, class ${common} has ${most}`);
  }
  return warnings;
}

/** Test classes the training split has no samples of. */
function unseenWarnings(summaries: readonly { split: string; classCounts: readonly number[] }[]): string[] {
  const train = summaries.find((s) => s.split === 'train'), test = summaries.find((s) => s.split === 'test');
  if (!train || !test) return [];
  const unseen = test.classCounts.flatMap((n, c) => (n > 0 && (train.classCounts[c] ?? 0) === 0 ? [c] : []));
  return unseen.length ? [`test has class${unseen.length > 1 ? 'es' : ''} ${unseen.join(', ')}, which train has no samples of`] : [];
}

export interface TextSplitSummary {
  split: string;
  name: string;
  count: number;
  classCounts: number[];
  /** Text lengths in characters (code points). */
  minChars: number;
  maxChars: number;
  meanChars: number;
  /** Texts that are empty or only white space. */
  blank: number;
}

export interface TextDataSummary {
  classes: number;
  classNames: string[] | null;
  splits: TextSplitSummary[];
  warnings: string[];
}

/** What a text dataset holds: per split the count, class balance and text lengths, and what looks wrong. */
export function summarizeText(splits: Readonly<Record<string, TextDataset>>): TextDataSummary {
  const all = Object.entries(splits);
  const classes = Math.max(...all.map(([, d]) => d.classes));
  const summaries: TextSplitSummary[] = all.map(([split, ds]) => {
    const classCounts = new Array<number>(classes).fill(0);
    for (const v of ds.y) classCounts[v]! += 1;
    let min = Infinity, max = 0, sum = 0, blank = 0;
    for (const t of ds.texts) {
      const n = [...t].length;
      min = Math.min(min, n); max = Math.max(max, n); sum += n;
      if (t.trim() === '') blank++;
    }
    return { split, name: ds.name, count: ds.count, classCounts, minChars: min, maxChars: max, meanChars: sum / ds.count, blank };
  });
  const warnings: string[] = [];
  for (const s of summaries) {
    warnings.push(...classWarnings(s.split, s.classCounts));
    if (s.blank) warnings.push(`${s.split}: ${s.blank} texts are empty`);
  }
  warnings.push(...unseenWarnings(summaries));
  return { classes, classNames: all[0]?.[1].classNames ?? null, splits: summaries, warnings };
}
