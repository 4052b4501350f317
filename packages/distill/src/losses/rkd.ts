// Relational Knowledge Distillation (Park et al., "Relational Knowledge Distillation", CVPR 2019):
// the distance-wise and angle-wise terms, on embeddings in module memory.
//
// Definitions (B = rows; x_i a student row s_i or a teacher row t_i; H = smooth-L1 with threshold 1,
// H(x) = x²/2 for |x| < 1 else |x| - 1/2):
//   d_ij   = ||x_i - x_j||,   μ = mean of d_ij over the P = B(B-1) ordered pairs i ≠ j
//   ψD_ij  = d_ij / μ                       (ψD = 0 everywhere when μ = 0)
//   L_dist = 1/P · Σ_{i≠j} H(ψD^S_ij - ψD^T_ij)
//   e_ij   = (x_i - x_j) / d_ij  (e_ij = 0 when d_ij = 0),   ψA_ijk = <e_ij, e_kj>  (angle at anchor j)
//   L_ang  = 1/N · Σ_j Σ_{i≠j} Σ_{k≠j} H(ψA^S_ijk - ψA^T_ijk),   N = B(B-1)²,   0 when B < 3.
// The i == k triples are included, as in the paper's reference code (its full B×B×B angle tensor):
// ψA_iji is 1 when d_ij > 0 and 0 for a zero-distance pair, so they only contribute where the
// student and teacher disagree about which rows coincide; they carry no gradient (ψA_iji is constant).
// The means are over the pairs / triples with distinct anchors named above (i ≠ j; i ≠ j, k ≠ j), not over
// all B² / B³ entries as the reference code's elementwise mean does (which only rescales each term).
// μ counts zero-distance pairs (duplicated rows) in its denominator. The teacher side is a constant.
//
// Everything goes through Gram matrices. With X the row-centred embeddings (X = S - 1 mᵀ, m the column
// mean; distances and angles are translation invariant, and centring keeps the f32 Gram free of the
// cancellation a large common offset would cause) and G = X Xᵀ (one sgemm, copied to f64):
//   D_ij = d_ij² = G_ii + G_jj - 2 G_ij,    A_ijk = <x_i - x_j, x_k - x_j> = (D_ij + D_kj - D_ik) / 2
// and ψA_ijk = A_ijk / (d_ij d_kj).
// Precision. The f32 Gram gives every D_ij an absolute error of ~√D·u·(G_ii + G_jj) (u = 2⁻²⁴), harmless
// for well-separated rows but not for close ones. With r_ij = D_ij / (G_ii + G_jj) (≤ 2 for centred rows),
// D_ij is off by ~√D·u / r_ij relative and the numerators A_ijk, through the cancellation in D_kj - D_ik,
// by ~√D·u |x|² / (d_ij d_kj), i.e. ψA by ~√D·u / √(r_ij r_kj): 1e-2 of the gradient at d/|x| = 1e-4, where
// explicit differences (the reference code, TF.js) stay at ~1e-7. So, per side, by r_ij of the Gram:
//  - r_ij <= RHO_D = 1/8 (the Gram lost more than 3 bits of D_ij): D_ij is recomputed exactly from the raw
//    rows (Σ (s_ic - s_jc)² in f64; f32 differences are exact in f64): O(D) per pair. This makes zero
//    distances exact (d_ij = 0 iff rows i and j are identical) and distances good to ~8√D·u;
//  - r_ij < RHO_A(D) = min(RHO_D, √D·2⁻¹²) (close pairs): triples anchored on the pair get their numerator
//    A_ijk = <δ, x_k> - <δ, x_j> from the exact δ = x_i - x_j and f64 dot products with the raw rows, one
//    B-vector of <δ, x_k> per close pair and anchor: O(B·D) per pair. Every other triple uses polarisation
//    with r_ij, r_kj >= RHO_A, so ψA errs by at most ~√D·u / RHO_A = 2⁻¹² (reached only by triples of
//    rows all that close; ~√D·u ~ 1e-6 for typical rows). The threshold trades accuracy against the cost
//    below: RHO_A = √D·2⁻¹¹ would halve that bound but send ordinary clusters (d/|x| ~ 0.1) down the
//    O(B·D)-per-pair path;
//  - in the gradient, pairs with r_ij <= RHO_D bypass the f32 M X product below (where 2 W_ij x_i -
//    2 W_ij x_j would cancel to 2 W_ij (x_i - x_j) with an error u|x|/d_ij relative to it, while W_ij grows
//    like 1/d_ij²) and are added as 2 W_ij (s_i - s_j) from the exact differences: O(D) per pair.
// A coincident pair has e_ij = 0, ψA = 0 for every triple through it and carries no gradient (never a
// noise-sized distance with a noise direction and a 1/d-sized gradient).
//
// Gradient. Both terms are functions of the squared distances alone (polarisation, as above), so the
// backward pass collects one symmetric B×B matrix W_ij = ∂L/∂D_ij (i ≠ j, the pair counted once) and
// uses ∂D_ij/∂x_i = 2 (x_i - x_j):
//   dL/dX = M X,   M = 2 (diag(W 1) - W)    (a graph Laplacian: symmetric, zero row and column sums)
// computed as dS += gradScale · M X by a second sgemm (M is written over the Gram scratch).
//   distance: g_ij = H'(ψD^S_ij - ψD^T_ij) / P;  ∂L/∂d_ij = g_ij / μ - (Σ_kl g_kl ψD^S_kl) / (μ P);
//             ∂L/∂D_ij = ∂L/∂d_ij / (2 d_ij)  (0 for d_ij = 0)
//   angle:    h = H'(ψA^S_ijk - ψA^T_ijk) / N, a = h / (d_ij d_kj) = ∂L/∂A_ijk:
//             ∂L/∂D_ij += a/2 - h ψA_ijk / (2 D_ij),  ∂L/∂D_kj += a/2 - h ψA_ijk / (2 D_kj),  ∂L/∂D_ik -= a/2
// Centring: L(S) = L̃(S - 1 mᵀ) so dL/dS = (I - 11ᵀ/B) dL/dX, i.e. "subtract the column mean of dL/dX".
// That projection is the identity here: 1ᵀ (M X) = (M 1)ᵀ X = 0 because M's rows sum to zero (its
// diagonal is formed in f64 as minus the sum of the row's off-diagonal entries), and the near pairs'
// 2 W_ij (s_i - s_j) is added to row i and subtracted from row j. So the gradient accumulates straight
// into dS (sgemm's beta = 1) and needs no B×D scratch of its own; the tests check the zero column sums.
//
// Cost, for B rows and student / teacher widths ds / dt:
//   FLOPs: 2B²·dt + 2B²·ds (the two Gram sgemms) + 2B²·ds (the gradient sgemm) + O(B(ds+dt)) centring,
//          and ~B³/2 scalar f64 iterations (~40 flops each) for the angle term over unordered i < k
//          (the loop uses ψA_ijk = ψA_kji), plus O(B²) for the distance term. In JS f64: 3D per pair with
//          r <= RHO_D (distance) and 6D (gradient, student), cheap even when all qualify (O(B²·D) with a small
//          constant), and 4B·D per close pair (r < RHO_A: <δ, x_k> for all k, at both anchors), i.e.
//          ~4B·(K_S·ds + K_T·dt) for K_S / K_T close pairs (see nearPairs). Spread-out and ordinarily clustered
//          embeddings have K ≈ 0; near-duplicate rows make K > 0, and c clusters collapsed to within
//          ~√RHO_A of the spread (K ≈ B²/(2c)) make this term ~2B³D/c, which then dominates: the price of
//          exact relations between (nearly) coincident rows.
//   Memory: module memory: a B×B f32 Gram / M scratch and a B×max(ds,dt) f32 centred copy;
//           JS: seven B×B Float64Arrays (per side: Gram then squared distances in place, distances, the
//           per-anchor near-pair numerators; and W), two B×B Uint8Array near flags, two max(ds,dt) f64
//           vectors (column mean, δ).
//   No B³ tensor and no per-anchor B×D difference matrices are ever formed.

import { Tensor, type Core } from '@retort/core-wasm';

export interface RkdWeights { distance: number; angle: number }
export interface RkdValues { distance: number; angle: number }

/** An f32 tensor of the core, or anything with the byte offset `ptr` of f32 data in the core's memory. */
export type F32Ref = Tensor<'f32'> | { readonly ptr: number };

/** Pairs with D_ij <= RHO_D (G_ii + G_jj) get exact squared distances and an exact-difference gradient. */
const RHO_D = 1 / 8;
/** Pairs with D_ij < rhoA(D) (G_ii + G_jj) also get exact angle numerators (ψA error bound 2⁻¹², see the header). */
function rhoA(dim: number): number { return Math.min(RHO_D, Math.sqrt(dim) * 2 ** -12); }
/** Pair flags: FAR (Gram only), NEAR (exact D and gradient), CLOSE (NEAR plus exact angle numerators). */
const FAR = 0, NEAR = 1, CLOSE = 2;
const OP = 'RkdLoss.compute';

function huber(x: number): number {
  const a = Math.abs(x);
  return a < 1 ? 0.5 * x * x : a - 0.5;
}

/** H'(x): x clipped to [-1, 1]. */
function huberGrad(x: number): number {
  return x > 1 ? 1 : x < -1 ? -1 : x;
}

function checkInt(op: string, name: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > 0x7fffffff) {
    throw new RangeError(`${op}: ${name} must be an integer >= ${min}, got ${String(v)}`);
  }
  return v;
}

function checkFinite(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new RangeError(`${op}: ${name} must be a finite number, got ${String(v)}`);
  return v;
}

export class RkdLoss {
  /** B×B f32: the Gram matrix, then M for the gradient sgemm. */
  private gram: Tensor<'f32'>;
  /** maxRows × capacity f32: the centred copy of the embeddings (teacher, then student). */
  private centered: Tensor<'f32'> | null = null;
  private capacity = 0;
  private mean = new Float64Array(0);
  private delta = new Float64Array(0);
  /** Student / teacher: Gram then squared distances (f64, B×B, in place). */
  private readonly gS: Float64Array;
  private readonly gT: Float64Array;
  /** Student / teacher distances. */
  private readonly dSt: Float64Array;
  private readonly dTe: Float64Array;
  /** Student / teacher pair flags (symmetric): FAR, NEAR or CLOSE. */
  private readonly nearS: Uint8Array;
  private readonly nearT: Uint8Array;
  /** Student / teacher, per anchor j: row i holds <s_i - s_j, s_k> over k for each near neighbour i of j. */
  private readonly qS: Float64Array;
  private readonly qT: Float64Array;
  /** ∂L/∂D_ij (upper triangle), times gradScale and the weights. */
  private readonly w: Float64Array;
  private freed = false;
  private nearCount = 0;
  private lastNear = { student: 0, teacher: 0 };

  /**
   * Allocates the B×B scratch for up to maxRows rows. The centred-copy scratch (maxRows × width) is
   * allocated for `maxDim` now, or on the first compute() (and again only when a wider input arrives);
   * an allocation may grow module memory, so views must be re-taken after compute() in that case.
   */
  constructor(private readonly core: Core, readonly maxRows: number, maxDim = 0) {
    checkInt('RkdLoss', 'maxRows', maxRows, 2);
    checkInt('RkdLoss', 'maxDim', maxDim, 0);
    this.gram = core.alloc(maxRows * maxRows);
    const n = maxRows * maxRows;
    this.gS = new Float64Array(n); this.gT = new Float64Array(n);
    this.dSt = new Float64Array(n); this.dTe = new Float64Array(n);
    this.qS = new Float64Array(n); this.qT = new Float64Array(n);
    this.nearS = new Uint8Array(n); this.nearT = new Uint8Array(n);
    this.w = new Float64Array(n);
    if (maxDim > 0) this.ensureCapacity(maxDim);
  }

  private ensureCapacity(dim: number): void {
    if (dim <= this.capacity) return;
    if (this.centered) this.core.free(this.centered);
    this.centered = null;
    this.centered = this.core.alloc(this.maxRows * dim);
    this.capacity = dim;
    this.mean = new Float64Array(dim);
    this.delta = new Float64Array(dim);
  }

  /** Byte offset of `ref`, after checking it holds `elems` f32 values in this core's memory. */
  private ptrOf(name: string, ref: F32Ref, elems: number): number {
    if (ref instanceof Tensor) {
      if (!ref.isOwnedBy(this.core)) throw new RangeError(`${OP}: ${name} belongs to another core`);
      if (!this.core.isLive(ref)) throw new RangeError(`${OP}: ${name} is a freed tensor (offset ${ref.ptr})`);
      if (ref.dtype !== 'f32') throw new RangeError(`${OP}: ${name} must be an f32 tensor, got ${ref.dtype}`);
      if (ref.length < elems) throw new RangeError(`${OP}: ${name} holds ${ref.length} elements but the sizes need ${elems}`);
      return ref.ptr;
    }
    const p = ref === null || typeof ref !== 'object' ? undefined : ref.ptr;
    if (typeof p !== 'number' || !Number.isInteger(p) || p < 0 || p % 4 !== 0) {
      throw new RangeError(`${OP}: ${name} must be an f32 tensor or have a 4-byte aligned offset ptr, got ${String(p)}`);
    }
    if (p + elems * 4 > this.core.memory.buffer.byteLength) {
      throw new RangeError(`${OP}: ${name} at offset ${p} runs past the end of memory (${elems} elements)`);
    }
    return p;
  }

  /**
   * Centres the rows x dim matrix at byte offset `ptr` into the centred scratch, forms its Gram there
   * with one sgemm, and copies it (symmetrised) into `g` (f64, row stride rows).
   */
  private gramOf(ptr: number, dim: number, rows: number, g: Float64Array): void {
    const centered = this.centered!;
    const mean = this.mean;
    mean.fill(0, 0, dim);
    let mem = this.core.views.f32;
    const base = ptr >>> 2;
    for (let i = 0; i < rows; i++) {
      const o = base + i * dim;
      for (let k = 0; k < dim; k++) mean[k] = mean[k]! + mem[o + k]!;
    }
    for (let k = 0; k < dim; k++) mean[k] = mean[k]! / rows;
    const cb = centered.ptr >>> 2;
    for (let i = 0; i < rows; i++) {
      const o = base + i * dim, c = cb + i * dim;
      for (let k = 0; k < dim; k++) mem[c + k] = mem[o + k]! - mean[k]!;
    }
    this.core.sgemm(false, true, rows, rows, dim, 1, centered, centered, 0, this.gram, { lda: dim, ldb: dim, ldc: rows });
    mem = this.core.views.f32;
    const gb = this.gram.ptr >>> 2;
    for (let i = 0; i < rows; i++) {
      g[i * rows + i] = mem[gb + i * rows + i]!;
      for (let j = i + 1; j < rows; j++) {
        const v = 0.5 * (mem[gb + i * rows + j]! + mem[gb + j * rows + i]!);
        g[i * rows + j] = v;
        g[j * rows + i] = v;
      }
    }
  }

  /**
   * Squared distances D (written over the Gram g, diagonal 0) and distances `dist` from a Gram; pairs whose
   * Gram distance has lost more than a few bits (D_ij <= RHO_D (G_ii + G_jj)) are recomputed exactly from the
   * raw rows at byte offset `ptr` (f32 differences are exact in f64). Returns Σ_{i≠j} d_ij.
   */
  private refineDistances(g: Float64Array, dist: Float64Array, near: Uint8Array, ptr: number, dim: number,
                          rows: number): number {
    const mem = this.core.views.f32;
    const base = ptr >>> 2;
    const rA = rhoA(dim);
    let sum = 0;
    for (let i = 0; i < rows; i++) {
      const gii = g[i * rows + i]!;
      for (let j = i + 1; j < rows; j++) {
        const gjj = g[j * rows + j]!;
        let d2 = gii + gjj - 2 * g[i * rows + j]!;
        const scale = gii + gjj;
        const flag = d2 > RHO_D * scale ? FAR : d2 >= rA * scale && d2 > 0 ? NEAR : CLOSE;
        near[i * rows + j] = near[j * rows + i] = flag;
        if (flag !== FAR) {
          d2 = 0;
          const oi = base + i * dim, oj = base + j * dim;
          for (let k = 0; k < dim; k++) { const x = mem[oi + k]! - mem[oj + k]!; d2 += x * x; }
        }
        const d = Math.sqrt(d2);
        if (flag === CLOSE && d > 0) this.nearCount++;
        dist[i * rows + j] = d; dist[j * rows + i] = d;
        sum += 2 * d;
        // the upper triangle of g still holds G_ij for the rows below; D goes into the lower one first
        g[j * rows + i] = d2;
      }
    }
    for (let i = 0; i < rows; i++) {
      g[i * rows + i] = 0;
      for (let j = i + 1; j < rows; j++) g[i * rows + j] = g[j * rows + i]!;
    }
    return sum;
  }

  /**
   * For anchor j: row i of q gets <x_i - x_j, x_k> (k = 0..rows-1) for every near, non-coincident
   * neighbour i of j, in f64 from the raw rows at f32 index `base` (the differences are exact in f64), so
   * that A_ijk = q[i][k] - q[i][j] = <x_i - x_j, x_k - x_j> carries no Gram cancellation.
   */
  private static nearNumerators(mem: Float32Array, base: number, dim: number, rows: number, j: number,
                                near: Uint8Array, dist: Float64Array, q: Float64Array, delta: Float64Array): void {
    const oj = base + j * dim;
    for (let i = 0; i < rows; i++) {
      if (i === j || near[i * rows + j] !== CLOSE || !(dist[i * rows + j]! > 0)) continue;
      const oi = base + i * dim, qi = i * rows;
      for (let c = 0; c < dim; c++) delta[c] = mem[oi + c]! - mem[oj + c]!;
      for (let k = 0; k < rows; k++) {
        const ok = base + k * dim;
        let s = 0;
        for (let c = 0; c < dim; c++) s += delta[c]! * mem[ok + c]!;
        q[qi + k] = s;
      }
    }
  }

  /**
   * Returns { distance, angle } (the unweighted batch losses); accumulates
   * gradScale·(wD·dLdist/dS + wA·dLangle/dS) into dS when given.
   * S (rows, ds), E (rows, dt), dS (rows, ds): row-major f32 in this core's memory (tensors or objects
   * with .ptr) of at least rows*ds / rows*dt floats; dS must not overlap S or E. rows >= 2; the angle
   * term is 0 when rows < 3. The teacher E is a constant (no gradient).
   */
  compute(dS: F32Ref | null, S: F32Ref, ds: number, E: F32Ref, dt: number, rows: number, w: RkdWeights,
          gradScale = 1): RkdValues {
    if (this.freed) throw new RangeError(`${OP}: this RkdLoss has been freed`);
    checkInt(OP, 'rows', rows, 2);
    if (rows > this.maxRows) throw new RangeError(`${OP}: rows = ${rows} exceeds maxRows = ${this.maxRows}`);
    checkInt(OP, 'ds', ds, 1);
    checkInt(OP, 'dt', dt, 1);
    if (!w || typeof w !== 'object') throw new RangeError(`${OP}: weights are missing`);
    const wD = checkFinite(OP, 'w.distance', w.distance);
    const wA = checkFinite(OP, 'w.angle', w.angle);
    checkFinite(OP, 'gradScale', gradScale);
    const pS = this.ptrOf('S', S, rows * ds);
    const pE = this.ptrOf('E', E, rows * dt);
    if (dS !== null) this.ptrOf('dS', dS, rows * ds);
    this.ensureCapacity(Math.max(ds, dt));

    const B = rows;
    const { gS, gT, dSt, dTe } = this;
    // teacher first: the student's centred copy must survive for the gradient sgemm
    this.gramOf(pE, dt, B, gT);
    this.gramOf(pS, ds, B, gS);
    const P = B * (B - 1);
    // from here on gS / gT hold squared distances D (Gram-derived, or exact where the Gram lost bits)
    const { nearS, nearT, qS, qT } = this;
    this.nearCount = 0;
    const muT = this.refineDistances(gT, dTe, nearT, pE, dt, B) / P;
    const nearTeacher = this.nearCount;
    this.nearCount = 0;
    const muS = this.refineDistances(gS, dSt, nearS, pS, ds, B) / P;
    this.lastNear = { student: this.nearCount, teacher: nearTeacher };
    const invMuT = muT > 0 ? 1 / muT : 0, invMuS = muS > 0 ? 1 / muS : 0;

    const grad = dS !== null && gradScale !== 0;
    const cD = grad ? gradScale * wD : 0, cA = grad ? gradScale * wA : 0;
    const W = this.w;
    if (grad) W.fill(0, 0, B * B);

    // ---- distance term (pairs counted once, i < j; the ordered pair (j, i) has the same value)
    let distSum = 0, gPsi = 0;
    for (let i = 0; i < B; i++) {
      for (let j = i + 1; j < B; j++) {
        const x = dSt[i * B + j]! * invMuS - dTe[i * B + j]! * invMuT;
        distSum += 2 * huber(x);
        if (cD !== 0) {
          const g = 2 * huberGrad(x) / P; // both orientations
          W[i * B + j] = g; // ∂L/∂ψ_ij for now
          gPsi += g * dSt[i * B + j]! * invMuS;
        }
      }
    }
    const distance = distSum / P;
    if (cD !== 0) {
      // ∂L/∂d_ij = g_ij/μ - (Σ g ψ)/(μ P) per ordered pair; pair (i, j) is counted twice in Σ over ordered pairs
      const shared = gPsi * invMuS / P;
      for (let i = 0; i < B; i++) {
        for (let j = i + 1; j < B; j++) {
          const d = dSt[i * B + j]!;
          const dLdd = W[i * B + j]! * invMuS - 2 * shared;
          W[i * B + j] = d > 0 ? cD * dLdd / (2 * d) : 0;
        }
      }
    }

    // ---- angle term
    let angle = 0;
    if (B >= 3) {
      const N = B * (B - 1) * (B - 1);
      const hScale = cA !== 0 ? 2 * cA / N : 0; // 2: the (i,j,k) and (k,j,i) triples
      let sum = 0;
      const mem = this.core.views.f32;
      for (let j = 0; j < B; j++) {
        const jB = j * B;
        RkdLoss.nearNumerators(mem, pS >>> 2, ds, B, j, nearS, dSt, qS, this.delta);
        RkdLoss.nearNumerators(mem, pE >>> 2, dt, B, j, nearT, dTe, qT, this.delta);
        for (let i = 0; i < B; i++) {
          if (i === j) continue;
          const iB = i * B;
          const dij = dSt[iB + j]!, tij = dTe[iB + j]!;
          // i == k: ψ = 1 for a nonzero distance, 0 for a coincident pair; constant, no gradient
          sum += huber((dij > 0 ? 1 : 0) - (tij > 0 ? 1 : 0));
          const Dij = gS[iB + j]!, Tij = gT[iB + j]!;
          const closeIS = nearS[iB + j] === CLOSE, closeIT = nearT[iB + j] === CLOSE;
          for (let k = i + 1; k < B; k++) {
            if (k === j) continue;
            const kB = k * B;
            const dkj = dSt[kB + j]!, tkj = dTe[kB + j]!;
            // ψ = A / (d_ij d_kj); A from exact differences through a near anchor pair, else by polarisation
            let psiS = 0, psiT = 0;
            const den = dij * dkj;
            if (den > 0) {
              const A = closeIS ? qS[iB + k]! - qS[iB + j]!
                : nearS[kB + j] === CLOSE ? qS[kB + i]! - qS[kB + j]!
                  : 0.5 * (Dij + gS[kB + j]! - gS[iB + k]!);
              psiS = A / den;
            }
            const tden = tij * tkj;
            if (tden > 0) {
              const A = closeIT ? qT[iB + k]! - qT[iB + j]!
                : nearT[kB + j] === CLOSE ? qT[kB + i]! - qT[kB + j]!
                  : 0.5 * (Tij + gT[kB + j]! - gT[iB + k]!);
              psiT = A / tden;
            }
            const x = psiS - psiT;
            sum += 2 * huber(x);
            if (hScale !== 0 && den > 0) {
              const h = hScale * huberGrad(x);
              const a = 0.5 * h / den;
              const hp = 0.5 * h * psiS;
              // W is kept in the upper triangle (index min*B + max)
              const ij = i < j ? iB + j : jB + i;
              const kj = k < j ? kB + j : jB + k;
              W[ij] = W[ij]! + a - hp / (dij * dij);
              W[kj] = W[kj]! + a - hp / (dkj * dkj);
              W[iB + k] = W[iB + k]! - a; // i < k
            }
          }
        }
      }
      angle = sum / N;
    }

    if (grad && (cD !== 0 || cA !== 0)) {
      // M = 2 (diag(W 1) - W) over the symmetric W, written as f32 over the Gram scratch. The close pairs
      // (those recomputed exactly above) are left out of M and added below from exact differences: in
      // M X their 2 W_ij (x_i - x_j) would be formed as 2 W_ij x_i - 2 W_ij x_j in f32, with a rounding
      // error of u |x| / d_ij relative to it, and W_ij ~ 1/d_ij² is large exactly there.
      const near = nearS;
      let nearCount = 0;
      let mem = this.core.views.f32;
      const mb = this.gram.ptr >>> 2;
      for (let i = 0; i < B; i++) {
        let diag = 0;
        for (let j = 0; j < B; j++) {
          if (j === i) continue;
          const u = i < j ? i * B + j : j * B + i;
          const wij = near[u] !== FAR ? 0 : W[u]!;
          if (near[u] !== FAR) nearCount++;
          diag += wij;
          mem[mb + i * B + j] = -2 * wij;
        }
        mem[mb + i * B + i] = 2 * diag;
      }
      const pdS = dS instanceof Tensor ? dS.ptr : dS!.ptr;
      this.core.sgemm(false, false, B, ds, B, 1, this.gram, this.centered!, 1, pdS, { lda: B, ldb: ds, ldc: ds });
      if (nearCount > 0) {
        // dS_i += 2 W_ij (s_i - s_j), dS_j -= the same, from the raw rows (f32 differences are exact in f64)
        mem = this.core.views.f32;
        const sb = pS >>> 2, db = pdS >>> 2;
        for (let i = 0; i < B; i++) {
          for (let j = i + 1; j < B; j++) {
            const u = i * B + j;
            if (near[u] === FAR || W[u] === 0) continue;
            const c = 2 * W[u]!, oi = i * ds, oj = j * ds;
            for (let k = 0; k < ds; k++) {
              const delta = c * (mem[sb + oi + k]! - mem[sb + oj + k]!);
              mem[db + oi + k] = mem[db + oi + k]! + delta;
              mem[db + oj + k] = mem[db + oj + k]! - delta;
            }
          }
        }
      }
    }
    return { distance, angle };
  }

  /**
   * Diagnostics of the last compute(): how many unordered pairs of student / teacher rows were "close"
   * (r_ij < RHO_A, see the header: nearly or exactly coincident) and so took the exact angle-numerator
   * path, whose cost is O(B·D) per pair. Identical rows are not counted (they cost nothing). 0 for
   * spread-out embeddings.
   */
  get nearPairs(): { student: number; teacher: number } { return { ...this.lastNear }; }

  /** Releases the module-memory scratch; compute() throws afterwards. */
  free(): void {
    if (this.freed) return;
    this.freed = true;
    this.core.free(this.gram);
    if (this.centered) this.core.free(this.centered);
    this.centered = null;
  }
}
