// The convolution geometry struct (abi.ts "Convolution geometry"): reading and checking it.
// Kernels take it as a pointer to CONV_GEOMETRY_INTS i32; layers write it once per plan.

import { CONV_GEOMETRY_INTS, GEOM, GEOM_FILTER_RANGE } from '../abi.js';
import type { MemoryViews } from '../tensor.js';

export interface ConvGeometry {
  B: number; H: number; W: number; C: number;
  OH: number; OW: number; OC: number;
  KH: number; KW: number; SH: number; SW: number;
  PT: number; PL: number; G: number;
}

/** The struct's ints for a geometry (reserved slots 0). */
export function encodeGeometry(g: ConvGeometry): Int32Array {
  const out = new Int32Array(CONV_GEOMETRY_INTS);
  for (const [k, i] of Object.entries(GEOM)) out[i] = g[k as keyof ConvGeometry];
  return out;
}

/** Reads the struct at byte offset `ptr`. */
export function decodeGeometry(i32: Int32Array, ptr: number): ConvGeometry {
  const at = ptr >>> 2;
  const g = {} as ConvGeometry;
  for (const [k, i] of Object.entries(GEOM)) g[k as keyof ConvGeometry] = i32[at + i]!;
  return g;
}

/**
 * Checks a geometry; throws a RangeError naming `op` and the field. Every output window must
 * overlap the input (padding smaller than the kernel, the last window starting inside), so
 * no output is made of padding alone.
 */
export function checkGeometry(op: string, g: ConvGeometry): ConvGeometry {
  for (const k of ['B', 'H', 'W', 'C', 'OH', 'OW', 'OC', 'KH', 'KW', 'SH', 'SW', 'G'] as const) {
    if (!(Number.isInteger(g[k]) && g[k] >= 1)) throw new RangeError(`${op}: geometry ${k} must be a positive integer, got ${g[k]}`);
  }
  for (const k of ['PT', 'PL'] as const) {
    if (!(Number.isInteger(g[k]) && g[k] >= 0)) throw new RangeError(`${op}: geometry ${k} must be a non-negative integer, got ${g[k]}`);
  }
  if (g.PT >= g.KH) throw new RangeError(`${op}: geometry PT = ${g.PT} must be smaller than KH = ${g.KH}`);
  if (g.PL >= g.KW) throw new RangeError(`${op}: geometry PL = ${g.PL} must be smaller than KW = ${g.KW}`);
  if ((g.OH - 1) * g.SH - g.PT >= g.H) throw new RangeError(`${op}: geometry OH = ${g.OH} has windows starting below the input (H = ${g.H}, SH = ${g.SH}, PT = ${g.PT})`);
  if ((g.OW - 1) * g.SW - g.PL >= g.W) throw new RangeError(`${op}: geometry OW = ${g.OW} has windows starting right of the input (W = ${g.W}, SW = ${g.SW}, PL = ${g.PL})`);
  if (g.C % g.G !== 0) throw new RangeError(`${op}: geometry C = ${g.C} is not a multiple of G = ${g.G}`);
  if (g.OC % g.G !== 0) throw new RangeError(`${op}: geometry OC = ${g.OC} is not a multiple of G = ${g.G}`);
  const big = g.B * g.OH * g.OW * g.OC;
  if (!(big <= 0x7fffffff && g.B * g.H * g.W * g.C <= 0x7fffffff)) throw new RangeError(`${op}: geometry describes tensors beyond 2^31 elements`);
  return g;
}

/** A descriptor's `derive` for kernels whose `geom` argument is a geometry struct. */
export function geometryOf(op: string) {
  return (_s: Readonly<Record<string, number>>, views: MemoryViews, ptrs: Readonly<Record<string, number>>): Record<string, number> => {
    const g = checkGeometry(op, decodeGeometry(views.i32, ptrs.geom!));
    checkFilterRange(op, g, views.i32[(ptrs.geom! >>> 2) + GEOM_FILTER_RANGE.O0]!, views.i32[(ptrs.geom! >>> 2) + GEOM_FILTER_RANGE.ON]!);
    return { ...g };
  };
}

/** Slots 14-15 (abi.ts): 0, 0, or for conv2dBackwardFilter with G == 1 a channel range inside OC. */
function checkFilterRange(op: string, g: ConvGeometry, o0: number, on: number): void {
  if (o0 === 0 && on === 0) return;
  if (op !== 'conv2dBackwardFilter') throw new RangeError(`${op}: geometry slots 14-15 must be 0 (a channel range is for conv2dBackwardFilter), got ${o0}, ${on}`);
  if (g.G !== 1) throw new RangeError(`${op}: a channel range (geometry slots 14-15) needs G = 1, got G = ${g.G}`);
  if (!(o0 >= 0 && on >= 1 && o0 + on <= g.OC)) throw new RangeError(`${op}: channel range O0 = ${o0}, ON = ${on} must lie inside OC = ${g.OC}`);
}

/**
 * Output size of one spatial dimension and its padding before, for 'same' (TensorFlow: out =
 * ceil(in / stride), the odd padding pixel at the end) or 'valid' or explicit padding p.
 */
export function convOutput(inSize: number, kernel: number, stride: number, padding: 'same' | 'valid' | number): { out: number; before: number } {
  if (padding === 'same') {
    const out = Math.ceil(inSize / stride);
    const total = Math.max(0, (out - 1) * stride + kernel - inSize);
    return { out, before: Math.floor(total / 2) };
  }
  const p = padding === 'valid' ? 0 : padding;
  return { out: Math.floor((inSize + 2 * p - kernel) / stride) + 1, before: p };
}
