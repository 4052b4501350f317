// What a Transformer knows beyond its logits: its self-attention. Three terms between one
// student attention layer and one teacher attention layer (../layers/attention.ts), over each
// sample's n tokens (padding never enters; a causal layer compares keys j <= i only):
//
//   attn, loss 'kl'  (MiniLM, Wang et al. 2020): the attention distributions, per head
//        L = 1/(B·H) Σ_b Σ_h 1/n Σ_i KL(A^T_bhi ‖ A^S_bhi)          A = softmax(Q Kᵀ / sqrt(dh))
//        dL/dz^S = (A^S − A^T) / (sqrt(dh_S) · B·H·n)                z = Q Kᵀ, the layer's raw scores
//   attn, loss 'mse' (TinyBERT, Jiao et al. 2020): the unnormalised attention scores, per head
//        L = mean over (b, h, i, j) of (z^S/sqrt(dh_S) − z^T/sqrt(dh_T))²
//   vr  (MiniLM's value relation): the scaled dot products of the values, split into R relation
//        heads of D/R features on each side (R: the student's head count unless given), so that
//        student and teacher may differ in width (and in heads):
//        VR = softmax(V_r V_rᵀ / sqrt(D/R)),  L = 1/(B·R) Σ_b Σ_r 1/n Σ_i KL(VR^T ‖ VR^S)
//        dL/dV^S_r = (G + Gᵀ) V^S_r with G = dL/d(V_r V_rᵀ)
//
// The attention terms need equal head counts (a head of one model is compared with the same head
// of the other); every term needs the two models to read the same tokens (the same tokenizer and
// maximum length: the sample's token count must agree). All arithmetic runs in the core's kernels
// (sgemm, klDivergence, mseLoss, axpy), so a step is the same bits on every engine; the student's
// gradients go to the layer's scoreGrad / qkvGrad buffers, which its backward adds in.
import type { Core, Tensor } from '@retort/core-wasm';
import type { Attention } from '../layers/attention.js';

export type AttentionKdKind = 'attn-kl' | 'attn-mse' | 'vr';

export class AttentionKd {
  private readonly a: Tensor<'f32'>;
  private readonly b: Tensor<'f32'>;
  private readonly g: Tensor<'f32'>;
  readonly relationHeads: number;

  constructor(readonly core: Core, readonly kind: AttentionKdKind, readonly student: Attention, readonly teacher: Attention,
              readonly batch: number, relationHeads?: number) {
    const s = student, t = teacher;
    const where = `student attention (${s.D} wide, ${s.heads} heads) -> teacher attention (${t.D} wide, ${t.heads} heads)`;
    if (kind !== 'vr' && s.heads !== t.heads) {
      throw new RangeError(`${where}: attention maps are compared head by head, so the head counts must agree (use the value-relation term 'vr', which re-splits both into relation heads)`);
    }
    if (s.causal !== t.causal) throw new RangeError(`${where}: one is causal and the other is not`);
    this.relationHeads = relationHeads ?? s.heads;
    if (kind === 'vr' && (s.D % this.relationHeads !== 0 || t.D % this.relationHeads !== 0)) {
      throw new RangeError(`${where}: ${this.relationHeads} relation heads must divide both widths`);
    }
    const L = s.L, H = s.heads;
    const n = L * L;
    this.a = core.alloc(n);
    this.b = core.alloc(n);
    this.g = core.alloc(n);
    void H;
    if (kind !== 'vr') {
      s.want('scores');
      s.want('scoreGrad');
      t.want('scores');
    } else {
      s.want('qkvGrad');
    }
  }

  /**
   * The term over the last forward of both models (rows samples); with gradScale ≠ 0 adds
   * gradScale · dL/d(student) into the student layer's gradient buffers.
   */
  compute(rows: number, gradScale: number): number {
    const s = this.student, t = this.teacher;
    for (let r = 0; r < rows; r++) {
      if (s.counts[r] !== t.counts[r]) {
        throw new RangeError(`row ${r} of the batch: the student reads ${s.counts[r]} tokens and the teacher ${t.counts[r]}; distill with the teacher's tokenizer and maximum length`);
      }
    }
    return this.kind === 'vr' ? this.valueRelation(rows, gradScale) : this.attention(rows, gradScale);
  }

  private attention(rows: number, gradScale: number): number {
    const k = this.core.kernels, s = this.student, t = this.teacher, H = s.heads;
    const Ls = s.L, Lt = t.L, Ts = Math.sqrt(s.D / H), Tt = Math.sqrt(t.D / H);
    const zs0 = s.scores!.ptr, zt0 = t.scores!.ptr, gs0 = s.scoreGrad!.ptr;
    const A = this.a.ptr, B = this.b.ptr, G = this.g.ptr;
    const train = gradScale !== 0;
    // the mse normaliser: every compared entry of the batch
    let N = 0;
    for (let r = 0; r < rows; r++) { const n = s.counts[r]!; N += H * (s.causal ? (n * (n + 1)) / 2 : n * n); }
    let total = 0;
    for (let r = 0; r < rows; r++) {
      const n = s.counts[r]!;
      if (n === 0) continue;
      for (let h = 0; h < H; h++) {
        const zs = zs0 + 4 * (r * H + h) * Ls * Ls, zt = zt0 + 4 * (r * H + h) * Lt * Lt, gs = gs0 + 4 * (r * H + h) * Ls * Ls;
        if (this.kind === 'attn-kl') {
          // the teacher's scores at the student's temperature: softmax(u / Ts) = softmax(zt / Tt)
          k.fill(B, n * n, 0);
          k.axpy(B, zt, n * n, Ts / Tt);
          const c = gradScale / (rows * H);
          if (!s.causal) total += k.klDivergence(train ? gs : 0, zs, B, n, n, Ts, c) / (rows * H);
          else for (let i = 0; i < n; i++) total += k.klDivergence(train ? gs + 4 * i * n : 0, zs + 4 * i * n, B + 4 * i * n, 1, i + 1, Ts, c / n) / (rows * H * n);
        } else {
          // a = zs / Ts, b = zt / Tt; mean over the N entries of (a − b)²
          k.fill(A, n * n, 0); k.axpy(A, zs, n * n, 1 / Ts);
          k.fill(B, n * n, 0); k.axpy(B, zt, n * n, 1 / Tt);
          if (train) k.fill(G, n * n, 0);
          if (!s.causal) total += k.mseLoss(train ? G : 0, A, B, n * n, (gradScale * n * n) / N) * (n * n) / N;
          else {
            for (let i = 0; i < n; i++) {
              total += k.mseLoss(train ? G + 4 * i * n : 0, A + 4 * i * n, B + 4 * i * n, i + 1, (gradScale * (i + 1)) / N) * (i + 1) / N;
            }
          }
          if (train) k.axpy(gs, G, n * n, 1 / Ts); // d/dzs = d/da / Ts
        }
      }
    }
    return total;
  }

  private valueRelation(rows: number, gradScale: number): number {
    const k = this.core.kernels, s = this.student, t = this.teacher, R = this.relationHeads;
    const Ls = s.L, Lt = t.L, Ds = s.D, Dt = t.D, drS = Ds / R, drT = Dt / R;
    const Ts = Math.sqrt(drS), Tt = Math.sqrt(drT);
    const A = this.a.ptr, B = this.b.ptr, G = this.g.ptr, train = gradScale !== 0;
    const c = gradScale / (rows * R);
    let total = 0;
    for (let r = 0; r < rows; r++) {
      const n = s.counts[r]!;
      if (n === 0) continue;
      for (let h = 0; h < R; h++) {
        const vs = s.qkvPtr + 4 * (r * Ls * 3 * Ds + 2 * Ds + h * drS), vt = t.qkvPtr + 4 * (r * Lt * 3 * Dt + 2 * Dt + h * drT);
        k.sgemm(0, 1, n, n, drS, 1, vs, 3 * Ds, vs, 3 * Ds, 0, A, n);
        k.sgemm(0, 1, n, n, drT, Ts / Tt, vt, 3 * Dt, vt, 3 * Dt, 0, B, n); // at the student's temperature
        if (train) k.fill(G, n * n, 0);
        if (!s.causal) total += k.klDivergence(train ? G : 0, A, B, n, n, Ts, c) / (rows * R);
        else for (let i = 0; i < n; i++) total += k.klDivergence(train ? G + 4 * i * n : 0, A + 4 * i * n, B + 4 * i * n, 1, i + 1, Ts, c / n) / (rows * R * n);
        if (train) {
          const dv = s.qkvGrad!.ptr + (vs - s.qkvPtr);
          k.sgemm(0, 0, n, drS, n, 1, G, n, vs, 3 * Ds, 1, dv, 3 * Ds);   // G V
          k.sgemm(1, 0, n, drS, n, 1, G, n, vs, 3 * Ds, 1, dv, 3 * Ds);   // Gᵀ V
        }
      }
    }
    return total;
  }

  free(): void {
    for (const x of [this.a, this.b, this.g]) this.core.free(x);
  }
}
