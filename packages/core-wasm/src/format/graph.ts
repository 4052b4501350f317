// A dependency-free reader of layer graphs, for the inference entry: a graph spec's layer list
// (as @retort/distill writes it into model files: packages/distill/src/model/layer-spec.ts)
// checked field by field by hand (no zod here), and compiled into the ordered node list, shapes
// and parameter layout that @retort/distill's compileGraph (packages/distill/src/model/graph.ts)
// gives: the same node names (`conv2d1`, `res1.batchNorm2`, `res1.shortcut.conv2d1`), the
// same tensor names and offsets (`<node>.w`, `.b`, `.gamma`, `.beta`; state `.running_mean`,
// `.running_var`), the same shapes (channels last; TensorFlow 'same' padding). A test holds the
// two to each other on every preset (packages/distill/test/quant/graph-quant.test.ts).
// The shape rules (`windowOutput`, `opOutput`) are shared with the int8 file's op list
// (./quantized-graph.ts). Every problem is a message naming the field, given to `fail`.

import { convOutput } from '../kernels/geometry.js';

/** A per-sample activation shape: [H, W, C] (channels last), [D], or a sequence [L, D]; a text model's input is [L] token ids (-1 pads after the tokens). */
export type Shape = readonly number[];
export type Pair = [number, number];
export type Padding = 'same' | 'valid' | number;

export type GraphLayer =
  | { type: 'dense'; units: number; bias: boolean; name?: string }
  | { type: 'conv2d'; filters: number; kernel: Pair; stride: Pair; padding: Padding; groups: number; bias: boolean; name?: string }
  | { type: 'depthwiseConv2d'; multiplier: number; kernel: Pair; stride: Pair; padding: Padding; bias: boolean; name?: string }
  | { type: 'maxPool2d' | 'avgPool2d'; size: Pair; stride: Pair; padding: Padding; name?: string }
  | { type: 'batchNorm' | 'layerNorm'; eps: number; name?: string }
  | { type: 'globalAvgPool' | 'relu' | 'gelu' | 'flatten' | 'dropout'; name?: string }
  | { type: 'embedding'; vocab: number; dim: number; positions: boolean; name?: string }
  | { type: 'attention'; heads: number; causal: boolean; name?: string }
  | { type: 'sequencePool'; mode: 'mean' | 'first'; name?: string }
  | { type: 'conv1d'; filters: number; kernel: number; bias: boolean; name?: string }
  | { type: 'residual'; body: GraphLayer[]; shortcut: GraphLayer[]; name?: string };

export type NodeLayer = Exclude<GraphLayer, { type: 'residual' }> | { type: 'add'; name?: string };

/** A tensor of the flat parameter (or state) buffer; offset and length in f32 elements. */
export interface TensorInfo { name: string; shape: number[]; offset: number; length: number }

export interface LayerNode {
  index: number;
  name: string;
  layer: NodeLayer;
  /** Node indices read (-1: the model input); two for `add`. */
  inputs: number[];
  inShape: Shape;
  outShape: Shape;
  params: TensorInfo[];
  state: TensorInfo[];
}

export interface LayerGraph {
  inputShape: Shape;
  classes: number;
  nodes: LayerNode[];
  paramCount: number;
  stateCount: number;
}

/** Largest channel, unit or spatial size a file may describe (the model spec's bound). */
export const MAX_DIM = 1 << 20;
/** Largest activation of one sample, in elements (2^26 f32 = 256 MiB per sample): bounds the buffers a run plans. */
export const MAX_SAMPLE_ELEMS = 1 << 26;
/** Largest parameter count (the model spec's bound, 2^27). */
export const MAX_PARAMS = 1 << 27;
/** Most nodes (or int8 ops) a graph may have. */
export const MAX_NODES = 1 << 14;

type Fail = (problem: string) => never;

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
export const shapeText = (s: Shape): string => `[${s.join(', ')}]`;
export const elems = (s: Shape): number => s.reduce((a, b) => a * b, 1);

/** A checked integer in [lo, hi] (the default when absent and `dflt` is given). */
export function intField(v: unknown, at: string, fail: Fail, lo: number, hi: number, dflt?: number): number {
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) return fail(`${at}: must be an integer in [${lo}, ${hi}], got ${JSON.stringify(v)}`);
  return v;
}

export function pairField(v: unknown, at: string, fail: Fail, dflt?: Pair): Pair {
  if (v === undefined && dflt !== undefined) return dflt;
  if (Array.isArray(v) && v.length === 2) return [intField(v[0], `${at}[0]`, fail, 1, MAX_DIM), intField(v[1], `${at}[1]`, fail, 1, MAX_DIM)];
  const n = intField(v, at, fail, 1, MAX_DIM);
  return [n, n];
}

export function paddingField(v: unknown, at: string, fail: Fail, dflt: Padding): Padding {
  if (v === undefined) return dflt;
  if (v === 'same' || v === 'valid') return v;
  if (typeof v === 'number') return intField(v, at, fail, 0, MAX_DIM);
  return fail(`${at}: must be 'same', 'valid' or a number of pixels, got ${JSON.stringify(v)}`);
}

function positiveNumber(v: unknown, at: string, fail: Fail, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) return fail(`${at}: must be a finite number > 0, got ${JSON.stringify(v)}`);
  return v;
}

function flagField(v: unknown, at: string, fail: Fail, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') return fail(`${at}: must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

const NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

/** A layer list, checked by hand; defaults as in the model spec. Fields the runtime does not need (init, maxNorm, momentum) are ignored. */
export function readLayers(json: unknown, at: string, fail: Fail, depth = 0): GraphLayer[] {
  if (!Array.isArray(json) || json.length === 0) return fail(`${at}: must be a non-empty list of layers`);
  if (json.length > MAX_NODES || depth > 64) return fail(`${at}: too many layers`);
  return json.map((l: unknown, i: number): GraphLayer => {
    const where = `${at}[${i}]`;
    if (isObject(l) && l.type === 'residual') {
      const name = readName(l.name, where, fail);
      const block: GraphLayer = {
        type: 'residual', body: readLayers(l.body, `${where}.body`, fail, depth + 1),
        shortcut: l.shortcut === undefined || (Array.isArray(l.shortcut) && l.shortcut.length === 0) ? [] : readLayers(l.shortcut, `${where}.shortcut`, fail, depth + 1),
      };
      return name === undefined ? block : { ...block, name };
    }
    return readLayer(l, where, fail);
  });
}

function readName(v: unknown, where: string, fail: Fail): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !NAME.test(v)) return fail(`${where}.name: must be a name of letters, digits, _ . - (starting with a letter)`);
  return v;
}

/** One layer other than a residual block (a node of a compiled graph), checked, with the model spec's defaults. */
export function readLayer(l: unknown, where: string, fail: Fail): Exclude<GraphLayer, { type: 'residual' }> {
  if (!isObject(l)) return fail(`${where}: must be a layer object`);
  const name = readName(l.name, where, fail);
  const named = <T extends object>(o: T): T => (name === undefined ? o : { ...o, name });
  switch (l.type) {
    case 'dense':
      return named({ type: 'dense', units: intField(l.units, `${where}.units`, fail, 1, MAX_DIM), bias: flagField(l.bias, `${where}.bias`, fail, true) });
    case 'conv2d':
      return named({
        type: 'conv2d', filters: intField(l.filters, `${where}.filters`, fail, 1, MAX_DIM), kernel: pairField(l.kernel, `${where}.kernel`, fail),
        stride: pairField(l.stride, `${where}.stride`, fail, [1, 1]), padding: paddingField(l.padding, `${where}.padding`, fail, 'same'),
        groups: intField(l.groups, `${where}.groups`, fail, 1, MAX_DIM, 1), bias: flagField(l.bias, `${where}.bias`, fail, true),
      });
    case 'depthwiseConv2d':
      return named({
        type: 'depthwiseConv2d', multiplier: intField(l.multiplier, `${where}.multiplier`, fail, 1, MAX_DIM, 1), kernel: pairField(l.kernel, `${where}.kernel`, fail),
        stride: pairField(l.stride, `${where}.stride`, fail, [1, 1]), padding: paddingField(l.padding, `${where}.padding`, fail, 'same'),
        bias: flagField(l.bias, `${where}.bias`, fail, true),
      });
    case 'maxPool2d': case 'avgPool2d': {
      const size = pairField(l.size, `${where}.size`, fail, [2, 2]);
      return named({ type: l.type, size, stride: pairField(l.stride, `${where}.stride`, fail, size), padding: paddingField(l.padding, `${where}.padding`, fail, 'valid') });
    }
    case 'batchNorm': case 'layerNorm':
      return named({ type: l.type, eps: positiveNumber(l.eps, `${where}.eps`, fail, 1e-5) });
    case 'globalAvgPool': case 'relu': case 'gelu': case 'flatten': case 'dropout':
      return named({ type: l.type });
    case 'embedding':
      return named({ type: 'embedding', vocab: intField(l.vocab, `${where}.vocab`, fail, 1, 1 << 24), dim: intField(l.dim, `${where}.dim`, fail, 1, MAX_DIM),
        positions: flagField(l.positions, `${where}.positions`, fail, true) });
    case 'attention':
      return named({ type: 'attention', heads: intField(l.heads, `${where}.heads`, fail, 1, MAX_DIM), causal: flagField(l.causal, `${where}.causal`, fail, false) });
    case 'sequencePool': {
      const mode = l.mode === undefined ? 'mean' : l.mode;
      if (mode !== 'mean' && mode !== 'first') return fail(`${where}.mode: must be 'mean' or 'first', got ${JSON.stringify(l.mode)}`);
      return named({ type: 'sequencePool', mode });
    }
    case 'conv1d':
      return named({ type: 'conv1d', filters: intField(l.filters, `${where}.filters`, fail, 1, MAX_DIM), kernel: intField(l.kernel, `${where}.kernel`, fail, 1, MAX_DIM),
        bias: flagField(l.bias, `${where}.bias`, fail, true) });
    default:
      return fail(`${where}.type: unknown layer type ${JSON.stringify(l.type)}`);
  }
}

export function inputShapeField(v: unknown, at: string, fail: Fail): Shape {
  if (!Array.isArray(v) || (v.length !== 1 && v.length !== 3)) return fail(`${at}: must be [features] or [height, width, channels]`);
  return v.map((d, i) => intField(d, `${at}[${i}]`, fail, 1, MAX_DIM));
}

/**
 * Output size and padding before of a window (kernel or pool) sliding over (h, w); refuses a
 * window that does not fit, as the model spec does. `label` names the layer in messages.
 */
export function windowOutput(label: string, [h, w]: readonly number[], [kh, kw]: Pair, [sh, sw]: Pair, padding: Padding, fail: Fail):
{ oh: number; ow: number; pt: number; pl: number } {
  const pad = typeof padding === 'number' ? padding : 0;
  if (padding !== 'same' && (kh > h! + 2 * pad || kw > w! + 2 * pad)) return fail(`${label}: a ${kh}x${kw} window does not fit the ${h}x${w} input (padding ${padding})`);
  if (typeof padding === 'number' && (padding >= kh || padding >= kw)) return fail(`${label}: padding ${padding} must be smaller than the ${kh}x${kw} window`);
  const y = convOutput(h!, kh, sh, padding), x = convOutput(w!, kw, sw, padding);
  return { oh: y.out, ow: x.out, pt: y.before, pl: x.before };
}

/** The attributes the shape of an op depends on (a layer of the spec, or an op of the int8 file). */
export type ShapeOp =
  | { type: 'dense'; units: number }
  | { type: 'conv'; filters: number; kernel: Pair; stride: Pair; padding: Padding; groups: number }
  | { type: 'maxPool2d' | 'avgPool2d'; size: Pair; stride: Pair; padding: Padding }
  | { type: 'globalAvgPool' | 'flatten' | 'relu' | 'gelu' | 'dropout' | 'batchNorm' | 'layerNorm' | 'affine' | 'add' | 'sequencePool' }
  | { type: 'embedding'; dim: number }
  | { type: 'attention'; heads: number }
  | { type: 'conv1d'; filters: number; kernel: number };

/** The output shape of an op on `input`; `label` names it in messages. */
export function opOutput(op: ShapeOp, input: Shape, label: string, fail: Fail): Shape {
  const image = (): readonly number[] => (input.length === 3 ? input : fail(`${label} needs an image input (height, width, channels) but gets ${shapeText(input)}`));
  const sequence = (what: string): readonly number[] => (input.length === 2 ? input : fail(`${label} ${what} a sequence [length, features] but gets ${shapeText(input)}`));
  let out: Shape;
  switch (op.type) {
    case 'dense':
      // flat features, or a sequence [L, D]: every position
      if (input.length === 2) { out = [input[0]!, op.units]; break; }
      if (input.length !== 1) return fail(`${label} needs flat features but gets ${shapeText(input)}`);
      out = [op.units];
      break;
    case 'embedding':
      if (input.length !== 1) return fail(`${label} reads [length] token ids but gets ${shapeText(input)}`);
      out = [input[0]!, op.dim];
      break;
    case 'attention': {
      // the int8 file's attention op: packed q | k | v [L, 3D] in, the context [L, D] out
      const [L, D3] = sequence('attends over');
      if (D3! % 3 !== 0 || (D3! / 3) % op.heads !== 0) return fail(`${label}: ${D3} packed q | k | v features do not split into 3 x ${op.heads} heads`);
      out = [L!, D3! / 3];
      break;
    }
    case 'sequencePool': out = [sequence('pools')[1]!]; break;
    case 'conv1d': out = [sequence('convolves')[0]!, op.filters]; break;
    case 'conv': {
      const [h, w, c] = image();
      if (c! % op.groups !== 0) return fail(`${label}: ${c} input channels do not split into ${op.groups} groups`);
      if (op.filters % op.groups !== 0) return fail(`${label}: ${op.filters} filters do not split into ${op.groups} groups`);
      const { oh, ow } = windowOutput(label, [h!, w!], op.kernel, op.stride, op.padding, fail);
      out = [oh, ow, op.filters];
      break;
    }
    case 'maxPool2d': case 'avgPool2d': {
      const [h, w, c] = image();
      const { oh, ow } = windowOutput(label, [h!, w!], op.size, op.stride, op.padding, fail);
      out = [oh, ow, c!];
      break;
    }
    case 'globalAvgPool': out = [image()[2]!]; break;
    case 'flatten': out = [elems(input)]; break;
    default: out = input;
  }
  if (elems(out) > MAX_SAMPLE_ELEMS) return fail(`${label} gives ${shapeText(out)} per sample, beyond ${MAX_SAMPLE_ELEMS} values`);
  return out;
}

/** The ShapeOp of a conv2d or depthwiseConv2d layer on input channels `c`. */
export function convOf(l: Extract<GraphLayer, { type: 'conv2d' | 'depthwiseConv2d' }>, c: number): Extract<ShapeOp, { type: 'conv' }> {
  return l.type === 'depthwiseConv2d'
    ? { type: 'conv', filters: c * l.multiplier, kernel: l.kernel, stride: l.stride, padding: l.padding, groups: c }
    : { type: 'conv', filters: l.filters, kernel: l.kernel, stride: l.stride, padding: l.padding, groups: l.groups };
}

/** Compiles a layer list on `inputShape` into nodes, shapes and the parameter/state layout (compileGraph's). */
export function compileLayers(inputShape: Shape, layers: GraphLayer[], fail: Fail): LayerGraph {
  const nodes: LayerNode[] = [];
  let paramCount = 0, stateCount = 0;
  const names = new Set<string>();
  const claim = (name: string): void => {
    if (names.has(name)) fail(`layer name '${name}' is used twice`);
    names.add(name);
  };
  const sequence = (list: GraphLayer[], input: number, shape: Shape, scope: string): [number, Shape] => {
    const counters = new Map<string, number>();
    let at = input, cur = shape;
    for (const layer of list) {
      if (nodes.length >= MAX_NODES) fail(`more than ${MAX_NODES} layers`);
      const k = (counters.get(layer.type) ?? 0) + 1;
      counters.set(layer.type, k);
      const name = layer.name !== undefined ? `${scope}${layer.name}` : `${scope}${layer.type}${k}`;
      if (layer.type === 'residual') {
        const [bodyEnd, bodyShape] = sequence(layer.body, at, cur, `${name}.`);
        const [cutEnd, cutShape] = layer.shortcut.length ? sequence(layer.shortcut, at, cur, `${name}.shortcut.`) : [at, cur];
        if (shapeText(bodyShape) !== shapeText(cutShape)) fail(`residual '${name}' adds ${shapeText(bodyShape)} to ${shapeText(cutShape)}: they must match`);
        claim(name);
        nodes.push({ index: nodes.length, name, layer: { type: 'add' }, inputs: [bodyEnd, cutEnd], inShape: bodyShape, outShape: bodyShape, params: [], state: [] });
      } else {
        claim(name);
        const params: TensorInfo[] = [], state: TensorInfo[] = [];
        const param = (kind: string, shp: number[]): void => {
          const length = elems(shp);
          params.push({ name: `${name}.${kind}`, shape: shp, offset: paramCount, length });
          paramCount += length;
          if (paramCount > MAX_PARAMS) fail(`more than ${MAX_PARAMS} parameters`);
        };
        const label = `${layer.type} '${name}'`;
        let out: Shape;
        switch (layer.type) {
          case 'dense':
            out = opOutput(layer, cur, label, fail);
            param('w', [cur[cur.length - 1]!, layer.units]);
            if (layer.bias) param('b', [layer.units]);
            break;
          case 'conv2d': case 'depthwiseConv2d': {
            if (cur.length !== 3) fail(`${label} needs an image input (height, width, channels) but gets ${shapeText(cur)}`);
            const op = convOf(layer, cur[2]!);
            out = opOutput(op, cur, label, fail);
            param('w', [op.kernel[0], op.kernel[1], cur[2]! / op.groups, op.filters]);
            if (layer.bias) param('b', [op.filters]);
            break;
          }
          case 'embedding':
            if (at !== -1) fail(`${label} reads token ids: it must be the model's first layer`);
            out = opOutput({ type: 'embedding', dim: layer.dim }, cur, label, fail);
            param('table', [layer.vocab, layer.dim]);
            if (layer.positions) param('pos', [cur[0]!, layer.dim]);
            break;
          case 'attention': {
            if (cur.length !== 2) fail(`${label} attends over a sequence [length, features] but gets ${shapeText(cur)}`);
            const D = cur[1]!;
            if (D % layer.heads !== 0) fail(`${label}: ${D} features do not split into ${layer.heads} heads`);
            out = cur;
            param('wqkv', [D, 3 * D]);
            param('bqkv', [3 * D]);
            param('wo', [D, D]);
            param('bo', [D]);
            break;
          }
          case 'conv1d':
            out = opOutput({ type: 'conv1d', filters: layer.filters, kernel: layer.kernel }, cur, label, fail);
            param('w', [1, layer.kernel, cur[1]!, layer.filters]);
            if (layer.bias) param('b', [layer.filters]);
            break;
          case 'batchNorm': case 'layerNorm': {
            out = cur;
            const c = cur[cur.length - 1]!;
            param('gamma', [c]);
            param('beta', [c]);
            if (layer.type === 'batchNorm') {
              for (const kind of ['running_mean', 'running_var']) {
                state.push({ name: `${name}.${kind}`, shape: [c], offset: stateCount, length: c });
                stateCount += c;
              }
            }
            break;
          }
          default:
            out = opOutput(layer, cur, label, fail);
        }
        nodes.push({ index: nodes.length, name, layer, inputs: [at], inShape: cur, outShape: out, params, state });
      }
      at = nodes.length - 1;
      cur = nodes[at]!.outShape;
    }
    return [at, cur];
  };
  const [, out] = sequence(layers, -1, inputShape, '');
  // flat class scores, or a language model's next-token scores [L, V] (a text model: it starts with an embedding)
  const tokens = out.length === 2 && nodes[0]?.layer.type === 'embedding' && out[0] === inputShape[0];
  if (out.length !== 1 && !tokens) fail(`the last layer gives ${shapeText(out)} per sample, but a model must end in flat class scores`);
  return { inputShape, classes: elems(out), nodes, paramCount, stateCount };
}

/** The MLP spec { sizes } as the layer list the model spec expands it to: dense 'layer<i>' and relu 'hidden<i+1>'. */
export function mlpLayers(sizes: readonly number[]): GraphLayer[] {
  const layers: GraphLayer[] = [];
  for (let i = 1; i < sizes.length; i++) {
    layers.push({ type: 'dense', units: sizes[i]!, bias: true, name: `layer${i - 1}` });
    if (i < sizes.length - 1) layers.push({ type: 'relu', name: `hidden${i}` });
  }
  return layers;
}
