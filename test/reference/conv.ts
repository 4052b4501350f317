// THE REFERENCE for the convolution and pooling kernels: plain f64 loops straight from the
// definitions in packages/core-wasm/src/abi.ts ("Convolution geometry") and the kernel docs in
// packages/core-wasm/src/kernels/list.ts. One loop nest per op, over output elements and their
// windows; no tiling, no f32, no shortcuts. Conformance tests compare every backend against
// these, and the gradients also against central finite differences of the forwards here.
//
// Shapes: x (B,H,W,C), y (B,OH,OW,OC), w (KH,KW,C/G,OC), argmax like y (i32).
// Window of output (oh, ow): ih = oh*SH - PT + kh, iw = ow*SW - PL + kw.

import { convOutput, type ConvGeometry } from '@retort/core-wasm';

type Vec = ArrayLike<number>;

/** A geometry from layer parameters: padding 'same' (TensorFlow's), 'valid', or explicit. */
export function convGeometry(B: number, H: number, W: number, C: number, OC: number, KH: number, KW: number,
                             SH: number, SW: number, padding: 'same' | 'valid' | number, G = 1): ConvGeometry {
  const h = convOutput(H, KH, SH, padding), w = convOutput(W, KW, SW, padding);
  return { B, H, W, C, OH: h.out, OW: w.out, OC, KH, KW, SH, SW, PT: h.before, PL: w.before, G };
}

export const inputSize = (g: ConvGeometry): number => g.B * g.H * g.W * g.C;
export const outputSize = (g: ConvGeometry): number => g.B * g.OH * g.OW * g.OC;
export const filterSize = (g: ConvGeometry): number => g.KH * g.KW * (g.C / g.G) * g.OC;

/** Calls visit(ih, iw, kh, kw) for each window position of (oh, ow) inside the image, in scan order. */
function eachTap(g: ConvGeometry, oh: number, ow: number, visit: (ih: number, iw: number, kh: number, kw: number) => void): void {
  for (let kh = 0; kh < g.KH; kh++) {
    for (let kw = 0; kw < g.KW; kw++) {
      const ih = oh * g.SH - g.PT + kh, iw = ow * g.SW - g.PL + kw;
      if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) visit(ih, iw, kh, kw);
    }
  }
}

/** Visits every (b, oh, ow, o) output element with the flat index of its y entry. */
function eachOutput(g: ConvGeometry, visit: (b: number, oh: number, ow: number, o: number, yi: number) => void): void {
  for (let b = 0; b < g.B; b++) {
    for (let oh = 0; oh < g.OH; oh++) {
      for (let ow = 0; ow < g.OW; ow++) {
        for (let o = 0; o < g.OC; o++) visit(b, oh, ow, o, ((b * g.OH + oh) * g.OW + ow) * g.OC + o);
      }
    }
  }
}

// ---- convolution ---------------------------------------------------------------------------------

/** y[b,oh,ow,o] = sum_{kh,kw,c} x[b,ih,iw,g*Cg+c] * w[kh,kw,c,o], g = o / OCg; padding reads zero. */
export function refConv2d(g: ConvGeometry, x: Vec, w: Vec): Float64Array {
  const Cg = g.C / g.G, OCg = g.OC / g.G;
  const y = new Float64Array(outputSize(g));
  eachOutput(g, (b, oh, ow, o, yi) => {
    const c0 = Math.floor(o / OCg) * Cg;
    let s = 0;
    eachTap(g, oh, ow, (ih, iw, kh, kw) => {
      for (let c = 0; c < Cg; c++) s += x[((b * g.H + ih) * g.W + iw) * g.C + c0 + c]! * w[((kh * g.KW + kw) * Cg + c) * g.OC + o]!;
    });
    y[yi] = s;
  });
  return y;
}

/** dL/dx of L = <dy, conv(x, w)>: dx[b,ih,iw,g*Cg+c] = sum over windows containing it of dy * w. */
export function refConv2dBackwardData(g: ConvGeometry, dy: Vec, w: Vec): Float64Array {
  const Cg = g.C / g.G, OCg = g.OC / g.G;
  const dx = new Float64Array(inputSize(g));
  eachOutput(g, (b, oh, ow, o, yi) => {
    const c0 = Math.floor(o / OCg) * Cg;
    eachTap(g, oh, ow, (ih, iw, kh, kw) => {
      for (let c = 0; c < Cg; c++) dx[((b * g.H + ih) * g.W + iw) * g.C + c0 + c]! += dy[yi]! * w[((kh * g.KW + kw) * Cg + c) * g.OC + o]!;
    });
  });
  return dx;
}

/** dL/dw of L = <dy, conv(x, w)>: dw[kh,kw,c,o] = sum over outputs of x[b,ih,iw,g*Cg+c] * dy[b,oh,ow,o]. */
export function refConv2dBackwardFilter(g: ConvGeometry, x: Vec, dy: Vec): Float64Array {
  const Cg = g.C / g.G, OCg = g.OC / g.G;
  const dw = new Float64Array(filterSize(g));
  eachOutput(g, (b, oh, ow, o, yi) => {
    const c0 = Math.floor(o / OCg) * Cg;
    eachTap(g, oh, ow, (ih, iw, kh, kw) => {
      for (let c = 0; c < Cg; c++) dw[((kh * g.KW + kw) * Cg + c) * g.OC + o]! += x[((b * g.H + ih) * g.W + iw) * g.C + c0 + c]! * dy[yi]!;
    });
  });
  return dw;
}

const abs = (v: Vec): Float64Array => Float64Array.from(v, Math.abs);

/** Per output element, sum of |x w| over its products: the scale of f32 rounding error in y. */
export const refConv2dAbsScale = (g: ConvGeometry, x: Vec, w: Vec): Float64Array => refConv2d(g, abs(x), abs(w));
export const refConv2dBackwardDataAbsScale = (g: ConvGeometry, dy: Vec, w: Vec): Float64Array =>
  refConv2dBackwardData(g, abs(dy), abs(w));
export const refConv2dBackwardFilterAbsScale = (g: ConvGeometry, x: Vec, dy: Vec): Float64Array =>
  refConv2dBackwardFilter(g, abs(x), abs(dy));

// ---- pooling -------------------------------------------------------------------------------------

/** Max over each window's inside positions: the first maximum in scan order, the first NaN if any. */
export function refMaxPool(g: ConvGeometry, x: Vec): { y: Float64Array; argmax: Int32Array } {
  const y = new Float64Array(outputSize(g)), argmax = new Int32Array(outputSize(g));
  eachOutput(g, (b, oh, ow, c, yi) => {
    let best = NaN, at = -1;
    eachTap(g, oh, ow, (ih, iw) => {
      const v = x[((b * g.H + ih) * g.W + iw) * g.C + c]!;
      const first = at < 0, bestIsNaN = !first && Number.isNaN(best);
      if (first || (!bestIsNaN && (Number.isNaN(v) || v > best))) { best = v; at = ih * g.W + iw; }
    });
    y[yi] = best;
    argmax[yi] = at;
  });
  return { y, argmax };
}

/** dx[b, argmax] += dy, for every output element. */
export function refMaxPoolBackward(g: ConvGeometry, dy: Vec, argmax: ArrayLike<number>): Float64Array {
  const dx = new Float64Array(inputSize(g));
  eachOutput(g, (b, _oh, _ow, c, yi) => { dx[(b * g.H * g.W + argmax[yi]!) * g.C + c]! += dy[yi]!; });
  return dx;
}

/** Number of window positions of (oh, ow) inside the image. */
function insideCount(g: ConvGeometry, oh: number, ow: number): number {
  let n = 0;
  eachTap(g, oh, ow, () => { n++; });
  return n;
}

/** Mean over each window's inside positions (padding excluded from the count). */
export function refAvgPool(g: ConvGeometry, x: Vec): Float64Array {
  const y = new Float64Array(outputSize(g));
  eachOutput(g, (b, oh, ow, c, yi) => {
    let s = 0;
    eachTap(g, oh, ow, (ih, iw) => { s += x[((b * g.H + ih) * g.W + iw) * g.C + c]!; });
    y[yi] = s / insideCount(g, oh, ow);
  });
  return y;
}

/** dx[inside position] += dy / count, for every output element. */
export function refAvgPoolBackward(g: ConvGeometry, dy: Vec): Float64Array {
  const dx = new Float64Array(inputSize(g));
  eachOutput(g, (b, oh, ow, c, yi) => {
    const n = insideCount(g, oh, ow);
    eachTap(g, oh, ow, (ih, iw) => { dx[((b * g.H + ih) * g.W + iw) * g.C + c]! += dy[yi]! / n; });
  });
  return dx;
}

/** x (B,HW,C) -> y (B,C), the mean over HW. */
export function refGlobalAvgPool(B: number, HW: number, C: number, x: Vec): Float64Array {
  const y = new Float64Array(B * C);
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let p = 0; p < HW; p++) s += x[(b * HW + p) * C + c]!;
      y[b * C + c] = s / HW;
    }
  }
  return y;
}

/** dx[b,p,c] = dy[b,c] / HW. */
export function refGlobalAvgPoolBackward(B: number, HW: number, C: number, dy: Vec): Float64Array {
  const dx = new Float64Array(B * HW * C);
  for (let b = 0; b < B; b++) for (let p = 0; p < HW; p++) for (let c = 0; c < C; c++) dx[(b * HW + p) * C + c] = dy[b * C + c]! / HW;
  return dx;
}
