// Convolutions with few input channels per group, NHWC, SIMD build: the passes where the engines
// of conv.ts, vectorised over channels, would leave most lanes idle. Forward and backward side by
// side; conv.ts dispatches here.
//
// Shapes (the geometry struct `geom`, ../../src/abi.ts "Convolution geometry"), as in conv.ts:
//   x, dx (B,H,W,C)     y, dy (B,OH,OW,OC)     w, dw (KH,KW,Cg,OC)     Cg = C/G, OCg = OC/G
//   ih = oh*SH - PT + kh, iw = ow*SW - PL + kw
//
// - forward, C == 1, SW == 1 (LeNet's first layer): vectorised over PX adjacent output columns.
//   With one channel a window row of PX neighbours is PX contiguous floats of x, so one vector
//   load feeds NB multiply-adds (one per output channel, the weight splatted); a tile of PX
//   pixels x NB channels accumulates over the whole window in registers and is transposed to
//   NHWC on the store. The image is copied, one at a time, into a zero-bordered buffer in
//   scratch, so every tile reads whole rows without bounds checks (padding reads zero, as the
//   gather engine's zero row does).
// - backward-filter, C == 1, SW == 1: the same vectors: for one kernel row kh, dw[kh, kw, o] for
//   all KW taps of a pair of output channels accumulate over every output pixel of an image in
//   registers (dy transposed per image into one plane per channel, so PX columns of a channel
//   are one load). Only products of taps inside the image enter: border columns are masked.
// - backward-data, 2 <= Cg <= 6 (LeNet's second layer): one input pixel at a time, its Cg
//   channels in registers as vectors over output channels (dy's channels are contiguous, and
//   so are w's for one (tap, c)), summed across lanes at the end. Only the taps that reach
//   dy are visited (stride phases included), so no multiply is spent on padding.
//
// Scratch (memory.ts): packed weights, the padded image and the dy planes, during one call.
// Determinism: loop orders and blocks depend on the geometry alone.

import { scratchBase, SCRATCH_BYTES } from '../memory';
import { madd } from './madd';

// Forward register tile: PX output columns (one vector) x NB output channels: NB accumulators,
// one input vector, one splatted weight and a product live at once.
const PX: i32 = 4;
const NB: i32 = 6;

let B: i32 = 0, H: i32 = 0, W: i32 = 0, C: i32 = 0, OH: i32 = 0, OW: i32 = 0, OC: i32 = 0;
let KH: i32 = 0, KW: i32 = 0, SH: i32 = 0, SW: i32 = 0, PT: i32 = 0, PL: i32 = 0, G: i32 = 0;
let CG: i32 = 0, OCG: i32 = 0;
// backward-filter's output channels [FO0, FO0 + FON) (geometry slots 14, 15; as in conv.ts)
let FO0: i32 = 0, FON: i32 = 0;

function readGeometry(geom: usize): void {
  B = load<i32>(geom); H = load<i32>(geom, 4); W = load<i32>(geom, 8); C = load<i32>(geom, 12);
  OH = load<i32>(geom, 16); OW = load<i32>(geom, 20); OC = load<i32>(geom, 24);
  KH = load<i32>(geom, 28); KW = load<i32>(geom, 32); SH = load<i32>(geom, 36); SW = load<i32>(geom, 40);
  PT = load<i32>(geom, 44); PL = load<i32>(geom, 48); G = load<i32>(geom, 52);
  CG = C / G; OCG = OC / G;
  FO0 = load<i32>(geom, 56); FON = load<i32>(geom, 60);
  if (FON == 0) { FO0 = 0; FON = OC; }
}

// @ts-ignore: decorator
@inline function align16(n: usize): usize { return (n + 15) & ~(<usize>15); }

// ---- the padded one-channel image --------------------------------------------------------------
// Rows r = oh*SH + kh (r = ih + PT), columns c = ow + kw (c = iw + PL) for ow < OW rounded up to
// a whole vector: padRows x padCols floats, zero outside the image.
let padRows: i32 = 0, padCols: i32 = 0;

function setPadding(px: i32): void {
  padCols = ((OW + px - 1) / px) * px + KW - 1;
  padRows = (OH - 1) * SH + KH;
}

function padBytes(): usize { return <usize>(padRows * padCols) << 2; }

// Copies image b of x into the buffer's interior (the border stays as zeroed once per call).
function padImage(img: usize, x: usize, b: i32): void {
  const rows = min(H, padRows - PT), cols = min(W, padCols - PL);
  const src = x + (<usize>b * H * W << 2);
  for (let ih = 0; ih < rows; ih++) {
    memory.copy(img + (<usize>((ih + PT) * padCols + PL) << 2), src + (<usize>(ih * W) << 2), <usize>cols << 2);
  }
}

// Whether the n floats at p are all finite (exponent bits not all set).
function allFinite(p: usize, n: i32): bool {
  const e = i32x4.splat(0x7f800000);
  let m = i32x4.splat(0);
  const end = p + (<usize>n << 2), end4 = p + (<usize>(n & ~3) << 2);
  for (; p < end4; p += 16) m = i32x4.max_u(m, v128.and(v128.load(p), e));
  let ok = !v128.any_true(i32x4.eq(m, e));
  for (; p < end; p += 4) ok = ok && (load<u32>(p) & 0x7f800000) != 0x7f800000;
  return ok;
}

// ---- forward, one input channel ----------------------------------------------------------------

/** Whether narrowForward takes this geometry (read by conv.ts after its own readGeometry). */
export function narrowForwardFits(geom: usize): bool {
  readGeometry(geom);
  if (!(C == 1 && G == 1 && SW == 1)) return false;
  setPadding(PX);
  return align16(<usize>(KH * KW * ((OC + 3) & ~3)) << 4) + padBytes() + <usize>(3 * SH * padCols << 2) <= SCRATCH_BYTES;
}

export function narrowForward(y: usize, x: usize, w: usize, geom: usize): void {
  readGeometry(geom);
  setPadding(PX);
  const taps = KH * KW;
  // weights splatted, in panels of 4 channels (the last of 2 if OC % 4 is 1 or 2):
  // packed[j][t][l] = splat(w[t, 0, 4j + l]), 0 past OC
  const packed = scratchBase();
  let d = packed;
  for (let o0 = 0; o0 < OC; o0 += 4) {
    const n = OC - o0 <= 2 ? 2 : 4;
    for (let t = 0; t < taps; t++) {
      const s = w + (<usize>(t * OC + o0) << 2);
      for (let l = 0; l < n; l++) v128.store(d + (<usize>l << 4), f32x4.splat(o0 + l < OC ? load<f32>(s + (<usize>l << 2)) : 0));
      d += <usize>n << 4;
    }
  }
  const img = align16(d);
  // 3*SH rows more than the windows need: a block of 4 rows past OH reads zeros, unstored
  memory.fill(img, 0, padBytes() + <usize>(3 * SH * padCols << 2));
  const rowBytes = <usize>padCols << 2, pixBytes = <usize>OC << 2, outRow = <usize>OW * pixBytes;
  const step = <usize>SH * rowBytes;
  for (let b = 0; b < B; b++) {
    padImage(img, x, b);
    for (let oh = 0; oh < OH; oh += 4) {
      const nr = min(4, OH - oh);
      const src = img + <usize>(oh * SH) * rowBytes;
      const yr = y + <usize>((b * OH + oh) * OW) * pixBytes;
      for (let ow = 0; ow < OW; ow += PX) {
        const np = min(PX, OW - ow);
        let wp = packed;
        const s0 = src + (<usize>ow << 2), y0 = yr + <usize>ow * pixBytes;
        for (let o0 = 0; o0 < OC; o0 += 4) {
          const nb = min(4, OC - o0);
          const yo = y0 + (<usize>o0 << 2);
          if (OC - o0 <= 2) {
            tile4x2(s0, rowBytes, step, wp, yo, outRow, nb, np, nr);
            wp += <usize>taps << 5;
          } else {
            tile2x4(s0, rowBytes, step, wp, yo, outRow, nb, np, min(2, nr));
            if (nr > 2) tile2x4(s0 + 2 * step, rowBytes, step, wp, yo + 2 * outRow, outRow, nb, np, nr - 2);
            wp += <usize>taps << 6;
          }
        }
      }
    }
  }
}

// Two output rows (src, src + step) x 4 columns x 4 channels (splatted weights at wp, 4 per tap).
function tile2x4(src: usize, rowBytes: usize, step: usize, wp: usize, out: usize, outRow: usize, nb: i32, np: i32, nr: i32): void {
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
  const kwBytes = <usize>KW << 2;
  for (let kh = 0; kh < KH; kh++) {
    let p = src;
    const pEnd = p + kwBytes;
    while (p < pEnd) {
      const xv = v128.load(p), xw = v128.load(p + step);
      let s = v128.load(wp);
      a0 = madd(a0, xv, s); b0 = madd(b0, xw, s);
      s = v128.load(wp, 16);
      a1 = madd(a1, xv, s); b1 = madd(b1, xw, s);
      s = v128.load(wp, 32);
      a2 = madd(a2, xv, s); b2 = madd(b2, xw, s);
      s = v128.load(wp, 48);
      a3 = madd(a3, xv, s); b3 = madd(b3, xw, s);
      p += 4;
      wp += 64;
    }
    src += rowBytes;
  }
  const z = f32x4.splat(0);
  storePixels(out, <usize>OC << 2, a0, a1, a2, a3, z, z, nb, np);
  if (nr > 1) storePixels(out + outRow, <usize>OC << 2, b0, b1, b2, b3, z, z, nb, np);
}

// Four output rows x 4 columns x 2 channels (2 splatted weights per tap).
function tile4x2(src: usize, rowBytes: usize, step: usize, wp: usize, out: usize, outRow: usize, nb: i32, np: i32, nr: i32): void {
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
  const kwBytes = <usize>KW << 2;
  const s2 = step << 1, s3 = s2 + step;
  for (let kh = 0; kh < KH; kh++) {
    let p = src;
    const pEnd = p + kwBytes;
    while (p < pEnd) {
      const x0 = v128.load(p), x1 = v128.load(p + step), x2 = v128.load(p + s2), x3 = v128.load(p + s3);
      const u = v128.load(wp), v = v128.load(wp, 16);
      a0 = madd(a0, x0, u); b0 = madd(b0, x0, v);
      a1 = madd(a1, x1, u); b1 = madd(b1, x1, v);
      a2 = madd(a2, x2, u); b2 = madd(b2, x2, v);
      a3 = madd(a3, x3, u); b3 = madd(b3, x3, v);
      p += 4;
      wp += 32;
    }
    src += rowBytes;
  }
  const z = f32x4.splat(0);
  // row r: channel pair (a_r, b_r)
  storePixels(out, <usize>OC << 2, a0, b0, z, z, z, z, nb, np);
  if (nr > 1) storePixels(out + outRow, <usize>OC << 2, a1, b1, z, z, z, z, nb, np);
  if (nr > 2) storePixels(out + 2 * outRow, <usize>OC << 2, a2, b2, z, z, z, z, nb, np);
  if (nr > 3) storePixels(out + 3 * outRow, <usize>OC << 2, a3, b3, z, z, z, z, nb, np);
}

// Transposed store: pixel i (at out + i*pixBytes) gets (a0[i], ..., a5[i]), its first nb values, i < np.
function storePixels(out: usize, pixBytes: usize, a0: v128, a1: v128, a2: v128, a3: v128, a4: v128, a5: v128,
                     nb: i32, np: i32): void {
  const lo01 = i32x4.shuffle(a0, a1, 0, 4, 1, 5), hi01 = i32x4.shuffle(a0, a1, 2, 6, 3, 7);
  const lo23 = i32x4.shuffle(a2, a3, 0, 4, 1, 5), hi23 = i32x4.shuffle(a2, a3, 2, 6, 3, 7);
  const lo45 = i32x4.shuffle(a4, a5, 0, 4, 1, 5), hi45 = i32x4.shuffle(a4, a5, 2, 6, 3, 7);
  // pixel i's channels 0..3, and its channels 4, 5 in the low half
  const p0 = i64x2.shuffle(lo01, lo23, 0, 2), p1 = i64x2.shuffle(lo01, lo23, 1, 3);
  const p2 = i64x2.shuffle(hi01, hi23, 0, 2), p3 = i64x2.shuffle(hi01, hi23, 1, 3);
  const q1 = i64x2.shuffle(lo45, lo45, 1, 0), q3 = i64x2.shuffle(hi45, hi45, 1, 0);
  if (nb == 6 && np == 4) {
    v128.store(out, p0); v128.store64_lane(out, lo45, 0, 16); out += pixBytes;
    v128.store(out, p1); v128.store64_lane(out, lo45, 1, 16); out += pixBytes;
    v128.store(out, p2); v128.store64_lane(out, hi45, 0, 16); out += pixBytes;
    v128.store(out, p3); v128.store64_lane(out, hi45, 1, 16);
    return;
  }
  storeSix(out, p0, lo45, nb);
  if (np > 1) storeSix(out + pixBytes, p1, q1, nb);
  if (np > 2) storeSix(out + 2 * pixBytes, p2, hi45, nb);
  if (np > 3) storeSix(out + 3 * pixBytes, p3, q3, nb);
}

// p[l] = (lo ++ hi[0..1])[l] for l < n <= 6.
function storeSix(p: usize, lo: v128, hi: v128, n: i32): void {
  if (n >= 4) {
    v128.store(p, lo);
    if (n == 6) v128.store64_lane(p, hi, 0, 16);
    else if (n == 5) v128.store32_lane(p, hi, 0, 16);
    return;
  }
  v128.store32_lane(p, lo, 0);
  if (n > 1) v128.store32_lane(p, lo, 1, 4);
  if (n > 2) v128.store32_lane(p, lo, 2, 8);
}

// ---- backward filter, one input channel ----------------------------------------------------------
// Tile: one kernel row kh, TK consecutive taps kw0 .. kw0+TK-1 of it (past KW: dummy taps, read
// from the buffer's extra columns and dropped), a pair of output channels: TK x 2 accumulators,
// vectors over 4 output columns, over every output pixel of an image; then summed across lanes.
const TK: i32 = 4;

// dy of one image as planes of channel pairs: [pair][oh][column group][channel of the pair][4
// columns], zero past OW and OC, so both channels of a group are one pointer 16 bytes apart.
function planeBytes(): usize { return <usize>((OC + 1) >> 1) * OH * groups() * 32; }
// @ts-ignore: decorator
@inline function groups(): i32 { return (OW + 3) >> 2; }

function setFilterPadding(): void {
  padCols = groups() * 4 + ((KW + TK - 1) / TK) * TK - 1;
  padRows = (OH - 1) * SH + KH;
}

export function narrowBackwardFilterFits(geom: usize): bool {
  readGeometry(geom);
  if (!(C == 1 && G == 1 && SW == 1)) return false;
  setFilterPadding();
  return align16(padBytes()) + planeBytes() <= SCRATCH_BYTES;
}

export function narrowBackwardFilter(dw: usize, x: usize, dy: usize, geom: usize): void {
  readGeometry(geom);
  setFilterPadding();
  const img = scratchBase();
  const planes = align16(img + padBytes());
  memory.fill(img, 0, padBytes());
  // channels FO0 .. FO0 + FON - 1 only: dy and dw from channel FO0 on (planeBytes() holds all OC,
  // so the choice of this path does not depend on the range)
  const pairs = (FON + 1) >> 1, pairBytes = <usize>OH * groups() * 32;
  const dwr = dw + (<usize>FO0 << 2), dyr = dy + (<usize>FO0 << 2);
  for (let b = 0; b < B; b++) {
    padImage(img, x, b);
    // With finite operands the products the tiles take from outside the image (a zero of the
    // buffer's border times dy, or x times a zero past OW) are exact zeros and change no sum, so
    // only an image with an Inf or a NaN needs the masked columns.
    const masked = !splitPairs(planes, dyr, b) || !allFinite(x + (<usize>b * H * W << 2), H * W);
    for (let kh = 0; kh < KH; kh++) {
      // rows oh whose tap kh lies inside the input: 0 <= oh*SH - PT + kh < H
      const ohLo = max(0, ceilDiv(PT - kh, SH)), ohHi = min(OH, floorDiv(H - 1 + PT - kh, SH) + 1);
      if (ohLo >= ohHi) continue;
      for (let k0 = 0; k0 < KW; k0 += TK) {
        for (let p = 0; p < pairs; p++) {
          if (masked) filterTileMasked(dwr, img, planes + <usize>p * pairBytes, kh, k0, p, ohLo, ohHi);
          else filterTile(dwr, img, planes + <usize>p * pairBytes, kh, k0, p, ohLo, ohHi);
        }
      }
    }
  }
}

// planes[p][oh][g][j][i] = dy[b, oh, 4g + i, 2p + j] (0 past OW, FON; dy at channel FO0). Returns
// whether every value moved is finite (exponent bits not all set).
function splitPairs(planes: usize, dy: usize, b: i32): bool {
  const pairs = (FON + 1) >> 1, ng = groups();
  const pix = <usize>OC << 2;
  const e = i32x4.splat(0x7f800000);
  let m = i32x4.splat(0);
  let d = planes;
  for (let p = 0; p < pairs; p++) {
    const whole = 2 * p + 1 < FON;
    for (let oh = 0; oh < OH; oh++) {
      let s = dy + (<usize>((b * OH + oh) * OW) * OC << 2) + (<usize>(2 * p) << 2);
      for (let g = 0; g < ng; g++) {
        if (whole && 4 * g + 3 < OW) {
          // four (c0, c1) pairs -> (c0 of the 4 columns), (c1 of the 4 columns)
          const l0 = v128.load64_zero(s), l1 = v128.load64_zero(s + pix);
          const l2 = v128.load64_zero(s + 2 * pix), l3 = v128.load64_zero(s + 3 * pix);
          const t01 = i32x4.shuffle(l0, l1, 0, 4, 1, 5), t23 = i32x4.shuffle(l2, l3, 0, 4, 1, 5);
          const u = i64x2.shuffle(t01, t23, 0, 2), v = i64x2.shuffle(t01, t23, 1, 3);
          // each value's exponent on its own: the OR of two finite values' bits can have every
          // exponent bit set (1.5 | 2.5), which sent most images to the masked tiles
          m = i32x4.max_u(m, i32x4.max_u(v128.and(u, e), v128.and(v, e)));
          v128.store(d, u);
          v128.store(d, v, 16);
        } else {
          for (let i = 0; i < 4; i++) {
            const ok = 4 * g + i < OW;
            const q = s + <usize>i * pix;
            const u = ok ? load<f32>(q) : 0, v = ok && whole ? load<f32>(q, 4) : 0;
            m = i32x4.max_u(m, v128.and(f32x4(u, v, 0, 0), e));
            store<f32>(d + (<usize>i << 2), u);
            store<f32>(d + (<usize>i << 2), v, 16);
          }
        }
        s += pix << 2;
        d += 32;
      }
    }
  }
  return !v128.any_true(i32x4.eq(m, e));
}

// dw[kh, k0 + t, 0, 2p + j] += sum over the image's rows [ohLo, ohHi) and columns of
// img[oh*SH + kh][ow + k0 + t] * dy[oh, ow, 2p + j], t < TK, j < 2: one column group at a time,
// its rows innermost. Products from outside the image enter (see narrowBackwardFilter).
function filterTile(dw: usize, img: usize, plane: usize, kh: i32, k0: i32, p: i32, ohLo: i32, ohHi: i32): void {
  let a00 = f32x4.splat(0), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
  const rowBytes = <usize>padCols << 2;
  const xStep = <usize>SH * rowBytes, dStep = <usize>groups() * 32;
  const x0 = img + <usize>(ohLo * SH + kh) * rowBytes + (<usize>k0 << 2);
  const d0 = plane + <usize>ohLo * dStep;
  const rowsBytes = <usize>(ohHi - ohLo) * xStep;
  for (let g = 0; g < groups(); g++) {
    let xp = x0 + (<usize>g << 4), dp = d0 + (<usize>g << 5);
    const xEnd = xp + rowsBytes;
    while (xp < xEnd) {
      const e0 = v128.load(dp), e1 = v128.load(dp, 16);
      let v = v128.load(xp);
      a00 = madd(a00, v, e0); a01 = madd(a01, v, e1);
      v = v128.load(xp, 4);
      a10 = madd(a10, v, e0); a11 = madd(a11, v, e1);
      v = v128.load(xp, 8);
      a20 = madd(a20, v, e0); a21 = madd(a21, v, e1);
      v = v128.load(xp, 12);
      a30 = madd(a30, v, e0); a31 = madd(a31, v, e1);
      xp += xStep;
      dp += dStep;
    }
  }
  addTile(dw, kh, k0, p, a00, a01, a10, a11, a20, a21, a30, a31);
}

// filterTile taking only the products of taps inside the image: every product is masked lane by
// lane (lane i of tap t is inside iff 0 <= ow0 + i + k0 + t - PL < W and ow0 + i < OW).
function filterTileMasked(dw: usize, img: usize, plane: usize, kh: i32, k0: i32, p: i32, ohLo: i32, ohHi: i32): void {
  let a00 = f32x4.splat(0), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
  const rowBytes = <usize>padCols << 2;
  const xStep = <usize>SH * rowBytes, dStep = <usize>groups() * 32;
  const x0 = img + <usize>(ohLo * SH + kh) * rowBytes + (<usize>k0 << 2);
  const d0 = plane + <usize>ohLo * dStep;
  const rowsBytes = <usize>(ohHi - ohLo) * xStep;
  const lanes = i32x4(0, 1, 2, 3), wv = i32x4.splat(W), one = i32x4.splat(1), zero = i32x4.splat(0);
  for (let g = 0; g < groups(); g++) {
    const ow0 = 4 * g;
    const col = i32x4.add(i32x4.splat(ow0 + k0 - PL), lanes);
    const inOut = i32x4.lt_s(i32x4.add(i32x4.splat(ow0), lanes), i32x4.splat(OW));
    const c1 = i32x4.add(col, one), c2 = i32x4.add(c1, one), c3 = i32x4.add(c2, one);
    const m0 = v128.and(inOut, v128.and(i32x4.ge_s(col, zero), i32x4.lt_s(col, wv)));
    const m1 = v128.and(inOut, v128.and(i32x4.ge_s(c1, zero), i32x4.lt_s(c1, wv)));
    const m2 = v128.and(inOut, v128.and(i32x4.ge_s(c2, zero), i32x4.lt_s(c2, wv)));
    const m3 = v128.and(inOut, v128.and(i32x4.ge_s(c3, zero), i32x4.lt_s(c3, wv)));
    let xp = x0 + (<usize>ow0 << 2), dp = d0 + (<usize>g << 5);
    const xEnd = xp + rowsBytes;
    while (xp < xEnd) {
      // the products are masked, not x: a zero times an Inf or a NaN of dy would not vanish
      const e0 = v128.load(dp), e1 = v128.load(dp, 16);
      let v = v128.load(xp);
      a00 = f32x4.add(a00, v128.and(f32x4.mul(v, e0), m0)); a01 = f32x4.add(a01, v128.and(f32x4.mul(v, e1), m0));
      v = v128.load(xp, 4);
      a10 = f32x4.add(a10, v128.and(f32x4.mul(v, e0), m1)); a11 = f32x4.add(a11, v128.and(f32x4.mul(v, e1), m1));
      v = v128.load(xp, 8);
      a20 = f32x4.add(a20, v128.and(f32x4.mul(v, e0), m2)); a21 = f32x4.add(a21, v128.and(f32x4.mul(v, e1), m2));
      v = v128.load(xp, 12);
      a30 = f32x4.add(a30, v128.and(f32x4.mul(v, e0), m3)); a31 = f32x4.add(a31, v128.and(f32x4.mul(v, e1), m3));
      xp += xStep;
      dp += dStep;
    }
  }
  addTile(dw, kh, k0, p, a00, a01, a10, a11, a20, a21, a30, a31);
}

// dw[kh, k0 + t, 0, 2p + j] += lane sum of a_tj; dummy taps (k0 + t >= KW) and a missing second
// channel (2p + 1 == FON) are dropped; dw points at channel FO0.
function addTile(dw: usize, kh: i32, k0: i32, p: i32, a00: v128, a01: v128, a10: v128, a11: v128,
                 a20: v128, a21: v128, a30: v128, a31: v128): void {
  const nt = min(TK, KW - k0), two = 2 * p + 1 < FON;
  const t0 = dw + (<usize>((kh * KW + k0) * OC + 2 * p) << 2), tStep = <usize>OC << 2;
  addSum(t0, a00, a01, two);
  if (nt > 1) addSum(t0 + tStep, a10, a11, two);
  if (nt > 2) addSum(t0 + 2 * tStep, a20, a21, two);
  if (nt > 3) addSum(t0 + 3 * tStep, a30, a31, two);
}

// p[0] += sum of u's lanes; p[1] += sum of v's lanes if `two`.
function addSum(p: usize, u: v128, v: v128, two: bool): void {
  store<f32>(p, load<f32>(p) + laneSum(u));
  if (two) store<f32>(p, load<f32>(p, 4) + laneSum(v), 4);
}

// @ts-ignore: decorator
@inline function laneSum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

// @ts-ignore: decorator
@inline function ceilDiv(a: i32, b: i32): i32 { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }
// @ts-ignore: decorator
@inline function floorDiv(a: i32, b: i32): i32 { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// ---- backward data, 2 <= Cg <= 6 -------------------------------------------------------------------
// Weights of one group packed per tap, kw reversed so that dy's pixels of a window row and their
// taps run the same way: packed[kh][KW-1-kw][q][c][l] = w[kh, kw, c, g*OCg + 4q + l] for c < 6 and
// q < ceil(OCg/4) (0 for c >= Cg or 4q + l >= OCg).
function dataTapBytes(): usize { return <usize>((OCG + 3) >> 2) * 6 * 16; }

export function narrowBackwardDataFits(geom: usize): bool {
  readGeometry(geom);
  return CG >= 2 && CG <= 6 && <usize>(KH * KW) * dataTapBytes() <= SCRATCH_BYTES;
}

export function narrowBackwardData(dx: usize, dy: usize, w: usize, geom: usize): void {
  readGeometry(geom);
  const packed = scratchBase(), tapBytes = dataTapBytes();
  const nq = (OCG + 3) >> 2;
  // one linear sweep per window row: dy's pixels are whole blocks of 4 channels, one after another
  const sweep = SW == 1 && G == 1 && (OC & 3) == 0;
  const dPix = <usize>OC << 2, dRow = <usize>OW * dPix, xPix = <usize>C << 2;
  for (let g = 0; g < G; g++) {
    let d = packed;
    for (let kh = 0; kh < KH; kh++) {
      for (let kr = 0; kr < KW; kr++) {
        const tap = w + (<usize>((kh * KW + KW - 1 - kr) * CG * OC + g * OCG) << 2);
        for (let q = 0; q < nq; q++) {
          for (let c = 0; c < 6; c++) {
            for (let l = 0; l < 4; l++) {
              const o = 4 * q + l;
              store<f32>(d, c < CG && o < OCG ? load<f32>(tap + (<usize>(c * OC + o) << 2)) : 0);
              d += 4;
            }
          }
        }
      }
    }
    const dyg = dy + (<usize>(g * OCG) << 2);
    let xp = dx + (<usize>(g * CG) << 2);
    for (let b = 0; b < B; b++) {
      const img = dyg + <usize>b * OH * dRow;
      for (let ih = 0; ih < H; ih++) {
        // taps kh = e - oh*SH for dy rows oh in [ohLo, ohHi]
        const e = ih + PT;
        const ohLo = max(0, ceilDiv(e - KH + 1, SH)), ohHi = min(OH - 1, floorDiv(e, SH));
        for (let iw = 0; iw < W; iw++) {
          const f = iw + PL;
          const owLo = max(0, ceilDiv(f - KW + 1, SW)), owHi = min(OW - 1, floorDiv(f, SW));
          if (ohLo <= ohHi && owLo <= owHi) {
            // first tap: dy (ohLo, owLo), w (kh = e - ohLo*SH, kw = f - owLo*SW)
            const d0 = img + <usize>ohLo * dRow + <usize>owLo * dPix;
            const w0 = packed + <usize>((e - ohLo * SH) * KW + KW - 1 - (f - owLo * SW)) * tapBytes;
            dataPixel(xp, d0, w0, ohHi - ohLo + 1, owHi - owLo + 1, nq, tapBytes, sweep);
          }
          xp += xPix;
        }
      }
    }
  }
}

// dx pixel (its group's Cg channels at xp) += sum over nr x nc taps of dy . w: tap (r, s) reads dy
// at d0 + r*OW*OC*4 + s*OC*4 and its packed weights at w0 - r*SH*KW*tapBytes + s*SW*tapBytes.
function dataPixel(xp: usize, d0: usize, w0: usize, nr: i32, nc: i32, nq: i32, tapBytes: usize, sweep: bool): void {
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
  const dRow = <usize>(OW * OC) << 2, wRow = <usize>(SH * KW) * tapBytes;
  const full = OCG >> 2, rem = OCG & 3;
  for (let r = 0; r < nr; r++) {
    if (sweep) {
      // the row's taps as one run: nc pixels of dy, nc taps of packed weights
      let dp = d0, wp = w0;
      const dEnd = dp + (<usize>(nc * OC) << 2);
      while (dp < dEnd) {
        const v = v128.load(dp);
        a0 = madd(a0, v, v128.load(wp));
        a1 = madd(a1, v, v128.load(wp, 16));
        a2 = madd(a2, v, v128.load(wp, 32));
        a3 = madd(a3, v, v128.load(wp, 48));
        a4 = madd(a4, v, v128.load(wp, 64));
        a5 = madd(a5, v, v128.load(wp, 80));
        dp += 16;
        wp += 96;
      }
    } else {
      for (let s = 0; s < nc; s++) {
        let dp = d0 + (<usize>(s * OC) << 2), wp = w0 + <usize>(s * SW) * tapBytes;
        for (let q = 0; q < full; q++) {
          const v = v128.load(dp);
          a0 = madd(a0, v, v128.load(wp));
          a1 = madd(a1, v, v128.load(wp, 16));
          a2 = madd(a2, v, v128.load(wp, 32));
          a3 = madd(a3, v, v128.load(wp, 48));
          a4 = madd(a4, v, v128.load(wp, 64));
          a5 = madd(a5, v, v128.load(wp, 80));
          dp += 16;
          wp += 96;
        }
        if (rem) {
          // the last rem < 4 channels, read one by one (nothing past the group's channels)
          let v = f32x4.replace_lane(f32x4.splat(0), 0, load<f32>(dp));
          if (rem > 1) v = f32x4.replace_lane(v, 1, load<f32>(dp, 4));
          if (rem > 2) v = f32x4.replace_lane(v, 2, load<f32>(dp, 8));
          a0 = madd(a0, v, v128.load(wp));
          a1 = madd(a1, v, v128.load(wp, 16));
          a2 = madd(a2, v, v128.load(wp, 32));
          a3 = madd(a3, v, v128.load(wp, 48));
          a4 = madd(a4, v, v128.load(wp, 64));
          a5 = madd(a5, v, v128.load(wp, 80));
        }
      }
    }
    d0 += dRow;
    w0 -= wRow;
  }
  // lane sums: s = (sum a0, .., sum a3), t = (sum a4, sum a5, ..), each (l0 + l1) + (l2 + l3)
  const x01 = f32x4.add(i32x4.shuffle(a0, a1, 0, 4, 2, 6), i32x4.shuffle(a0, a1, 1, 5, 3, 7));
  const x23 = f32x4.add(i32x4.shuffle(a2, a3, 0, 4, 2, 6), i32x4.shuffle(a2, a3, 1, 5, 3, 7));
  const x45 = f32x4.add(i32x4.shuffle(a4, a5, 0, 4, 2, 6), i32x4.shuffle(a4, a5, 1, 5, 3, 7));
  const s = f32x4.add(i64x2.shuffle(x01, x23, 0, 2), i64x2.shuffle(x01, x23, 1, 3));
  const t = f32x4.add(x45, i64x2.shuffle(x45, x45, 1, 0));
  if (CG >= 4) {
    v128.store(xp, f32x4.add(v128.load(xp), s));
    if (CG == 6) v128.store64_lane(xp, f32x4.add(v128.load64_zero(xp, 16), t), 0, 16);
    else if (CG == 5) store<f32>(xp, load<f32>(xp, 16) + f32x4.extract_lane(t, 0), 16);
  } else {
    store<f32>(xp, load<f32>(xp) + f32x4.extract_lane(s, 0));
    store<f32>(xp, load<f32>(xp, 4) + f32x4.extract_lane(s, 1), 4);
    if (CG == 3) store<f32>(xp, load<f32>(xp, 8) + f32x4.extract_lane(s, 2), 8);
  }
}
