// Decoupled Knowledge Distillation (Zhao et al., "Decoupled Knowledge Distillation", CVPR 2022).
//
// Per row, with a = z/T (student), b = v/T (teacher), g the label, p = softmax(a), q = softmax(b),
// and p̂, q̂ the softmax over the non-target classes only (class g removed):
//
//   TCKD = KL([q_g, 1-q_g] || [p_g, 1-p_g]) = q_g (log q_g - log p_g) + (1-q_g) (log(1-q_g) - log(1-p_g))
//   NCKD = KL(q̂ || p̂)                     = Σ_{j≠g} q̂_j (log q̂_j - log p̂_j)
//
// and the classical KD term decomposes as KL(q||p) = TCKD + (1 - q_g) NCKD (the paper's eq. 1).
// The batch loss is  L = w/rows · Σ_rows (alpha TCKD + beta NCKD),  w = T² unless scaleT2 === false.
//
// Numerics (all in f64). With lse = log-sum-exp over all classes and lseN over the non-target ones,
//   log p_g = a_g - lse(a),   log(1-p_g) = lseN(a) - lse(a),   log p̂_j = a_j - lseN(a),
// so no probability is ever subtracted from 1 and every log is finite for finite logits (so no
// 0·log 0 or 0·∞ can arise even when exp() underflows at |z/T| ~ 1e4). q_g - p_g is formed as
// (1-p_g) - (1-q_g) when both are large, so neither side loses the small one's digits.
//
// Gradient (w.r.t. a; dL/dz = dL/da / T). Only the student-dependent parts matter:
//   TCKD = -q_g log p_g - (1-q_g) log(1-p_g) + const,   NCKD = -Σ_{j≠g} q̂_j log p̂_j + const.
//   ∂ log p_g / ∂a_k     = δ_kg - p_k
//   ∂ log(1-p_g) / ∂a_k  = ∂(lseN - lse)/∂a_k = [k≠g] p̂_k - p_k
//   ∂ log p̂_j / ∂a_k    = [k≠g] (δ_jk - p̂_k)
// hence
//   ∂TCKD/∂a_k = p_k - q_g δ_kg - (1-q_g)[k≠g] p̂_k
//              = p_g - q_g                      (k = g)
//              = p̂_k (q_g - p_g)               (k ≠ g, using p_k = (1-p_g) p̂_k)
//   ∂NCKD/∂a_k = 0 (k = g),   p̂_k - q̂_k (k ≠ g)          (Σ_{j≠g} q̂_j = 1)
// and dL/dz[r,k] = w / (rows·T) · (alpha ∂TCKD/∂a_k + beta ∂NCKD/∂a_k). Each row's gradient sums
// to zero (softmax shift invariance), which the tests check.
//
// Cost: O(rows·cols) time, O(1) extra memory (three passes over each row).

export interface DkdOptions {
  alpha: number;
  beta: number;
  temperature: number;
  /** Multiply the loss (and gradient) by T²; default true. */
  scaleT2?: boolean;
}

export interface DkdParts {
  /** Per-row target-class KD (binary KL), no T², no weight. */
  tckd: Float64Array;
  /** Per-row non-target-class KD (KL over the non-target classes), no T², no weight. */
  nckd: Float64Array;
  /** Per-row teacher target probability softmax(v/T)[r, label]. */
  teacherTarget: Float64Array;
}

type Logits = Float32Array | Float64Array;

function fail(op: string, msg: string): never {
  throw new RangeError(`${op}: ${msg}`);
}

function checkCommon(op: string, z: Logits, v: Logits, labels: Int32Array, rows: number, cols: number, T: number): void {
  if (typeof rows !== 'number' || !Number.isInteger(rows) || rows < 1) fail(op, `rows must be an integer >= 1, got ${String(rows)}`);
  if (typeof cols !== 'number' || !Number.isInteger(cols) || cols < 2) fail(op, `cols must be an integer >= 2 (a target and at least one non-target class), got ${String(cols)}`);
  const n = rows * cols;
  if (!Number.isSafeInteger(n)) fail(op, `rows * cols = ${n} is too large`);
  if (!z || typeof z.length !== 'number') fail(op, 'z is missing');
  if (!v || typeof v.length !== 'number') fail(op, 'v is missing');
  if (!labels || typeof labels.length !== 'number') fail(op, 'labels is missing');
  if (z.length < n) fail(op, `z holds ${z.length} elements but rows * cols = ${n}`);
  if (v.length < n) fail(op, `v holds ${v.length} elements but rows * cols = ${n}`);
  if (labels.length < rows) fail(op, `labels holds ${labels.length} elements but rows = ${rows}`);
  if (typeof T !== 'number' || !Number.isFinite(T) || T <= 0) fail(op, `temperature must be a finite number > 0, got ${String(T)}`);
  for (let r = 0; r < rows; r++) {
    const y = labels[r]!;
    if (!Number.isInteger(y) || y < 0 || y >= cols) fail(op, `labels[${r}] = ${y} is outside [0, ${cols})`);
  }
}

/** log-sum-exp of x[o + j] / T over j in [0, cols), skipping j = skip (pass -1 to skip nothing). */
function lse(x: Logits, o: number, cols: number, invT: number, skip: number): number {
  let m = -Infinity;
  for (let j = 0; j < cols; j++) {
    if (j === skip) continue;
    const a = x[o + j]! * invT;
    if (a > m) m = a;
  }
  if (m === -Infinity || m === Infinity || Number.isNaN(m)) return m;
  let s = 0;
  for (let j = 0; j < cols; j++) {
    if (j === skip) continue;
    s += Math.exp(x[o + j]! * invT - m);
  }
  return m + Math.log(s);
}

/** The per-row quantities shared by the loss and its gradient. */
interface RowStats {
  tckd: number;
  nckd: number;
  logPg: number; log1mPg: number; lseNa: number;
  logQg: number; log1mQg: number; lseNb: number;
}

function rowStats(z: Logits, v: Logits, o: number, cols: number, g: number, invT: number, out: RowStats): void {
  const lseA = lse(z, o, cols, invT, -1), lseNa = lse(z, o, cols, invT, g);
  const lseB = lse(v, o, cols, invT, -1), lseNb = lse(v, o, cols, invT, g);
  const logPg = z[o + g]! * invT - lseA, log1mPg = lseNa - lseA;
  const logQg = v[o + g]! * invT - lseB, log1mQg = lseNb - lseB;
  const qg = Math.exp(logQg), q1 = Math.exp(log1mQg);
  // 0 · (finite) is 0: every log above is finite for finite logits
  const tckd = qg * (logQg - logPg) + q1 * (log1mQg - log1mPg);
  let nckd = 0;
  for (let j = 0; j < cols; j++) {
    if (j === g) continue;
    const lq = v[o + j]! * invT - lseNb;
    const lp = z[o + j]! * invT - lseNa;
    nckd += Math.exp(lq) * (lq - lp);
  }
  out.tckd = tckd; out.nckd = nckd;
  out.logPg = logPg; out.log1mPg = log1mPg; out.lseNa = lseNa;
  out.logQg = logQg; out.log1mQg = log1mQg; out.lseNb = lseNb;
}

function newStats(): RowStats {
  return { tckd: 0, nckd: 0, logPg: 0, log1mPg: 0, lseNa: 0, logQg: 0, log1mQg: 0, lseNb: 0 };
}

/**
 * Batch-mean DKD loss: T²·(alpha·TCKD + beta·NCKD) averaged over rows (T² only when scaleT2 !== false).
 * z: student logits (rows, cols), v: teacher logits (rows, cols), labels: int32 class per row.
 * Accumulates gradScale · dL/dz into dz when dz is not null (+=, never overwrites). Returns the loss.
 * Arrays may be longer than rows * cols (only the first rows * cols elements are used).
 */
export function dkdLoss(dz: Float32Array | null, z: Float32Array, v: Float32Array, labels: Int32Array,
                        rows: number, cols: number, o: DkdOptions, gradScale = 1): number {
  const op = 'dkdLoss';
  if (!o || typeof o !== 'object') fail(op, 'options are missing');
  const T = o.temperature;
  checkCommon(op, z, v, labels, rows, cols, T);
  const { alpha, beta } = o;
  if (typeof alpha !== 'number' || !Number.isFinite(alpha) || alpha < 0) fail(op, `alpha must be a finite number >= 0, got ${String(alpha)}`);
  if (typeof beta !== 'number' || !Number.isFinite(beta) || beta < 0) fail(op, `beta must be a finite number >= 0, got ${String(beta)}`);
  if (o.scaleT2 !== undefined && typeof o.scaleT2 !== 'boolean') fail(op, `scaleT2 must be a boolean, got ${String(o.scaleT2)}`);
  if (typeof gradScale !== 'number' || !Number.isFinite(gradScale)) fail(op, `gradScale must be a finite number, got ${String(gradScale)}`);
  if (dz !== null) {
    if (!(dz instanceof Float32Array)) fail(op, 'dz must be a Float32Array or null');
    if (dz.length < rows * cols) fail(op, `dz holds ${dz.length} elements but rows * cols = ${rows * cols}`);
  }

  const invT = 1 / T;
  const w = o.scaleT2 === false ? 1 : T * T;
  const s = newStats();
  let total = 0;
  const coef = gradScale * w / (rows * T);
  for (let r = 0; r < rows; r++) {
    const off = r * cols, g = labels[r]!;
    rowStats(z, v, off, cols, g, invT, s);
    total += alpha * s.tckd + beta * s.nckd;
    if (dz === null || coef === 0) continue;
    const pg = Math.exp(s.logPg), p1 = Math.exp(s.log1mPg);
    const qg = Math.exp(s.logQg), q1 = Math.exp(s.log1mQg);
    // q_g - p_g without losing the smaller side's digits
    const qMinusP = pg + qg > 1 ? p1 - q1 : qg - pg;
    dz[off + g] = dz[off + g]! + coef * alpha * -qMinusP;
    for (let k = 0; k < cols; k++) {
      if (k === g) continue;
      const ph = Math.exp(z[off + k]! * invT - s.lseNa);
      const qh = Math.exp(v[off + k]! * invT - s.lseNb);
      dz[off + k] = dz[off + k]! + coef * (alpha * ph * qMinusP + beta * (ph - qh));
    }
  }
  return w * total / rows;
}

/** Per-row parts (no T², no weights): tckd[r], nckd[r], and the teacher's target probability pt[r] = softmax(v/T)[r, label]. */
export function dkdParts(z: Float32Array, v: Float32Array, labels: Int32Array, rows: number, cols: number,
                         temperature: number): DkdParts {
  checkCommon('dkdParts', z, v, labels, rows, cols, temperature);
  const invT = 1 / temperature;
  const tckd = new Float64Array(rows), nckd = new Float64Array(rows), teacherTarget = new Float64Array(rows);
  const s = newStats();
  for (let r = 0; r < rows; r++) {
    rowStats(z, v, r * cols, cols, labels[r]!, invT, s);
    tckd[r] = s.tckd;
    nckd[r] = s.nckd;
    teacherTarget[r] = Math.exp(s.logQg);
  }
  return { tckd, nckd, teacherTarget };
}
