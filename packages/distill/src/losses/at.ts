// Attention transfer (Zagoruyko & Komodakis, "Paying More Attention to Attention", ICLR 2017),
// activation-based, p = 2: a feature map F (H, W, C) becomes a spatial attention map
//
//   a_i = Σ_c F_ic²  (i over the H·W positions),   q = a / ||a||₂
//
// and the student is pulled towards the teacher's map of the same resolution:
//
//   L_at = 1/(B·P) Σ_b Σ_i (q^S_bi − q^T_bi)²      (P positions; the authors' code: (at(s) − at(t))².mean())
//
// The paper weights the sum over layer pairs by β/2 with β = 1000: that is the term's `weight`
// (500 in the `at` method). Maps of different sizes: the larger attention map a is average-pooled
// by the integer factor between the two before normalising (its gradient spread back evenly).
// Channels may differ (they are summed out). Gradient, per sample, with g = dL/dq:
//   dL/da = (g − q <q, g>) / ||a||,   dL/dF_ic = 2 F_ic · dL/da_i   (through the pooling: / factor area)
// Computed in f64 in TypeScript on views of module memory (the maps are small: B·H·W values);
// only +, ×, ÷ and √ (correctly rounded everywhere), so the result is the same in every engine.
import type { Core } from '@retort/core-wasm';
import type { Shape } from '../model/graph.js';

export interface AttentionPair {
  /** Per-sample shapes (H, W, C) of the student and teacher maps. */
  student: Shape;
  teacher: Shape;
}

/** The common attention resolution of two maps and the pooling factors; throws naming both shapes. */
export function attentionGrid(student: Shape, teacher: Shape): { h: number; w: number; fs: [number, number]; ft: [number, number] } {
  if (student.length !== 3 || teacher.length !== 3) {
    throw new RangeError(`attention transfer needs feature maps (height, width, channels) on both sides; got [${student.join(', ')}] and [${teacher.join(', ')}]`);
  }
  const h = Math.min(student[0]!, teacher[0]!), w = Math.min(student[1]!, teacher[1]!);
  const fs: [number, number] = [student[0]! / h, student[1]! / w], ft: [number, number] = [teacher[0]! / h, teacher[1]! / w];
  if (![...fs, ...ft].every(Number.isInteger)) {
    throw new RangeError(`attention maps ${student[0]}x${student[1]} (student) and ${teacher[0]}x${teacher[1]} (teacher) do not pool evenly to one size; pick taps whose sizes divide`);
  }
  if ((fs[0] > 1 || fs[1] > 1) && (ft[0] > 1 || ft[1] > 1)) {
    throw new RangeError(`attention maps ${student[0]}x${student[1]} and ${teacher[0]}x${teacher[1]}: one must be at least as large as the other in both directions`);
  }
  return { h, w, fs, ft };
}

/** a (rows, h·w) for F (rows, H, W, C) pooled by (fh, fw), into `out` (f64). */
function attention(f: Float32Array, rows: number, [H, W, C]: readonly number[], [fh, fw]: [number, number], out: Float64Array): void {
  const h = H! / fh, w = W! / fw, P = h * w, area = fh * fw;
  out.fill(0, 0, rows * P);
  for (let b = 0; b < rows; b++) {
    const base = b * H! * W! * C!;
    for (let y = 0; y < H!; y++) {
      for (let x = 0; x < W!; x++) {
        let s = 0;
        const at = base + (y * W! + x) * C!;
        for (let c = 0; c < C!; c++) { const v = f[at + c]!; s += v * v; }
        out[b * P + Math.floor(y / fh) * w + Math.floor(x / fw)]! += s / area;
      }
    }
  }
}

/** q = a / ||a|| row by row, in place; returns the norms (a zero map stays zero). */
function normalise(a: Float64Array, rows: number, P: number, norms: Float64Array): void {
  for (let b = 0; b < rows; b++) {
    let s = 0;
    for (let i = 0; i < P; i++) s += a[b * P + i]! * a[b * P + i]!;
    const n = Math.sqrt(s);
    norms[b] = n;
    if (n > 0) for (let i = 0; i < P; i++) a[b * P + i]! /= n;
  }
}

export class AttentionTransfer {
  private readonly grid: ReturnType<typeof attentionGrid>;
  private qs = new Float64Array(0);
  private qt = new Float64Array(0);
  private norms = new Float64Array(0);

  constructor(readonly core: Core, readonly pair: AttentionPair) {
    this.grid = attentionGrid(pair.student, pair.teacher);
  }

  /**
   * L_at for `rows` rows of the student map at byte offset `s` and the teacher map at `t`; with
   * gradScale ≠ 0 accumulates gradScale · dL/dF_s into the student's tap gradient at `ds`.
   */
  compute(ds: number | null, s: number, t: number, rows: number, gradScale: number): number {
    const { h, w, fs, ft } = this.grid, P = h * w;
    const [H, W, C] = this.pair.student as [number, number, number];
    if (this.qs.length < rows * P) { this.qs = new Float64Array(rows * P); this.qt = new Float64Array(rows * P); this.norms = new Float64Array(rows); }
    const f32 = this.core.views.f32;
    const sv = f32.subarray(s >>> 2, (s >>> 2) + rows * H * W * C);
    const tv = f32.subarray(t >>> 2, (t >>> 2) + rows * this.pair.teacher.reduce((a, b) => a * b, 1));
    attention(tv, rows, this.pair.teacher, ft, this.qt);
    normalise(this.qt, rows, P, this.norms);
    attention(sv, rows, this.pair.student, fs, this.qs);
    normalise(this.qs, rows, P, this.norms);
    let loss = 0;
    for (let i = 0; i < rows * P; i++) { const d = this.qs[i]! - this.qt[i]!; loss += d * d; }
    loss /= rows * P;
    if (gradScale === 0 || ds === null) return loss;
    const dv = this.core.views.f32.subarray(ds >>> 2, (ds >>> 2) + rows * H * W * C);
    const area = fs[0] * fs[1];
    const ga = new Float64Array(P);
    for (let b = 0; b < rows; b++) {
      const n = this.norms[b]!;
      if (!(n > 0)) continue; // an all-zero map: q is 0 whatever F does to first order
      // g = dL/dq = 2 (q_s − q_t) / (B P);  dL/da = (g − q <q, g>) / n
      let qg = 0;
      for (let i = 0; i < P; i++) {
        const g = (2 * (this.qs[b * P + i]! - this.qt[b * P + i]!)) / (rows * P);
        ga[i] = g;
        qg += this.qs[b * P + i]! * g;
      }
      for (let i = 0; i < P; i++) ga[i] = (ga[i]! - this.qs[b * P + i]! * qg) / n / area;
      const base = b * H * W * C;
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const g = ga[Math.floor(y / fs[0]) * w + Math.floor(x / fs[1])]! * 2 * gradScale;
          const at = base + (y * W + x) * C;
          for (let c = 0; c < C; c++) dv[at + c] = dv[at + c]! + Math.fround(g * sv[at + c]!);
        }
      }
    }
    return loss;
  }
}
