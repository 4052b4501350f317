// Depthwise 2-D convolution (Cg = C/G == 1: one input channel per group), NHWC, forward and
// backward side by side. conv.ts dispatches here for G == C > 1, and for backward-data of any
// one-channel input; the geometry is the same struct.
//
// Shapes: x, dx (B,H,W,C)   y, dy (B,OH,OW,OC)   w, dw (KH,KW,1,OC)   m = OC/C (channel multiplier)
//   output channel o reads input channel o / m; w[kh,kw,0,o] is at ((kh*KW + kw)*OC + o)*4
//   forward          y[b,oh,ow,o]  = sum_{kh,kw} x[b,ih,iw,o/m] * w[kh,kw,0,o]
//   backward data    dx[b,ih,iw,c] += sum_{kh,kw,j<m} dy[b,oh,ow,c*m+j] * w[kh,kw,0,c*m+j]
//   backward filter  dw[kh,kw,0,o] += sum_{b,oh,ow} x[b,ih,iw,o/m] * dy[b,oh,ow,o]
//   with ih = oh*SH - PT + kh, iw = ow*SW - PL + kw; taps outside the input are skipped.
//
// A tap is K = 1 deep, so there is nothing for a GEMM to block: the loops are direct and
// vectorised over channels, which NHWC keeps contiguous. m == 1 (the common case, MobileNet's)
// runs on f32x4 in the SIMD build, 16 channels (4 independent accumulators) at a time, then 4,
// then one; other multipliers and the scalar build run the scalar loops over (c, j).
// - forward and backward-data gather: each output (resp. input) pixel sums its valid taps in
//   registers and is written once; for a strided layer the input pixel's taps are those with
//   (ih + PT - kh) % SH == 0, a stride-SH progression. Runs of four pixels whose windows are
//   whole in the columns share each weight load (dotTaps4: four independent sums); a 3-wide
//   window at stride 1 also shares the input: a window row's 6 columns are loaded once for the
//   four pixels' 12 products (dotTaps4x3). Measured at 14x14x32, batch 128: forward 34% -> 48%,
//   backward-data 26% -> 47% of the SIMD peak against one pixel at a time. (Nine tap sums of a
//   3x3 window held at once for the filter gradient measured slower than the per-tap loop.)
// - backward-filter: a tap's valid output pixels form a rectangle; a block of rows of one
//   image is reduced per (tap, channel block), so the block's x and dy stay in cache across taps.

// Output pixels per block of the filter reduction (whole rows): a block's x and dy rows stay in
// L1 while its taps and channel blocks sweep them (1024 measured 0.8x of this at 14x14x32).
const FILTER_BLOCK_PIXELS: i32 = 128;

import {
  rowsForward, rowsForwardFits, rowsBackwardData, rowsBackwardDataFits, rowsBackwardFilter, rowsBackwardFilterFits,
} from './depthwise_rows';
import { madd } from './madd';

let B: i32 = 0, H: i32 = 0, W: i32 = 0, C: i32 = 0, OH: i32 = 0, OW: i32 = 0, OC: i32 = 0;
let KH: i32 = 0, KW: i32 = 0, SH: i32 = 0, SW: i32 = 0, PT: i32 = 0, PL: i32 = 0, M: i32 = 0;

function readGeometry(geom: usize): void {
  B = load<i32>(geom); H = load<i32>(geom, 4); W = load<i32>(geom, 8); C = load<i32>(geom, 12);
  OH = load<i32>(geom, 16); OW = load<i32>(geom, 20); OC = load<i32>(geom, 24);
  KH = load<i32>(geom, 28); KW = load<i32>(geom, 32); SH = load<i32>(geom, 36); SW = load<i32>(geom, 40);
  PT = load<i32>(geom, 44); PL = load<i32>(geom, 48);
  M = OC / C;
}

// ---- forward ---------------------------------------------------------------------------------

export function depthwiseForward(y: usize, x: usize, w: usize, geom: usize): void {
  if (ASC_FEATURE_SIMD && rowsForwardFits(geom, w)) { rowsForward(y, x, w, geom); return; }
  readGeometry(geom);
  const xPix = <usize>C << 2, xRow = <usize>W * xPix, wTap = <usize>OC << 2;
  let yp = y;
  for (let b = 0; b < B; b++) {
    const img = x + <usize>b * H * xRow;
    for (let oh = 0; oh < OH; oh++) {
      const ih0 = oh * SH - PT;
      const khLo = max(0, -ih0), khHi = min(KH, H - ih0);
      for (let ow = 0; ow < OW;) {
        const iw0 = ow * SW - PL;
        const kwLo = max(0, -iw0), kwHi = min(KW, W - iw0);
        // first valid tap: x at (ih0 + khLo, iw0 + kwLo), w at (khLo, kwLo)
        const x0 = img + <usize>(ih0 + khLo) * xRow + <usize>(iw0 + kwLo) * xPix;
        const w0 = w + <usize>(khLo * KW + kwLo) * wTap;
        // four pixels whose windows are all whole in the columns: one pass over the taps for all four
        if (ASC_FEATURE_SIMD && M == 1 && iw0 >= 0 && ow + 3 < OW && (ow + 3) * SW - PL + KW <= W) {
          if (KW == 3 && SW == 1) dotTaps4x3(yp, wTap, x0, xPix, xRow, w0, wTap, <usize>KW * wTap, khHi - khLo, false);
          else dotTaps4(yp, wTap, x0, <usize>SW * xPix, xRow, xPix, w0, <usize>KW * wTap, wTap, khHi - khLo, KW, false);
          if (OC & 3) for (let i = 0; i < 4; i++) {
            dotTaps(yp + <usize>i * wTap, x0 + <usize>(i * SW) * xPix, xRow, xPix, w0, <usize>KW * wTap, wTap, khHi - khLo, KW, false, OC & ~3);
          }
          yp += wTap << 2;
          ow += 4;
          continue;
        }
        dotTaps(yp, x0, xRow, xPix, w0, <usize>KW * wTap, wTap, khHi - khLo, kwHi - kwLo, false, 0);
        yp += wTap;
        ow++;
      }
    }
  }
}

/**
 * out[o] (+)= sum over nr x nc taps of in[o/m] * w[o], o < OC: tap (r, s) reads in at
 * inp + r*inRow + s*inCol and w at wp + r*wRow + s*wCol (byte steps, any sign).
 * In forward `in` is x; in backward-data (m == 1 only) it is dy, with `out` dx.
 */
function dotTaps(out: usize, inp: usize, inRow: usize, inCol: usize, wp: usize, wRow: usize, wCol: usize,
                 nr: i32, nc: i32, accumulate: bool, o0: i32): void {
  let o = o0;
  if (ASC_FEATURE_SIMD && M == 1) {
    for (; o + 16 <= OC; o += 16) {
      const oo = <usize>o << 2;
      let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
      let ir = inp + oo, wr = wp + oo;
      for (let r = 0; r < nr; r++) {
        let ip = ir, wq = wr;
        for (let s = 0; s < nc; s++) {
          a0 = madd(a0, v128.load(ip), v128.load(wq));
          a1 = madd(a1, v128.load(ip, 16), v128.load(wq, 16));
          a2 = madd(a2, v128.load(ip, 32), v128.load(wq, 32));
          a3 = madd(a3, v128.load(ip, 48), v128.load(wq, 48));
          ip += inCol; wq += wCol;
        }
        ir += inRow; wr += wRow;
      }
      const p = out + oo;
      if (accumulate) {
        a0 = f32x4.add(v128.load(p), a0); a1 = f32x4.add(v128.load(p, 16), a1);
        a2 = f32x4.add(v128.load(p, 32), a2); a3 = f32x4.add(v128.load(p, 48), a3);
      }
      v128.store(p, a0); v128.store(p, a1, 16); v128.store(p, a2, 32); v128.store(p, a3, 48);
    }
    for (; o + 4 <= OC; o += 4) {
      const oo = <usize>o << 2;
      let a0 = f32x4.splat(0);
      let ir = inp + oo, wr = wp + oo;
      for (let r = 0; r < nr; r++) {
        let ip = ir, wq = wr;
        for (let s = 0; s < nc; s++) {
          a0 = madd(a0, v128.load(ip), v128.load(wq));
          ip += inCol; wq += wCol;
        }
        ir += inRow; wr += wRow;
      }
      const p = out + oo;
      v128.store(p, accumulate ? f32x4.add(v128.load(p), a0) : a0);
    }
  }
  // scalar: channels o .. OC-1, input channel o / M
  for (; o < OC; o++) {
    const io = <usize>(o / M) << 2, oo = <usize>o << 2;
    let a: f32 = 0;
    let ir = inp + io, wr = wp + oo;
    for (let r = 0; r < nr; r++) {
      let ip = ir, wq = wr;
      for (let s = 0; s < nc; s++) {
        a += load<f32>(ip) * load<f32>(wq);
        ip += inCol; wq += wCol;
      }
      ir += inRow; wr += wRow;
    }
    const p = out + oo;
    store<f32>(p, accumulate ? load<f32>(p) + a : a);
  }
}

/**
 * dotTaps for four pixels at once (m == 1, SIMD): pixel i reads in at inp + i*inPix and writes
 * out + i*outPix; a 4-channel block's taps are walked once with one weight load feeding four
 * multiply-adds (four independent sums instead of one). Channels past the last whole block of
 * four are left to the caller (dotTaps, pixel by pixel).
 */
function dotTaps4(out: usize, outPix: usize, inp: usize, inPix: usize, inRow: usize, inCol: usize, wp: usize,
                  wRow: usize, wCol: usize, nr: i32, nc: i32, accumulate: bool): void {
  const p2 = inPix << 1, p3 = p2 + inPix;
  const o4 = OC & ~3;
  for (let o = 0; o < o4; o += 4) {
    const oo = <usize>o << 2;
    let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
    let ir = inp + oo, wr = wp + oo;
    for (let r = 0; r < nr; r++) {
      let ip = ir, wq = wr;
      for (let s = 0; s < nc; s++) {
        const wv = v128.load(wq);
        a0 = madd(a0, v128.load(ip), wv);
        a1 = madd(a1, v128.load(ip + inPix), wv);
        a2 = madd(a2, v128.load(ip + p2), wv);
        a3 = madd(a3, v128.load(ip + p3), wv);
        ip += inCol; wq += wCol;
      }
      ir += inRow; wr += wRow;
    }
    const q = out + oo;
    put(q, a0, accumulate); put(q + outPix, a1, accumulate);
    put(q + (outPix << 1), a2, accumulate); put(q + 3 * outPix, a3, accumulate);
  }
}

/**
 * dotTaps4 for a window 3 columns wide at stride 1 (the common depthwise 3x3): pixel i, tap
 * column t reads input column i + t, so each window row loads its 6 columns once (cols at
 * c0 + j*colStep) and the 3 weights of that row (w0 + t*wTap for t < 3; wTap may be negative),
 * and does 12 multiply-adds with them. Rows advance by inRow and wRow.
 */
function dotTaps4x3(out: usize, outPix: usize, c0: usize, colStep: usize, inRow: usize, w0: usize, wTap: usize,
                    wRow: usize, nr: i32, accumulate: bool): void {
  const s2 = colStep << 1, s3 = s2 + colStep, s4 = s2 << 1, s5 = s4 + colStep;
  const o4 = OC & ~3;
  for (let o = 0; o < o4; o += 4) {
    const oo = <usize>o << 2;
    let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
    let ir = c0 + oo, wr = w0 + oo;
    for (let r = 0; r < nr; r++) {
      const x0 = v128.load(ir), x1 = v128.load(ir + colStep), x2 = v128.load(ir + s2);
      const x3 = v128.load(ir + s3), x4 = v128.load(ir + s4), x5 = v128.load(ir + s5);
      let wv = v128.load(wr);
      a0 = madd(a0, x0, wv); a1 = madd(a1, x1, wv);
      a2 = madd(a2, x2, wv); a3 = madd(a3, x3, wv);
      wv = v128.load(wr + wTap);
      a0 = madd(a0, x1, wv); a1 = madd(a1, x2, wv);
      a2 = madd(a2, x3, wv); a3 = madd(a3, x4, wv);
      wv = v128.load(wr + (wTap << 1));
      a0 = madd(a0, x2, wv); a1 = madd(a1, x3, wv);
      a2 = madd(a2, x4, wv); a3 = madd(a3, x5, wv);
      ir += inRow; wr += wRow;
    }
    const q = out + oo;
    put(q, a0, accumulate); put(q + outPix, a1, accumulate);
    put(q + (outPix << 1), a2, accumulate); put(q + 3 * outPix, a3, accumulate);
  }
}

// @ts-ignore: decorator
@inline function put(p: usize, v: v128, accumulate: bool): void {
  v128.store(p, accumulate ? f32x4.add(v128.load(p), v) : v);
}

// ---- backward data ---------------------------------------------------------------------------

export function depthwiseBackwardData(dx: usize, dy: usize, w: usize, geom: usize): void {
  if (ASC_FEATURE_SIMD && rowsBackwardDataFits(geom, w)) { rowsBackwardData(dx, dy, w, geom); return; }
  readGeometry(geom);
  const dPix = <usize>OC << 2, dRow = <usize>OW * dPix, wTap = <usize>OC << 2;
  const xPix = <usize>C << 2;
  let xp = dx;
  for (let b = 0; b < B; b++) {
    const img = dy + <usize>b * OH * dRow;
    for (let ih = 0; ih < H; ih++) {
      // taps kh = ih + PT - oh*SH with 0 <= oh < OH and 0 <= kh < KH: oh from ohHi down to ohLo
      const e = ih + PT;
      const ohHi = min(OH - 1, floorDiv(e, SH)), ohLo = max(0, ceilDiv(e - KH + 1, SH));
      const nr = ohHi - ohLo + 1;
      for (let iw = 0; iw < W;) {
        const f = iw + PL;
        const owHi = min(OW - 1, floorDiv(f, SW)), owLo = max(0, ceilDiv(f - KW + 1, SW));
        const nc = owHi - owLo + 1;
        if (nr > 0 && nc > 0) {
          // taps in order of increasing kh, kw: dy steps back a row (col), w forward SH*KW (SW) taps
          const d0 = img + <usize>ohHi * dRow + <usize>owHi * dPix;
          const w0 = w + <usize>((e - ohHi * SH) * KW + f - owHi * SW) * wTap;
          const wRow = <usize>(SH * KW) * wTap, wCol = <usize>SW * wTap;
          // stride 1: four input pixels whose windows are whole in the columns read dy one pixel apart
          if (ASC_FEATURE_SIMD && M == 1 && SW == 1 && f - KW + 1 >= 0 && iw + 3 < W && f + 3 < OW) {
            // tap kw reads dy column f + i - kw: columns from f - (KW-1), the weights right to left
            if (KW == 3) dotTaps4x3(xp, xPix, d0 - (dPix << 1), dPix, 0 - dRow, w0 + (wCol << 1), 0 - wCol, wRow, nr, true);
            else dotTaps4(xp, xPix, d0, dPix, 0 - dRow, 0 - dPix, w0, wRow, wCol, nr, KW, true);
            if (OC & 3) for (let i = 0; i < 4; i++) {
              dotTaps(xp + <usize>i * xPix, d0 + <usize>i * dPix, 0 - dRow, 0 - dPix, w0, wRow, wCol, nr, KW, true, OC & ~3);
            }
            xp += xPix << 2;
            iw += 4;
            continue;
          }
          if (M == 1) dotTaps(xp, d0, 0 - dRow, 0 - dPix, w0, wRow, wCol, nr, nc, true, 0);
          else foldTaps(xp, d0, 0 - dRow, 0 - dPix, w0, wRow, wCol, nr, nc);
        }
        xp += xPix;
        iw++;
      }
    }
  }
}

// dx[c] += sum over taps and j < m of d[c*m + j] * w[c*m + j] (multiplier m > 1), j vectorised
// where m >= 4 (a one-channel input with many outputs: LeNet's first layer).
function foldTaps(dxp: usize, d0: usize, dRow: usize, dCol: usize, w0: usize, wRow: usize, wCol: usize,
                  nr: i32, nc: i32): void {
  for (let c = 0; c < C; c++) {
    const oo = <usize>(c * M) << 2;
    const a = ASC_FEATURE_SIMD && M >= 4
      ? foldChannelSimd(d0 + oo, dRow, dCol, w0 + oo, wRow, wCol, nr, nc)
      : foldChannel(d0 + oo, dRow, dCol, w0 + oo, wRow, wCol, nr, nc, 0);
    const p = dxp + (<usize>c << 2);
    store<f32>(p, load<f32>(p) + a);
  }
}

// sum over taps of d[j] * w[j] for j0 <= j < M
function foldChannel(dr: usize, dRow: usize, dCol: usize, wr: usize, wRow: usize, wCol: usize, nr: i32, nc: i32, j0: i32): f32 {
  let a: f32 = 0;
  for (let r = 0; r < nr; r++) {
    let dp = dr, wq = wr;
    for (let s = 0; s < nc; s++) {
      for (let j = j0; j < M; j++) a += load<f32>(dp + (<usize>j << 2)) * load<f32>(wq + (<usize>j << 2));
      dp += dCol; wq += wCol;
    }
    dr += dRow; wr += wRow;
  }
  return a;
}

// the same, j < M & ~3 four at a time (lanes summed at the end), the rest by foldChannel
function foldChannelSimd(d0: usize, dRow: usize, dCol: usize, w0: usize, wRow: usize, wCol: usize, nr: i32, nc: i32): f32 {
  const m4 = M & ~3;
  let av = f32x4.splat(0);
  let dr = d0, wr = w0;
  for (let r = 0; r < nr; r++) {
    let dp = dr, wq = wr;
    for (let s = 0; s < nc; s++) {
      for (let j = 0; j < m4; j += 4) av = madd(av, v128.load(dp + (<usize>j << 2)), v128.load(wq + (<usize>j << 2)));
      dp += dCol; wq += wCol;
    }
    dr += dRow; wr += wRow;
  }
  const v = (f32x4.extract_lane(av, 0) + f32x4.extract_lane(av, 1)) + (f32x4.extract_lane(av, 2) + f32x4.extract_lane(av, 3));
  return m4 < M ? v + foldChannel(d0, dRow, dCol, w0, wRow, wCol, nr, nc, m4) : v;
}

// @ts-ignore: decorator
@inline function ceilDiv(a: i32, b: i32): i32 { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }
// @ts-ignore: decorator
@inline function floorDiv(a: i32, b: i32): i32 { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// ---- backward filter -------------------------------------------------------------------------

export function depthwiseBackwardFilter(dw: usize, x: usize, dy: usize, geom: usize): void {
  if (ASC_FEATURE_SIMD && rowsBackwardFilterFits(geom)) { rowsBackwardFilter(dw, x, dy, geom); return; }
  readGeometry(geom);
  const xPix = <usize>C << 2, xRow = <usize>W * xPix, dPix = <usize>OC << 2, dRow = <usize>OW * dPix;
  const rows = max(1, FILTER_BLOCK_PIXELS / OW);
  for (let b = 0; b < B; b++) {
    const ximg = x + <usize>b * H * xRow, dimg = dy + <usize>b * OH * dRow;
    for (let r0 = 0; r0 < OH; r0 += rows) {
      const r1 = min(OH, r0 + rows);
      for (let kh = 0; kh < KH; kh++) {
        const ohLo = max(r0, ceilDiv(PT - kh, SH)), ohHi = min(r1, floorDiv(H - 1 + PT - kh, SH) + 1);
        if (ohLo >= ohHi) continue;
        for (let kw = 0; kw < KW; kw++) {
          const owLo = max(0, ceilDiv(PL - kw, SW)), owHi = min(OW, floorDiv(W - 1 + PL - kw, SW) + 1);
          if (owLo >= owHi) continue;
          const x0 = ximg + <usize>(ohLo * SH - PT + kh) * xRow + <usize>(owLo * SW - PL + kw) * xPix;
          const d0 = dimg + <usize>ohLo * dRow + <usize>owLo * dPix;
          reduceTap(dw + (<usize>((kh * KW + kw) * OC) << 2), x0, <usize>SH * xRow, <usize>SW * xPix, d0, dRow, dPix,
                    ohHi - ohLo, owHi - owLo);
        }
      }
    }
  }
}

// dwt[o] += sum over nr x nc pixels of x[o/m] * d[o]; pixel (r, s) at x0 + r*xRow + s*xCol, d0 + r*dRow + s*dCol.
function reduceTap(dwt: usize, x0: usize, xRow: usize, xCol: usize, d0: usize, dRow: usize, dCol: usize,
                   nr: i32, nc: i32): void {
  let o = 0;
  if (ASC_FEATURE_SIMD && M == 1) {
    for (; o + 16 <= OC; o += 16) {
      const oo = <usize>o << 2;
      let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
      let xr = x0 + oo, dr = d0 + oo;
      for (let r = 0; r < nr; r++) {
        let xp = xr, dp = dr;
        for (let s = 0; s < nc; s++) {
          a0 = madd(a0, v128.load(xp), v128.load(dp));
          a1 = madd(a1, v128.load(xp, 16), v128.load(dp, 16));
          a2 = madd(a2, v128.load(xp, 32), v128.load(dp, 32));
          a3 = madd(a3, v128.load(xp, 48), v128.load(dp, 48));
          xp += xCol; dp += dCol;
        }
        xr += xRow; dr += dRow;
      }
      const p = dwt + oo;
      v128.store(p, f32x4.add(v128.load(p), a0)); v128.store(p, f32x4.add(v128.load(p, 16), a1), 16);
      v128.store(p, f32x4.add(v128.load(p, 32), a2), 32); v128.store(p, f32x4.add(v128.load(p, 48), a3), 48);
    }
    for (; o + 4 <= OC; o += 4) {
      const oo = <usize>o << 2;
      let a0 = f32x4.splat(0);
      let xr = x0 + oo, dr = d0 + oo;
      for (let r = 0; r < nr; r++) {
        let xp = xr, dp = dr;
        for (let s = 0; s < nc; s++) {
          a0 = madd(a0, v128.load(xp), v128.load(dp));
          xp += xCol; dp += dCol;
        }
        xr += xRow; dr += dRow;
      }
      const p = dwt + oo;
      v128.store(p, f32x4.add(v128.load(p), a0));
    }
  }
  for (; o < OC; o++) {
    const xo = <usize>(o / M) << 2, oo = <usize>o << 2;
    let a: f32 = 0;
    let xr = x0 + xo, dr = d0 + oo;
    for (let r = 0; r < nr; r++) {
      let xp = xr, dp = dr;
      for (let s = 0; s < nc; s++) {
        a += load<f32>(xp) * load<f32>(dp);
        xp += xCol; dp += dCol;
      }
      xr += xRow; dr += dRow;
    }
    const p = dwt + oo;
    store<f32>(p, load<f32>(p) + a);
  }
}
