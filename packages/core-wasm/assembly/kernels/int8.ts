// int8 inference: symmetric quantization, an int8 x int8 -> int32 GEMM and its f32 epilogue
// (../../src/abi.ts documents the raw ABI; ../../src/backends/js/int8.ts mirrors it).
//
// Quantization (weights per output channel, activations per tensor), for v = x / scale in f32:
//   q = clamp(round_half_away_from_zero(v), -127, 127), NaN -> 0, +-Inf -> +-127.
// quantizeWeightsI8: W is (rows, cols) = (IN, OUT) row-major; per column j
//   scale_j = f32(max_i |W_ij|) / 127 (an f32 division); scale_j = 1 when that is not > 0
//   (an all-zero column, or one whose max underflows), so q is 0 there and nothing divides by 0.
//
// gemmI8: C (m,n) i32 = A (m,k) i8 row-major . B (k,n) i8, B given PACKED (packWeightsI8):
//   panels of 8 columns, each (ceil(k/2), 8, 2): byte (k, j) of B at
//   (j >> 3) * kp * 16 + (k >> 1) * 16 + (j & 7) * 2 + (k & 1),  kp = ceil(k/2),
//   with zero padding for j >= n and for k == K on odd K.
// The accumulation is exact integer arithmetic (wrapping mod 2^32 only past the |acc| < 2^31
// guarantee of k <= 131071), so the SIMD build, this scalar build and the JS backend give
// the same bits whatever order they sum in.
//
// dequantizeI8: y[r, j] = f32(f32(f32(acc[r, j]) * f32(aScale * scale_j)) + bias[j]), then
// ReLU when relu != 0 (NaN stays NaN, -0 -> +0, as reluForward). bias == 0 means no bias.
// Every step is one IEEE f32 operation in that order (no FMA), so all backends agree bit for bit.
//
// SIMD GEMM design. i32x4.dot_i16x8_s multiplies 8 i16 lane pairs and adds adjacent products:
// lane i = a[2i] b[2i] + a[2i+1] b[2i+1]. With k taken two at a time:
//   B (packed, above): one 16-byte load per k-pair holds 8 columns x (k, k+1); its low half,
//     sign-extended (i16x8.extend_low_i8x16_s), is [B(k,j) B(k+1,j)] for j = 0..3, the high half
//     (extend_high) for j = 4..7.
//   A (packed per call into scratch): per 4-row panel and k-pair, 4 i32 words, each the two
//     sign-extended i16 A(r,k), A(r,k+1); v128.load32_splat gives [A(r,k) A(r,k+1)] x 4.
//   dot(splat_r, lowB) is then C(r, 0..3)'s partial sum over (k, k+1) in one instruction.
// Micro-kernel 4 rows x 8 columns: 8 i32x4 accumulators; per k-pair 1 B load + 2 extends,
// 4 splat loads, 8 dots + 8 adds = 64 multiply-adds (the f32 4x8 kernel does 32 per 22 ops).
// Loop nest: ic over m by blocks whose packed A fits AP_BYTES (L2) { pack A; jr over 8-column
// panels (one B panel, kp * 16 bytes, stays in L1) { ir over 4-row panels { micro-kernel } } }.
// k is not blocked: every C element is written once, so a fringe tile goes through `tile`.
// Row fringes (m % 4, and all of m < 4: single-sample inference) run a 1 x 8 kernel per row
// instead of a 4-row tile padded with zero rows.

import { scratchBase, SCRATCH_BYTES } from '../memory';

const NRQ: i32 = 8;                              // columns per B panel (ABI layout)
const MRQ: i32 = ASC_FEATURE_SIMD ? 4 : 2;       // rows per micro-kernel tile
/** Largest k with |acc| < 2^31 for any i8 inputs: 131071 * 128 * 128 < 2^31. */
const MAX_K: i32 = 131071;
const TILE_BYTES: usize = <usize>(MRQ * NRQ) << 2;
const AP_OFFSET: usize = 256;                    // packed A starts here in scratch, after `tile`
/** Budget for one packed A block: L2-sized; a single panel of the largest k (1 MiB) is always allowed. */
const AP_TARGET: usize = 256 << 10;
const MC_MAX: i32 = 128;
// @ts-ignore: decorator
@inline const FITS = AP_OFFSET + (<usize>(((MAX_K + 1) >> 1) * MRQ) << 2) <= SCRATCH_BYTES;

// ---- quantization ----------------------------------------------------------------------------

// @ts-ignore: decorator
@inline function quantScalar(v: f32): i32 {
  if (v != v) return 0;
  let t = trunc<f32>(v);
  if (abs<f32>(v - t) >= <f32>0.5) t += copysign<f32>(1, v);
  if (t > <f32>127) return 127;
  if (t < <f32>-127) return -127;
  return <i32>t;
}

// round_half_away_from_zero per lane, as f32: t = trunc(v); t + copysign(1, v) where |v - t| >= 0.5.
// NaN stays NaN and Inf stays Inf (v - t is NaN there, so no adjustment).
// @ts-ignore: decorator
@inline function roundAway4(v: v128): v128 {
  const t = f32x4.trunc(v);
  const far = f32x4.ge(f32x4.abs(f32x4.sub(v, t)), f32x4.splat(0.5));
  const sgn = v128.or(v128.and(v, i32x4.splat(0x80000000)), f32x4.splat(1));
  return f32x4.add(t, v128.and(far, sgn));
}

// 16 f32 lanes -> 16 i8 lanes: round, saturating convert (NaN -> 0), saturating narrows, then -128 -> -127.
// @ts-ignore: decorator
@inline function quant16(v0: v128, v1: v128, v2: v128, v3: v128): v128 {
  const i0 = i32x4.trunc_sat_f32x4_s(roundAway4(v0)), i1 = i32x4.trunc_sat_f32x4_s(roundAway4(v1));
  const i2 = i32x4.trunc_sat_f32x4_s(roundAway4(v2)), i3 = i32x4.trunc_sat_f32x4_s(roundAway4(v3));
  const b = i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(i0, i1), i16x8.narrow_i32x4_s(i2, i3));
  return i8x16.max_s(b, i8x16.splat(-127));
}

// 4 f32 lanes -> 4 i8 bytes in the low 32 bits.
// @ts-ignore: decorator
@inline function quant4(v: v128): v128 {
  const i = i32x4.trunc_sat_f32x4_s(roundAway4(v));
  const h = i16x8.narrow_i32x4_s(i, i);
  return i8x16.max_s(i8x16.narrow_i16x8_s(h, h), i8x16.splat(-127));
}

/** q (n) i8 = quantize(x[i] / scale), x (n) f32, scale > 0 (per-tensor activation scale). */
export function quantizeI8(q: usize, x: usize, n: i32, scale: f32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const s = f32x4.splat(scale);
    for (; i + 16 <= n; i += 16) {
      const p = x + (<usize>i << 2);
      v128.store(q + <usize>i, quant16(f32x4.div(v128.load(p), s), f32x4.div(v128.load(p, 16), s),
                                        f32x4.div(v128.load(p, 32), s), f32x4.div(v128.load(p, 48), s)));
    }
  }
  for (; i < n; i++) store<i8>(q + <usize>i, <i8>quantScalar(load<f32>(x + (<usize>i << 2)) / scale));
}

/**
 * Per-output-channel weights: W (rows, cols) f32 -> q (rows, cols) i8, same layout, and
 * scales (cols) f32, W ~ q[i, j] * scales[j].
 */
export function quantizeWeightsI8(q: usize, scales: usize, w: usize, rows: i32, cols: i32): void {
  if (cols <= 0) return;
  const rowBytes = <usize>cols << 2;
  // column max |W| into scales (max is exact: any order gives the same bits)
  for (let j = 0; j < cols; j++) store<f32>(scales + (<usize>j << 2), 0);
  for (let r = 0; r < rows; r++) {
    const wr = w + <usize>r * rowBytes;
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      for (; j + 4 <= cols; j += 4) {
        const o = <usize>j << 2;
        v128.store(scales + o, f32x4.max(v128.load(scales + o), f32x4.abs(v128.load(wr + o))));
      }
    }
    for (; j < cols; j++) {
      const o = <usize>j << 2;
      store<f32>(scales + o, max<f32>(load<f32>(scales + o), abs<f32>(load<f32>(wr + o))));
    }
  }
  for (let j = 0; j < cols; j++) {
    const o = <usize>j << 2;
    const s = load<f32>(scales + o) / <f32>127;
    store<f32>(scales + o, s > 0 ? s : <f32>1);
  }
  for (let r = 0; r < rows; r++) {
    const wr = w + <usize>r * rowBytes;
    const qr = q + <usize>r * <usize>cols;
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      for (; j + 16 <= cols; j += 16) {
        const o = <usize>j << 2, a = wr + o, s = scales + o;
        v128.store(qr + <usize>j, quant16(f32x4.div(v128.load(a), v128.load(s)), f32x4.div(v128.load(a, 16), v128.load(s, 16)),
                                           f32x4.div(v128.load(a, 32), v128.load(s, 32)), f32x4.div(v128.load(a, 48), v128.load(s, 48))));
      }
      for (; j + 4 <= cols; j += 4) {
        const o = <usize>j << 2;
        v128.store32_lane(qr + <usize>j, quant4(f32x4.div(v128.load(wr + o), v128.load(scales + o))), 0);
      }
    }
    for (; j < cols; j++) {
      const o = <usize>j << 2;
      store<i8>(qr + <usize>j, <i8>quantScalar(load<f32>(wr + o) / load<f32>(scales + o)));
    }
  }
}

/** Packs B (k, n) i8 row-major into the panel layout gemmI8 reads; bp holds packedI8Bytes(k, n). */
export function packWeightsI8(bp: usize, b: usize, k: i32, n: i32): void {
  if (k <= 0 || n <= 0) return;
  const kp = (k + 1) >> 1;
  const panelBytes = <usize>kp << 4;
  for (let p = 0; p * NRQ < n; p++) {
    const j0 = p * NRQ;
    const cols = min(NRQ, n - j0);
    const dst = bp + <usize>p * panelBytes;
    for (let t = 0; t < kp; t++) {
      const d = dst + (<usize>t << 4);
      const r0 = b + <usize>(2 * t) * <usize>n + <usize>j0;
      const hasR1 = 2 * t + 1 < k;
      for (let c = 0; c < cols; c++) {
        store<i8>(d + (<usize>c << 1), load<i8>(r0 + <usize>c));
        store<i8>(d + (<usize>c << 1) + 1, hasR1 ? load<i8>(r0 + <usize>n + <usize>c) : 0);
      }
      for (let c = cols; c < NRQ; c++) store<u16>(d + (<usize>c << 1), 0);
    }
  }
}

// ---- GEMM ----------------------------------------------------------------------------------

/** C (m, n) i32 = A (m, k) i8 . B (k, n) i8, B packed by packWeightsI8. C row stride is n. */
export function gemmI8(c: usize, a: usize, bp: usize, m: i32, n: i32, k: i32): void {
  if (!FITS) ERROR('int8: a packed A panel of the largest k exceeds SCRATCH_BYTES (assembly/memory.ts)');
  if (m <= 0 || n <= 0) return;
  if (k > MAX_K) unreachable(); // a packed A panel would overrun scratch; the typed API refuses this k
  if (k <= 0) {
    memory.fill(c, 0, (<usize>m * <usize>n) << 2);
    return;
  }
  const kp = (k + 1) >> 1;
  const tile = scratchBase();
  const ap = tile + AP_OFFSET;
  const apPanelBytes = <usize>(kp * MRQ) << 2;
  const panelsFit = max<i32>(1, <i32>(min<usize>(AP_TARGET, SCRATCH_BYTES - AP_OFFSET) / apPanelBytes));
  const mStep = min(MC_MAX, panelsFit * MRQ);
  const bPanelBytes = <usize>kp << 4;
  const ldcBytes = <usize>n << 2;
  for (let ic = 0; ic < m; ic += mStep) {
    const mc = min(mStep, m - ic);
    packA(a + <usize>ic * <usize>k, k, kp, mc, ap);
    for (let jr = 0; jr < n; jr += NRQ) {
      const nr = min(NRQ, n - jr);
      const b = bp + <usize>(jr >> 3) * bPanelBytes;
      for (let ir = 0; ir < mc; ir += MRQ) {
        const mr = min(MRQ, mc - ir);
        const pa = ap + <usize>(ir / MRQ) * apPanelBytes;
        const pc = c + <usize>(ic + ir) * ldcBytes + (<usize>jr << 2);
        if (mr == MRQ) {
          if (nr == NRQ) {
            microKernelI8(kp, pa, b, pc, ldcBytes);
          } else {
            microKernelI8(kp, pa, b, tile, <usize>NRQ << 2);
            for (let i = 0; i < mr; i++) {
              memory.copy(pc + <usize>i * ldcBytes, tile + (<usize>(i * NRQ) << 2), <usize>nr << 2);
            }
          }
        } else {
          // fewer rows than a tile (m = 1 is single-sample inference): one row at a time, so no
          // work is spent on the zero rows that pad the panel
          for (let i = 0; i < mr; i++) {
            const pr = pc + <usize>i * ldcBytes;
            if (nr == NRQ) rowKernelI8(kp, pa + (<usize>i << 2), b, pr);
            else {
              rowKernelI8(kp, pa + (<usize>i << 2), b, tile);
              memory.copy(pr, tile, <usize>nr << 2);
            }
          }
        }
      }
    }
  }
}

// A block (rows, k) i8 row-major -> ceil(rows/MRQ) panels of (kp, MRQ) i32 words, word (t, r) =
// (i16 A(r, 2t)) | (i16 A(r, 2t+1)) << 16; A(r, k) for odd k and rows past `rows` are 0.
function packA(a: usize, k: i32, kp: i32, rows: i32, dst: usize): void {
  const panelBytes = <usize>(kp * MRQ) << 2;
  const rowStep = <usize>MRQ << 2;
  for (let r0 = 0; r0 < rows; r0 += MRQ) {
    const n = min(MRQ, rows - r0);
    const src = a + <usize>r0 * <usize>k;
    let t = 0;
    if (ASC_FEATURE_SIMD) {
      if (n == MRQ) {
        // 16 bytes of each of 4 rows = 8 k-pairs; sign-extend to i16 (each i32 lane is one pair),
        // then a 4x4 transpose of i32 lanes makes the pairs k-major with the 4 rows side by side.
        const s1 = src + <usize>k, s2 = s1 + <usize>k, s3 = s2 + <usize>k;
        for (; 2 * t + 16 <= k; t += 8) {
          const o = <usize>(2 * t);
          const x0 = v128.load(src + o), x1 = v128.load(s1 + o), x2 = v128.load(s2 + o), x3 = v128.load(s3 + o);
          const d = dst + <usize>t * rowStep;
          transposeStore(i16x8.extend_low_i8x16_s(x0), i16x8.extend_low_i8x16_s(x1),
                         i16x8.extend_low_i8x16_s(x2), i16x8.extend_low_i8x16_s(x3), d);
          transposeStore(i16x8.extend_high_i8x16_s(x0), i16x8.extend_high_i8x16_s(x1),
                         i16x8.extend_high_i8x16_s(x2), i16x8.extend_high_i8x16_s(x3), d + 64);
        }
      }
    }
    for (; t < kp; t++) {
      const d = dst + <usize>t * rowStep;
      const kk = 2 * t;
      for (let r = 0; r < n; r++) {
        const s = src + <usize>r * <usize>k + <usize>kk;
        const lo = <i32>load<i8>(s) & 0xffff;
        const hi = kk + 1 < k ? <i32>load<i8>(s, 1) << 16 : 0;
        store<i32>(d + (<usize>r << 2), lo | hi);
      }
      for (let r = n; r < MRQ; r++) store<i32>(d + (<usize>r << 2), 0);
    }
    dst += panelBytes;
  }
}

// rows r0..r3 hold 4 i32 lanes each (pairs t..t+3); writes pair-major: d[t*16 + r*4] = r_r[t].
// @ts-ignore: decorator
@inline function transposeStore(r0: v128, r1: v128, r2: v128, r3: v128, d: usize): void {
  const lo01 = i32x4.shuffle(r0, r1, 0, 4, 1, 5), lo23 = i32x4.shuffle(r2, r3, 0, 4, 1, 5);
  const hi01 = i32x4.shuffle(r0, r1, 2, 6, 3, 7), hi23 = i32x4.shuffle(r2, r3, 2, 6, 3, 7);
  v128.store(d, i64x2.shuffle(lo01, lo23, 0, 2));
  v128.store(d, i64x2.shuffle(lo01, lo23, 1, 3), 16);
  v128.store(d, i64x2.shuffle(hi01, hi23, 0, 2), 32);
  v128.store(d, i64x2.shuffle(hi01, hi23, 1, 3), 48);
}

// C[:MRQ, :8] = sum over kp pairs; a walks one packed A panel, b one packed B panel.
// @ts-ignore: decorator
@inline function microKernelI8(kp: i32, a: usize, b: usize, c: usize, ldcBytes: usize): void {
  if (ASC_FEATURE_SIMD) microKernelI8x4x8(kp, a, b, c, ldcBytes);
  else {
    microKernelI8x2x4(kp, a, b, c, ldcBytes);
    microKernelI8x2x4(kp, a, b + 8, c + 16, ldcBytes);
  }
}

function microKernelI8x4x8(kp: i32, a: usize, b: usize, c: usize, ldcBytes: usize): void {
  let c00 = i32x4.splat(0), c01 = c00, c10 = c00, c11 = c00;
  let c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  const aEnd = a + (<usize>kp << 4);
  while (a < aEnd) {
    const bv = v128.load(b);
    const b0 = i16x8.extend_low_i8x16_s(bv), b1 = i16x8.extend_high_i8x16_s(bv);
    let ai = v128.load32_splat(a);
    c00 = i32x4.add(c00, i32x4.dot_i16x8_s(ai, b0)); c01 = i32x4.add(c01, i32x4.dot_i16x8_s(ai, b1));
    ai = v128.load32_splat(a, 4);
    c10 = i32x4.add(c10, i32x4.dot_i16x8_s(ai, b0)); c11 = i32x4.add(c11, i32x4.dot_i16x8_s(ai, b1));
    ai = v128.load32_splat(a, 8);
    c20 = i32x4.add(c20, i32x4.dot_i16x8_s(ai, b0)); c21 = i32x4.add(c21, i32x4.dot_i16x8_s(ai, b1));
    ai = v128.load32_splat(a, 12);
    c30 = i32x4.add(c30, i32x4.dot_i16x8_s(ai, b0)); c31 = i32x4.add(c31, i32x4.dot_i16x8_s(ai, b1));
    a += 16;
    b += 16;
  }
  const r1 = c + ldcBytes, r2 = r1 + ldcBytes, r3 = r2 + ldcBytes;
  v128.store(c, c00); v128.store(c, c01, 16);
  v128.store(r1, c10); v128.store(r1, c11, 16);
  v128.store(r2, c20); v128.store(r2, c21, 16);
  v128.store(r3, c30); v128.store(r3, c31, 16);
}

// Scalar: 2 rows x 4 columns (half a B panel; b advances 16 bytes per pair, 8 of them used).
function microKernelI8x2x4(kp: i32, a: usize, b: usize, c: usize, ldcBytes: usize): void {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
  const aEnd = a + (<usize>kp << 3);
  while (a < aEnd) {
    const w0 = load<i32>(a), w1 = load<i32>(a, 4);
    const a0 = (w0 << 16) >> 16, a0h = w0 >> 16, a1 = (w1 << 16) >> 16, a1h = w1 >> 16;
    const b0 = <i32>load<i8>(b), b0h = <i32>load<i8>(b, 1), b1 = <i32>load<i8>(b, 2), b1h = <i32>load<i8>(b, 3);
    const b2 = <i32>load<i8>(b, 4), b2h = <i32>load<i8>(b, 5), b3 = <i32>load<i8>(b, 6), b3h = <i32>load<i8>(b, 7);
    c00 += a0 * b0 + a0h * b0h; c01 += a0 * b1 + a0h * b1h; c02 += a0 * b2 + a0h * b2h; c03 += a0 * b3 + a0h * b3h;
    c10 += a1 * b0 + a1h * b0h; c11 += a1 * b1 + a1h * b1h; c12 += a1 * b2 + a1h * b2h; c13 += a1 * b3 + a1h * b3h;
    a += 8;
    b += 16;
  }
  const r1 = c + ldcBytes;
  store<i32>(c, c00); store<i32>(c, c01, 4); store<i32>(c, c02, 8); store<i32>(c, c03, 12);
  store<i32>(r1, c10); store<i32>(r1, c11, 4); store<i32>(r1, c12, 8); store<i32>(r1, c13, 12);
}

// One row x 8 columns: a walks one row of a packed A panel (stride MRQ words per k-pair).
// SIMD: two k-pairs per step into two accumulator pairs (independent dot chains), summed at the end.
function rowKernelI8(kp: i32, a: usize, b: usize, c: usize): void {
  const aStep = <usize>MRQ << 2;
  if (ASC_FEATURE_SIMD) {
    let c0 = i32x4.splat(0), c1 = c0, c2 = c0, c3 = c0;
    let t = 0;
    for (; t + 2 <= kp; t += 2) {
      const bv = v128.load(b), bw = v128.load(b, 16);
      const a0 = v128.load32_splat(a), a1 = v128.load32_splat(a + aStep);
      c0 = i32x4.add(c0, i32x4.dot_i16x8_s(a0, i16x8.extend_low_i8x16_s(bv)));
      c1 = i32x4.add(c1, i32x4.dot_i16x8_s(a0, i16x8.extend_high_i8x16_s(bv)));
      c2 = i32x4.add(c2, i32x4.dot_i16x8_s(a1, i16x8.extend_low_i8x16_s(bw)));
      c3 = i32x4.add(c3, i32x4.dot_i16x8_s(a1, i16x8.extend_high_i8x16_s(bw)));
      a += 2 * aStep;
      b += 32;
    }
    if (t < kp) {
      const bv = v128.load(b), a0 = v128.load32_splat(a);
      c0 = i32x4.add(c0, i32x4.dot_i16x8_s(a0, i16x8.extend_low_i8x16_s(bv)));
      c1 = i32x4.add(c1, i32x4.dot_i16x8_s(a0, i16x8.extend_high_i8x16_s(bv)));
    }
    v128.store(c, i32x4.add(c0, c2));
    v128.store(c, i32x4.add(c1, c3), 16);
  } else {
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    const bEnd = b + (<usize>kp << 4);
    while (b < bEnd) {
      const w = load<i32>(a);
      const x0 = (w << 16) >> 16, x1 = w >> 16;
      s0 += x0 * <i32>load<i8>(b) + x1 * <i32>load<i8>(b, 1);
      s1 += x0 * <i32>load<i8>(b, 2) + x1 * <i32>load<i8>(b, 3);
      s2 += x0 * <i32>load<i8>(b, 4) + x1 * <i32>load<i8>(b, 5);
      s3 += x0 * <i32>load<i8>(b, 6) + x1 * <i32>load<i8>(b, 7);
      s4 += x0 * <i32>load<i8>(b, 8) + x1 * <i32>load<i8>(b, 9);
      s5 += x0 * <i32>load<i8>(b, 10) + x1 * <i32>load<i8>(b, 11);
      s6 += x0 * <i32>load<i8>(b, 12) + x1 * <i32>load<i8>(b, 13);
      s7 += x0 * <i32>load<i8>(b, 14) + x1 * <i32>load<i8>(b, 15);
      a += aStep;
      b += 16;
    }
    store<i32>(c, s0); store<i32>(c, s1, 4); store<i32>(c, s2, 8); store<i32>(c, s3, 12);
    store<i32>(c, s4, 16); store<i32>(c, s5, 20); store<i32>(c, s6, 24); store<i32>(c, s7, 28);
  }
}

// ---- epilogue -------------------------------------------------------------------------------

/**
 * y (rows, cols) f32 = acc (rows, cols) i32 dequantized: acc * (aScale * scales[j]) + bias[j],
 * then ReLU if relu != 0. y may alias acc. bias == 0: no bias.
 */
export function dequantizeI8(y: usize, acc: usize, scales: usize, bias: usize, rows: i32, cols: i32,
                             aScale: f32, relu: i32): void {
  const rowBytes = <usize>cols << 2;
  for (let r = 0; r < rows; r++) {
    const yr = y + <usize>r * rowBytes, ar = acc + <usize>r * rowBytes;
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      const sa = f32x4.splat(aScale), zero = f32x4.splat(0);
      for (; j + 4 <= cols; j += 4) {
        const o = <usize>j << 2;
        let v = f32x4.mul(f32x4.convert_i32x4_s(v128.load(ar + o)), f32x4.mul(sa, v128.load(scales + o)));
        if (bias != 0) v = f32x4.add(v, v128.load(bias + o));
        if (relu != 0) v = v128.and(v, v128.or(f32x4.gt(v, zero), f32x4.ne(v, v)));
        v128.store(yr + o, v);
      }
    }
    for (; j < cols; j++) {
      const o = <usize>j << 2;
      let v = <f32>load<i32>(ar + o) * (aScale * load<f32>(scales + o));
      if (bias != 0) v += load<f32>(bias + o);
      if (relu != 0 && !(v > 0 || v != v)) v = 0;
      store<f32>(yr + o, v);
    }
  }
}
