// Pooling, NHWC: max, average and global average, forward and backward side by side.
//
// Shapes (geometry struct with OC == C, G == 1): x, dx (B,H,W,C); y, dy, argmax (B,OH,OW,C).
// The window of (oh, ow) is rows oh*SH - PT + kh, cols ow*SW - PL + kw, clipped to the input:
// positions outside are never candidates and never counted.
//   max:  y = max over the window (first maximum in kh-then-kw order; the first NaN wins),
//         argmax = ih*W + iw of that element;  dx[argmax] += dy
//   avg:  y = (sum over the window's inside positions) / (their count);  dx[each of them] += dy / count
//   global avg, x (B,HW,C), y (B,C):  y = sum_p x / HW;  dx[b,p,c] += dy[b,c] / HW
// Loops run over output pixels with channels innermost (contiguous in NHWC). Sums are f32 as in
// the wasm builds' order (window order, then one division), so these results match them
// closely; max pooling is exact.

import type { Ptr } from '../../abi.js';
import type { HeapViews } from './memory.js';
import { Geometry } from './geometry.js';

const geo = new Geometry();
const fround = Math.fround;

export function maxPool2dForward(heap: HeapViews, y: Ptr, argmax: Ptr, x: Ptr, geom: Ptr): void {
  const { f32: f, i32 } = heap.sync();
  const { B, H, W, C, OH, OW, KH, KW, SH, SW, PT, PL } = geo.read(i32, geom);
  const xb = x >>> 2;
  let yi = y >>> 2, ai = argmax >>> 2;
  for (let b = 0; b < B; b++) {
    for (let oh = 0; oh < OH; oh++) {
      const r = oh * SH - PT, ihLo = Math.max(0, r), ihHi = Math.min(H, r + KH);
      for (let ow = 0; ow < OW; ow++) {
        const s = ow * SW - PL, iwLo = Math.max(0, s), iwHi = Math.min(W, s + KW);
        const first = xb + ((b * H + ihLo) * W + iwLo) * C;
        for (let c = 0; c < C; c++) { f[yi + c] = f[first + c]!; i32[ai + c] = ihLo * W + iwLo; }
        for (let ih = ihLo; ih < ihHi; ih++) {
          for (let iw = ih === ihLo ? iwLo + 1 : iwLo; iw < iwHi; iw++) {
            const xi = xb + ((b * H + ih) * W + iw) * C;
            for (let c = 0; c < C; c++) {
              const v = f[xi + c]!, m = f[yi + c]!;
              // larger, or a NaN over a number: the first maximum and the first NaN stay
              if (v > m || (v !== v && m === m)) { f[yi + c] = v; i32[ai + c] = ih * W + iw; }
            }
          }
        }
        yi += C;
        ai += C;
      }
    }
  }
}

export function maxPool2dBackward(heap: HeapViews, dx: Ptr, dy: Ptr, argmax: Ptr, geom: Ptr): void {
  const { f32: f, i32 } = heap.sync();
  const { B, H, W, C, OH, OW } = geo.read(i32, geom);
  let di = dy >>> 2, ai = argmax >>> 2;
  for (let b = 0; b < B; b++) {
    const img = (dx >>> 2) + b * H * W * C;
    for (let p = 0; p < OH * OW; p++) {
      for (let c = 0; c < C; c++) {
        const q = img + i32[ai + c]! * C + c;
        f[q] = f[q]! + f[di + c]!;
      }
      di += C;
      ai += C;
    }
  }
}

export function avgPool2dForward(heap: HeapViews, y: Ptr, x: Ptr, geom: Ptr): void {
  const { f32: f, i32 } = heap.sync();
  const { B, H, W, C, OH, OW, KH, KW, SH, SW, PT, PL } = geo.read(i32, geom);
  const xb = x >>> 2;
  let yi = y >>> 2;
  for (let b = 0; b < B; b++) {
    for (let oh = 0; oh < OH; oh++) {
      const r = oh * SH - PT, ihLo = Math.max(0, r), ihHi = Math.min(H, r + KH);
      for (let ow = 0; ow < OW; ow++) {
        const s = ow * SW - PL, iwLo = Math.max(0, s), iwHi = Math.min(W, s + KW);
        const n = (ihHi - ihLo) * (iwHi - iwLo);
        f.fill(0, yi, yi + C);
        for (let ih = ihLo; ih < ihHi; ih++) {
          for (let iw = iwLo; iw < iwHi; iw++) {
            const xi = xb + ((b * H + ih) * W + iw) * C;
            for (let c = 0; c < C; c++) f[yi + c] = f[yi + c]! + f[xi + c]!;
          }
        }
        for (let c = 0; c < C; c++) f[yi + c] = f[yi + c]! / n;
        yi += C;
      }
    }
  }
}

export function avgPool2dBackward(heap: HeapViews, dx: Ptr, dy: Ptr, geom: Ptr): void {
  const { f32: f, i32 } = heap.sync();
  const { B, H, W, C, OH, OW, KH, KW, SH, SW, PT, PL } = geo.read(i32, geom);
  const xb = dx >>> 2;
  let di = dy >>> 2;
  for (let b = 0; b < B; b++) {
    for (let oh = 0; oh < OH; oh++) {
      const r = oh * SH - PT, ihLo = Math.max(0, r), ihHi = Math.min(H, r + KH);
      for (let ow = 0; ow < OW; ow++) {
        const s = ow * SW - PL, iwLo = Math.max(0, s), iwHi = Math.min(W, s + KW);
        const n = (ihHi - ihLo) * (iwHi - iwLo);
        for (let ih = ihLo; ih < ihHi; ih++) {
          for (let iw = iwLo; iw < iwHi; iw++) {
            const xi = xb + ((b * H + ih) * W + iw) * C;
            for (let c = 0; c < C; c++) f[xi + c] = f[xi + c]! + fround(f[di + c]! / n);
          }
        }
        di += C;
      }
    }
  }
}

export function globalAvgPoolForward(heap: HeapViews, y: Ptr, x: Ptr, B: number, HW: number, C: number): void {
  const f = heap.sync().f32;
  for (let b = 0; b < B; b++) {
    const yi = (y >>> 2) + b * C;
    f.fill(0, yi, yi + C);
    let xi = (x >>> 2) + b * HW * C;
    for (let p = 0; p < HW; p++, xi += C) for (let c = 0; c < C; c++) f[yi + c] = f[yi + c]! + f[xi + c]!;
    for (let c = 0; c < C; c++) f[yi + c] = f[yi + c]! / HW;
  }
}

export function globalAvgPoolBackward(heap: HeapViews, dx: Ptr, dy: Ptr, B: number, HW: number, C: number): void {
  const f = heap.sync().f32;
  for (let b = 0; b < B; b++) {
    const di = (dy >>> 2) + b * C;
    let xi = (dx >>> 2) + b * HW * C;
    for (let p = 0; p < HW; p++, xi += C) for (let c = 0; c < C; c++) f[xi + c] = f[xi + c]! + fround(f[di + c]! / HW);
  }
}
