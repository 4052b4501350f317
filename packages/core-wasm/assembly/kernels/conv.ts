// 2-D convolution, channels-last (NHWC): forward, backward-data and backward-filter side by side.
//
// Shapes (the geometry struct `geom`, ../../src/abi.ts "Convolution geometry"):
//   x, dx (B,H,W,C)     y, dy (B,OH,OW,OC)     w, dw (KH,KW,Cg,OC)     Cg = C/G, OCg = OC/G
//   Output pixel (oh, ow) sees input rows ih = oh*SH - PT + kh and cols iw = ow*SW - PL + kw;
//   positions outside the input read as zero. Output channel o of group g = o / OCg reads input
//   channels g*Cg .. g*Cg + Cg - 1, and w's row (kh*KW + kw)*Cg + c holds its weights.
//
//   forward          y[b,oh,ow,g*OCg+o]   = sum_{kh,kw,c} x[b,ih,iw,g*Cg+c] * w[kh,kw,c,g*OCg+o]
//   backward data    dx[b,ih,iw,g*Cg+c]  += sum_{kh,kw,o} dy[b,oh,ow,g*OCg+o] * w[kh,kw,c,g*OCg+o]
//   backward filter  dw[kh,kw,c,g*OCg+o] += sum_{b,oh,ow} x[b,ih,iw,g*Cg+c] * dy[b,oh,ow,g*OCg+o]
//
// How. Every choice below was measured on the benchmark's layer shapes (../../src/bench/conv.ts,
// batch 128) against im2col + sgemm; the figures are in the benchmark report.
// - Forward and backward-data run one "gather" engine, an implicit GEMM that reads the image
//   through per-tile pointers instead of packing it: an output tile of MR pixels x NR channels
//   accumulates in registers over its whole window, then is written once. Its window is a list
//   of segments [weights offset, steps, one input pointer per pixel]; in a group-free layer the
//   KW taps of a window row are adjacent in NHWC, so a window row is ONE segment of KW*Cg steps.
//   A pixel whose tap lies in the padding points at a zero row; a segment in the padding for all
//   MR pixels is skipped. Weights are packed once per call into NR-wide, k-major panels (as
//   gemm.ts packs B). Against im2col + sgemm this is 1.2-2.6x faster forward: conv layers have
//   few output channels (N = OC = 16..64), so sgemm repacks each im2col row for only one or two
//   micro-kernel calls, and the im2col buffer itself is written and read back besides.
// - Backward-data is the same engine run as a transposed convolution: the input pixels of one
//   stride phase (ih = ih0 + SH*t, iw = iw0 + SW*u) see dy through a dense, stride-1 window of
//   ceil((KH - rh)/SH) x ceil((KW - rw)/SW) taps, so no multiply is spent on the zeros that a
//   dilated dy would hold. (dcols = dy wᵀ by sgemm then col2im measured 0.6-1.1x of this.)
// - Backward-filter reduces over output pixels: a tile of MR input channels x NR output
//   channels of one tap accumulates in registers over every pixel of a block whose window has
//   that tap inside the input (a rectangle: padding is never read), then is added into dw. dy
//   is packed per block into NR-wide panels, read with unit stride; blocks of 128 output pixels
//   keep a block's x and packed dy in L1/L2 across taps. (im2col + sgemm TN: 0.5-1.1x of this.)
// - Ungrouped backward-data of a 'valid' layer, or of a strided one whose shortest stride phase
//   is short, runs as a scatter (scatterData): each tile of dy pixels sends dy·wᵀ through each tap
//   to the dx pixels it came from. A valid layer's transposed window mostly reads padding at dx's
//   border, and a stride phase's window is 1-4 taps; the scatter spends no product on padding and
//   reduces over all OC channels per tap. In full benchmark runs: the CNN teacher's valid layers
//   57-59 % -> 70-98 % of the peak, 16 -> 32 stride 2 59 % -> 74-77 % (see scatterDataSuits for
//   the strided layers that stay on the engine).
// - Strided, ungrouped 1x1 backward-data runs all stride phases on a block of images whose dx and
//   dy fit in L2 before moving on (stridedData): one phase over the whole batch touches every
//   other line of dx, which would leave cache before the next phase.
// - 1x1, stride-1, unpadded, ungrouped layers are plain GEMMs on the tensors as they lie and
//   call sgemm (gemm.ts) directly: NN forward, NT for dx (the gather engine measured the same
//   there); dw = xᵀ dy reads both tensors in place in the SIMD build (conv_pointwise.ts), as
//   sgemm TN's packing was a fifth of the work at these channel counts.
// - Depthwise layers (G == C > 1) have their own loops, vectorised over channels (depthwise.ts,
//   with row-walking fast paths for 3-wide windows in depthwise_rows.ts); layers with few input
//   channels (LeNet's first two) have theirs in conv_narrow.ts, where the engine's tile would
//   leave most of its NR lanes idle.
//
// Workspace: none. `work`/`workElems` stay in the ABI so that a layer plans its buffer once and
// a future path (an im2col variant for shapes where it would win) needs no ABI change; these
// kernels never read or write it, and their results do not depend on it (so conv2dWorkElems in
// ../../src/kernels/conv-work.ts returns 0).
// Scratch (memory.ts): the gather engine and the filter reduction own it during their own calls
// (packed weights or packed dy, a zero row, the tile's pixel records and segments); the
// pointwise paths leave it to sgemm. Kernels never allocate.
// Determinism: every loop order and block size is a function of the geometry alone, so the
// same arguments give the same bits.

import { scratchBase, SCRATCH_BYTES } from '../memory';
import { sgemm } from './gemm';
import { depthwiseForward, depthwiseBackwardData, depthwiseBackwardFilter } from './depthwise';
import {
  narrowForward, narrowForwardFits, narrowBackwardData, narrowBackwardDataFits, narrowBackwardFilter, narrowBackwardFilterFits,
} from './conv_narrow';
import { pointwiseBackwardFilter } from './conv_pointwise';
import { madd } from './madd';

// Register tile: the same shapes as gemm.ts's micro-kernel, for the same reason (V8 gives wasm
// 15 XMM registers: 8 accumulators + 2 weight vectors + splat + product fit).
const MR: i32 = ASC_FEATURE_SIMD ? 4 : 2;
const NR: i32 = ASC_FEATURE_SIMD ? 8 : 4;
// A segment: [weights byte offset, steps, MR input pointers], i32 each.
const SEG_BYTES: usize = <usize>(2 + MR) << 2;
// Output pixels per block of the filter reduction (packed dy block: pixels * OCg * 4 bytes).
const FILTER_BLOCK_PIXELS: i32 = 128;
// Bytes of dx and dy per image block of a strided backward-data (stridedData): within L2.
const DATA_BLOCK_BYTES: usize = 256 << 10;

// ---- geometry ------------------------------------------------------------------------------
let B: i32 = 0, H: i32 = 0, W: i32 = 0, C: i32 = 0, OH: i32 = 0, OW: i32 = 0, OC: i32 = 0;
let KH: i32 = 0, KW: i32 = 0, SH: i32 = 0, SW: i32 = 0, PT: i32 = 0, PL: i32 = 0, G: i32 = 0;
let CG: i32 = 0, OCG: i32 = 0;
// Backward-filter's output channels [FO0, FO0 + FON): geometry slots 14 and 15 (0, 0: all of
// them; a range only with G == 1). Threads split the filter gradient this way (each channel's
// sums are the same whichever channels are computed beside it; ../../src/threads/parallel.ts).
let FO0: i32 = 0, FON: i32 = 0;

function readGeometry(geom: usize): void {
  B = load<i32>(geom); H = load<i32>(geom, 4); W = load<i32>(geom, 8); C = load<i32>(geom, 12);
  OH = load<i32>(geom, 16); OW = load<i32>(geom, 20); OC = load<i32>(geom, 24);
  KH = load<i32>(geom, 28); KW = load<i32>(geom, 32); SH = load<i32>(geom, 36); SW = load<i32>(geom, 40);
  PT = load<i32>(geom, 44); PL = load<i32>(geom, 48); G = load<i32>(geom, 52);
  CG = C / G; OCG = OC / G;
  FO0 = load<i32>(geom, 56); FON = load<i32>(geom, 60);
  if (FON == 0) { FO0 = 0; FON = OCG; }
}

/** A 1x1, stride-1, unpadded, ungrouped layer whose output has the input's size: a plain GEMM. */
function isPointwise(): bool {
  return KH == 1 && KW == 1 && SH == 1 && SW == 1 && PT == 0 && PL == 0 && G == 1 && OH == H && OW == W;
}

// @ts-ignore: decorator
@inline function align16(n: usize): usize { return (n + 15) & ~(<usize>15); }

// ---- forward -------------------------------------------------------------------------------

export function conv2dForward(y: usize, x: usize, w: usize, geom: usize, work: usize, workElems: i32): void {
  readGeometry(geom);
  if (isPointwise()) { sgemm(0, 0, B * OH * OW, OC, C, 1, x, C, w, OC, 0, y, OC); return; } // y = x w
  if (CG == 1 && G > 1) { depthwiseForward(y, x, w, geom); return; }
  if (ASC_FEATURE_SIMD && narrowForwardFits(geom)) { narrowForward(y, x, w, geom); return; }
  for (let g = 0; g < G; g++) {
    // output lattice: all of y; input: x with the window origin (oh*SH - PT, ow*SW - PL)
    setLattice(y + (<usize>(g * OCG) << 2), <usize>OC << 2, OH, OW, <usize>OW, 1, B, OH, OW);
    setInput(x + (<usize>(g * CG) << 2), <usize>C << 2, H, W, SH, -PT, SW, -PL, KH, KW, CG);
    // weights: taps in natural order; rows (tap, c) OC*4 bytes apart, lanes (o) adjacent
    runGather(w + (<usize>(g * OCG) << 2), OCG, 0, 1, 0, 1, <usize>OC << 2, 4, false);
  }
}

// ---- backward data ---------------------------------------------------------------------------

export function conv2dBackwardData(dx: usize, dy: usize, w: usize, geom: usize, work: usize, workElems: i32): void {
  readGeometry(geom);
  if (isPointwise()) { sgemm(0, 1, B * OH * OW, C, OC, 1, dy, OC, w, OC, 1, dx, C); return; } // dx += dy wᵀ
  if (CG == 1) { depthwiseBackwardData(dx, dy, w, geom); return; }
  if (ASC_FEATURE_SIMD && narrowBackwardDataFits(geom)) { narrowBackwardData(dx, dy, w, geom); return; }
  if (scatterDataSuits()) { scatterData(dx, dy, w); return; }
  if (G == 1 && SH * SW > 1 && stridedDataFits()) { stridedData(dx, dy, w); return; }
  for (let g = 0; g < G; g++) {
    // One stride phase (rh, rw) at a time: input pixels ih = ih0 + SH*t with (ih + PT) % SH == rh
    // receive dy through the taps kh = rh + SH*a only, from dy rows (ih + PT - kh) / SH.
    for (let rh = 0; rh < SH; rh++) {
      const nKh = rh < KH ? (KH - 1 - rh) / SH + 1 : 0;
      const ih0 = ((rh - PT) % SH + SH) % SH;
      const nT = ih0 < H ? (H - 1 - ih0) / SH + 1 : 0;
      if (nKh == 0 || nT == 0) continue; // these rows of dx receive nothing
      for (let rw = 0; rw < SW; rw++) {
        const nKw = rw < KW ? (KW - 1 - rw) / SW + 1 : 0;
        const iw0 = ((rw - PL) % SW + SW) % SW;
        const nU = iw0 < W ? (W - 1 - iw0) / SW + 1 : 0;
        if (nKw == 0 || nU == 0) continue;
        // Window in dy, ascending: rows (ih0 + PT - rh)/SH + t - (nKh - 1) + a', a' < nKh, where
        // a' = 0 is the tap kh = rh + SH*(nKh - 1) and each next a' is SH taps earlier.
        setLattice(dx + ((<usize>(ih0 * W + iw0) * C + g * CG) << 2), <usize>C << 2, H, W,
                   <usize>(SH * W), SW, B, nT, nU);
        setInput(dy + (<usize>(g * OCG) << 2), <usize>OC << 2, OH, OW,
                 1, (ih0 + PT - rh) / SH - (nKh - 1), 1, (iw0 + PL - rw) / SW - (nKw - 1), nKh, nKw, OCG);
        // weights: taps mapped as above; rows (tap, o) adjacent, lanes (c) OC*4 bytes apart
        runGather(w + (<usize>(g * OCG) << 2), CG, rh + SH * (nKh - 1), -SH, rw + SW * (nKw - 1), -SW,
                  4, <usize>OC << 2, true);
      }
    }
  }
}

// Backward-data as a scatter, for ungrouped layers whose transposed window would mostly read
// padding or run short: 'valid' layers (dx's border pixels see dy through a window padded by
// KH-1 rows on each side: a 14x14 dx from a 12x12 dy computes 196 windows of 9 taps for 144x9 real
// products) and strided ones (a stride phase of a 3x3, stride-2 layer has windows of 1, 2 or 4 taps:
// a tile's setup and its read-modify-write of dx then weigh on few multiplies). Each tile of MR dy
// pixels sends, through each tap (kh, kw), dy·w[kh, kw]ᵀ (a reduction over all OC channels) to the
// dx pixels that tap came from, accumulating there; a pixel whose tap lands in the padding writes
// to a sink instead. No product is spent on padding, every reduction is OC long, and the MR dx
// pixels a tap writes are distinct (the map dy pixel -> dx pixel of one tap is injective).
// Measured on the benchmark's shapes (../../src/bench/conv.ts): 'same' stride-1 layers stay on the
// gather engine, whose one write per tile beats nine here (their windows are mostly inside dy).
function scatterDataSuits(): bool {
  if (G != 1 || KH * KW == 1) return false;
  if (SH * SW > 1) {
    // strided: only where the shortest stride phase reduces over fewer than 64 products per
    // output (its taps x OC); longer phases keep the phase-by-phase engine in L2-sized image
    // blocks, which measured better in full benchmark runs (32 -> 64, stride 2: 92 % against
    // the scatter's 62-64 %; 16 -> 32, stride 2, shortest phase 32: 59 % against 74-77 %)
    if (max(1, KH / SH) * max(1, KW / SW) * OC >= 64) return false;
  } else if (PT != 0 || PL != 0) {
    return false;
  }
  const nPanels = (C + NR - 1) / NR;
  const packed = <usize>(KH * KW * OC * nPanels * NR) << 2;
  return packed + (<usize>NR << 2) + <usize>(MR * 32) + SEG_BYTES + 256 <= SCRATCH_BYTES;
}

function scatterData(dx: usize, dy: usize, w: usize): void {
  const nPanels = (C + NR - 1) / NR;
  // panels of dx channels: row (kh*KW + kw)*OC + o holds w[kh, kw, c, o] for the panel's c
  lKh = KH; lKw = KW; lCin = OC;
  const packed = scratchBase();
  packWeights(packed, w, C, 0, nPanels, 0, 1, 0, 1, 4, <usize>OC << 2);
  const panelBytes = <usize>(KH * KW * OC * NR) << 2;
  const sink = align16(packed + <usize>nPanels * panelBytes); // NR floats no one reads
  const info = align16(sink + (<usize>NR << 2));               // MR records: out pointer (16 bytes each)
  const dst = info + <usize>(MR * 16);                         // MR dx pixel pointers of one tap (0: padding)
  const pix = dst + <usize>(MR * 4);                           // MR records: dx image, first row, first col
  const seg = pix + <usize>(MR * 16);                          // one segment: tap offset, OC steps, MR dy pointers
  const xImg = <usize>(H * W * C) << 2, xRow = <usize>(W * C) << 2, xPix = <usize>C << 2;
  const total = B * OH * OW;
  let b = 0, oh = 0, ow = 0;
  for (let q = 0; q < total; q += MR) {
    const mr = min(MR, total - q);
    for (let i = 0; i < MR; i++) {
      const p = pix + (<usize>i << 4);
      if (i < mr) {
        store<usize>(seg + 8 + (<usize>i << 2), dy + (<usize>((b * OH + oh) * OW + ow) * OC << 2));
        store<usize>(p, dx + <usize>b * xImg);
        store<i32>(p, oh * SH - PT, 4);
        store<i32>(p, ow * SW - PL, 8);
        if (++ow == OW) { ow = 0; if (++oh == OH) { oh = 0; b++; } }
      } else {
        store<usize>(seg + 8 + (<usize>i << 2), load<usize>(seg + 8)); // read, never written
        store<i32>(p, i32.MIN_VALUE >> 1, 4);                          // no tap reaches dx
        store<i32>(p, 0, 8);
      }
    }
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) {
        let any = false;
        for (let i = 0; i < MR; i++) {
          const p = pix + (<usize>i << 4);
          const ih = load<i32>(p, 4) + kh, iw = load<i32>(p, 8) + kw;
          const ok = ih >= 0 && ih < H && iw >= 0 && iw < W;
          any = any || ok;
          store<usize>(dst + (<usize>i << 2), ok ? load<usize>(p) + <usize>ih * xRow + <usize>iw * xPix : 0);
        }
        if (!any) continue;
        store<u32>(seg, <u32>((kh * KW + kw) * OC * NR) << 2);
        store<i32>(seg, OC, 4);
        for (let j = 0; j < nPanels; j++) {
          const chan = <usize>(j * NR) << 2;
          // a pixel whose tap lands in the padding accumulates into the sink
          for (let i = 0; i < MR; i++) {
            const d = load<usize>(dst + (<usize>i << 2));
            store<usize>(info + (<usize>i << 4), d != 0 ? d : sink - chan);
          }
          const wp = packed + <usize>j * panelBytes, nr = min(NR, C - j * NR);
          if (ASC_FEATURE_SIMD) gatherTile4x8(seg, 1, wp, info, chan, mr, nr, true);
          else gatherTile2x4(seg, 1, wp, info, chan, mr, nr, true);
        }
      }
    }
  }
}

// A strided layer, ungrouped: each stride phase writes a lattice of dx, so a pass of one phase
// over the whole batch reads and writes every other line of all of dx, which does not stay in
// cache for the next phase (its accumulating loads measured ~30% of the time). Instead all
// phases' weights are packed once, and images go in blocks whose dx and dy stay in L2 while the
// block's phases run one after another.
function stridedDataFits(): bool {
  const nPanels = (C + NR - 1) / NR;
  const packed = <usize>(KH * KW * OC * nPanels * NR) << 2;
  return packed + (<usize>(KW * OC) << 2) + <usize>(KH * KW) * SEG_BYTES + <usize>(MR * 16) + 256 <= SCRATCH_BYTES;
}

function stridedData(dx: usize, dy: usize, w: usize): void {
  const nPanels = (C + NR - 1) / NR;
  // the phases' panels, one after another in phase order
  let p = scratchBase();
  for (let rh = 0; rh < SH; rh++) {
    for (let rw = 0; rw < SW; rw++) {
      if (!phase(dx, dy, rh, rw, B)) continue;
      packWeights(p, w, C, 0, nPanels, rh + SH * (lKh - 1), -SH, rw + SW * (lKw - 1), -SW, 4, <usize>OC << 2);
      p += <usize>nPanels * (<usize>(lKh * lKw * lCin * NR) << 2);
    }
  }
  const area = align16(p);
  const xImage = <usize>(H * W * C) << 2, dImage = <usize>(OH * OW * OC) << 2;
  const nbBlock = max(1, <i32>(DATA_BLOCK_BYTES / (xImage + dImage)));
  for (let b0 = 0; b0 < B; b0 += nbBlock) {
    const nb = min(nbBlock, B - b0);
    p = scratchBase();
    for (let rh = 0; rh < SH; rh++) {
      for (let rw = 0; rw < SW; rw++) {
        if (!phase(dx + <usize>b0 * xImage, dy + <usize>b0 * dImage, rh, rw, nb)) continue;
        gatherPass(p, area, C, 0, nPanels, true);
        p += <usize>nPanels * (<usize>(lKh * lKw * lCin * NR) << 2);
      }
    }
  }
}

// Sets the lattice and input of stride phase (rh, rw) of conv2dBackwardData for nb images from
// dx, dy (group 0); false if the phase is empty.
function phase(dx: usize, dy: usize, rh: i32, rw: i32, nb: i32): bool {
  const nKh = rh < KH ? (KH - 1 - rh) / SH + 1 : 0;
  const ih0 = ((rh - PT) % SH + SH) % SH;
  const nT = ih0 < H ? (H - 1 - ih0) / SH + 1 : 0;
  const nKw = rw < KW ? (KW - 1 - rw) / SW + 1 : 0;
  const iw0 = ((rw - PL) % SW + SW) % SW;
  const nU = iw0 < W ? (W - 1 - iw0) / SW + 1 : 0;
  if (nKh == 0 || nT == 0 || nKw == 0 || nU == 0) return false;
  setLattice(dx + (<usize>((ih0 * W + iw0) * C) << 2), <usize>C << 2, H, W, <usize>(SH * W), SW, nb, nT, nU);
  setInput(dy, <usize>OC << 2, OH, OW, 1, (ih0 + PT - rh) / SH - (nKh - 1), 1, (iw0 + PL - rw) / SW - (nKw - 1), nKh, nKw, OC);
  return true;
}

// ---- the gather engine (forward and backward-data) -------------------------------------------
// Output lattice: pixel (b, t, u) at lOut + b*lOutImg + t*lOutRow + u*lOutCol (bytes), for b < lB,
// t < lT, u < lU. Its window in the input starts at row lRMul*t + lROff, col lSMul*u + lSOff and
// is lKh x lKw taps of lCin channels, input pixel (b, r, s) at lIn + b*lInImg + (r*lInW + s)*lInPix.
let lOut: usize = 0, lOutImg: usize = 0, lOutRow: usize = 0, lOutCol: usize = 0;
let lB: i32 = 0, lT: i32 = 0, lU: i32 = 0;
let lIn: usize = 0, lInImg: usize = 0, lInPix: usize = 0, lInH: i32 = 0, lInW: i32 = 0;
let lRMul: i32 = 0, lROff: i32 = 0, lSMul: i32 = 0, lSOff: i32 = 0, lKh: i32 = 0, lKw: i32 = 0, lCin: i32 = 0;

// `rowPixels` and `colPixels` are the lattice steps in output pixels; outH/outW the output tensor's size.
function setLattice(out: usize, outPix: usize, outH: i32, outW: i32, rowPixels: usize, colPixels: i32,
                    nb: i32, nt: i32, nu: i32): void {
  lOut = out; lOutImg = <usize>outH * outW * outPix; lOutRow = rowPixels * outPix; lOutCol = <usize>colPixels * outPix;
  lB = nb; lT = nt; lU = nu;
}

function setInput(input: usize, inPix: usize, inH: i32, inW: i32, rMul: i32, rOff: i32, sMul: i32, sOff: i32,
                  kh: i32, kw: i32, cin: i32): void {
  lIn = input; lInPix = inPix; lInH = inH; lInW = inW; lInImg = <usize>inH * inW * inPix;
  lRMul = rMul; lROff = rOff; lSMul = sMul; lSOff = sOff; lKh = kh; lKw = kw; lCin = cin;
}

/**
 * Packs the weights and runs the engine over the lattice. Weight element (tap (a, b), inner i,
 * lane l) is at wSrc + ((kh*KW + kw)*Cg*OC)*4 + i*innerStride + l*laneStride with kh = hBase +
 * hStep*a, kw = wBase + wStep*b; `nOut` lanes in all. If the packed weights would not fit in
 * scratch the lanes go in chunks of panels, and if one panel would not fit, the inner (reduced)
 * channels go in chunks too, each later chunk accumulating onto the first.
 */
function runGather(wSrc: usize, nOut: i32, hBase: i32, hStep: i32, wBase: i32, wStep: i32,
                   innerStride: usize, laneStride: usize, accumulate: bool): void {
  const cinAll = lCin, inAll = lIn, taps = lKh * lKw;
  const fixed = align16(<usize>taps * SEG_BYTES) + <usize>(MR * 16) + 64;
  const budget = SCRATCH_BYTES - fixed;
  // per reduced channel: one k-row of a panel for every tap, and a zero row entry per column tap
  const perChannel = (<usize>taps * NR + <usize>lKw) << 2;
  const chunk = <i32>min(<usize>cinAll, max<usize>(1, budget / perChannel));
  const nPanels = (nOut + NR - 1) / NR;
  for (let c0 = 0; c0 < cinAll; c0 += chunk) {
    lCin = min(chunk, cinAll - c0);
    lIn = inAll + (<usize>c0 << 2);
    const panelBytes = <usize>(taps * lCin * NR) << 2;
    const zeroBytes = align16(<usize>(lKw * lCin) << 2);
    const fit = max<i32>(1, <i32>((budget - zeroBytes) / panelBytes));
    for (let j0 = 0; j0 < nPanels; j0 += fit) {
      const j1 = min(nPanels, j0 + fit);
      const packed = scratchBase();
      packWeights(packed, wSrc + <usize>c0 * innerStride, nOut, j0, j1, hBase, hStep, wBase, wStep, innerStride, laneStride);
      gatherPass(packed, packed + <usize>(j1 - j0) * panelBytes, nOut, j0, j1, accumulate || c0 > 0);
    }
  }
  lCin = cinAll; lIn = inAll;
}

// Panels j0 .. j1-1, each (lKh*lKw*lCin, NR): row k = (a*lKw + b)*lCin + i, lanes past nOut zero.
function packWeights(dst: usize, src: usize, nOut: i32, j0: i32, j1: i32, hBase: i32, hStep: i32,
                     wBase: i32, wStep: i32, innerStride: usize, laneStride: usize): void {
  const tapBytes = <usize>CG * OC * 4;
  for (let j = j0; j < j1; j++) {
    const lanes = min(NR, nOut - j * NR);
    const laneSrc = src + <usize>(j * NR) * laneStride;
    for (let a = 0; a < lKh; a++) {
      for (let b = 0; b < lKw; b++) {
        const tap = laneSrc + <usize>((hBase + hStep * a) * KW + wBase + wStep * b) * tapBytes;
        for (let i = 0; i < lCin; i++) {
          const s = tap + <usize>i * innerStride;
          let l = 0;
          for (; l < lanes; l++) store<f32>(dst + (<usize>l << 2), load<f32>(s + <usize>l * laneStride));
          for (; l < NR; l++) store<f32>(dst + (<usize>l << 2), 0);
          dst += <usize>NR << 2;
        }
      }
    }
  }
}

// One pass of the engine over the lattice with panels j0 .. j1-1 packed at `packed`; `area` is
// the free scratch after them: a zero row, the tile's pixel records, its segments.
function gatherPass(packed: usize, area: usize, nOut: i32, j0: i32, j1: i32, accumulate: bool): void {
  const contiguous = lInPix == (<usize>lCin << 2); // the KW taps of a window row are adjacent
  const zeroLen = <usize>(contiguous ? lKw * lCin : lCin) << 2;
  const zero = area;
  memory.fill(zero, 0, zeroLen);
  const info = align16(zero + zeroLen);              // per pixel: out, image base, r, s
  const seg = info + <usize>(MR * 16);
  const panelBytes = <usize>(lKh * lKw * lCin * NR) << 2;
  const rowSteps = lKw * lCin;
  const inRow = <usize>lInW * lInPix;
  const total = lB * lT * lU;
  let b = 0, t = 0, u = 0;
  for (let q = 0; q < total; q += MR) {
    const mr = min(MR, total - q);
    for (let i = 0; i < MR; i++) {
      const p = info + (<usize>i << 4);
      if (i < mr) {
        store<usize>(p, lOut + <usize>b * lOutImg + <usize>t * lOutRow + <usize>u * lOutCol);
        store<usize>(p, lIn + <usize>b * lInImg, 4);
        store<i32>(p, lRMul * t + lROff, 8);
        store<i32>(p, lSMul * u + lSOff, 12);
        if (++u == lU) { u = 0; if (++t == lT) { t = 0; b++; } }
      } else {
        store<i32>(p, i32.MIN_VALUE >> 1, 8); // a row no tap reaches: every segment reads zeros
        store<i32>(p, 0, 12);
      }
    }
    // Interior tile of a group-free layer (the common case): every window row lies inside the input.
    let interior = contiguous && mr == MR;
    for (let i = 0; interior && i < MR; i++) {
      const p = info + (<usize>i << 4);
      const r = load<i32>(p, 8), s = load<i32>(p, 12);
      interior = r >= 0 && r + lKh <= lInH && s >= 0 && s + lKw <= lInW;
    }
    if (interior) {
      // no checks needed: one segment per window row, pointers a row apart
      for (let i = 0; i < MR; i++) {
        const p = info + (<usize>i << 4);
        let q = load<usize>(p, 4) + <usize>load<i32>(p, 8) * inRow + <usize>load<i32>(p, 12) * lInPix;
        let sp = seg + 8 + (<usize>i << 2);
        for (let a = 0; a < lKh; a++) { store<usize>(sp, q); q += inRow; sp += SEG_BYTES; }
      }
      let sp = seg;
      for (let a = 0; a < lKh; a++) {
        store<u32>(sp, <u32>(a * rowSteps * NR) << 2);
        store<i32>(sp, rowSteps, 4);
        sp += SEG_BYTES;
      }
      runTiles(seg, lKh, packed, panelBytes, info, nOut, j0, j1, mr, accumulate);
      continue;
    }
    // segments of this tile's window
    let nSeg = 0;
    let sp = seg;
    for (let a = 0; a < lKh; a++) {
      let anyRow = false, whole = contiguous;
      for (let i = 0; i < MR; i++) {
        const p = info + (<usize>i << 4);
        const r = load<i32>(p, 8) + a;
        if (r >= 0 && r < lInH) {
          anyRow = true;
          const s = load<i32>(p, 12);
          if (s < 0 || s + lKw > lInW) whole = false;
        }
      }
      if (!anyRow) continue;
      if (whole) {
        store<u32>(sp, <u32>(a * rowSteps * NR) << 2);
        store<i32>(sp, rowSteps, 4);
        for (let i = 0; i < MR; i++) {
          const p = info + (<usize>i << 4);
          const r = load<i32>(p, 8) + a;
          const ok = r >= 0 && r < lInH;
          store<usize>(sp + 8 + (<usize>i << 2), ok ? load<usize>(p, 4) + <usize>r * inRow + <usize>load<i32>(p, 12) * lInPix : zero);
        }
        sp += SEG_BYTES;
        nSeg++;
      } else {
        for (let kb = 0; kb < lKw; kb++) {
          let any = false;
          for (let i = 0; i < MR; i++) {
            const p = info + (<usize>i << 4);
            const r = load<i32>(p, 8) + a, s = load<i32>(p, 12) + kb;
            const ok = r >= 0 && r < lInH && s >= 0 && s < lInW;
            any = any || ok;
            store<usize>(sp + 8 + (<usize>i << 2), ok ? load<usize>(p, 4) + <usize>r * inRow + <usize>s * lInPix : zero);
          }
          if (!any) continue;
          store<u32>(sp, <u32>((a * lKw + kb) * lCin * NR) << 2);
          store<i32>(sp, lCin, 4);
          sp += SEG_BYTES;
          nSeg++;
        }
      }
    }
    runTiles(seg, nSeg, packed, panelBytes, info, nOut, j0, j1, mr, accumulate);
  }
}

// The tile's segments against every packed panel j0 .. j1-1.
function runTiles(seg: usize, nSeg: i32, packed: usize, panelBytes: usize, info: usize, nOut: i32,
                  j0: i32, j1: i32, mr: i32, accumulate: bool): void {
  for (let j = j0; j < j1; j++) {
    const nr = min(NR, nOut - j * NR);
    const wp = packed + <usize>(j - j0) * panelBytes;
    const chan = <usize>(j * NR) << 2;
    if (ASC_FEATURE_SIMD) gatherTile4x8(seg, nSeg, wp, info, chan, mr, nr, accumulate);
    else gatherTile2x4(seg, nSeg, wp, info, chan, mr, nr, accumulate);
  }
}

// out[i, l] (+)= sum over segments s, steps k: in_i[s][k] * wp[s.offset + k*NR + l], i < MR, l < NR.
// Pixel i's output is at info[i].out + chan; only mr pixels and nr channels are written.
function gatherTile4x8(seg: usize, nSeg: i32, wp: usize, info: usize, chan: usize,
                       mr: i32, nr: i32, accumulate: bool): void {
  let c00 = f32x4.splat(0), c01 = c00, c10 = c00, c11 = c00;
  let c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  const segEnd = seg + <usize>nSeg * SEG_BYTES;
  for (let s = seg; s < segEnd; s += SEG_BYTES) {
    let wk = wp + load<usize>(s);
    const wEnd = wk + (<usize>load<i32>(s, 4) << 5);
    let p0 = load<usize>(s, 8), p1 = load<usize>(s, 12), p2 = load<usize>(s, 16), p3 = load<usize>(s, 20);
    while (wk < wEnd) {
      const b0 = v128.load(wk), b1 = v128.load(wk, 16);
      let a = v128.load32_splat(p0);
      c00 = madd(c00, a, b0); c01 = madd(c01, a, b1);
      a = v128.load32_splat(p1);
      c10 = madd(c10, a, b0); c11 = madd(c11, a, b1);
      a = v128.load32_splat(p2);
      c20 = madd(c20, a, b0); c21 = madd(c21, a, b1);
      a = v128.load32_splat(p3);
      c30 = madd(c30, a, b0); c31 = madd(c31, a, b1);
      p0 += 4; p1 += 4; p2 += 4; p3 += 4;
      wk += 32;
    }
  }
  if (mr == 4 && nr == 8) {
    const o0 = load<usize>(info) + chan, o1 = load<usize>(info, 16) + chan;
    const o2 = load<usize>(info, 32) + chan, o3 = load<usize>(info, 48) + chan;
    if (accumulate) {
      c00 = f32x4.add(v128.load(o0), c00); c01 = f32x4.add(v128.load(o0, 16), c01);
      c10 = f32x4.add(v128.load(o1), c10); c11 = f32x4.add(v128.load(o1, 16), c11);
      c20 = f32x4.add(v128.load(o2), c20); c21 = f32x4.add(v128.load(o2, 16), c21);
      c30 = f32x4.add(v128.load(o3), c30); c31 = f32x4.add(v128.load(o3, 16), c31);
    }
    v128.store(o0, c00); v128.store(o0, c01, 16);
    v128.store(o1, c10); v128.store(o1, c11, 16);
    v128.store(o2, c20); v128.store(o2, c21, 16);
    v128.store(o3, c30); v128.store(o3, c31, 16);
    return;
  }
  // fringe: nr < 8 channels and/or mr < 4 pixels, written lane by lane
  storeLanes(load<usize>(info) + chan, c00, c01, nr, accumulate);
  if (mr > 1) storeLanes(load<usize>(info, 16) + chan, c10, c11, nr, accumulate);
  if (mr > 2) storeLanes(load<usize>(info, 32) + chan, c20, c21, nr, accumulate);
  if (mr > 3) storeLanes(load<usize>(info, 48) + chan, c30, c31, nr, accumulate);
}

// p[l] (+)= (lo ++ hi)[l] for l < n <= 8: whole vectors where they fit, then single lanes.
function storeLanes(p: usize, lo: v128, hi: v128, n: i32, accumulate: bool): void {
  if (n >= 4) {
    v128.store(p, accumulate ? f32x4.add(v128.load(p), lo) : lo);
    p += 16; n -= 4; lo = hi;
  }
  for (let l = 0; l < n; l++) {
    const q = p + (<usize>l << 2);
    const v = extractLane(lo, l);
    store<f32>(q, accumulate ? load<f32>(q) + v : v);
  }
}

function gatherTile2x4(seg: usize, nSeg: i32, wp: usize, info: usize, chan: usize,
                       mr: i32, nr: i32, accumulate: bool): void {
  let c00: f32 = 0, c01: f32 = 0, c02: f32 = 0, c03: f32 = 0;
  let c10: f32 = 0, c11: f32 = 0, c12: f32 = 0, c13: f32 = 0;
  const segEnd = seg + <usize>nSeg * SEG_BYTES;
  for (let s = seg; s < segEnd; s += SEG_BYTES) {
    let wk = wp + load<usize>(s);
    const wEnd = wk + (<usize>load<i32>(s, 4) << 4);
    let p0 = load<usize>(s, 8), p1 = load<usize>(s, 12);
    while (wk < wEnd) {
      const b0 = load<f32>(wk), b1 = load<f32>(wk, 4), b2 = load<f32>(wk, 8), b3 = load<f32>(wk, 12);
      const a0 = load<f32>(p0), a1 = load<f32>(p1);
      c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
      c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
      p0 += 4; p1 += 4;
      wk += 16;
    }
  }
  storeRow4(load<usize>(info) + chan, c00, c01, c02, c03, nr, accumulate);
  if (mr > 1) storeRow4(load<usize>(info, 16) + chan, c10, c11, c12, c13, nr, accumulate);
}

// p[l] (+)= (v0, v1, v2, v3)[l] for l < n <= 4.
function storeRow4(p: usize, v0: f32, v1: f32, v2: f32, v3: f32, n: i32, accumulate: bool): void {
  store<f32>(p, accumulate ? load<f32>(p) + v0 : v0);
  if (n > 1) store<f32>(p, accumulate ? load<f32>(p, 4) + v1 : v1, 4);
  if (n > 2) store<f32>(p, accumulate ? load<f32>(p, 8) + v2 : v2, 8);
  if (n > 3) store<f32>(p, accumulate ? load<f32>(p, 12) + v3 : v3, 12);
}

// ---- backward filter -------------------------------------------------------------------------

export function conv2dBackwardFilter(dw: usize, x: usize, dy: usize, geom: usize, work: usize, workElems: i32): void {
  readGeometry(geom);
  if (isPointwise()) { // dw += xᵀ dy
    const o0 = <usize>FO0 << 2;
    if (ASC_FEATURE_SIMD) pointwiseBackwardFilter(dw + o0, x, dy + o0, B * OH * OW, C, FON, OC);
    else sgemm(1, 0, C, FON, B * OH * OW, 1, x, C, dy + o0, OC, 1, dw + o0, OC);
    return;
  }
  if (CG == 1 && G > 1) { depthwiseBackwardFilter(dw, x, dy, geom); return; }
  if (ASC_FEATURE_SIMD && narrowBackwardFilterFits(geom)) { narrowBackwardFilter(dw, x, dy, geom); return; }
  filterDirect(dw, x, dy);
}

// The reduction over output pixels, a block of whole rows at a time (see the file's head).
function filterDirect(dw: usize, x: usize, dy: usize): void {
  const nPanels = (FON + NR - 1) / NR;
  const pixBytes = <usize>(nPanels * NR) << 2;          // packed dy bytes per pixel, all panels
  const cap = max<i32>(1, <i32>((SCRATCH_BYTES - 64) / pixBytes));
  const blockPixels = min(FILTER_BLOCK_PIXELS, cap);
  const imagePixels = OH * OW;
  // A block is nb whole images (small images) or nr rows of one image.
  const nbImg = imagePixels <= blockPixels ? blockPixels / imagePixels : 1;
  const nRows = imagePixels <= blockPixels ? OH : max(1, blockPixels / OW);
  const packed = scratchBase();
  for (let g = 0; g < G; g++) {
    const xg = x + (<usize>(g * CG) << 2);
    const dwg = dw + (<usize>(g * OCG + FO0) << 2);
    for (let b0 = 0; b0 < B; b0 += nbImg) {
      const nb = min(nbImg, B - b0);
      for (let r0 = 0; r0 < OH; r0 += nRows) {
        const nr = min(nRows, OH - r0);
        packDy(packed, dy + (<usize>(g * OCG + FO0) << 2), b0, nb, r0, nr, nPanels);
        filterBlock(dwg, xg, packed, b0, nb, r0, nr, nPanels);
      }
    }
  }
}

// packed[j][p][l] = dyg[b, oh, ow, j*NR + l] (0 past FON channels; dyg = dy at the first) for the block's pixels p = ((b - b0)*nr + oh - r0)*OW + ow.
function packDy(dst: usize, dyg: usize, b0: i32, nb: i32, r0: i32, nr: i32, nPanels: i32): void {
  const blockPixels = nb * nr * OW;
  for (let j = 0; j < nPanels; j++) {
    const lanes = min(NR, FON - j * NR);
    let d = dst + (<usize>(j * blockPixels * NR) << 2);
    for (let b = b0; b < b0 + nb; b++) {
      let s = dyg + ((<usize>((b * OH + r0) * OW) * OC + j * NR) << 2);
      for (let p = 0; p < nr * OW; p++) {
        if (ASC_FEATURE_SIMD && lanes == NR) {
          v128.store(d, v128.load(s)); v128.store(d, v128.load(s, 16), 16);
        } else {
          let l = 0;
          for (; l < lanes; l++) store<f32>(d + (<usize>l << 2), load<f32>(s + (<usize>l << 2)));
          for (; l < NR; l++) store<f32>(d + (<usize>l << 2), 0);
        }
        s += <usize>OC << 2;
        d += <usize>NR << 2;
      }
    }
  }
}

// dw[tap, c, j*NR + l] += sum over the block's pixels whose window has the tap inside the input.
function filterBlock(dwg: usize, xg: usize, packed: usize, b0: i32, nb: i32, r0: i32, nr: i32, nPanels: i32): void {
  const blockPixels = nb * nr * OW;
  const xPix = <usize>C << 2;
  const xColStep = <usize>SW * xPix, xRowStep = <usize>(SH * W) * xPix, xImg = <usize>(H * W) * xPix;
  const dColStep = <usize>NR << 2, dRowStep = <usize>OW * dColStep, dImg = <usize>nr * dRowStep;
  for (let kh = 0; kh < KH; kh++) {
    // rows oh in [r0, r0+nr) with 0 <= oh*SH - PT + kh < H
    const ohLo = max(r0, ceilDiv(PT - kh, SH)), ohHi = min(r0 + nr, floorDiv(H - 1 + PT - kh, SH) + 1);
    if (ohLo >= ohHi) continue;
    for (let kw = 0; kw < KW; kw++) {
      const owLo = max(0, ceilDiv(PL - kw, SW)), owHi = min(OW, floorDiv(W - 1 + PL - kw, SW) + 1);
      if (owLo >= owHi) continue;
      // x at (b0, ohLo, owLo) for this tap, channel 0 of the group; dy likewise in the packed block
      const x0 = xg + <usize>b0 * xImg + (<usize>((ohLo * SH - PT + kh) * W + owLo * SW - PL + kw)) * xPix;
      const d0 = packed + <usize>(ohLo - r0) * dRowStep + <usize>owLo * dColStep;
      const dwTap = dwg + (<usize>((kh * KW + kw) * CG * OC) << 2);
      for (let j = 0; j < nPanels; j++) {
        const lanes = min(NR, FON - j * NR);
        const dj = d0 + (<usize>(j * blockPixels * NR) << 2);
        const dwj = dwTap + (<usize>(j * NR) << 2);
        let c = 0;
        for (; c + MR <= CG; c += MR) {
          if (ASC_FEATURE_SIMD) filterTile4x8(dwj + (<usize>(c * OC) << 2), lanes, x0 + (<usize>c << 2), dj, nb, ohHi - ohLo, owHi - owLo, xImg, xRowStep, xColStep, dImg, dRowStep);
          else filterTile2x4(dwj + (<usize>(c * OC) << 2), lanes, x0 + (<usize>c << 2), dj, nb, ohHi - ohLo, owHi - owLo, xImg, xRowStep, xColStep, dImg, dRowStep);
        }
        for (; c < CG; c++) {
          filterRow(dwj + (<usize>(c * OC) << 2), lanes, x0 + (<usize>c << 2), dj, nb, ohHi - ohLo, owHi - owLo, xImg, xRowStep, xColStep, dImg, dRowStep);
        }
      }
    }
  }
}

// @ts-ignore: decorator
@inline function ceilDiv(a: i32, b: i32): i32 { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }
// @ts-ignore: decorator
@inline function floorDiv(a: i32, b: i32): i32 { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// dw[i, l] += sum_p x_p[i] * d_p[l] for channels i < 4 (x_p + 4i) and lanes l < 8, over nb images x
// rows x cols pixels; dw rows are OC*4 bytes apart and only `lanes` columns are written.
function filterTile4x8(dw: usize, lanes: i32, x: usize, d: usize, nb: i32, rows: i32, cols: i32,
                       xImg: usize, xRow: usize, xCol: usize, dImg: usize, dRow: usize): void {
  let c00 = f32x4.splat(0), c01 = c00, c10 = c00, c11 = c00;
  let c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  for (let b = 0; b < nb; b++) {
    let xr = x + <usize>b * xImg, dr = d + <usize>b * dImg;
    for (let r = 0; r < rows; r++) {
      let xp = xr, dp = dr;
      const dEnd = dr + (<usize>cols << 5);
      while (dp < dEnd) {
        const b0 = v128.load(dp), b1 = v128.load(dp, 16);
        let a = v128.load32_splat(xp);
        c00 = madd(c00, a, b0); c01 = madd(c01, a, b1);
        a = v128.load32_splat(xp, 4);
        c10 = madd(c10, a, b0); c11 = madd(c11, a, b1);
        a = v128.load32_splat(xp, 8);
        c20 = madd(c20, a, b0); c21 = madd(c21, a, b1);
        a = v128.load32_splat(xp, 12);
        c30 = madd(c30, a, b0); c31 = madd(c31, a, b1);
        xp += xCol;
        dp += 32;
      }
      xr += xRow;
      dr += dRow;
    }
  }
  const ldw = <usize>OC << 2;
  const r1 = dw + ldw, r2 = r1 + ldw, r3 = r2 + ldw;
  if (lanes == 8) {
    v128.store(dw, f32x4.add(v128.load(dw), c00)); v128.store(dw, f32x4.add(v128.load(dw, 16), c01), 16);
    v128.store(r1, f32x4.add(v128.load(r1), c10)); v128.store(r1, f32x4.add(v128.load(r1, 16), c11), 16);
    v128.store(r2, f32x4.add(v128.load(r2), c20)); v128.store(r2, f32x4.add(v128.load(r2, 16), c21), 16);
    v128.store(r3, f32x4.add(v128.load(r3), c30)); v128.store(r3, f32x4.add(v128.load(r3, 16), c31), 16);
    return;
  }
  addLanes(dw, c00, c01, lanes); addLanes(r1, c10, c11, lanes);
  addLanes(r2, c20, c21, lanes); addLanes(r3, c30, c31, lanes);
}

// p[l] += (lo ++ hi)[l] for l < lanes < 8.
function addLanes(p: usize, lo: v128, hi: v128, lanes: i32): void {
  for (let l = 0; l < lanes; l++) {
    const v = l < 4 ? extractLane(lo, l) : extractLane(hi, l - 4);
    store<f32>(p + (<usize>l << 2), load<f32>(p + (<usize>l << 2)) + v);
  }
}

function extractLane(v: v128, l: i32): f32 {
  switch (l) {
    case 0: return f32x4.extract_lane(v, 0);
    case 1: return f32x4.extract_lane(v, 1);
    case 2: return f32x4.extract_lane(v, 2);
    default: return f32x4.extract_lane(v, 3);
  }
}

function filterTile2x4(dw: usize, lanes: i32, x: usize, d: usize, nb: i32, rows: i32, cols: i32,
                       xImg: usize, xRow: usize, xCol: usize, dImg: usize, dRow: usize): void {
  let c00: f32 = 0, c01: f32 = 0, c02: f32 = 0, c03: f32 = 0;
  let c10: f32 = 0, c11: f32 = 0, c12: f32 = 0, c13: f32 = 0;
  for (let b = 0; b < nb; b++) {
    let xr = x + <usize>b * xImg, dr = d + <usize>b * dImg;
    for (let r = 0; r < rows; r++) {
      let xp = xr, dp = dr;
      const dEnd = dr + (<usize>cols << 4);
      while (dp < dEnd) {
        const b0 = load<f32>(dp), b1 = load<f32>(dp, 4), b2 = load<f32>(dp, 8), b3 = load<f32>(dp, 12);
        const a0 = load<f32>(xp), a1 = load<f32>(xp, 4);
        c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
        c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
        xp += xCol;
        dp += 16;
      }
      xr += xRow;
      dr += dRow;
    }
  }
  const r1 = dw + (<usize>OC << 2);
  store<f32>(dw, load<f32>(dw) + c00);
  if (lanes > 1) store<f32>(dw, load<f32>(dw, 4) + c01, 4);
  if (lanes > 2) store<f32>(dw, load<f32>(dw, 8) + c02, 8);
  if (lanes > 3) store<f32>(dw, load<f32>(dw, 12) + c03, 12);
  store<f32>(r1, load<f32>(r1) + c10);
  if (lanes > 1) store<f32>(r1, load<f32>(r1, 4) + c11, 4);
  if (lanes > 2) store<f32>(r1, load<f32>(r1, 8) + c12, 8);
  if (lanes > 3) store<f32>(r1, load<f32>(r1, 12) + c13, 12);
}

// One input channel (the Cg % MR fringe): dw[l] += sum_p x_p * d_p[l], l < lanes.
function filterRow(dw: usize, lanes: i32, x: usize, d: usize, nb: i32, rows: i32, cols: i32,
                   xImg: usize, xRow: usize, xCol: usize, dImg: usize, dRow: usize): void {
  if (ASC_FEATURE_SIMD) {
    // two pixels per step into separate sums: four add chains instead of two
    let s0 = f32x4.splat(0), s1 = s0, s2 = s0, s3 = s0;
    const xCol2 = xCol << 1;
    for (let b = 0; b < nb; b++) {
      let xr = x + <usize>b * xImg, dr = d + <usize>b * dImg;
      for (let r = 0; r < rows; r++) {
        let xp = xr, dp = dr;
        const dEnd = dr + (<usize>cols << 5), dEnd2 = dr + (<usize>(cols & ~1) << 5);
        while (dp < dEnd2) {
          const a = v128.load32_splat(xp), a2 = v128.load32_splat(xp + xCol);
          s0 = madd(s0, a, v128.load(dp)); s1 = madd(s1, a, v128.load(dp, 16));
          s2 = madd(s2, a2, v128.load(dp, 32)); s3 = madd(s3, a2, v128.load(dp, 48));
          xp += xCol2;
          dp += 64;
        }
        if (dp < dEnd) {
          const a = v128.load32_splat(xp);
          s0 = madd(s0, a, v128.load(dp)); s1 = madd(s1, a, v128.load(dp, 16));
        }
        xr += xRow;
        dr += dRow;
      }
    }
    s0 = f32x4.add(s0, s2); s1 = f32x4.add(s1, s3);
    if (lanes == 8) {
      v128.store(dw, f32x4.add(v128.load(dw), s0)); v128.store(dw, f32x4.add(v128.load(dw, 16), s1), 16);
    } else {
      addLanes(dw, s0, s1, lanes);
    }
  } else {
    let s0: f32 = 0, s1: f32 = 0, s2: f32 = 0, s3: f32 = 0;
    for (let b = 0; b < nb; b++) {
      let xr = x + <usize>b * xImg, dr = d + <usize>b * dImg;
      for (let r = 0; r < rows; r++) {
        let xp = xr, dp = dr;
        const dEnd = dr + (<usize>cols << 4);
        while (dp < dEnd) {
          const a = load<f32>(xp);
          s0 += a * load<f32>(dp); s1 += a * load<f32>(dp, 4); s2 += a * load<f32>(dp, 8); s3 += a * load<f32>(dp, 12);
          xp += xCol;
          dp += 16;
        }
        xr += xRow;
        dr += dRow;
      }
    }
    store<f32>(dw, load<f32>(dw) + s0);
    if (lanes > 1) store<f32>(dw, load<f32>(dw, 4) + s1, 4);
    if (lanes > 2) store<f32>(dw, load<f32>(dw, 8) + s2, 8);
    if (lanes > 3) store<f32>(dw, load<f32>(dw, 12) + s3, 12);
  }
}
