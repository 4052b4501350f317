// sgemm: C = alpha * op(A) * op(B) + beta * C, row-major, BLAS argument order (../../src/abi.ts).
//
// Shapes:  op(A) is (M,K)   A stored (M,K), lda >= K   or, transA, (K,M), lda >= M
//          op(B) is (K,N)   B stored (K,N), ldb >= N   or, transB, (N,K), ldb >= K
//          C is (M,N), ldc >= N
// Packed panels in scratch (memory.ts, scratchBase()):
//          Ap: an (mc,kc) block of alpha * op(A) as ceil(mc/MR) panels, each (kc,MR): k-major, MR rows side by side
//          Bp: a (kc,nc) block of op(B) as ceil(nc/NR) panels, each (kc,NR): k-major, NR columns side by side
//          tile: one (MR,NR) result, for fringe tiles
//
// Why packing: the micro-kernel then reads both operands with unit stride whatever
// transA/transB are, so the four forms run at one speed, and the packed panels stay in
// L1 (a B panel, kc*NR*4 bytes) and L2 (the A block, mc*kc*4 bytes) while they are reused.
// Fringe panels are padded with zeros, so the micro-kernel always runs a full MR x NR
// tile; a fringe tile is computed into `tile` and only its valid part is merged into C.
// Nothing outside A's, B's or C's extent is ever read, nor anything outside C written.
//
// Loop nest (Goto & van de Geijn): jc over N by NC { pc over K by KC { pack Bp;
//   ic over M by MC { pack Ap; jr over nc by NR { ir over mc by MR { micro-kernel } } } } }
// Block lengths are balanced (K = 1000 runs as 3 x 334, not 2 x 384 + 232).

import { scratchBase, SCRATCH_BYTES } from '../memory';
import { madd } from './madd';

// Register tile. V8 gives wasm 15 XMM registers and TurboFan schedules a k-step's loads
// before its arithmetic, so a k-step's operands and the accumulators must fit at once:
// SIMD 4x8 = 8 accumulators + 4 A splats + 2 B vectors + 1 product = 15. 6x8, 5x8, 4x12
// and 3x16 spill (measured 25-45% slower); unrolling k doubles the live operands and spills too.
// Scalar 2x4 = 8 accumulators + 2 + 4 operands; 4x4 spills (measured 35% slower).
const MR: i32 = ASC_FEATURE_SIMD ? 4 : 2;
const NR: i32 = ASC_FEATURE_SIMD ? 8 : 4;

// Cache blocks. An A block (MC x KC, 192 KiB) sits in L2 and a B panel (KC x NR, 12 KiB) in
// L1 while they are reused; the B block (KC x NC) takes the rest of scratch. KC 384..512
// measured ~4% faster than 256 (fewer passes over C); MC 256 no faster than 128.
// Scratch used: 196608 + 1867776 + 128 = 2064512 bytes of SCRATCH_BYTES (2 MiB).
const KC: i32 = 384;
const MC: i32 = 128;
const NC: i32 = 1216;

const PACK_A_BYTES: usize = <usize>(MC * KC) << 2;
const PACK_B_BYTES: usize = <usize>(KC * NC) << 2;
const TILE_BYTES: usize = <usize>(MR * NR) << 2;
// @ts-ignore: decorator
@inline const PANELS_FIT = PACK_A_BYTES + PACK_B_BYTES + TILE_BYTES <= SCRATCH_BYTES;

export function sgemm(transA: i32, transB: i32, M: i32, N: i32, K: i32, alpha: f32,
                      A: usize, lda: i32, B: usize, ldb: i32, beta: f32, C: usize, ldc: i32): void {
  if (!PANELS_FIT) ERROR('gemm: packing panels exceed SCRATCH_BYTES (assembly/memory.ts)');
  if (M <= 0 || N <= 0) return;
  // alpha == 0: BLAS does not reference A or B (an Inf there must not turn C into NaN).
  if (K <= 0 || alpha == 0) { scaleC(M, N, beta, C, ldc); return; }

  const Ap = scratchBase();
  const Bp = Ap + PACK_A_BYTES;
  const tile = Bp + PACK_B_BYTES;
  const ldaBytes = <usize>lda << 2, ldbBytes = <usize>ldb << 2;
  // Byte strides of op(A)'s rows and k, and of op(B)'s columns and k.
  const aRow = transA ? <usize>4 : ldaBytes, aK = transA ? ldaBytes : <usize>4;
  const bCol = transB ? ldbBytes : <usize>4, bK = transB ? <usize>4 : ldbBytes;
  const kStep = balance(K, KC, 1), mStep = balance(M, MC, MR), nStep = balance(N, NC, NR);

  for (let jc = 0; jc < N; jc += nStep) {
    const nc = min(nStep, N - jc);
    for (let pc = 0; pc < K; pc += kStep) {
      const kc = min(kStep, K - pc);
      packBlock(B + <usize>jc * bCol + <usize>pc * bK, bCol, bK, nc, kc, NR, 1, Bp);
      const betaK = pc == 0 ? beta : <f32>1; // later K blocks accumulate onto the first
      for (let ic = 0; ic < M; ic += mStep) {
        const mc = min(mStep, M - ic);
        packBlock(A + <usize>ic * aRow + <usize>pc * aK, aRow, aK, mc, kc, MR, alpha, Ap);
        macroKernel(mc, nc, kc, Ap, Bp, C + ((<usize>ic * ldc + jc) << 2), <usize>ldc << 2, betaK, tile);
      }
    }
  }
}

/** The block length <= maxLen (a multiple of `multiple`) that splits n into the fewest, most even blocks. */
function balance(n: i32, maxLen: i32, multiple: i32): i32 {
  const blocks = (n + maxLen - 1) / maxLen;
  const len = (n + blocks - 1) / blocks;
  return min(maxLen, (len + multiple - 1) / multiple * multiple);
}

// C (mc,nc) with row stride ldcBytes; Ap, Bp as packed above.
function macroKernel(mc: i32, nc: i32, kc: i32, Ap: usize, Bp: usize,
                     C: usize, ldcBytes: usize, beta: f32, tile: usize): void {
  for (let jr = 0; jr < nc; jr += NR) {
    const nr = min(NR, nc - jr);
    const b = Bp + ((<usize>jr * kc) << 2);
    for (let ir = 0; ir < mc; ir += MR) {
      const mr = min(MR, mc - ir);
      const a = Ap + ((<usize>ir * kc) << 2);
      const c = C + <usize>ir * ldcBytes + (<usize>jr << 2);
      if (mr == MR && nr == NR) {
        microKernel(kc, a, b, c, ldcBytes, beta);
      } else {
        microKernel(kc, a, b, tile, <usize>NR << 2, 0);
        mergeTile(mr, nr, tile, c, ldcBytes, beta);
      }
    }
  }
}

// C[:mr, :nr] = tile[:mr, :nr] + beta * C[:mr, :nr]; tile is (MR,NR). beta == 0 never reads C.
function mergeTile(mr: i32, nr: i32, tile: usize, c: usize, ldcBytes: usize, beta: f32): void {
  for (let i = 0; i < mr; i++) {
    const t = tile + ((<usize>(i * NR)) << 2);
    const ci = c + <usize>i * ldcBytes;
    for (let j = 0; j < nr; j++) {
      const p = ci + (<usize>j << 2);
      const v = load<f32>(t + (<usize>j << 2));
      store<f32>(p, beta == 0 ? v : v + beta * load<f32>(p));
    }
  }
}

// C = beta * C, with beta == 0 writing zeros (old NaNs do not survive).
function scaleC(M: i32, N: i32, beta: f32, C: usize, ldc: i32): void {
  if (beta == 1) return;
  for (let i = 0; i < M; i++) {
    const ci = C + ((<usize>i * ldc) << 2);
    for (let j = 0; j < N; j++) {
      const p = ci + (<usize>j << 2);
      store<f32>(p, beta == 0 ? <f32>0 : beta * load<f32>(p));
    }
  }
}

// ---- packing ----------------------------------------------------------------------------
// A block is `lanes` rows of op(A) (or columns of op(B)) by kc, element (l, k) at
// src + l * laneStride + k * kStride (bytes). It is packed as ceil(lanes/W) panels of
// (kc,W): panel p holds lanes p*W .. p*W+W-1, dst[k*W + l] = scale * element; missing lanes are 0.
// Full panels in the SIMD build move 4 lanes at a time: lanes with unit stride are copied
// as vectors (NN B, TN A); lanes with unit k stride (NN A, NT B) go through 4x4 transposes.
function packBlock(src: usize, laneStride: usize, kStride: usize, lanes: i32, kc: i32,
                   W: i32, scale: f32, dst: usize): void {
  const panelBytes = <usize>(kc * W) << 2;
  const wBytes = <usize>W << 2;
  for (let l = 0; l < lanes; l += W) {
    const n = min(W, lanes - l);
    if (ASC_FEATURE_SIMD) {
      if (n == W) packFullPanel(src, laneStride, kStride, kc, W, scale, dst);
      else packLanesScalar(src, laneStride, kStride, n, W, kc, scale, dst, wBytes);
    } else {
      packLanesScalar(src, laneStride, kStride, n, W, kc, scale, dst, wBytes);
    }
    src += <usize>W * laneStride;
    dst += panelBytes;
  }
}

function packFullPanel(src: usize, laneStride: usize, kStride: usize, kc: i32, W: i32, scale: f32, dst: usize): void {
  const wBytes = <usize>W << 2;
  for (let g = 0; g < W; g += 4) {
    const s = src + <usize>g * laneStride, d = dst + (<usize>g << 2);
    if (laneStride == 4) packLanes4Contiguous(s, kStride, kc, scale, d, wBytes);
    else if (kStride == 4) packLanes4Transposed(s, laneStride, kc, scale, d, wBytes);
    else packLanesScalar(s, laneStride, kStride, 4, 4, kc, scale, d, wBytes); // lda == 1 or ldb == 1
  }
}

// dst[k*dstStride + l] = scale * src[k*kStride + l], l < 4: one vector per k.
function packLanes4Contiguous(src: usize, kStride: usize, kc: i32, scale: f32, dst: usize, dstStride: usize): void {
  const s = f32x4.splat(scale);
  for (let k = 0; k < kc; k++) {
    v128.store(dst, f32x4.mul(v128.load(src), s));
    src += kStride;
    dst += dstStride;
  }
}

// dst[k*dstStride + l] = scale * src[l*laneStride + k], l < 4: four k at a time, 4x4 transpose.
function packLanes4Transposed(src: usize, laneStride: usize, kc: i32, scale: f32, dst: usize, dstStride: usize): void {
  const s = f32x4.splat(scale);
  const s1 = src + laneStride, s2 = s1 + laneStride, s3 = s2 + laneStride;
  let k = 0;
  for (; k + 4 <= kc; k += 4) {
    const o = <usize>k << 2;
    const r0 = v128.load(src + o), r1 = v128.load(s1 + o), r2 = v128.load(s2 + o), r3 = v128.load(s3 + o);
    const lo01 = i32x4.shuffle(r0, r1, 0, 4, 1, 5), lo23 = i32x4.shuffle(r2, r3, 0, 4, 1, 5);
    const hi01 = i32x4.shuffle(r0, r1, 2, 6, 3, 7), hi23 = i32x4.shuffle(r2, r3, 2, 6, 3, 7);
    v128.store(dst, f32x4.mul(i64x2.shuffle(lo01, lo23, 0, 2), s));
    v128.store(dst + dstStride, f32x4.mul(i64x2.shuffle(lo01, lo23, 1, 3), s));
    v128.store(dst + 2 * dstStride, f32x4.mul(i64x2.shuffle(hi01, hi23, 0, 2), s));
    v128.store(dst + 3 * dstStride, f32x4.mul(i64x2.shuffle(hi01, hi23, 1, 3), s));
    dst += 4 * dstStride;
  }
  for (; k < kc; k++) {
    const o = <usize>k << 2;
    store<f32>(dst, scale * load<f32>(src + o)); store<f32>(dst, scale * load<f32>(s1 + o), 4);
    store<f32>(dst, scale * load<f32>(s2 + o), 8); store<f32>(dst, scale * load<f32>(s3 + o), 12);
    dst += dstStride;
  }
}

// Lanes 0..n-1 of a W-wide panel, lanes n..W-1 zero. Walks memory in whichever order is contiguous.
function packLanesScalar(src: usize, laneStride: usize, kStride: usize, n: i32, W: i32, kc: i32,
                         scale: f32, dst: usize, dstStride: usize): void {
  if (kStride == 4) {
    for (let l = 0; l < n; l++) {
      const s = src + <usize>l * laneStride;
      let d = dst + (<usize>l << 2);
      for (let k = 0; k < kc; k++) {
        store<f32>(d, scale * load<f32>(s + (<usize>k << 2)));
        d += dstStride;
      }
    }
  } else {
    for (let k = 0; k < kc; k++) {
      const s = src + <usize>k * kStride, d = dst + <usize>k * dstStride;
      for (let l = 0; l < n; l++) store<f32>(d + (<usize>l << 2), scale * load<f32>(s + <usize>l * laneStride));
    }
  }
  for (let l = n; l < W; l++) {
    let d = dst + (<usize>l << 2);
    for (let k = 0; k < kc; k++) {
      store<f32>(d, 0);
      d += dstStride;
    }
  }
}

// ---- micro-kernels ------------------------------------------------------------------------
// C[:MR, :NR] = sum_k Ap[k, :] (x) Bp[k, :] + beta * C[:MR, :NR] (beta == 0 never reads C).
// a walks one (kc,MR) panel, b one (kc,NR) panel.

// @ts-ignore: decorator
@inline function microKernel(kc: i32, a: usize, b: usize, c: usize, ldcBytes: usize, beta: f32): void {
  if (ASC_FEATURE_SIMD) microKernel4x8(kc, a, b, c, ldcBytes, beta);
  else microKernel2x4(kc, a, b, c, ldcBytes, beta);
}

// 4 rows x 2 vectors of 4 columns. Per k: 2 B loads, 4 splat loads, 8 mul + 8 add.
function microKernel4x8(kc: i32, a: usize, b: usize, c: usize, ldcBytes: usize, beta: f32): void {
  let c00 = f32x4.splat(0), c01 = c00, c10 = c00, c11 = c00;
  let c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  const aEnd = a + (<usize>kc << 4);
  while (a < aEnd) { // a pointer bound instead of a counter: one less op per k
    const b0 = v128.load(b), b1 = v128.load(b, 16);
    let ai = v128.load32_splat(a);
    c00 = madd(c00, ai, b0); c01 = madd(c01, ai, b1);
    ai = v128.load32_splat(a, 4);
    c10 = madd(c10, ai, b0); c11 = madd(c11, ai, b1);
    ai = v128.load32_splat(a, 8);
    c20 = madd(c20, ai, b0); c21 = madd(c21, ai, b1);
    ai = v128.load32_splat(a, 12);
    c30 = madd(c30, ai, b0); c31 = madd(c31, ai, b1);
    a += 16;
    b += 32;
  }
  const r1 = c + ldcBytes, r2 = r1 + ldcBytes, r3 = r2 + ldcBytes;
  if (beta != 0) {
    const bv = f32x4.splat(beta);
    c00 = madd(c00, bv, v128.load(c)); c01 = madd(c01, bv, v128.load(c, 16));
    c10 = madd(c10, bv, v128.load(r1)); c11 = madd(c11, bv, v128.load(r1, 16));
    c20 = madd(c20, bv, v128.load(r2)); c21 = madd(c21, bv, v128.load(r2, 16));
    c30 = madd(c30, bv, v128.load(r3)); c31 = madd(c31, bv, v128.load(r3, 16));
  }
  v128.store(c, c00); v128.store(c, c01, 16);
  v128.store(r1, c10); v128.store(r1, c11, 16);
  v128.store(r2, c20); v128.store(r2, c21, 16);
  v128.store(r3, c30); v128.store(r3, c31, 16);
}

// 2 rows x 4 columns, scalar. Per k: 4 B loads, 2 A loads, 8 mul + 8 add.
function microKernel2x4(kc: i32, a: usize, b: usize, c: usize, ldcBytes: usize, beta: f32): void {
  let c00: f32 = 0, c01: f32 = 0, c02: f32 = 0, c03: f32 = 0;
  let c10: f32 = 0, c11: f32 = 0, c12: f32 = 0, c13: f32 = 0;
  const aEnd = a + (<usize>kc << 3);
  while (a < aEnd) {
    const b0 = load<f32>(b), b1 = load<f32>(b, 4), b2 = load<f32>(b, 8), b3 = load<f32>(b, 12);
    const a0 = load<f32>(a), a1 = load<f32>(a, 4);
    c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
    c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
    a += 8;
    b += 16;
  }
  const r1 = c + ldcBytes;
  if (beta != 0) {
    c00 += beta * load<f32>(c); c01 += beta * load<f32>(c, 4); c02 += beta * load<f32>(c, 8); c03 += beta * load<f32>(c, 12);
    c10 += beta * load<f32>(r1); c11 += beta * load<f32>(r1, 4); c12 += beta * load<f32>(r1, 8); c13 += beta * load<f32>(r1, 12);
  }
  store<f32>(c, c00); store<f32>(c, c01, 4); store<f32>(c, c02, 8); store<f32>(c, c03, 12);
  store<f32>(r1, c10); store<f32>(r1, c11, 4); store<f32>(r1, c12, 8); store<f32>(r1, c13, 12);
}
