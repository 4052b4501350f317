// Depthwise convolutions with 3-wide windows at column stride 1 (multiplier 1, SIMD build), one
// output row of one 4-channel block at a time: the fast paths of depthwise.ts.
//
// Shapes as depthwise.ts: x, dx (B,H,W,C)   y, dy (B,OH,OW,C)   w, dw (KH,3,1,C)
//
// Why rows. A 3x3 window of 4 channels is 9 multiply-adds per output vector: too little to hide
// a tile's set-up, and in NHWC a tile's neighbouring columns are C*4 bytes apart, a stride V8
// turns into one address instruction per load. Walking one output row instead, input column by
// input column, each column (3 rows: 3 loads, one pointer step each) is used by the three
// outputs whose windows hold it; the 9 weights of the block stay in registers for the whole row,
// and an output is stored as soon as its last column is in:
//   column j adds  col_j . w[., 2] into y[j + PL - 2] (then complete, stored),
//                  col_j . w[., 1] into y[j + PL - 1],  col_j . w[., 0] starts y[j + PL].
// Each addend is summed over the 3 rows first, so an accumulator's dependency chain grows by
// one add per column. Window rows outside the input read a zero row (scratch); columns outside
// it are never loaded. Zero rows enter products with the weights, so these paths take finite
// weights only (depthwise.ts keeps the exact loops for the rest).
// - forward: y = the row sums over x;
// - backward-data (stride 1): dx[ih, iw] += sum of dy[ih + PT - kh, iw + PL - kw] w[kh, kw], the
//   same walk over dy with the weights rotated by 180 degrees and padding KH-1-PT, KW-1-PL.

import { scratchBase, SCRATCH_BYTES } from '../memory';
import { madd } from './madd';

let B: i32 = 0, H: i32 = 0, W: i32 = 0, C: i32 = 0, OH: i32 = 0, OW: i32 = 0, OC: i32 = 0;
let KH: i32 = 0, KW: i32 = 0, SH: i32 = 0, SW: i32 = 0, PT: i32 = 0, PL: i32 = 0;

function readGeometry(geom: usize): void {
  B = load<i32>(geom); H = load<i32>(geom, 4); W = load<i32>(geom, 8); C = load<i32>(geom, 12);
  OH = load<i32>(geom, 16); OW = load<i32>(geom, 20); OC = load<i32>(geom, 24);
  KH = load<i32>(geom, 28); KW = load<i32>(geom, 32); SH = load<i32>(geom, 36); SW = load<i32>(geom, 40);
  PT = load<i32>(geom, 44); PL = load<i32>(geom, 48);
}

/** Whether the n floats at p are all finite. */
function allFinite(p: usize, n: i32): bool {
  for (let i = 0; i < n; i++) if ((load<u32>(p + (<usize>i << 2)) & 0x7f800000) == 0x7f800000) return false;
  return true;
}

/** Whether depthwiseForward's row walk takes this geometry and these weights. */
export function rowsForwardFits(geom: usize, w: usize): bool {
  readGeometry(geom);
  return OC == C && C >= 4 && KH == 3 && KW == 3 && SW == 1 && <usize>(W * C) << 2 <= SCRATCH_BYTES && allFinite(w, 9 * C);
}

/** Whether depthwiseBackwardData's row walk takes this geometry and these weights. */
export function rowsBackwardDataFits(geom: usize, w: usize): bool {
  readGeometry(geom);
  return OC == C && C >= 4 && KH == 3 && KW == 3 && SW == 1 && SH == 1 && <usize>(OW * C) << 2 <= SCRATCH_BYTES && allFinite(w, 9 * C);
}

export function rowsForward(y: usize, x: usize, w: usize, geom: usize): void {
  readGeometry(geom);
  walk(y, x, w, H, W, OH, OW, SH, PT, PL, false);
}

export function rowsBackwardData(dx: usize, dy: usize, w: usize, geom: usize): void {
  readGeometry(geom);
  walk(dx, dy, w, OH, OW, H, W, 1, KH - 1 - PT, KW - 1 - PL, true);
}

// out (B, nH, nW, C) (+)= the 3x3 window sums over `input` (B, inH, inW, C): output row t reads
// input rows t*step - top + r, column u reads input columns u - left + s; weights rotated if
// accumulating (backward-data). Channels past the last whole block of 4 go pixel by pixel.
function walk(out: usize, input: usize, w: usize, inH: i32, inW: i32, nH: i32, nW: i32, step: i32, top: i32, left: i32,
              rotate: bool): void {
  const pix = <usize>C << 2, inRow = <usize>inW * pix, outRow = <usize>nW * pix;
  const zero = scratchBase();
  memory.fill(zero, 0, inRow);
  const c4 = C & ~3;
  // columns whose three outputs all exist: j + left - 2 >= 0 stores; j < jEnd still feeds an output
  const jEnd = min(inW, nW + 2 - left);
  for (let b = 0; b < B; b++) {
    const img = input + <usize>b * inH * inRow;
    let o = out + <usize>b * nH * outRow;
    for (let t = 0; t < nH;) {
      const r = t * step - top;
      const r0 = r >= 0 && r < inH ? img + <usize>r * inRow : zero;
      const r1 = r + 1 >= 0 && r + 1 < inH ? img + <usize>(r + 1) * inRow : zero;
      const r2 = r + 2 >= 0 && r + 2 < inH ? img + <usize>(r + 2) * inRow : zero;
      if (step == 1 && t + 1 < nH) {
        // two output rows share the walk: 4 input rows feed both
        const r3 = r + 3 >= 0 && r + 3 < inH ? img + <usize>(r + 3) * inRow : zero;
        for (let c = 0; c < c4; c += 4) {
          const cb = <usize>c << 2;
          rowPair(o + cb, outRow, pix, r0 + cb, r1 + cb, r2 + cb, r3 + cb, w + cb, pix, left, jEnd, nW, rotate);
        }
        if (c4 < C) {
          rowTail(o, pix, r0, r1, r2, w, left, inW, nW, c4, rotate);
          rowTail(o + outRow, pix, r1, r2, r3, w, left, inW, nW, c4, rotate);
        }
        o += outRow << 1;
        t += 2;
        continue;
      }
      for (let c = 0; c < c4; c += 4) {
        const cb = <usize>c << 2;
        rowBlock(o + cb, pix, r0 + cb, r1 + cb, r2 + cb, w + cb, pix, left, jEnd, nW, rotate);
      }
      if (c4 < C) rowTail(o, pix, r0, r1, r2, w, left, inW, nW, c4, rotate);
      o += outRow;
      t++;
    }
  }
}

// One output row of one 4-channel block: o (first output pixel, channel block), step `pix`;
// rows p0..p2 (column 0 of the 3 input rows); weights wt[kh][kw] at wp + (kh*3 + kw)*wTap.
function rowBlock(o: usize, pix: usize, p0: usize, p1: usize, p2: usize, wp: usize, wTap: usize,
                  left: i32, jEnd: i32, nW: i32, rotate: bool): void {
  // w_ab = weight of window row a, column b (rotated: w[2-a][2-b])
  let w00: v128, w01: v128, w02: v128, w10: v128, w11: v128, w12: v128, w20: v128, w21: v128, w22: v128;
  if (rotate) {
    w00 = v128.load(wp + 8 * wTap); w01 = v128.load(wp + 7 * wTap); w02 = v128.load(wp + 6 * wTap);
    w10 = v128.load(wp + 5 * wTap); w11 = v128.load(wp + 4 * wTap); w12 = v128.load(wp + 3 * wTap);
    w20 = v128.load(wp + 2 * wTap); w21 = v128.load(wp + wTap); w22 = v128.load(wp);
  } else {
    w00 = v128.load(wp); w01 = v128.load(wp + wTap); w02 = v128.load(wp + 2 * wTap);
    w10 = v128.load(wp + 3 * wTap); w11 = v128.load(wp + 4 * wTap); w12 = v128.load(wp + 5 * wTap);
    w20 = v128.load(wp + 6 * wTap); w21 = v128.load(wp + 7 * wTap); w22 = v128.load(wp + 8 * wTap);
  }
  // a: output j + left - 2 (gets its last column now), m: output j + left - 1
  let a = f32x4.splat(0), m = a;
  // the first 2 - left columns complete no output (theirs would be before column 0)
  let j = 0;
  const lead = min(2 - left, jEnd);
  for (; j < lead; j++) {
    const x0 = v128.load(p0), x1 = v128.load(p1), x2 = v128.load(p2);
    a = f32x4.add(m, madd(f32x4.add(f32x4.mul(x0, w01), f32x4.mul(x1, w11)), x2, w21));
    m = madd(f32x4.add(f32x4.mul(x0, w00), f32x4.mul(x1, w10)), x2, w20);
    p0 += pix; p1 += pix; p2 += pix;
  }
  if (rotate) {
    for (; j < jEnd; j++) {
      const x0 = v128.load(p0), x1 = v128.load(p1), x2 = v128.load(p2);
      const done = f32x4.add(a, madd(f32x4.add(f32x4.mul(x0, w02), f32x4.mul(x1, w12)), x2, w22));
      a = f32x4.add(m, madd(f32x4.add(f32x4.mul(x0, w01), f32x4.mul(x1, w11)), x2, w21));
      m = madd(f32x4.add(f32x4.mul(x0, w00), f32x4.mul(x1, w10)), x2, w20);
      v128.store(o, f32x4.add(v128.load(o), done));
      o += pix; p0 += pix; p1 += pix; p2 += pix;
    }
  } else {
    for (; j < jEnd; j++) {
      const x0 = v128.load(p0), x1 = v128.load(p1), x2 = v128.load(p2);
      const done = f32x4.add(a, madd(f32x4.add(f32x4.mul(x0, w02), f32x4.mul(x1, w12)), x2, w22));
      a = f32x4.add(m, madd(f32x4.add(f32x4.mul(x0, w01), f32x4.mul(x1, w11)), x2, w21));
      m = madd(f32x4.add(f32x4.mul(x0, w00), f32x4.mul(x1, w10)), x2, w20);
      v128.store(o, done);
      o += pix; p0 += pix; p1 += pix; p2 += pix;
    }
  }
  // outputs still pending: j + left - 2 and j + left - 1, their columns past the input (zero)
  let u = j + left - 2;
  if (u >= 0 && u < nW) { v128.store(o, rotate ? f32x4.add(v128.load(o), a) : a); o += pix; }
  u++;
  if (u >= 0 && u < nW) v128.store(o, rotate ? f32x4.add(v128.load(o), m) : m);
}

// rowBlock for two output rows (o and o + outRow) from input rows p0..p3: row t reads p0..p2,
// row t + 1 reads p1..p3; each column's 4 loads feed both.
function rowPair(o: usize, outRow: usize, pix: usize, p0: usize, p1: usize, p2: usize, p3: usize, wp: usize, wTap: usize,
                 left: i32, jEnd: i32, nW: i32, rotate: bool): void {
  let w00: v128, w01: v128, w02: v128, w10: v128, w11: v128, w12: v128, w20: v128, w21: v128, w22: v128;
  if (rotate) {
    w00 = v128.load(wp + 8 * wTap); w01 = v128.load(wp + 7 * wTap); w02 = v128.load(wp + 6 * wTap);
    w10 = v128.load(wp + 5 * wTap); w11 = v128.load(wp + 4 * wTap); w12 = v128.load(wp + 3 * wTap);
    w20 = v128.load(wp + 2 * wTap); w21 = v128.load(wp + wTap); w22 = v128.load(wp);
  } else {
    w00 = v128.load(wp); w01 = v128.load(wp + wTap); w02 = v128.load(wp + 2 * wTap);
    w10 = v128.load(wp + 3 * wTap); w11 = v128.load(wp + 4 * wTap); w12 = v128.load(wp + 5 * wTap);
    w20 = v128.load(wp + 6 * wTap); w21 = v128.load(wp + 7 * wTap); w22 = v128.load(wp + 8 * wTap);
  }
  let a = f32x4.splat(0), m = a, b = a, n = a; // (a, m) row t, (b, n) row t + 1, as in rowBlock
  let j = 0;
  const lead = min(2 - left, jEnd);
  for (; j < lead; j++) {
    const x0 = v128.load(p0), x1 = v128.load(p1), x2 = v128.load(p2), x3 = v128.load(p3);
    a = f32x4.add(m, madd(f32x4.add(f32x4.mul(x0, w01), f32x4.mul(x1, w11)), x2, w21));
    m = madd(f32x4.add(f32x4.mul(x0, w00), f32x4.mul(x1, w10)), x2, w20);
    b = f32x4.add(n, madd(f32x4.add(f32x4.mul(x1, w01), f32x4.mul(x2, w11)), x3, w21));
    n = madd(f32x4.add(f32x4.mul(x1, w00), f32x4.mul(x2, w10)), x3, w20);
    p0 += pix; p1 += pix; p2 += pix; p3 += pix;
  }
  let q = o;
  for (; j < jEnd; j++) {
    const x0 = v128.load(p0), x1 = v128.load(p1), x2 = v128.load(p2), x3 = v128.load(p3);
    const d0 = f32x4.add(a, madd(f32x4.add(f32x4.mul(x0, w02), f32x4.mul(x1, w12)), x2, w22));
    a = f32x4.add(m, madd(f32x4.add(f32x4.mul(x0, w01), f32x4.mul(x1, w11)), x2, w21));
    m = madd(f32x4.add(f32x4.mul(x0, w00), f32x4.mul(x1, w10)), x2, w20);
    const d1 = f32x4.add(b, madd(f32x4.add(f32x4.mul(x1, w02), f32x4.mul(x2, w12)), x3, w22));
    b = f32x4.add(n, madd(f32x4.add(f32x4.mul(x1, w01), f32x4.mul(x2, w11)), x3, w21));
    n = madd(f32x4.add(f32x4.mul(x1, w00), f32x4.mul(x2, w10)), x3, w20);
    if (rotate) {
      v128.store(q, f32x4.add(v128.load(q), d0));
      v128.store(q + outRow, f32x4.add(v128.load(q + outRow), d1));
    } else {
      v128.store(q, d0);
      v128.store(q + outRow, d1);
    }
    q += pix; p0 += pix; p1 += pix; p2 += pix; p3 += pix;
  }
  let u = j + left - 2;
  if (u >= 0 && u < nW) {
    put(q, a, rotate); put(q + outRow, b, rotate);
    q += pix;
  }
  u++;
  if (u >= 0 && u < nW) { put(q, m, rotate); put(q + outRow, n, rotate); }
}

// @ts-ignore: decorator
@inline function put(p: usize, v: v128, accumulate: bool): void {
  v128.store(p, accumulate ? f32x4.add(v128.load(p), v) : v);
}

// Channels c4 .. C-1 (< 4 of them) of one output row, pixel by pixel, in scalar.
function rowTail(o: usize, pix: usize, p0: usize, p1: usize, p2: usize, wp: usize, left: i32, inW: i32, nW: i32,
                 c4: i32, rotate: bool): void {
  for (let u = 0; u < nW; u++) {
    for (let c = c4; c < C; c++) {
      const cb = <usize>c << 2;
      let s: f32 = 0;
      for (let kh = 0; kh < 3; kh++) {
        const row = kh == 0 ? p0 : kh == 1 ? p1 : p2;
        for (let kw = 0; kw < 3; kw++) {
          const col = u - left + kw;
          if (col < 0 || col >= inW) continue;
          const t = rotate ? (2 - kh) * 3 + 2 - kw : kh * 3 + kw;
          s += load<f32>(row + <usize>col * pix + cb) * load<f32>(wp + (<usize>(t * C) << 2) + cb);
        }
      }
      const q = o + <usize>u * pix + cb;
      store<f32>(q, rotate ? load<f32>(q) + s : s);
    }
  }
}

// ---- backward filter -----------------------------------------------------------------------------
// dw[kh, kw, c] += sum over output pixels of x[oh*SH - PT + kh, ow - PL + kw, c] dy[oh, ow, c]: for
// a 4-channel block, the 9 tap sums stay in registers over a run of output rows, walked column
// by column: input column j of the window's 3 rows meets dy[j + PL - kw] for tap column kw, so
// dy's last three columns rotate through registers and each column costs 4 loads for 18
// multiply-adds. A row outside the input reads a zero row and its 3 sums are dropped; columns
// whose partner dy pixel is outside are left out (the first and last ones, peeled), so only
// products of taps inside the input enter.

// Output rows per band: each 4-channel block sweeps one band of rows before the next band, so
// the band's x and dy rows (a few KB) stay in L1 across the blocks instead of coming back from L2
// for every block. Measured at 14x14x32, batch 128 (fraction of the SIMD peak): whole runs 56.2 %,
// bands of 2 55.5 %, 4 58.1 %, 8 57.6 %.
const FILTER_BAND_ROWS: i32 = 4;

/** Whether depthwiseBackwardFilter's row walk takes this geometry. */
export function rowsBackwardFilterFits(geom: usize): bool {
  readGeometry(geom);
  return OC == C && C >= 4 && KH == 3 && KW == 3 && SW == 1 && <usize>(W * C) << 2 <= SCRATCH_BYTES;
}

export function rowsBackwardFilter(dw: usize, x: usize, dy: usize, geom: usize): void {
  readGeometry(geom);
  const pix = <usize>C << 2, inRow = <usize>W * pix, dRow = <usize>OW * pix;
  const zero = scratchBase();
  memory.fill(zero, 0, inRow);
  const c4 = C & ~3;
  for (let b = 0; b < B; b++) {
    const img = x + <usize>b * H * inRow, dimg = dy + <usize>b * OH * dRow;
    // runs of output rows whose window rows are inside (bit kh of the mask) alike
    for (let oh0 = 0; oh0 < OH;) {
      const mask = rowMask(oh0);
      let oh1 = oh0 + 1;
      while (oh1 < OH && rowMask(oh1) == mask) oh1++;
      const s = <usize>SH * inRow;
      // bands of FILTER_BAND_ROWS output rows: every channel block sweeps a band while its rows of
      // x and dy are still in L1
      for (let b0 = oh0; b0 < oh1; b0 += FILTER_BAND_ROWS) {
        const n = min(FILTER_BAND_ROWS, oh1 - b0);
        const r = b0 * SH - PT;
        // a row outside the input stays on the zero row for the whole run (step 0)
        const x0 = mask & 1 ? img + <usize>r * inRow : zero;
        const x1 = mask & 2 ? img + <usize>(r + 1) * inRow : zero;
        const x2 = mask & 4 ? img + <usize>(r + 2) * inRow : zero;
        for (let c = 0; c < c4; c += 4) {
          const cb = <usize>c << 2;
          filterRun(dw + cb, x0 + cb, x1 + cb, x2 + cb, mask & 1 ? s : 0, mask & 2 ? s : 0, mask & 4 ? s : 0,
                    dimg + <usize>b0 * dRow + cb, dRow, n, mask, pix);
        }
      }
      if (c4 < C) exactSums(dw, img, dimg, oh0, oh1, c4, C);
      oh0 = oh1;
    }
  }
}

// Bit kh set if input row oh*SH - PT + kh is inside.
function rowMask(oh: i32): i32 {
  const r = oh * SH - PT;
  return (r >= 0 && r < H ? 1 : 0) | (r + 1 >= 0 && r + 1 < H ? 2 : 0) | (r + 2 >= 0 && r + 2 < H ? 4 : 0);
}

// The 9 tap sums of one 4-channel block over nRows output rows (dy rows d0 + i*dRow, input rows
// x_k + i*s_k), added into dw (at dwp, taps OC*4 apart) for the rows in `mask`.
function filterRun(dwp: usize, x0: usize, x1: usize, x2: usize, s0: usize, s1: usize, s2: usize, d0: usize, dRow: usize,
                   nRows: i32, mask: i32, pix: usize): void {
  let a00 = f32x4.splat(0), a01 = a00, a02 = a00, a10 = a00, a11 = a00, a12 = a00, a20 = a00, a21 = a00, a22 = a00;
  // column j meets dy columns j + PL - kw: all three inside for j in [jA, jB)
  const jA = max(0, 2 - PL), jB = min(W, OW - PL);
  for (let i = 0; i < nRows; i++) {
    let p0 = x0, p1 = x1, p2 = x2;
    // peeled first columns: only the taps whose dy column is inside
    for (let j = 0; j < min(jA, W); j++) {
      const u = j + PL;
      const v0 = v128.load(p0), v1 = v128.load(p1), v2 = v128.load(p2);
      if (u < OW) {
        const e = v128.load(d0 + <usize>u * pix);
        a00 = madd(a00, v0, e); a10 = madd(a10, v1, e); a20 = madd(a20, v2, e);
      }
      if (u >= 1 && u - 1 < OW) {
        const e = v128.load(d0 + <usize>(u - 1) * pix);
        a01 = madd(a01, v0, e); a11 = madd(a11, v1, e); a21 = madd(a21, v2, e);
      }
      p0 += pix; p1 += pix; p2 += pix;
    }
    if (jA < jB) {
      // tap (2, 2) in a second loop: 9 sums, 3 dy columns and 3 inputs do not fit V8's 15 vector
      // registers, and a spilled sum's chain through memory measured slower than the short loop
      // (as did leaving the tap to depthwise.ts's tap loop)
      const q2 = p2;
      let e1 = v128.load(d0 + <usize>(jA + PL - 1) * pix), e2 = v128.load(d0 + <usize>(jA + PL - 2) * pix);
      let dp = d0 + <usize>(jA + PL) * pix;
      const pEnd = p0 + <usize>(jB - jA) * pix;
      while (p0 < pEnd) {
        const v0 = v128.load(p0), v1 = v128.load(p1), v2 = v128.load(p2), e0 = v128.load(dp);
        a00 = madd(a00, v0, e0); a01 = madd(a01, v0, e1); a02 = madd(a02, v0, e2);
        a10 = madd(a10, v1, e0); a11 = madd(a11, v1, e1); a12 = madd(a12, v1, e2);
        a20 = madd(a20, v2, e0); a21 = madd(a21, v2, e1);
        e2 = e1; e1 = e0;
        p0 += pix; p1 += pix; p2 += pix; dp += pix;
      }
      let q = q2, ep = d0 + <usize>(jA + PL - 2) * pix;
      while (q < p2) {
        a22 = madd(a22, v128.load(q), v128.load(ep));
        q += pix; ep += pix;
      }
    }
    // peeled last columns: dy column j + PL is past OW
    for (let j = max(jB, jA); j < W; j++) {
      const u = j + PL;
      if (u - 2 >= OW) break;
      const v0 = v128.load(p0), v1 = v128.load(p1), v2 = v128.load(p2);
      if (u < OW) {
        const e = v128.load(d0 + <usize>u * pix);
        a00 = madd(a00, v0, e); a10 = madd(a10, v1, e); a20 = madd(a20, v2, e);
      }
      if (u >= 1 && u - 1 < OW) {
        const e = v128.load(d0 + <usize>(u - 1) * pix);
        a01 = madd(a01, v0, e); a11 = madd(a11, v1, e); a21 = madd(a21, v2, e);
      }
      if (u >= 2) {
        const e = v128.load(d0 + <usize>(u - 2) * pix);
        a02 = madd(a02, v0, e); a12 = madd(a12, v1, e); a22 = madd(a22, v2, e);
      }
      p0 += pix; p1 += pix; p2 += pix;
    }
    x0 += s0; x1 += s1; x2 += s2;
    d0 += dRow;
  }
  const tap = <usize>OC << 2;
  if (mask & 1) { put(dwp, a00, true); put(dwp + tap, a01, true); put(dwp + 2 * tap, a02, true); }
  if (mask & 2) { put(dwp + 3 * tap, a10, true); put(dwp + 4 * tap, a11, true); put(dwp + 5 * tap, a12, true); }
  if (mask & 4) { put(dwp + 6 * tap, a20, true); put(dwp + 7 * tap, a21, true); put(dwp + 8 * tap, a22, true); }
}

// The tap sums of channels c0 .. c1-1 (the < 4 past the last block of 4) over output rows
// [oh0, oh1) of one image, in scalar, over the taps inside the input.
function exactSums(dw: usize, img: usize, dimg: usize, oh0: i32, oh1: i32, c0: i32, c1: i32): void {
  const pix = <usize>C << 2;
  for (let kh = 0; kh < 3; kh++) {
    for (let kw = 0; kw < 3; kw++) {
      for (let c = c0; c < c1; c++) {
        let s: f32 = 0;
        for (let oh = oh0; oh < oh1; oh++) {
          const ih = oh * SH - PT + kh;
          if (ih < 0 || ih >= H) continue;
          for (let ow = 0; ow < OW; ow++) {
            const iw = ow - PL + kw;
            if (iw < 0 || iw >= W) continue;
            s += load<f32>(img + <usize>(ih * W + iw) * pix + (<usize>c << 2)) * load<f32>(dimg + <usize>(oh * OW + ow) * pix + (<usize>c << 2));
          }
        }
        const p = dw + (<usize>((kh * 3 + kw) * OC + c) << 2);
        store<f32>(p, load<f32>(p) + s);
      }
    }
  }
}
