// The ONNX operators over feature maps and normalisation layers (./onnx-nodes.ts reads the
// rest): Conv, MaxPool, AveragePool, GlobalAveragePool, BatchNormalization, LayerNormalization.
// ONNX's window attributes (kernel_shape, strides, pads or auto_pad, ceil_mode) become Retort's
// padding when one of Retort's three computes the same windows: 'valid', 'same' (TensorFlow's
// split, the odd pixel at the end) or a number of pixels on every side.

import { convOutput } from '@retort/core-wasm';
import type { NodeSpec } from '../model/graph.js';
import { chwIndexOfHwc, convKernelLayout, floatValues, permuteRows, q, type FloatTensor } from './onnx-format.js';
import type { DataValue, NodeReader, Reordered } from './onnx-nodes.js';

/** Retort's padding for ONNX's window attributes, or a refusal; also checks kernel_shape and dilations. */
export function windowOf(r: NodeReader, x: [number, number, number], kernel: [number, number] | null, what: string): { kernel: [number, number]; stride: [number, number]; padding: 'same' | 'valid' | number } {
  const k = r.attrs.ints('kernel_shape', null);
  if (k !== null && (k.length !== 2 || (kernel !== null && (k[0] !== kernel[0] || k[1] !== kernel[1])))) {
    r.fail(`kernel_shape [${k.join(', ')}] ${kernel ? `does not match the weight's ${kernel[0]}x${kernel[1]}` : 'is not 2-D'}`);
  }
  const kk = kernel ?? (k as [number, number] | null) ?? r.fail(`has no kernel_shape`);
  if (!(kk[0] >= 1 && kk[1] >= 1)) r.fail(`kernel_shape [${kk.join(', ')}] must be positive`);
  const stride = (r.attrs.ints('strides', [1, 1]) ?? [1, 1]) as number[];
  if (stride.length !== 2 || !(stride[0]! >= 1 && stride[1]! >= 1)) r.fail(`strides [${stride.join(', ')}] must be two positive integers`);
  const dil = r.attrs.ints('dilations', [1, 1]) ?? [1, 1];
  if (dil.some((d) => d !== 1)) r.fail(`dilations [${dil.join(', ')}]: Retort's ${what} has no dilation`);
  const [H, W] = x;
  const st = stride as [number, number];
  const autoPad = r.attrs.string('auto_pad', 'NOTSET');
  const pads = r.attrs.ints('pads', null);
  if (pads !== null && autoPad !== 'NOTSET') r.fail(`has both pads and auto_pad ${autoPad}`);
  let before: [number, number], out: [number, number];
  if (autoPad === 'VALID') { before = [0, 0]; out = [Math.floor((H - kk[0]) / st[0]) + 1, Math.floor((W - kk[1]) / st[1]) + 1]; }
  else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    out = [Math.ceil(H / st[0]), Math.ceil(W / st[1])];
    const total = [0, 1].map((i) => Math.max(0, (out[i]! - 1) * st[i]! + kk[i]! - x[i]!));
    before = total.map((t) => (autoPad === 'SAME_UPPER' ? Math.floor(t / 2) : Math.ceil(t / 2))) as [number, number];
  } else if (autoPad === 'NOTSET') {
    const p = pads ?? [0, 0, 0, 0];
    if (p.length !== 4 || p.some((d) => d < 0)) r.fail(`pads [${p.join(', ')}] must be four non-negative integers`);
    if (p.some((d, i) => d >= kk[i % 2]!)) r.fail(`pads [${p.join(', ')}] must be smaller than the ${kk[0]}x${kk[1]} window`);
    before = [p[0]!, p[1]!];
    const ceil = r.attrs.int('ceil_mode', 0) === 1;
    out = [0, 1].map((i) => (ceil ? Math.ceil : Math.floor)((x[i]! + p[i]! + p[i + 2]! - kk[i]!) / st[i]!) + 1) as [number, number];
  } else {
    return r.fail(`auto_pad '${autoPad}' is not NOTSET, VALID, SAME_UPPER or SAME_LOWER`);
  }
  if (!(out[0] >= 1 && out[1] >= 1)) r.fail(`its ${kk[0]}x${kk[1]} window does not fit the ${H}x${W} input`);
  // the first of 'valid', 'same' (TensorFlow's split) and one padding on every side with this geometry
  for (const padding of ['valid', 'same', before[0]] as const) {
    if (typeof padding === 'number' && (padding !== before[1] || padding >= Math.min(kk[0], kk[1]))) continue;
    const g = [convOutput(H, kk[0], st[0], padding), convOutput(W, kk[1], st[1], padding)];
    if (g[0]!.before === before[0] && g[1]!.before === before[1] && g[0]!.out === out[0] && g[1]!.out === out[1]) return { kernel: kk, stride: st, padding };
  }
  return r.fail(`its padding (${pads ? `pads [${pads.join(', ')}]` : `auto_pad ${autoPad}`}${r.attrs.int('ceil_mode', 0) ? ', ceil_mode 1' : ''}) on the ${H}x${W} input ` +
    'is none of Retort\'s: valid, same (TensorFlow\'s split, the odd pixel at the end) or one number of pixels on every side');
}

export function readConv(r: NodeReader): DataValue {
  r.expectInputs(2, 3);
  const x = r.data(0);
  const [H, W, C] = r.image(x, 'Conv');
  const w = r.floatWeight(1, 'weight');
  if (w.dims.length !== 4) r.fail(`weight ${q(w.name)} has shape [${w.dims.join(', ')}]; a 2-D convolution needs [out, in/group, kh, kw]`);
  const [O, I, KH, KW] = w.dims as [number, number, number, number];
  const group = r.attrs.int('group', 1);
  if (!(group >= 1) || C % group !== 0 || O % group !== 0) r.fail(`group ${group} does not divide the ${C} input channels and ${O} filters`);
  if (I !== C / group) r.fail(`shape mismatch: weight ${q(w.name)} [${w.dims.join(', ')}] takes ${I} channels per group but the input has ${C} channels in ${group} group${group > 1 ? 's' : ''}`);
  const { kernel, stride, padding } = windowOf(r, [H, W, C], [KH, KW], 'convolution');
  const b = r.weight(2, 'bias', false) !== null ? r.vector(2, 'bias', O) : null;
  const pair = (p: [number, number]): number | [number, number] => (p[0] === p[1] ? p[0] : p);
  const layer: NodeSpec = group === C && C > 1
    ? { type: 'depthwiseConv2d', kernel: pair(kernel), stride: pair(stride), padding, multiplier: O / C, bias: b !== null }
    : { type: 'conv2d', filters: O, kernel: pair(kernel), stride: pair(stride), padding, groups: group, bias: b !== null };
  const tensors: [string, () => Float32Array][] = [['w', () => convKernelLayout(floatValues(w), KH, KW, I, O, true)]];
  if (b) tensors.push(['b', () => floatValues(b)]);
  const g = [convOutput(H, kernel[0], stride[0], padding).out, convOutput(W, kernel[1], stride[1], padding).out];
  return r.out(x, r.layer(layer, [x], tensors), { shape: [g[0]!, g[1]!, O] });
}

export function readPool(r: NodeReader, op: 'MaxPool' | 'AveragePool'): DataValue {
  r.expectInputs(1, 1);
  const x = r.data(0);
  const [H, W, C] = r.image(x, op);
  if (op === 'MaxPool' && r.attrs.int('storage_order', 0) !== 0) r.fail('storage_order 1 is not supported');
  const { kernel, stride, padding } = windowOf(r, [H, W, C], null, 'pooling');
  if (op === 'AveragePool' && r.attrs.int('count_include_pad', 0) !== 0 && padding !== 'valid') {
    r.fail('count_include_pad = 1 counts the padding; Retort averages over the pixels inside the input only');
  }
  const pair = (p: [number, number]): number | [number, number] => (p[0] === p[1] ? p[0] : p);
  const layer: NodeSpec = { type: op === 'MaxPool' ? 'maxPool2d' : 'avgPool2d', size: pair(kernel), stride: pair(stride), padding };
  const g = [convOutput(H, kernel[0], stride[0], padding).out, convOutput(W, kernel[1], stride[1], padding).out];
  return r.out(x, r.layer(layer, [x]), { shape: [g[0]!, g[1]!, C] });
}

export function readGlobalPool(r: NodeReader): DataValue {
  r.expectInputs(1, 1);
  const x = r.data(0);
  const [, , C] = r.image(x, 'GlobalAveragePool');
  return r.out(x, r.layer({ type: 'globalAvgPool' }, [x]), { layout: 'flat', shape: [C], squeezed: true, order: null });
}

function epsilonOf(r: NodeReader, fallback: number): number {
  const e = r.attrs.float('epsilon', fallback);
  if (!(Number.isFinite(e) && e > 0)) r.fail(`epsilon ${e}: Retort needs a finite epsilon > 0`);
  return shortestF32(e);
}

/** The channel count a per-channel vector of `what` has, for BatchNormalization and LayerNormalization. */
function channelsOf(r: NodeReader, x: DataValue, what: 'BatchNormalization' | 'LayerNormalization'): number {
  if (what === 'BatchNormalization') {
    if (x.layout === 'nhwc') r.fail('normalises ONNX axis 1, a spatial axis of this NHWC value; Retort normalises channels');
    if (x.layout === 'nchw') return x.shape[2]!;
  } else {
    const axis = r.attrs.int('axis', -1);
    const rank = x.layout === 'flat' && !x.squeezed ? 2 : 4;
    if (axis !== -1 && axis !== rank - 1) r.fail(`axis ${axis} is not the last axis; Retort normalises over the last axis only`);
    if (x.layout === 'nchw' || x.squeezed) r.fail(`normalises over ${x.squeezed ? 'a size-1 axis' : 'the width of an NCHW map'}; Retort normalises channels (Transpose to NHWC first)`);
    if (x.layout === 'nhwc') return x.shape[2]!;
  }
  const width = r.width(x);
  if (width === null) return r.fail('its input width is not known');
  return width;
}

/** A per-channel vector in Retort's order (reordered back when the features came flattened channels first). */
function channelVector(t: FloatTensor, order: Reordered | null): () => Float32Array {
  return () => {
    const v = floatValues(t);
    return order ? permuteRows(v, chwIndexOfHwc(order.H, order.W, order.C), 1, true) : v;
  };
}

export function readBatchNorm(r: NodeReader): DataValue {
  r.expectInputs(5, 5);
  const x = r.data(0);
  if (r.attrs.int('training_mode', 0) !== 0) r.fail('training_mode = 1 (batch statistics); Retort reads the inference form');
  if (r.attrs.int('spatial', 1) !== 1) r.fail('spatial = 0 (per-position statistics) is not supported');
  const eps = epsilonOf(r, 1e-5);
  const m = r.attrs.float('momentum', 0.9);
  const C = channelsOf(r, x, 'BatchNormalization');
  if (x.layout === 'flat' && r.width(x) === null) r.ctx.inputWidth = C;
  const [gamma, beta, mean, variance] = ['scale', 'bias', 'mean', 'variance'].map((role, i) => r.vector(i + 1, role, C)) as [FloatTensor, FloatTensor, FloatTensor, FloatTensor];
  const o = x.order;
  // ONNX keeps `momentum` of the running statistics, Retort (as PyTorch) mixes in `momentum` of the batch's
  const momentum = m > 0 && m < 1 ? Number((1 - shortestF32(m)).toPrecision(12)) : 0.1;
  return r.out(x, r.layer({ type: 'batchNorm', momentum, eps }, [x], [
    ['gamma', channelVector(gamma, o)], ['beta', channelVector(beta, o)],
    ['running_mean', channelVector(mean, o)], ['running_var', channelVector(variance, o)],
  ]), {});
}

export function readLayerNorm(r: NodeReader): DataValue {
  r.expectInputs(2, 3);
  const x = r.data(0);
  if (r.attrs.int('stash_type', 1) !== 1) r.fail('stash_type other than 1 (float statistics) is not supported');
  const eps = epsilonOf(r, 1e-5);
  const D = channelsOf(r, x, 'LayerNormalization');
  const gamma = r.vector(1, 'scale', D);
  const beta = r.weight(2, 'bias', false) !== null ? r.vector(2, 'bias', D) : null;
  const o = x.order;
  return r.out(x, r.layer({ type: 'layerNorm', eps }, [x], [
    ['gamma', channelVector(gamma, o)], ['beta', beta ? channelVector(beta, o) : () => new Float32Array(D)],
  ]), {});
}

/** A float32 attribute as the shortest decimal that rounds to the same float32 (1e-5, not 9.99999974737875e-6). */
function shortestF32(x: number): number {
  const f = Math.fround(x);
  for (let p = 1; p <= 9; p++) {
    const d = Number(f.toPrecision(p));
    if (Math.fround(d) === f) return d;
  }
  return f;
}
