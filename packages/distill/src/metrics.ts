// Classification metrics computed on the core: argmax in the kernel, counting in JS
// (O(rows), off the hot path).
import type { Core } from '@retort/core-wasm';

export interface AccuracyResult {
  correct: number;
  total: number;
  accuracy: number;
  /** Number of misclassified rows. */
  errors: number;
}

/** Top-1 accuracy of `logits` [rows, cols] against integer `labels` [rows]. */
export function accuracy(core: Core, logits: Float32Array, labels: ArrayLike<number>, rows: number, cols: number): AccuracyResult {
  if (logits.length !== rows * cols) {
    throw new RangeError(`accuracy: logits has ${logits.length} elements but rows*cols = ${rows * cols}`);
  }
  if (labels.length !== rows) throw new RangeError(`accuracy: labels has ${labels.length} elements but rows = ${rows}`);
  const x = core.fromArray(logits);
  const pred = core.allocI32(rows);
  try {
    core.argmaxRows(pred, x, rows, cols);
    const p = pred.view();
    let correct = 0;
    for (let r = 0; r < rows; r++) if (p[r] === labels[r]) correct++;
    return { correct, total: rows, accuracy: rows === 0 ? 0 : correct / rows, errors: rows - correct };
  } finally {
    core.free(x);
    core.free(pred);
  }
}
