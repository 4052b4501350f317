// 2-D convolution, NHWC, forward and backward side by side (the raw ABI's conv2d* kernels).
//
// Shapes (geometry struct: ../../abi.ts "Convolution geometry"; Cg = C/G, OCg = OC/G):
//   x, dx (B,H,W,C)   y, dy (B,OH,OW,OC)   w, dw (KH,KW,Cg,OC)
//   forward          y[b,oh,ow,g*OCg+o]   = sum_{kh,kw,c} x[b,ih,iw,g*Cg+c] * w[kh,kw,c,g*OCg+o]
//   backward data    dx[b,ih,iw,g*Cg+c]  += sum_{kh,kw,o} dy[b,oh,ow,g*OCg+o] * w[kh,kw,c,g*OCg+o]
//   backward filter  dw[kh,kw,c,g*OCg+o] += sum_{b,oh,ow} x[b,ih,iw,g*Cg+c] * dy[b,oh,ow,g*OCg+o]
//   with ih = oh*SH - PT + kh, iw = ow*SW - PL + kw; taps outside the input contribute nothing.
//
// Plain loops, each walking memory in the order it lies (NHWC keeps a pixel's channels
// contiguous, HWIO a tap's rows of OC weights), and summing in f64 like the js sgemm:
// - forward: per output pixel, tiles of 4 output channels held in locals over the window
//   (one x load feeds 4 multiply-adds; the 4 weights are adjacent);
// - backward data: per output pixel and valid tap, dx[c] += (dy row . w row) over the group's
//   output channels, two contiguous rows;
// - backward filter: dw accumulates in an f64 copy (reused across calls; grown, never per call)
//   as x[c] * dy row, pixel after pixel, and is added into dw once at the end.
// The workspace arguments are unused here, as in the wasm builds.

import { GEOM_FILTER_RANGE, type Ptr } from '../../abi.js';
import type { HeapViews } from './memory.js';
import { Geometry } from './geometry.js';

const geo = new Geometry();
let acc64 = new Float64Array(0);

/** An f64 accumulator of at least n elements, zeroed. */
function accumulator(n: number): Float64Array {
  if (acc64.length < n) acc64 = new Float64Array(n);
  acc64.fill(0, 0, n);
  return acc64;
}

export function conv2dForward(heap: HeapViews, y: Ptr, x: Ptr, w: Ptr, geom: Ptr, _work: Ptr, _workElems: number): void {
  const { f32: f, i32 } = heap.sync();
  const { B, H, W, C, OH, OW, OC, KH, KW, SH, SW, PT, PL, G } = geo.read(i32, geom);
  const Cg = C / G, OCg = OC / G;
  if (Cg === 1 && G > 1) { depthwiseForward(f, y >>> 2, x >>> 2, w >>> 2); return; }
  const xb = x >>> 2, wb = w >>> 2;
  let yi = y >>> 2;
  for (let b = 0; b < B; b++) {
    for (let oh = 0; oh < OH; oh++) {
      const ih0 = oh * SH - PT, khLo = Math.max(0, -ih0), khHi = Math.min(KH, H - ih0);
      for (let ow = 0; ow < OW; ow++) {
        const iw0 = ow * SW - PL, kwLo = Math.max(0, -iw0), kwHi = Math.min(KW, W - iw0);
        for (let g = 0; g < G; g++) {
          const oEnd = (g + 1) * OCg;
          let o = g * OCg;
          for (; o + 4 <= oEnd; o += 4) {
            let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
            for (let kh = khLo; kh < khHi; kh++) {
              for (let kw = kwLo; kw < kwHi; kw++) {
                let xi = xb + ((b * H + ih0 + kh) * W + iw0 + kw) * C + g * Cg;
                let wi = wb + (kh * KW + kw) * Cg * OC + o;
                for (let c = 0; c < Cg; c++, xi++, wi += OC) {
                  const xv = f[xi]!;
                  a0 += xv * f[wi]!; a1 += xv * f[wi + 1]!; a2 += xv * f[wi + 2]!; a3 += xv * f[wi + 3]!;
                }
              }
            }
            f[yi + o] = a0; f[yi + o + 1] = a1; f[yi + o + 2] = a2; f[yi + o + 3] = a3;
          }
          for (; o < oEnd; o++) {
            let a = 0;
            for (let kh = khLo; kh < khHi; kh++) {
              for (let kw = kwLo; kw < kwHi; kw++) {
                let xi = xb + ((b * H + ih0 + kh) * W + iw0 + kw) * C + g * Cg;
                let wi = wb + (kh * KW + kw) * Cg * OC + o;
                for (let c = 0; c < Cg; c++, xi++, wi += OC) a += f[xi]! * f[wi]!;
              }
            }
            f[yi + o] = a;
          }
        }
        yi += OC;
      }
    }
  }
}

// Depthwise (Cg == 1, m = OC/C outputs per input channel): per output pixel, the window's taps
// are added row by row into an f64 row of OC sums: acc[o] += x[o/m] * w[tap, o].
function depthwiseForward(f: Float32Array, yb: number, xb: number, wb: number): void {
  const { B, H, W, C, OH, OW, OC, KH, KW, SH, SW, PT, PL } = geo;
  const m = OC / C;
  const acc = accumulator(OC);
  let yi = yb;
  for (let b = 0; b < B; b++) {
    for (let oh = 0; oh < OH; oh++) {
      const ih0 = oh * SH - PT, khLo = Math.max(0, -ih0), khHi = Math.min(KH, H - ih0);
      for (let ow = 0; ow < OW; ow++) {
        const iw0 = ow * SW - PL, kwLo = Math.max(0, -iw0), kwHi = Math.min(KW, W - iw0);
        acc.fill(0, 0, OC);
        for (let kh = khLo; kh < khHi; kh++) {
          for (let kw = kwLo; kw < kwHi; kw++) {
            const xi = xb + ((b * H + ih0 + kh) * W + iw0 + kw) * C, wi = wb + (kh * KW + kw) * OC;
            if (m === 1) for (let o = 0; o < OC; o++) acc[o] = acc[o]! + f[xi + o]! * f[wi + o]!;
            else for (let c = 0, o = 0; c < C; c++) for (let j = 0; j < m; j++, o++) acc[o] = acc[o]! + f[xi + c]! * f[wi + o]!;
          }
        }
        for (let o = 0; o < OC; o++) f[yi + o] = acc[o]!;
        yi += OC;
      }
    }
  }
}

export function conv2dBackwardData(heap: HeapViews, dx: Ptr, dy: Ptr, w: Ptr, geom: Ptr, _work: Ptr, _workElems: number): void {
  const { f32: f, i32 } = heap.sync();
  const { B, H, W, C, OH, OW, OC, KH, KW, SH, SW, PT, PL, G } = geo.read(i32, geom);
  const Cg = C / G, OCg = OC / G;
  const xb = dx >>> 2, wb = w >>> 2;
  let di = dy >>> 2;
  for (let b = 0; b < B; b++) {
    for (let oh = 0; oh < OH; oh++) {
      const ih0 = oh * SH - PT, khLo = Math.max(0, -ih0), khHi = Math.min(KH, H - ih0);
      for (let ow = 0; ow < OW; ow++) {
        const iw0 = ow * SW - PL, kwLo = Math.max(0, -iw0), kwHi = Math.min(KW, W - iw0);
        // forward: y[o] += x[c] * w[tap, c, o]  =>  dx[c] += sum_o dy[o] * w[tap, c, o]
        for (let kh = khLo; kh < khHi; kh++) {
          for (let kw = kwLo; kw < kwHi; kw++) {
            const xi = xb + ((b * H + ih0 + kh) * W + iw0 + kw) * C;
            for (let g = 0; g < G; g++) {
              const dg = di + g * OCg;
              let wi = wb + (kh * KW + kw) * Cg * OC + g * OCg;
              for (let c = 0; c < Cg; c++, wi += OC) {
                let s = 0;
                for (let o = 0; o < OCg; o++) s += f[dg + o]! * f[wi + o]!;
                const p = xi + g * Cg + c;
                f[p] = f[p]! + s;
              }
            }
          }
        }
        di += OC;
      }
    }
  }
}

export function conv2dBackwardFilter(heap: HeapViews, dw: Ptr, x: Ptr, dy: Ptr, geom: Ptr, _work: Ptr, _workElems: number): void {
  const { f32: f, i32 } = heap.sync();
  const { B, H, W, C, OH, OW, OC, KH, KW, SH, SW, PT, PL, G } = geo.read(i32, geom);
  const Cg = C / G, OCg = OC / G;
  // output channels [o0, o1) of each group: all, or the range in slots 14-15 (G == 1; abi.ts)
  const range = i32[(geom >>> 2) + GEOM_FILTER_RANGE.ON]!;
  const o0 = range ? i32[(geom >>> 2) + GEOM_FILTER_RANGE.O0]! : 0, o1 = range ? o0 + range : OCg;
  const n = KH * KW * Cg * OC;
  const acc = accumulator(n);
  const xb = x >>> 2;
  let di = dy >>> 2;
  for (let b = 0; b < B; b++) {
    for (let oh = 0; oh < OH; oh++) {
      const ih0 = oh * SH - PT, khLo = Math.max(0, -ih0), khHi = Math.min(KH, H - ih0);
      for (let ow = 0; ow < OW; ow++) {
        const iw0 = ow * SW - PL, kwLo = Math.max(0, -iw0), kwHi = Math.min(KW, W - iw0);
        // forward: y[o] += x[c] * w[tap, c, o]  =>  dw[tap, c, o] += x[c] * dy[o]
        for (let kh = khLo; kh < khHi; kh++) {
          for (let kw = kwLo; kw < kwHi; kw++) {
            const xi = xb + ((b * H + ih0 + kh) * W + iw0 + kw) * C;
            for (let g = 0; g < G; g++) {
              const dg = di + g * OCg;
              let ai = (kh * KW + kw) * Cg * OC + g * OCg;
              for (let c = 0; c < Cg; c++, ai += OC) {
                const xv = f[xi + g * Cg + c]!;
                for (let o = o0; o < o1; o++) acc[ai + o] = acc[ai + o]! + xv * f[dg + o]!;
              }
            }
          }
        }
        di += OC;
      }
    }
  }
  const wi = dw >>> 2;
  if (!range) for (let i = 0; i < n; i++) f[wi + i] = f[wi + i]! + acc[i]!;
  else for (let r = 0; r < n; r += OC) for (let o = o0; o < o1; o++) f[wi + r + o] = f[wi + r + o]! + acc[r + o]!;
}
