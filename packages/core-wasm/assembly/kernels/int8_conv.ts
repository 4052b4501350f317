// int8 convolution, NHWC, inference only: the gather that turns a convolution into the int8
// GEMM (im2colI8, then gemmI8 of int8.ts), and a direct depthwise kernel. Both are exact (a
// byte copy; integer sums), so the SIMD build, this scalar build and the JS backend
// (../../src/backends/js/int8_conv.ts) give the same bits.
//
// Shapes (geometry struct `geom`, ../../src/abi.ts "Convolution geometry"):
//   x (B,H,W,C) i8, the quantized input        window of output pixel (oh, ow):
//   ih = oh*SH - PT + kh, iw = ow*SW - PL + kw   (kh < KH, kw < KW); outside the image reads 0
//
// im2colI8 (G == 1): col (np, KH*KW*C) i8; row p is output pixel q = p0 + p of the flattened
//   (B, OH, OW) index, and col[p, (kh*KW + kw)*C + c] = x[b, ih, iw, c] (0 outside). With the
//   weights (KH,KW,C,OC) read as a (KH*KW*C, OC) matrix, gemmI8(col, W) is the convolution of
//   those np pixels: the caller walks the output in chunks of pixels so that col stays small.
//   NHWC makes the kw-run of one kernel row one contiguous span of x (the pixels inside the
//   image, C bytes each), so a row of col is KH copies and at most 2 KH zero fills.
//
// depthwiseConvI8 (G == C, channel multiplier M = OC/C): acc (B,OH,OW,OC) i32,
//   w (KH,KW,1,OC) i8 (HWIO with C/G = 1), acc[b,oh,ow,o] = sum over the taps inside the image of
//   x[b,ih,iw,o/M] * w[kh,kw,0,o]. |acc| <= KH*KW*127^2 < 2^31 for KH*KW <= 4096 (checked by the
//   typed API). A tap is one multiply per channel, nothing for a GEMM to block, and as a GEMM
//   the depthwise layer would multiply C - 1 zeros for every product it needs (im2col + gemmI8 on
//   block-diagonal weights measured 6 to 17 times slower than this kernel on mobilenet-tiny's
//   depthwise shapes at batch 128): so the loop is direct, over channels. SIMD with M == 1: 16
//   channels per step, sign-extended to i16 and multiplied in i16 (|x w| <= 128^2 fits), then
//   widened into four i32x4 accumulators; 8 channels with i32x4.extmul; the scalar build and
//   other multipliers loop over channels.

let B: i32 = 0, H: i32 = 0, W: i32 = 0, C: i32 = 0, OH: i32 = 0, OW: i32 = 0, OC: i32 = 0;
let KH: i32 = 0, KW: i32 = 0, SH: i32 = 0, SW: i32 = 0, PT: i32 = 0, PL: i32 = 0;

function readGeometry(geom: usize): void {
  B = load<i32>(geom); H = load<i32>(geom, 4); W = load<i32>(geom, 8); C = load<i32>(geom, 12);
  OH = load<i32>(geom, 16); OW = load<i32>(geom, 20); OC = load<i32>(geom, 24);
  KH = load<i32>(geom, 28); KW = load<i32>(geom, 32); SH = load<i32>(geom, 36); SW = load<i32>(geom, 40);
  PT = load<i32>(geom, 44); PL = load<i32>(geom, 48);
}

/** col (np, KH*KW*C) i8 = the windows of output pixels p0 .. p0 + np - 1 of x (B,H,W,C) i8. */
export function im2colI8(col: usize, x: usize, geom: usize, p0: i32, np: i32): void {
  readGeometry(geom);
  if (np <= 0) return;
  const rowBytes = <usize>C, imgRow = <usize>W * rowBytes, img = <usize>H * imgRow;
  const runBytes = <usize>KW * rowBytes;
  const pixels = OH * OW;
  colEnd = col + <usize>np * <usize>KH * runBytes;
  xEnd = x + <usize>B * img;
  // the first pixel's (b, oh, ow); then stepped, not divided, per pixel
  let b = p0 / pixels, ow = p0 - b * pixels, oh = ow / OW;
  ow -= oh * OW;
  let d = col;
  for (let q = 0; q < np; q++) {
    const ih0 = oh * SH - PT, iw0 = ow * SW - PL;
    const kwLo = max(0, -iw0), kwHi = min(KW, W - iw0);
    const before = <usize>kwLo * rowBytes, inside = <usize>(kwHi - kwLo) * rowBytes;
    const after = runBytes - before - inside;
    const src0 = x + <usize>b * img + <usize>(iw0 + kwLo) * rowBytes;
    for (let kh = 0; kh < KH; kh++) {
      const ih = ih0 + kh;
      if (ih < 0 || ih >= H) {
        zeroRun(d, runBytes);
      } else {
        if (before > 0) zeroRun(d, before);
        copyRun(d + before, src0 + <usize>ih * imgRow, inside);
        if (after > 0) zeroRun(d + before + inside, after);
      }
      d += runBytes;
    }
    if (++ow == OW) {
      ow = 0;
      if (++oh == OH) { oh = 0; b++; }
    }
  }
}

// End of this call's col and of x: a run may move whole 8- (16-) byte words past its end, as long
// as they stay inside col (and inside x, for the reads).
let colEnd: usize = 0, xEnd: usize = 0;

// A row of col is made of runs of KW*C bytes or less, often a few bytes (C = 1 for a grey image),
// where a memory.copy call costs more than the move. Runs are written in increasing address order
// and col is covered contiguously, so the bytes a word writes past a run's end are rewritten by
// the runs that follow; only the last run of the call (and a read near x's end) goes byte by byte.
// @ts-ignore: decorator
@inline function copyRun(d: usize, s: usize, n: usize): void {
  if (ASC_FEATURE_SIMD && n >= 16) {
    const n16 = (n + 15) & ~(<usize>15);
    if (d + n16 <= colEnd && s + n16 <= xEnd) {
      for (let i: usize = 0; i < n; i += 16) v128.store(d + i, v128.load(s + i));
      return;
    }
  }
  const n8 = (n + 7) & ~(<usize>7);
  if (d + n8 <= colEnd && s + n8 <= xEnd) {
    for (let i: usize = 0; i < n; i += 8) store<u64>(d + i, load<u64>(s + i));
    return;
  }
  if (n > 256) { memory.copy(d, s, n); return; }
  let i: usize = 0;
  for (; i + 8 <= n; i += 8) store<u64>(d + i, load<u64>(s + i));
  for (; i < n; i++) store<u8>(d + i, load<u8>(s + i));
}

// @ts-ignore: decorator
@inline function zeroRun(d: usize, n: usize): void {
  if (d + ((n + 7) & ~(<usize>7)) <= colEnd) {
    for (let i: usize = 0; i < n; i += 8) store<u64>(d + i, 0);
    return;
  }
  let i: usize = 0;
  for (; i + 8 <= n; i += 8) store<u64>(d + i, 0);
  for (; i < n; i++) store<u8>(d + i, 0);
}

/** acc (B,OH,OW,OC) i32 = depthwise convolution of x (B,H,W,C) i8 with w (KH,KW,1,OC) i8. */
export function depthwiseConvI8(acc: usize, x: usize, w: usize, geom: usize): void {
  readGeometry(geom);
  const M = OC / C;
  const xRow = <usize>W * <usize>C, wTap = <usize>OC;
  let yp = acc;
  for (let b = 0; b < B; b++) {
    const img = x + <usize>b * <usize>H * xRow;
    for (let oh = 0; oh < OH; oh++) {
      const ih0 = oh * SH - PT;
      const khLo = max(0, -ih0), khHi = min(KH, H - ih0);
      for (let ow = 0; ow < OW; ow++) {
        const iw0 = ow * SW - PL;
        const kwLo = max(0, -iw0), kwHi = min(KW, W - iw0);
        const x0 = img + <usize>(ih0 + khLo) * xRow + <usize>(iw0 + kwLo) * <usize>C;
        const w0 = w + <usize>(khLo * KW + kwLo) * wTap;
        depthwiseTaps(yp, x0, xRow, w0, <usize>KW * wTap, wTap, khHi - khLo, kwHi - kwLo, M);
        yp += wTap << 2;
      }
    }
  }
}

// out[o] = sum over nr x nc taps of in[o / M] * w[o], o < OC: tap (r, s) reads in at
// inp + r*inRow + s*C and w at wp + r*wRow + s*wCol (bytes).
function depthwiseTaps(out: usize, inp: usize, inRow: usize, wp: usize, wRow: usize, wCol: usize,
                       nr: i32, nc: i32, M: i32): void {
  const inCol = <usize>C;
  let o = 0;
  if (ASC_FEATURE_SIMD && M == 1) {
    for (; o + 16 <= OC; o += 16) {
      const oo = <usize>o;
      let a0 = i32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
      let ir = inp + oo, wr = wp + oo;
      for (let r = 0; r < nr; r++) {
        let ip = ir, wq = wr;
        for (let s = 0; s < nc; s++) {
          const xv = v128.load(ip), wv = v128.load(wq);
          // |x w| <= 128^2 fits i16: one i16 multiply per 8 lanes, then widened into the i32 sums
          const pl = i16x8.mul(i16x8.extend_low_i8x16_s(xv), i16x8.extend_low_i8x16_s(wv));
          const ph = i16x8.mul(i16x8.extend_high_i8x16_s(xv), i16x8.extend_high_i8x16_s(wv));
          a0 = i32x4.add(a0, i32x4.extend_low_i16x8_s(pl));
          a1 = i32x4.add(a1, i32x4.extend_high_i16x8_s(pl));
          a2 = i32x4.add(a2, i32x4.extend_low_i16x8_s(ph));
          a3 = i32x4.add(a3, i32x4.extend_high_i16x8_s(ph));
          ip += inCol; wq += wCol;
        }
        ir += inRow; wr += wRow;
      }
      const d = out + (oo << 2);
      v128.store(d, a0); v128.store(d, a1, 16); v128.store(d, a2, 32); v128.store(d, a3, 48);
    }
    for (; o + 8 <= OC; o += 8) {
      const oo = <usize>o;
      let a0 = i32x4.splat(0), a1 = a0;
      let ir = inp + oo, wr = wp + oo;
      for (let r = 0; r < nr; r++) {
        let ip = ir, wq = wr;
        for (let s = 0; s < nc; s++) {
          const xl = i16x8.extend_low_i8x16_s(v128.load64_zero(ip)), wl = i16x8.extend_low_i8x16_s(v128.load64_zero(wq));
          a0 = i32x4.add(a0, i32x4.extmul_low_i16x8_s(xl, wl));
          a1 = i32x4.add(a1, i32x4.extmul_high_i16x8_s(xl, wl));
          ip += inCol; wq += wCol;
        }
        ir += inRow; wr += wRow;
      }
      const d = out + (oo << 2);
      v128.store(d, a0); v128.store(d, a1, 16);
    }
  }
  for (; o < OC; o++) {
    const c = <usize>(o / M);
    let s0 = 0;
    let ir = inp + c, wr = wp + <usize>o;
    for (let r = 0; r < nr; r++) {
      let ip = ir, wq = wr;
      for (let s = 0; s < nc; s++) {
        s0 += <i32>load<i8>(ip) * <i32>load<i8>(wq);
        ip += inCol; wq += wCol;
      }
      ir += inRow; wr += wRow;
    }
    store<i32>(out + (<usize>o << 2), s0);
  }
}
