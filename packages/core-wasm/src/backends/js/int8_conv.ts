// int8 convolution kernels (assembly/kernels/int8_conv.ts), the JS mirror: the im2col gather is
// a byte copy and the depthwise sums are exact integers (summed in the Int32Array output, every
// partial sum below 2^31 in magnitude), so every backend gives the same bits.
//
// Shapes (geometry struct, ../../abi.ts "Convolution geometry"): x (B,H,W,C) i8;
//   im2colI8 (G == 1): col (np, KH*KW*C) i8, row p = output pixel p0 + p of (B, OH, OW), entry
//     (kh*KW + kw)*C + c = x[b, oh*SH - PT + kh, ow*SW - PL + kw, c], 0 outside the image.
//   depthwiseConvI8 (G == C, M = OC/C): acc (B,OH,OW,OC) i32 = sum over inside taps of
//     x[b,ih,iw,o/M] * w[kh,kw,0,o], w (KH,KW,1,OC) i8.

import type { Ptr } from '../../abi.js';
import type { HeapViews } from './memory.js';
import { Geometry } from './geometry.js';

const geo = new Geometry();

export function im2colI8(heap: HeapViews, col: Ptr, x: Ptr, geom: Ptr, p0: number, np: number): void {
  const { i8, i32 } = heap.sync();
  const { H, W, C, OH, OW, KH, KW, SH, SW, PT, PL } = geo.read(i32, geom);
  const pixels = OH * OW, run = KW * C;
  let d = col;
  for (let q = p0; q < p0 + np; q++) {
    const b = Math.floor(q / pixels), r = q - b * pixels, oh = Math.floor(r / OW), ow = r - oh * OW;
    const ih0 = oh * SH - PT, iw0 = ow * SW - PL;
    const kwLo = Math.max(0, -iw0), kwHi = Math.min(KW, W - iw0);
    const before = kwLo * C, inside = (kwHi - kwLo) * C;
    for (let kh = 0; kh < KH; kh++) {
      const ih = ih0 + kh;
      if (ih < 0 || ih >= H) {
        i8.fill(0, d, d + run);
      } else {
        const src = x + ((b * H + ih) * W + iw0 + kwLo) * C;
        i8.fill(0, d, d + before);
        i8.copyWithin(d + before, src, src + inside);
        i8.fill(0, d + before + inside, d + run);
      }
      d += run;
    }
  }
}

export function depthwiseConvI8(heap: HeapViews, acc: Ptr, x: Ptr, w: Ptr, geom: Ptr): void {
  const { i8, i32 } = heap.sync();
  const { B, H, W, C, OH, OW, OC, KH, KW, SH, SW, PT, PL } = geo.read(i32, geom);
  const M = OC / C;
  let yi = acc >>> 2;
  for (let b = 0; b < B; b++) {
    for (let oh = 0; oh < OH; oh++) {
      const ih0 = oh * SH - PT, khLo = Math.max(0, -ih0), khHi = Math.min(KH, H - ih0);
      for (let ow = 0; ow < OW; ow++) {
        const iw0 = ow * SW - PL, kwLo = Math.max(0, -iw0), kwHi = Math.min(KW, W - iw0);
        // taps outer, channels inner (contiguous in NHWC), summed in place in the i32 output
        i32.fill(0, yi, yi + OC);
        for (let kh = khLo; kh < khHi; kh++) {
          for (let kw = kwLo; kw < kwHi; kw++) {
            const xp = x + ((b * H + ih0 + kh) * W + iw0 + kw) * C, wp = w + (kh * KW + kw) * OC;
            if (M === 1) for (let o = 0; o < OC; o++) i32[yi + o] = i32[yi + o]! + i8[xp + o]! * i8[wp + o]!;
            else for (let o = 0; o < OC; o++) i32[yi + o] = i32[yi + o]! + i8[xp + Math.floor(o / M)]! * i8[wp + o]!;
          }
        }
        yi += OC;
      }
    }
  }
}
