// Backward-filter of a pointwise convolution (1x1, stride 1, unpadded, ungrouped), SIMD build:
// dw (C,OC) += xᵀ dy with x (P,C), dy (P,OC), P = B*H*W pixels, as the tensors lie.
//
// sgemm (gemm.ts, TN) packs a 384-pixel block of x and of dy for each call's k-block, and with
// only C/4 x OC/8 register tiles (4 x 4 for 16 -> 32 channels) to reuse them, the packing is about
// a fifth of the work. Here a tile of 4 input channels x 8 output channels reads both tensors in
// place: per pixel, 4 splats of x's row and 2 vectors of dy's row, for 16 multiply-adds. Pixels go
// in blocks of PIXEL_BLOCK, so that a block's x and dy rows stay in L1 while every tile sweeps
// them; each tile adds its block sums into dw. Channels past the last block of 4 (C) or of 8 (OC)
// go one input channel / one output channel at a time.
// Determinism: blocks and tiles are a function of the shape alone.

import { madd } from './madd';

const PIXEL_BLOCK: i32 = 128;

/** dw[c, o] += sum over p < P of x[p, c] dy[p, o] for o < N; dw and dy rows are `ld` floats apart (N <= ld). */
export function pointwiseBackwardFilter(dw: usize, x: usize, dy: usize, P: i32, C: i32, N: i32, ld: i32): void {
  const xRow = <usize>C << 2, dRow = <usize>ld << 2;
  const c4 = C & ~3, o8 = N & ~7;
  for (let p0 = 0; p0 < P; p0 += PIXEL_BLOCK) {
    const np = min(PIXEL_BLOCK, P - p0);
    const xb = x + <usize>p0 * xRow, db = dy + <usize>p0 * dRow;
    for (let c = 0; c < C; c += 4) {
      for (let o = 0; o < o8; o += 8) {
        const w = dw + (<usize>(c * ld + o) << 2), xs = xb + (<usize>c << 2), ds = db + (<usize>o << 2);
        if (c < c4) tile4x8(w, dRow, xs, xRow, ds, dRow, np);
        else for (let i = c; i < C; i++) tile1x8(dw + (<usize>(i * ld + o) << 2), xb + (<usize>i << 2), xRow, ds, dRow, np);
      }
      // output channels past the last block of 8, one at a time
      for (let o = o8; o < N; o++) {
        for (let i = c; i < min(c + 4, C); i++) {
          let s: f32 = 0;
          let xp = xb + (<usize>i << 2), dp = db + (<usize>o << 2);
          for (let p = 0; p < np; p++) { s += load<f32>(xp) * load<f32>(dp); xp += xRow; dp += dRow; }
          const q = dw + (<usize>(i * ld + o) << 2);
          store<f32>(q, load<f32>(q) + s);
        }
      }
    }
  }
}

// dw rows i < 4 (ldw bytes apart), lanes 8 += sum over np pixels of x[p][i] * dy[p][0..7].
function tile4x8(dw: usize, ldw: usize, x: usize, xRow: usize, d: usize, dRow: usize, np: i32): void {
  let c00 = f32x4.splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  const xEnd = x + <usize>np * xRow;
  while (x < xEnd) {
    const b0 = v128.load(d), b1 = v128.load(d, 16);
    let a = v128.load32_splat(x);
    c00 = madd(c00, a, b0); c01 = madd(c01, a, b1);
    a = v128.load32_splat(x, 4);
    c10 = madd(c10, a, b0); c11 = madd(c11, a, b1);
    a = v128.load32_splat(x, 8);
    c20 = madd(c20, a, b0); c21 = madd(c21, a, b1);
    a = v128.load32_splat(x, 12);
    c30 = madd(c30, a, b0); c31 = madd(c31, a, b1);
    x += xRow;
    d += dRow;
  }
  addRow(dw, c00, c01); addRow(dw + ldw, c10, c11); addRow(dw + 2 * ldw, c20, c21); addRow(dw + 3 * ldw, c30, c31);
}

// One input channel: dw[0..7] += sum over np pixels of x[p] * dy[p][0..7].
function tile1x8(dw: usize, x: usize, xRow: usize, d: usize, dRow: usize, np: i32): void {
  let c0 = f32x4.splat(0), c1 = c0;
  const xEnd = x + <usize>np * xRow;
  while (x < xEnd) {
    const a = v128.load32_splat(x);
    c0 = madd(c0, a, v128.load(d)); c1 = madd(c1, a, v128.load(d, 16));
    x += xRow;
    d += dRow;
  }
  addRow(dw, c0, c1);
}

// @ts-ignore: decorator
@inline function addRow(p: usize, lo: v128, hi: v128): void {
  v128.store(p, f32x4.add(v128.load(p), lo));
  v128.store(p, f32x4.add(v128.load(p, 16), hi), 16);
}
