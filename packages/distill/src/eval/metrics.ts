// Evaluation of a classifier's logits: accuracy and errors, per-class errors, the
// confusion matrix, cross-entropy, top-1 agreement with a teacher and expected
// calibration error. Argmax, softmax and the loss run in the core; the counting is
// O(rows) bookkeeping in JS.
import type { Core } from '@retort/core-wasm';

export interface EvalReport {
  count: number;
  correct: number;
  /** Misclassified samples (the "test errors" of Hinton et al.). */
  errors: number;
  accuracy: number;
  /** Mean cross-entropy of softmax(logits) against the labels. */
  loss: number;
  /** errors made on samples of each true class. */
  perClassErrors: number[];
  /** confusion[true][predicted] counts. */
  confusion: number[][];
  /** Expected calibration error of the top-1 confidence (equal-width bins on [0, 1]). */
  ece: number;
  /** Fraction of samples where the top-1 class equals the teacher's (when teacher logits are given). */
  agreement?: number;
}

export interface EvalOptions {
  teacherLogits?: Float32Array;
  /** Calibration bins (default 15). */
  bins?: number;
}

export function evaluateLogits(core: Core, logits: Float32Array, labels: Int32Array, classes: number,
                               opts: EvalOptions = {}): EvalReport {
  const rows = labels.length;
  if (!Number.isInteger(classes) || classes <= 0) throw new RangeError(`evaluate: classes must be a positive integer, got ${classes}`);
  if (logits.length !== rows * classes) {
    throw new RangeError(`evaluate: logits has ${logits.length} values but ${rows} samples x ${classes} classes = ${rows * classes}`);
  }
  if (opts.teacherLogits && opts.teacherLogits.length !== logits.length) {
    throw new RangeError(`evaluate: teacher logits have ${opts.teacherLogits.length} values, expected ${logits.length}`);
  }
  const bins = opts.bins ?? 15;
  if (!Number.isInteger(bins) || bins <= 0) throw new RangeError(`evaluate: bins must be a positive integer, got ${bins}`);
  if (rows === 0) throw new RangeError('evaluate: no samples');

  const z = core.fromArray(logits);
  const probs = core.alloc(rows * classes);
  const y = core.allocI32(rows).set(labels);
  const pred = core.allocI32(rows);
  const teacher = opts.teacherLogits ? core.fromArray(opts.teacherLogits) : null;
  const teacherPred = teacher ? core.allocI32(rows) : null;
  try {
    const loss = core.crossEntropy(null, z, y, rows, classes);
    core.argmaxRows(pred, z, rows, classes);
    core.softmaxRows(probs, z, rows, classes, 1);
    if (teacher && teacherPred) core.argmaxRows(teacherPred, teacher, rows, classes);

    const p = pred.view();
    const pr = probs.view();
    const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
    const binCount = new Array<number>(bins).fill(0);
    const binConf = new Array<number>(bins).fill(0);
    const binHit = new Array<number>(bins).fill(0);
    let correct = 0;
    for (let r = 0; r < rows; r++) {
      const label = labels[r]!;
      const guess = p[r]!;
      const hit = guess === label ? 1 : 0;
      correct += hit;
      confusion[label]![guess]!++;
      const conf = pr[r * classes + guess]!;
      const b = Math.min(bins - 1, Math.floor(conf * bins));
      binCount[b]!++;
      binConf[b]! += conf;
      binHit[b]! += hit;
    }
    let ece = 0;
    for (let b = 0; b < bins; b++) {
      if (binCount[b]! > 0) ece += Math.abs(binHit[b]! - binConf[b]!) / rows;
    }
    const perClassErrors = confusion.map((row, c) => row.reduce((s, v) => s + v, 0) - row[c]!);
    const report: EvalReport = {
      count: rows, correct, errors: rows - correct, accuracy: correct / rows, loss,
      perClassErrors, confusion, ece,
    };
    if (teacherPred) {
      const tp = teacherPred.view();
      let agree = 0;
      for (let r = 0; r < rows; r++) if (tp[r] === p[r]) agree++;
      report.agreement = agree / rows;
    }
    return report;
  } finally {
    for (const t of [z, probs, y, pred, teacher, teacherPred]) if (t) core.free(t);
  }
}

/** Largest class count whose whole confusion matrix is printed; above it, the most frequent confusions are. */
export const CONFUSION_MATRIX_MAX_CLASSES = 20;

/**
 * A confusion matrix as text lines (rows: true class, columns: predicted) for up to
 * CONFUSION_MATRIX_MAX_CLASSES classes; for more, the `top` most frequent confusions (true ->
 * predicted: count), largest first, ties by true then predicted class. Class names label them when given.
 */
export function confusionLines(confusion: readonly (readonly number[])[], names: readonly string[] | null = null, top = 20): string[] {
  const label = (c: number): string => names?.[c] ?? String(c);
  if (confusion.length <= CONFUSION_MATRIX_MAX_CLASSES) {
    let w = 2;
    for (const row of confusion) for (const v of row) w = Math.max(w, String(v).length);
    const lines = ['confusion matrix (rows: true class, columns: predicted):'];
    lines.push('     ' + confusion.map((_, j) => String(j).padStart(w)).join(' '));
    for (const [i, row] of confusion.entries()) lines.push(String(i).padStart(3) + '  ' + row.map((v) => String(v).padStart(w)).join(' '));
    return lines;
  }
  const pairs: [number, number, number][] = [];
  confusion.forEach((row, i) => row.forEach((v, j) => { if (i !== j && v > 0) pairs.push([v, i, j]); }));
  pairs.sort((a, b) => b[0] - a[0] || a[1] - b[1] || a[2] - b[2]);
  return [`most frequent confusions of ${confusion.length} classes (true -> predicted: count):`,
    ...(pairs.length ? pairs.slice(0, top).map(([v, i, j]) => `  ${label(i)} -> ${label(j)}: ${v}`) : ['  none'])];
}
