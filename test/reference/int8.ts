// THE REFERENCE for the int8 kernels of packages/core-wasm/src/abi.ts ("int8 inference"), written
// straight from the formulas there with plain loops and f64 arithmetic. Quantization and the
// epilogue are specified as f32 operations, so the reference rounds exactly where the ABI
// says (Math.fround), and the kernels must match it bit for bit; the GEMM is exact integer
// arithmetic in f64 (every partial sum is far below 2^53).

const fround = Math.fround;

/** round half away from zero, clamped to [-127, 127]; NaN -> 0. v is an f32 quotient. */
export function refRoundClamp(v: number): number {
  if (Number.isNaN(v)) return 0;
  const r = Math.sign(v) * Math.floor(Math.abs(v) + 0.5); // exact in f64 for any f32 v below 2^52
  return Math.max(-127, Math.min(127, r)) + 0; // + 0 turns -0 into 0
}

/** q[i] = quantize(f32(x[i] / f32(scale))) */
export function refQuantizeI8(x: ArrayLike<number>, scale: number): Int8Array {
  const s = fround(scale);
  return Int8Array.from(x, (v) => refRoundClamp(fround(v / s)));
}

/** Per-output-channel weights of W (rows, cols): scales[j] = f32(max|W[:, j]| / 127), or 1 if not > 0. */
export function refQuantizeWeightsI8(w: ArrayLike<number>, rows: number, cols: number): { q: Int8Array; scales: Float32Array } {
  const scales = new Float32Array(cols);
  for (let j = 0; j < cols; j++) {
    let m = 0;
    for (let i = 0; i < rows; i++) m = Math.max(m, Math.abs(w[i * cols + j]!));
    const s = fround(m / 127);
    scales[j] = s > 0 ? s : 1;
  }
  const q = new Int8Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) q[i * cols + j] = refRoundClamp(fround(w[i * cols + j]! / scales[j]!));
  return { q, scales };
}

/** The packed layout of abi.ts packWeightsI8, byte by byte from its formula. */
export function refPackWeightsI8(b: Int8Array, k: number, n: number): Int8Array {
  const kp = Math.ceil(k / 2);
  const out = new Int8Array(Math.ceil(n / 8) * kp * 16);
  for (let kk = 0; kk < k; kk++) {
    for (let j = 0; j < n; j++) out[(j >> 3) * kp * 16 + (kk >> 1) * 16 + (j & 7) * 2 + (kk & 1)] = b[kk * n + j]!;
  }
  return out;
}

/** C (m, n) = A (m, k) . B (k, n), exact. */
export function refGemmI8(a: Int8Array, b: Int8Array, m: number, n: number, k: number): Int32Array {
  const c = new Int32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += a[i * k + t]! * b[t * n + j]!;
      c[i * n + j] = s;
    }
  }
  return c;
}

/** y = f32(f32(f32(acc) * f32(aScale * scales[j])) + bias[j]), ReLU (NaN kept) if relu. */
export function refDequantizeI8(acc: Int32Array, scales: Float32Array, bias: Float32Array | null, rows: number, cols: number,
                                aScale: number, relu: boolean): Float32Array {
  const y = new Float32Array(rows * cols);
  const sa = fround(aScale);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < cols; j++) {
      let v = fround(fround(acc[r * cols + j]!) * fround(sa * scales[j]!));
      if (bias) v = fround(v + bias[j]!);
      if (relu && !(v > 0 || Number.isNaN(v))) v = 0;
      y[r * cols + j] = v;
    }
  }
  return y;
}

const U = 2 ** -24;

/**
 * A rigorous bound on |y - yq| per element, y = x W + b (exact) and yq the int8 path:
 * x quantized per tensor with scale sa, W per column with scales sw, exact int32 GEMM, f32 epilogue.
 * With xh = sa qx and Wh = sw qw, y - Y* = sum_k (x - xh) W + xh (W - Wh), where Y* = sum_k xh Wh + b is
 * what the epilogue rounds, so
 *   |y - Y*| <= sum_k ex_k |W_kj| + |xh_k| ew_kj,
 *   ex_k = max(sa (1/2 + 128u), |x_k| - 127 sa)   (rounding; or saturation when |x_k| > 127.5 sa)
 *   ew_kj = sw_j (1/2 + 128u)                      (weights never saturate: sw_j = max|W_:j| / 127)
 * (the 128u covers the f32 division x / s before rounding: |x/s - fl(x/s)| <= 127.5 u * ... ),
 * and the epilogue's four f32 roundings add at most 5u (|Y*| + |b|).
 */
export function refInt8ErrorBound(x: Float32Array, w: Float32Array, bias: Float32Array | null, m: number, k: number, n: number,
                                  sa: number, qx: Int8Array, sw: Float32Array): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let e = 0, ystar = 0;
      for (let t = 0; t < k; t++) {
        const xv = x[i * k + t]!, wv = w[t * n + j]!;
        const ex = Math.max(sa * (0.5 + 128 * U), Math.abs(xv) - 127 * sa);
        const xh = sa * qx[i * k + t]!;
        e += ex * Math.abs(wv) + Math.abs(xh) * sw[j]! * (0.5 + 128 * U);
        ystar += Math.abs(xh) * (Math.abs(wv) + sw[j]!);
      }
      out[i * n + j] = e + 5 * U * (ystar + (bias ? Math.abs(bias[j]!) : 0));
    }
  }
  return out;
}

// ---- int8 convolution (abi.ts "Convolution geometry"; kernels/list.ts im2colI8, depthwiseConvI8) ----
// Geometry fields as in @retort/core-wasm's ConvGeometry; x (B,H,W,C), windows ih = oh*SH - PT + kh,
// iw = ow*SW - PL + kw, positions outside the image read 0.
export interface RefGeometry { B: number; H: number; W: number; C: number; OH: number; OW: number; OC: number; KH: number; KW: number; SH: number; SW: number; PT: number; PL: number; G: number }

/** The im2col rows of output pixels p0 .. p0 + np - 1 of the flattened (B, OH, OW) index, straight from the definition. */
export function refIm2colI8(g: RefGeometry, x: Int8Array, p0: number, np: number): Int8Array {
  const K = g.KH * g.KW * g.C;
  const col = new Int8Array(np * K);
  for (let p = 0; p < np; p++) {
    const q = p0 + p, b = Math.floor(q / (g.OH * g.OW)), oh = Math.floor(q / g.OW) % g.OH, ow = q % g.OW;
    for (let kh = 0; kh < g.KH; kh++) {
      for (let kw = 0; kw < g.KW; kw++) {
        const ih = oh * g.SH - g.PT + kh, iw = ow * g.SW - g.PL + kw;
        for (let c = 0; c < g.C; c++) {
          const inside = ih >= 0 && ih < g.H && iw >= 0 && iw < g.W;
          col[p * K + (kh * g.KW + kw) * g.C + c] = inside ? x[((b * g.H + ih) * g.W + iw) * g.C + c]! : 0;
        }
      }
    }
  }
  return col;
}

/**
 * The exact integer convolution y[b,oh,ow,o] = sum over taps inside the image and c < C/G of
 * x[b,ih,iw,g*C/G + c] * w[kh,kw,c,o], g = o / (OC/G), for any groups (depthwise: G == C): what
 * im2colI8 + gemmI8 (G == 1), the block-diagonal GEMM (1 < G < C) and depthwiseConvI8 (G == C)
 * must all produce. Every partial sum is an integer far below 2^53: exact.
 */
export function refConvI8(g: RefGeometry, x: Int8Array, w: Int8Array): Int32Array {
  const Cg = g.C / g.G, OCg = g.OC / g.G;
  const y = new Int32Array(g.B * g.OH * g.OW * g.OC);
  for (let b = 0; b < g.B; b++) {
    for (let oh = 0; oh < g.OH; oh++) {
      for (let ow = 0; ow < g.OW; ow++) {
        for (let o = 0; o < g.OC; o++) {
          const c0 = Math.floor(o / OCg) * Cg;
          let s = 0;
          for (let kh = 0; kh < g.KH; kh++) {
            for (let kw = 0; kw < g.KW; kw++) {
              const ih = oh * g.SH - g.PT + kh, iw = ow * g.SW - g.PL + kw;
              if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
              for (let c = 0; c < Cg; c++) s += x[((b * g.H + ih) * g.W + iw) * g.C + c0 + c]! * w[((kh * g.KW + kw) * Cg + c) * g.OC + o]!;
            }
          }
          y[((b * g.OH + oh) * g.OW + ow) * g.OC + o] = s;
        }
      }
    }
  }
  return y;
}

/** y[r, c] = f32(f32(x[r, c] * scale[c]) + shift[c]). */
export function refChannelAffine(x: ArrayLike<number>, scale: ArrayLike<number>, shift: ArrayLike<number>, rows: number, C: number): Float32Array {
  const y = new Float32Array(rows * C);
  for (let r = 0; r < rows; r++) for (let c = 0; c < C; c++) y[r * C + c] = fround(fround(x[r * C + c]! * scale[c]!) + shift[c]!);
  return y;
}
