// int8 inference kernels (abi.ts, "int8 inference"), the JS mirror of assembly/kernels/int8.ts.
// Bit-identical to both wasm builds: quantization is one f32 division (f64 division of f32
// operands, then fround: the double rounding is innocuous) and an exact rounding rule; the GEMM
// is exact integer arithmetic (`| 0` wraps like i32.add, and every partial sum before it is an
// exact f64 integer); the epilogue rounds every step to f32 in the ABI's order.
// Scalars that the wasm builds receive as f32 parameters (scale, aScale) are frounded first.

import { GEMM_I8_MAX_K, type Ptr } from '../../abi.js';
import type { HeapViews } from './memory.js';

const fround = Math.fround;

/** clamp(round_half_away_from_zero(v), -127, 127) for an f32 value v; NaN -> 0, +-Inf -> +-127. */
function quantize(v: number): number {
  if (v !== v) return 0;
  let t = Math.trunc(v);
  if (Math.abs(v - t) >= 0.5) t += v < 0 ? -1 : 1;
  return t > 127 ? 127 : t < -127 ? -127 : t;
}

/** q[i] = quantize(x[i] / scale) */
export function quantizeI8(heap: HeapViews, q: Ptr, x: Ptr, n: number, scale: number): void {
  const { f32: f, i8 } = heap.sync();
  const s = fround(scale);
  const xi = x >>> 2;
  for (let i = 0; i < n; i++) i8[q + i] = quantize(fround(f[xi + i]! / s));
}

/** scales[j] = max_i |W[i, j]| / 127 (1 if not > 0); q[i, j] = quantize(W[i, j] / scales[j]). */
export function quantizeWeightsI8(heap: HeapViews, q: Ptr, scales: Ptr, w: Ptr, rows: number, cols: number): void {
  if (cols <= 0) return;
  const { f32: f, i8 } = heap.sync();
  const si = scales >>> 2, wi = w >>> 2;
  for (let j = 0; j < cols; j++) {
    let m = 0;
    for (let r = 0, p = wi + j; r < rows; r++, p += cols) m = Math.max(m, Math.abs(f[p]!));
    const s = fround(m / 127);
    f[si + j] = s > 0 ? s : 1;
  }
  for (let r = 0; r < rows; r++) {
    const wr = wi + r * cols, qr = q + r * cols;
    for (let j = 0; j < cols; j++) i8[qr + j] = quantize(fround(f[wr + j]! / f[si + j]!));
  }
}

/** B (k, n) i8 row-major -> the gemmI8 panel layout (abi.ts packWeightsI8). */
export function packWeightsI8(heap: HeapViews, packed: Ptr, b: Ptr, k: number, n: number): void {
  if (k <= 0 || n <= 0) return;
  const i8 = heap.sync().i8;
  const kp = (k + 1) >> 1;
  for (let j0 = 0; j0 < n; j0 += 8) {
    const cols = Math.min(8, n - j0);
    const panel = packed + (j0 >> 3) * kp * 16;
    for (let t = 0; t < kp; t++) {
      const d = panel + t * 16;
      const r0 = b + 2 * t * n + j0;
      const hasR1 = 2 * t + 1 < k;
      for (let c = 0; c < cols; c++) {
        i8[d + 2 * c] = i8[r0 + c]!;
        i8[d + 2 * c + 1] = hasR1 ? i8[r0 + n + c]! : 0;
      }
      i8.fill(0, d + 2 * cols, d + 16);
    }
  }
}

/** C (m, n) i32 = A (m, k) i8 . B, B packed. One row by one 8-column panel at a time, k two at a time. */
export function gemmI8(heap: HeapViews, c: Ptr, a: Ptr, packed: Ptr, m: number, n: number, k: number): void {
  if (m <= 0 || n <= 0) return;
  if (k > GEMM_I8_MAX_K) throw new RangeError(`gemmI8: k = ${k} exceeds ${GEMM_I8_MAX_K} (int32 accumulators could overflow)`);
  const { i8, i32 } = heap.sync();
  const ci = c >>> 2;
  if (k <= 0) { i32.fill(0, ci, ci + m * n); return; }
  const kp = (k + 1) >> 1, kEven = k - (k & 1), panelBytes = kp * 16;
  for (let i = 0; i < m; i++) {
    const ar = a + i * k;
    const cr = ci + i * n;
    for (let j0 = 0; j0 < n; j0 += 8) {
      let pb = packed + (j0 >> 3) * panelBytes;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
      for (let kk = 0; kk < kEven; kk += 2, pb += 16) {
        const x0 = i8[ar + kk]!, x1 = i8[ar + kk + 1]!;
        s0 = (s0 + x0 * i8[pb]! + x1 * i8[pb + 1]!) | 0;
        s1 = (s1 + x0 * i8[pb + 2]! + x1 * i8[pb + 3]!) | 0;
        s2 = (s2 + x0 * i8[pb + 4]! + x1 * i8[pb + 5]!) | 0;
        s3 = (s3 + x0 * i8[pb + 6]! + x1 * i8[pb + 7]!) | 0;
        s4 = (s4 + x0 * i8[pb + 8]! + x1 * i8[pb + 9]!) | 0;
        s5 = (s5 + x0 * i8[pb + 10]! + x1 * i8[pb + 11]!) | 0;
        s6 = (s6 + x0 * i8[pb + 12]! + x1 * i8[pb + 13]!) | 0;
        s7 = (s7 + x0 * i8[pb + 14]! + x1 * i8[pb + 15]!) | 0;
      }
      if (kEven < k) { // odd k: the last pair's second element is padding (B holds 0 there)
        const x0 = i8[ar + kEven]!;
        s0 = (s0 + x0 * i8[pb]!) | 0; s1 = (s1 + x0 * i8[pb + 2]!) | 0;
        s2 = (s2 + x0 * i8[pb + 4]!) | 0; s3 = (s3 + x0 * i8[pb + 6]!) | 0;
        s4 = (s4 + x0 * i8[pb + 8]!) | 0; s5 = (s5 + x0 * i8[pb + 10]!) | 0;
        s6 = (s6 + x0 * i8[pb + 12]!) | 0; s7 = (s7 + x0 * i8[pb + 14]!) | 0;
      }
      const cols = Math.min(8, n - j0), o = cr + j0;
      i32[o] = s0;
      if (cols > 1) i32[o + 1] = s1;
      if (cols > 2) i32[o + 2] = s2;
      if (cols > 3) i32[o + 3] = s3;
      if (cols > 4) i32[o + 4] = s4;
      if (cols > 5) i32[o + 5] = s5;
      if (cols > 6) i32[o + 6] = s6;
      if (cols > 7) i32[o + 7] = s7;
    }
  }
}

/** y = f32(f32(f32(acc) * f32(aScale * scales[j])) + bias[j]), then ReLU if relu != 0. y may alias acc. */
export function dequantizeI8(heap: HeapViews, y: Ptr, acc: Ptr, scales: Ptr, bias: Ptr, rows: number, cols: number,
                             aScale: number, relu: number): void {
  const { f32: f, i32 } = heap.sync();
  const sa = fround(aScale);
  const yi = y >>> 2, ai = acc >>> 2, si = scales >>> 2, bi = bias >>> 2;
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let j = 0; j < cols; j++) {
      let v = fround(fround(i32[ai + o + j]!) * fround(sa * f[si + j]!));
      if (bias !== 0) v = fround(v + f[bi + j]!);
      if (relu !== 0 && !(v > 0 || v !== v)) v = 0;
      f[yi + o + j] = v;
    }
  }
}
