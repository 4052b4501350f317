// The convolution layers of the benchmark, their operands and f64 references. Platform-neutral.
// Layers: a small CIFAR-style stack at batch 128 (3x3, 16 -> 64 channels, with stride-2
// downsampling: resnet8's), the CNN teacher's two 3x3 layers (docs/models/cnn-teacher.json),
// LeNet-5's two convolutions, a 1x1 projection and a depthwise 3x3 (mobilenet-tiny's). Every pass
// is counted as 2 B OH OW KH KW (C/G) OC flop, forward and backward alike.

import { convOutput, type ConvGeometry } from '../kernels/geometry.js';
import { uniformSource } from './problems.js';
import type { ConvLayer, ConvPass } from './types.js';

const layer = (name: string, H: number, C: number, OC: number, K: number, stride: number, padding: 'same' | 'valid',
               groups = 1, B = 128): ConvLayer => ({ name, B, H, W: H, C, OC, K, stride, padding, groups });

/** The full run's layers, batch 128. */
export const CONV_LAYERS: readonly ConvLayer[] = [
  layer('3x3 16->16 28x28 same', 28, 16, 16, 3, 1, 'same'),
  layer('3x3 16->32 s2 28x28', 28, 16, 32, 3, 2, 'same'),
  layer('3x3 32->32 14x14 same', 14, 32, 32, 3, 1, 'same'),
  layer('3x3 32->64 s2 14x14', 14, 32, 64, 3, 2, 'same'),
  layer('3x3 64->64 7x7 same', 7, 64, 64, 3, 1, 'same'),
  layer('3x3 32->64 12x12 valid (CNN teacher)', 12, 32, 64, 3, 1, 'valid'),
  layer('3x3 64->64 10x10 valid (CNN teacher)', 10, 64, 64, 3, 1, 'valid'),
  layer('5x5 1->6 28x28 same (LeNet c1)', 28, 1, 6, 5, 1, 'same'),
  layer('5x5 6->16 14x14 valid (LeNet c3)', 14, 6, 16, 5, 1, 'valid'),
  layer('1x1 16->32 14x14', 14, 16, 32, 1, 1, 'valid'),
  layer('depthwise 3x3 32 14x14', 14, 32, 32, 3, 1, 'same', 32),
];

/** Quick mode: two small layers with odd sizes (tails, padding, stride 2, a depthwise one). */
export const QUICK_CONV_LAYERS: readonly ConvLayer[] = [
  layer('3x3 8->12 s2 9x9', 9, 8, 12, 3, 2, 'same', 1, 2),
  layer('depthwise 3x3 5 7x7', 7, 5, 5, 3, 1, 'same', 5, 2),
];

export const CONV_PASSES: readonly ConvPass[] = ['forward', 'backwardData', 'backwardFilter'];

export function convGeometryOf(l: ConvLayer): ConvGeometry {
  const h = convOutput(l.H, l.K, l.stride, l.padding), w = convOutput(l.W, l.K, l.stride, l.padding);
  return {
    B: l.B, H: l.H, W: l.W, C: l.C, OH: h.out, OW: w.out, OC: l.OC, KH: l.K, KW: l.K,
    SH: l.stride, SW: l.stride, PT: h.before, PL: w.before, G: l.groups,
  };
}

export const convFlop = (g: ConvGeometry): number => 2 * g.B * g.OH * g.OW * g.KH * g.KW * (g.C / g.G) * g.OC;

export interface ConvOperands { geometry: ConvGeometry; x: Float32Array; w: Float32Array; dy: Float32Array }

export function convOperands(l: ConvLayer, seed: number): ConvOperands {
  const g = convGeometryOf(l);
  const next = uniformSource(seed);
  const fill = (n: number): Float32Array => Float32Array.from({ length: n }, () => 2 * next() - 1);
  return { geometry: g, x: fill(g.B * g.H * g.W * g.C), w: fill(g.KH * g.KW * (g.C / g.G) * g.OC), dy: fill(g.B * g.OH * g.OW * g.OC) };
}

/**
 * The pass's exact result in f64: y, or the gradient dx / dw of <dy, y>. One loop nest walks
 * every (output pixel, tap inside the image, input channel, output channel) product once.
 */
export function convReference({ geometry: g, x, w, dy }: ConvOperands, pass: ConvPass): Float64Array {
  const Cg = g.C / g.G, OCg = g.OC / g.G;
  const out = new Float64Array(pass === 'forward' ? g.B * g.OH * g.OW * g.OC
    : pass === 'backwardData' ? g.B * g.H * g.W * g.C : g.KH * g.KW * Cg * g.OC);
  for (let b = 0; b < g.B; b++) {
    for (let oh = 0; oh < g.OH; oh++) {
      for (let ow = 0; ow < g.OW; ow++) {
        const yi = ((b * g.OH + oh) * g.OW + ow) * g.OC;
        for (let kh = 0; kh < g.KH; kh++) {
          const ih = oh * g.SH - g.PT + kh;
          if (ih < 0 || ih >= g.H) continue;
          for (let kw = 0; kw < g.KW; kw++) {
            const iw = ow * g.SW - g.PL + kw;
            if (iw < 0 || iw >= g.W) continue;
            const xi = ((b * g.H + ih) * g.W + iw) * g.C;
            for (let grp = 0; grp < g.G; grp++) {
              for (let c = 0; c < Cg; c++) {
                const wi = ((kh * g.KW + kw) * Cg + c) * g.OC + grp * OCg, xc = xi + grp * Cg + c;
                const yo = yi + grp * OCg;
                if (pass === 'forward') {
                  const xv = x[xc]!;
                  for (let o = 0; o < OCg; o++) out[yo + o]! += xv * w[wi + o]!;
                } else if (pass === 'backwardData') {
                  let s = 0;
                  for (let o = 0; o < OCg; o++) s += dy[yo + o]! * w[wi + o]!;
                  out[xc]! += s;
                } else {
                  const xv = x[xc]!;
                  for (let o = 0; o < OCg; o++) out[wi + o]! += xv * dy[yo + o]!;
                }
              }
            }
          }
        }
      }
    }
  }
  return out;
}
