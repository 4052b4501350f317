// Soft-target sources other than one teacher's logits, expressed as logits so that every
// response-based term (kd, dkd) and the fused KD kernel take them unchanged:
// for a distribution q, the logits u = T · log q satisfy softmax(u / T) = q exactly (up to
// rounding), at the temperature T of the term that reads them.
//
// - Multi-teacher ensembles: the weighted average of the teachers' tempered probabilities
//   (the default: an average of distributions is a distribution, and each teacher keeps its
//   own confidence), or on request the weighted average of their logits.
// - Teacher-free KD (Yuan et al. 2020): the virtual teacher puts probability `correct` on the
//   label and spreads 1 − correct evenly over the other classes.

export type CombineMode = 'probabilities' | 'logits';

/**
 * Writes into `out` (rows, cols) the logits of the weighted ensemble of `teachers` (each
 * (rows, cols)) at temperature T. Weights are normalised to sum to 1.
 *   probabilities: out = T · log Σ_k w_k softmax(v_k / T)
 *   logits:        out = Σ_k w_k v_k
 * One teacher with any weight copies its logits (bit for bit).
 */
export function combineTeachers(out: Float32Array, teachers: readonly Float32Array[], weights: readonly number[],
                                rows: number, cols: number, T: number, mode: CombineMode): void {
  const K = teachers.length;
  if (K === 0) throw new RangeError('combineTeachers: no teachers');
  if (weights.length !== K) throw new RangeError(`combineTeachers: ${K} teachers but ${weights.length} weights`);
  const n = rows * cols;
  if (out.length < n) throw new RangeError(`combineTeachers: out holds ${out.length} values, need ${n}`);
  for (let k = 0; k < K; k++) {
    if (teachers[k]!.length < n) throw new RangeError(`combineTeachers: teacher ${k} holds ${teachers[k]!.length} values, need ${n}`);
  }
  let wsum = 0;
  for (const w of weights) {
    if (!(w >= 0) || !Number.isFinite(w)) throw new RangeError(`combineTeachers: weights must be finite and >= 0, got ${w}`);
    wsum += w;
  }
  if (!(wsum > 0)) throw new RangeError('combineTeachers: the weights sum to 0');
  if (!(T > 0) || !Number.isFinite(T)) throw new RangeError(`combineTeachers: T must be > 0, got ${T}`);
  if (K === 1) { out.set(teachers[0]!.subarray(0, n)); return; }
  const w = weights.map((x) => x / wsum);
  if (mode === 'logits') {
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += w[k]! * teachers[k]![i]!;
      out[i] = s;
    }
    return;
  }
  // log Σ_k w_k p_k,j with log p_k,j = v_k,j / T − lse_k: a log-sum-exp over k, per class j
  const logw = w.map((x) => (x > 0 ? Math.log(x) : -Infinity));
  const lse = new Float64Array(K);
  const terms = new Float64Array(K);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let k = 0; k < K; k++) lse[k] = logSumExp(teachers[k]!, o, cols, T);
    for (let j = 0; j < cols; j++) {
      let m = -Infinity;
      for (let k = 0; k < K; k++) {
        const t = logw[k]! + teachers[k]![o + j]! / T - lse[k]!;
        terms[k] = t;
        if (t > m) m = t;
      }
      let s = 0;
      for (let k = 0; k < K; k++) s += Math.exp(terms[k]! - m);
      out[o + j] = T * (m + Math.log(s));
    }
  }
}

/** Logits of the Tf-KD virtual teacher: T · log q with q = correct on the label, (1 − correct)/(cols − 1) elsewhere. */
export function virtualTeacherLogits(out: Float32Array, labels: Int32Array, rows: number, cols: number,
                                     correct: number, T: number): void {
  if (cols < 2) throw new RangeError(`virtualTeacherLogits: needs at least 2 classes, got ${cols}`);
  if (!(correct > 0 && correct < 1)) throw new RangeError(`virtualTeacherLogits: correct must be in (0, 1), got ${correct}`);
  if (!(T > 0) || !Number.isFinite(T)) throw new RangeError(`virtualTeacherLogits: T must be > 0, got ${T}`);
  const on = T * Math.log(correct);
  const off = T * Math.log((1 - correct) / (cols - 1));
  for (let r = 0; r < rows; r++) {
    const g = labels[r]!;
    if (!(g >= 0 && g < cols)) throw new RangeError(`virtualTeacherLogits: label ${g} of row ${r} is outside [0, ${cols})`);
    const o = r * cols;
    for (let j = 0; j < cols; j++) out[o + j] = j === g ? on : off;
  }
}

/** The virtual teacher's distribution itself (rows, cols), for inspection and tests. */
export function virtualTeacherProbabilities(labels: Int32Array, rows: number, cols: number, correct: number): Float64Array {
  const q = new Float64Array(rows * cols);
  const off = (1 - correct) / (cols - 1);
  for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) q[r * cols + j] = j === labels[r] ? correct : off;
  return q;
}

function logSumExp(x: Float32Array, o: number, n: number, T: number): number {
  let m = -Infinity;
  for (let j = 0; j < n; j++) { const v = x[o + j]! / T; if (v > m) m = v; }
  let s = 0;
  for (let j = 0; j < n; j++) s += Math.exp(x[o + j]! / T - m);
  return m + Math.log(s);
}
