// Multi-head self-attention (Vaswani et al. 2017) over (B, L, D), H heads of dh = D / H.
//
//   qkv = x Wqkv + bqkv                     (B, L, 3D): q | k | v, head h at columns h*dh of each
//   for each sample b (n = its token count, ./sequence.ts) and head h:
//     P  = softmax(Q Kᵀ / sqrt(dh))          (n, n): only the n tokens are keys, so padding is never
//                                            attended to; causal: key j <= query i
//     C  = P V                               (n, dh) into columns h*dh of ctx; ctx rows >= n are 0
//   y = ctx Wo + bo                          (B, L, D)
//
// backward, with dctx = dy Woᵀ:
//     dP = dC Vᵀ,  dV = Pᵀ dC,  dS = P ∘ (dP - rowsum(dP ∘ P)) / sqrt(dh),  dQ = dS K,  dK = dSᵀ Q
//   dWqkv += xᵀ dqkv, dbqkv += Σ dqkv, dx += dqkv Wqkvᵀ; dWo += ctxᵀ dy, dbo += Σ dy
//
// Q Kᵀ and P V are strided GEMMs on the tensors as they lie (lda = 3D: no head is copied out);
// the softmax is softmaxRows with T = sqrt(dh), whose backward includes the 1/T. A causal row i
// takes the softmax of its first i + 1 scores and zeros after them, so P is zero above the
// diagonal and the same softmaxBackward over whole rows gives zero gradient there.
//
// The probabilities of the last forward stay in `probs` ((B, H, L, L), sample b's n x n block at the
// start of each head's L x L slot, row stride n). Attention-distillation terms (../losses/attention-kd.ts)
// hand the layer three optional buffers: `scores` (same layout: the raw Q Kᵀ, kept before the
// softmax), `scoreGrad` (dL/d(Q Kᵀ) they add; backward adds it to dS) and `qkvGrad` ((B, L, 3D):
// dL/dqkv they add, e.g. on V; backward adds it to dqkv). A train-mode forward zeroes both gradients.
import type { Core, Tensor } from '@retort/core-wasm';
import type { AttentionSpec } from '../model/layer-spec.js';
import { Layer, type PlanShared, type Planner, type Step } from './layer.js';
import { tokenCounts } from './sequence.js';

export class Attention extends Layer {
  private core: Core | null = null;
  private qkv: Tensor<'f32'> | null = null;
  private ctx: Tensor<'f32'> | null = null;
  /** (B, H, L, L): sample b, head h's probabilities at (b*H + h)*L*L, row stride n_b. */
  probs: Tensor<'f32'> | null = null;
  private dqkv: Tensor<'f32'> | null = null;
  private dctx: Tensor<'f32'> | null = null;
  private dP: Tensor<'f32'> | null = null;
  private dS: Tensor<'f32'> | null = null;
  private scratch = 0;
  /** Token counts of the last forward's samples. */
  counts = new Int32Array(0);
  /** Kept for distillation terms (see the header); null unless a term asked for them (want()). */
  scores: Tensor<'f32'> | null = null;
  scoreGrad: Tensor<'f32'> | null = null;
  qkvGrad: Tensor<'f32'> | null = null;
  private wanted = { scores: false, scoreGrad: false, qkvGrad: false };
  private batch = 0;
  /** Buffers allocated by want() after plan(): freed by the next plan(). */
  private late: Tensor<'f32'>[] = [];

  /**
   * A distillation term needs the raw scores kept, or a gradient buffer: allocated for the planned
   * batch size now and by every later plan(), so a model that runs larger batches (a teacher's
   * soft labels) never writes past them.
   */
  want(which: 'scores' | 'scoreGrad' | 'qkvGrad'): void {
    if (this.wanted[which]) return;
    this.wanted[which] = true;
    if (this.batch > 0 && this.core) {
      const t = this.core.alloc(this.sizeOf(which, this.batch));
      this.late.push(t);
      this[which] = t;
    }
  }

  private sizeOf(which: 'scores' | 'scoreGrad' | 'qkvGrad', B: number): number {
    return which === 'qkvGrad' ? B * this.L * 3 * this.D : B * this.heads * this.L * this.L;
  }
  private get spec(): AttentionSpec { return this.node.spec as AttentionSpec; }
  get L(): number { return this.node.inShape[0]!; }
  get D(): number { return this.node.inShape[1]!; }
  get heads(): number { return this.spec.heads; }
  get causal(): boolean { return this.spec.causal; }
  /** The packed q | k | v of the last forward ((B, L, 3D)). */
  get qkvPtr(): number { return this.qkv!.ptr; }

  override get skipsInputGradient(): boolean { return true; }

  override plan(p: Planner): void {
    const { L, D } = this, H = this.heads, B = p.batch;
    this.core = p.core;
    this.qkv = p.f32(B * L * 3 * D);
    this.ctx = p.f32(B * L * D);
    this.probs = p.f32(B * H * L * L);
    this.dqkv = p.f32(B * L * 3 * D);
    this.dctx = p.f32(B * L * D);
    this.dP = p.f32(L * L);
    this.dS = p.f32(L * L);
    this.counts = new Int32Array(B);
    p.scratch(B * L * D);
    for (const t of this.late) p.core.free(t);
    this.late = [];
    this.batch = B;
    for (const which of ['scores', 'scoreGrad', 'qkvGrad'] as const) this[which] = this.wanted[which] ? p.f32(this.sizeOf(which, B)) : null;
  }
  override bind(shared: PlanShared): void { this.scratch = shared.scratch; }

  forward(s: Step): void {
    const { L, D } = this, H = this.heads, dh = D / H, k = s.k, rows = s.rows * L, D3 = 3 * D;
    const x = this.inputOf(s), y = s.out[this.node.index]!, qkv = this.qkv!.ptr, ctx = this.ctx!.ptr, P = this.probs!.ptr;
    const T = Math.sqrt(dh);
    k.sgemm(0, 0, rows, D3, D, 1, x, D, s.P + this.param('wqkv'), D3, 0, qkv, D3);
    k.biasAdd(qkv, s.P + this.param('bqkv'), rows, D3);
    tokenCounts(this.core!, s, L, this.counts);
    if (s.train && this.scoreGrad) k.fill(this.scoreGrad.ptr, s.rows * H * L * L, 0);
    if (s.train && this.qkvGrad) k.fill(this.qkvGrad.ptr, rows * D3, 0);
    const kept = this.scores?.ptr ?? 0;
    for (let b = 0; b < s.rows; b++) {
      const n = this.counts[b]!;
      const rowB = qkv + 4 * b * L * D3, ctxB = ctx + 4 * b * L * D;
      if (n < L) k.fill(ctxB + 4 * n * D, (L - n) * D, 0);
      for (let h = 0; h < H; h++) {
        if (n === 0) break;
        const q = rowB + 4 * h * dh, kk = rowB + 4 * (D + h * dh), v = rowB + 4 * (2 * D + h * dh);
        const p = P + 4 * (b * H + h) * L * L;
        const z = kept ? kept + 4 * (b * H + h) * L * L : p; // the scores: kept apart, or overwritten by P
        k.sgemm(0, 1, n, n, dh, 1, q, D3, kk, D3, 0, z, n);
        if (this.spec.causal) {
          for (let i = 0; i < n; i++) {
            k.softmaxRows(p + 4 * i * n, z + 4 * i * n, 1, i + 1, T);
            if (i + 1 < n) k.fill(p + 4 * (i * n + i + 1), n - i - 1, 0);
          }
        } else {
          k.softmaxRows(p, z, n, n, T);
        }
        k.sgemm(0, 0, n, dh, n, 1, p, n, v, D3, 0, ctxB + 4 * h * dh, D);
      }
    }
    k.sgemm(0, 0, rows, D, D, 1, ctx, D, s.P + this.param('wo'), D, 0, y, D);
    k.biasAdd(y, s.P + this.param('bo'), rows, D);
  }

  backward(s: Step): void {
    const { L, D } = this, H = this.heads, dh = D / H, k = s.k, rows = s.rows * L, D3 = 3 * D;
    const dy = s.grad[this.node.index]!, qkv = this.qkv!.ptr, ctx = this.ctx!.ptr, P = this.probs!.ptr;
    const dqkv = this.dqkv!.ptr, dctx = this.dctx!.ptr, dP = this.dP!.ptr, dS = this.dS!.ptr, T = Math.sqrt(dh);
    k.sgemm(1, 0, D, D, rows, 1, ctx, D, dy, D, 1, s.G + this.param('wo'), D);
    k.biasBackward(s.G + this.param('bo'), dy, rows, D);
    k.sgemm(0, 1, rows, D, D, 1, dy, D, s.P + this.param('wo'), D, 0, dctx, D);
    k.fill(dqkv, rows * D3, 0);
    for (let b = 0; b < s.rows; b++) {
      const n = this.counts[b]!;
      const rowB = qkv + 4 * b * L * D3, dRowB = dqkv + 4 * b * L * D3, dcB = dctx + 4 * b * L * D;
      for (let h = 0; h < H && n > 0; h++) {
        const q = rowB + 4 * h * dh, kk = rowB + 4 * (D + h * dh), v = rowB + 4 * (2 * D + h * dh);
        const dq = dRowB + 4 * h * dh, dk = dRowB + 4 * (D + h * dh), dv = dRowB + 4 * (2 * D + h * dh);
        const p = P + 4 * (b * H + h) * L * L, dc = dcB + 4 * h * dh;
        k.sgemm(0, 1, n, n, dh, 1, dc, D, v, D3, 0, dP, n);       // dP = dC Vᵀ
        k.sgemm(1, 0, n, dh, n, 1, p, n, dc, D, 0, dv, D3);       // dV = Pᵀ dC
        k.fill(dS, n * n, 0);
        k.softmaxBackward(dS, p, dP, n, n, T);                    // dS (the 1/sqrt(dh) included)
        if (this.scoreGrad) k.axpy(dS, this.scoreGrad.ptr + 4 * (b * H + h) * L * L, n * n, 1);
        k.sgemm(0, 0, n, dh, n, 1, dS, n, kk, D3, 0, dq, D3);     // dQ = dS K
        k.sgemm(1, 0, n, dh, n, 1, dS, n, q, D3, 0, dk, D3);      // dK = dSᵀ Q
      }
    }
    if (this.qkvGrad) k.axpy(dqkv, this.qkvGrad.ptr, rows * D3, 1);
    k.sgemm(1, 0, D, D3, rows, 1, this.inputOf(s), D, dqkv, D3, 1, s.G + this.param('wqkv'), D3);
    k.biasBackward(s.G + this.param('bqkv'), dqkv, rows, D3);
    const dx = this.gradOfInput(s);
    if (dx === 0) return;
    if (s.claim(this.inputIndex())) {
      k.sgemm(0, 1, rows, D, D3, 1, dqkv, D3, s.P + this.param('wqkv'), D3, 0, dx, D);
    } else {
      k.sgemm(0, 1, rows, D, D3, 1, dqkv, D3, s.P + this.param('wqkv'), D3, 0, this.scratch, D);
      k.axpy(dx, this.scratch, rows * D, 1);
    }
  }
}
