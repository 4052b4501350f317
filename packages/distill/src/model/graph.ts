// A graph spec compiled into what a model is made of: an ordered list of nodes (each layer,
// and an `add` for every residual block) with their shapes, and the layout of the flat
// parameter and state buffers. Pure and platform-neutral: no memory is touched here, so files,
// exporters and the CLI can ask a spec for its parameter count, taps and tensor names.
//
// Every shape problem is a SpecError naming the layer and the field, found before anything
// is allocated: "model.layers[3].kernel: a 5x5 kernel does not fit the 2x2 input of conv2d 'conv2d2' (padding valid)".
import { convOutput } from '@retort/core-wasm';
import { pairOf, type GraphSpec, type LayerSpec, type Padding } from './layer-spec.js';
import { SpecError } from './errors.js';

/** A per-sample activation shape: [H, W, C] (channels last), [D], or [L, D] (a sequence); the input of a text model is [L] token ids. */
export type Shape = readonly number[];

/** A tensor of the parameter (or state) buffer; offset and length in f32 elements. */
export interface TensorDecl {
  /** Its name in model files, checkpoints and exports: `<layer>.<kind>`, e.g. `conv1.w`, `res1.batchNorm1.running_var`. */
  readonly name: string;
  readonly shape: readonly number[];
  readonly offset: number;
  readonly length: number;
  /** He normal N(0, 2 / fanIn), LeCun normal N(0, 1 / fanIn), zeros or ones. */
  readonly init: 'he' | 'lecun' | 'zeros' | 'ones';
  readonly fanIn: number;
}

export type NodeSpec = Exclude<LayerSpec, { type: 'residual' }> | { type: 'add' };

export interface GraphNode {
  readonly index: number;
  /** Unique; scoped by enclosing residual blocks (`res1.conv2d1`, `res1.shortcut.conv2d1`). */
  readonly name: string;
  /** Named in the spec: its output is a tap loss terms may read. */
  readonly tap: boolean;
  readonly spec: NodeSpec;
  /** Node indices read (-1 = the model input); two for `add`. */
  readonly inputs: readonly number[];
  readonly inShape: Shape;
  readonly outShape: Shape;
  readonly params: readonly TensorDecl[];
  readonly state: readonly TensorDecl[];
  /** Where it came from in the spec, for messages: `model.layers[2].body[0]`. */
  readonly where: string;
  /** Multiply-accumulates of the forward pass per sample (dense and convolution layers). */
  readonly macs: number;
}

export interface CompiledGraph {
  readonly inputShape: Shape;
  /** Scores per sample: the class count, or L * V for a "tokens" model. */
  readonly classes: number;
  /** The output of one sample: [classes], or [L, V] for a "tokens" model (a language model). */
  readonly outputShape: Shape;
  readonly tokens: boolean;
  readonly nodes: readonly GraphNode[];
  /** Trainable parameters, in buffer order. */
  readonly params: readonly TensorDecl[];
  /** Non-trained state (batch-norm running statistics), in buffer order. */
  readonly state: readonly TensorDecl[];
  readonly paramCount: number;
  readonly stateCount: number;
  /** Tap name -> node index (named layers and blocks). */
  readonly taps: ReadonlyMap<string, number>;
  /** Forward multiply-accumulates per sample. */
  readonly macs: number;
}

export const shapeText = (s: Shape): string => `[${s.join(', ')}]`;
const size = (s: Shape): number => s.reduce((a, b) => a * b, 1);
const isImage = (s: Shape): s is readonly [number, number, number] => s.length === 3;
/** A sequence of L positions with D features each: [L, D] (the output of an embedding). */
const isSequence = (s: Shape): s is readonly [number, number] => s.length === 2;

/** Compiles a graph spec whose input shape is known; `root` prefixes field paths in errors. */
export function compileGraph(spec: GraphSpec, root = 'model'): CompiledGraph {
  if (!spec.input) throw new SpecError(`${root}.input`, 'the input shape is not known (give input, or train on data that fixes it)');
  const nodes: GraphNode[] = [];
  const params: TensorDecl[] = [];
  const state: TensorDecl[] = [];
  const names = new Map<string, string>();
  let paramCount = 0, stateCount = 0;

  const tensor = (list: TensorDecl[], layer: string, kind: string, shape: number[], init: TensorDecl['init'], fanIn: number, isState: boolean): TensorDecl => {
    const length = size(shape);
    const offset = isState ? stateCount : paramCount;
    const t: TensorDecl = { name: `${layer}.${kind}`, shape, offset, length, init, fanIn };
    list.push(t);
    if (isState) { stateCount += length; state.push(t); } else { paramCount += length; params.push(t); }
    return t;
  };

  const claim = (name: string, where: string): void => {
    const prev = names.get(name);
    if (prev !== undefined) throw new SpecError(`${where}.name`, `'${name}' is also the name of ${prev}; layer names must be unique`);
    names.set(name, where);
  };

  /** Compiles `layers` reading node `input` (shape `shape`); returns the last node and its shape. */
  const sequence = (layers: readonly LayerSpec[], input: number, shape: Shape, scope: string, path: string): [number, Shape] => {
    const counters = new Map<string, number>();
    const autoName = (type: string): string => {
      const k = (counters.get(type) ?? 0) + 1;
      counters.set(type, k);
      return `${scope}${type}${k}`;
    };
    let at = input, cur = shape;
    layers.forEach((layer, i) => {
      const where = `${path}[${i}]`;
      // auto names count every layer of a type, named or not, so adding a name never renames others
      const auto = autoName(layer.type);
      const name = layer.name !== undefined ? `${scope}${layer.name}` : auto;
      if (layer.type === 'residual') {
        const [bodyEnd, bodyShape] = sequence(layer.body, at, cur, `${name}.`, `${where}.body`);
        const [cutEnd, cutShape] = layer.shortcut.length
          ? sequence(layer.shortcut, at, cur, `${name}.shortcut.`, `${where}.shortcut`)
          : [at, cur];
        if (bodyShape.length !== cutShape.length || bodyShape.some((d, k) => d !== cutShape[k])) {
          throw new SpecError(`${where}`, `residual '${name}' adds its body's output ${shapeText(bodyShape)} to its shortcut's ${shapeText(cutShape)}: ` +
            `they must match (give the shortcut a 1x1 conv2d with the body's filters and stride)`);
        }
        claim(name, where);
        nodes.push({ index: nodes.length, name, tap: layer.name !== undefined, spec: { type: 'add' }, inputs: [bodyEnd, cutEnd],
          inShape: bodyShape, outShape: bodyShape, params: [], state: [], where, macs: 0 });
        at = nodes.length - 1;
        cur = bodyShape;
        return;
      }
      claim(name, where);
      const p: TensorDecl[] = [], st: TensorDecl[] = [];
      const { out, macs } = layerShape(layer, cur, name, where, (kind, shp, init, fanIn) => tensor(p, name, kind, shp, init, fanIn, false),
        (kind, shp, init) => tensor(st, name, kind, shp, init, 0, true), at === -1);
      nodes.push({ index: nodes.length, name, tap: layer.name !== undefined, spec: layer, inputs: [at], inShape: cur, outShape: out,
        params: p, state: st, where, macs });
      at = nodes.length - 1;
      cur = out;
    });
    return [at, cur];
  };

  const [, out] = sequence(spec.layers, -1, spec.input, '', `${root}.layers`);
  const tokens = spec.output === 'tokens';
  if (tokens && (out.length !== 2 || spec.input.length !== 1 || spec.input[0] !== out[0])) {
    throw new SpecError(`${root}.output`, `a "tokens" model reads [L] token ids and gives (L, V) scores per position; this one reads ${shapeText(spec.input)} and gives ${shapeText(out)}`);
  }
  if (!tokens && out.length !== 1) {
    throw new SpecError(`${root}.layers`, `the last layer gives ${shapeText(out)} per sample, but a model must end in flat class scores ` +
      '(add a globalAvgPool or flatten, then a dense layer)');
  }
  const taps = new Map<string, number>();
  for (const n of nodes) if (n.tap) taps.set(n.name, n.index);
  return {
    inputShape: spec.input, classes: out.reduce((a, b) => a * b, 1), outputShape: out, tokens, nodes, params, state, paramCount, stateCount, taps,
    macs: nodes.reduce((s, n) => s + n.macs, 0),
  };
}

type Declare = (kind: string, shape: number[], init: TensorDecl['init'], fanIn: number) => TensorDecl;
type DeclareState = (kind: string, shape: number[], init: TensorDecl['init']) => TensorDecl;

function layerShape(layer: NodeSpec, input: Shape, name: string, where: string, param: Declare, stateOf: DeclareState,
                    atInput: boolean): { out: Shape; macs: number } {
  const label = `${layer.type} '${name}'`;
  const needImage = (): readonly [number, number, number] => {
    if (!isImage(input)) {
      throw new SpecError(`${where}`, `${label} needs an image input (height, width, channels) but gets flat features ${shapeText(input)}`);
    }
    return input;
  };
  switch (layer.type) {
    case 'dense': {
      // flat features, or a sequence (L, D): then applied to every position (rows = B * L)
      if (input.length !== 1 && !isSequence(input)) {
        throw new SpecError(`${where}`, `${label} needs flat features but gets ${shapeText(input)}; put a flatten or globalAvgPool before it`);
      }
      const d = input[input.length - 1]!, positions = input.length === 2 ? input[0]! : 1;
      param('w', [d, layer.units], layer.init ?? 'he', d);
      if (layer.bias) param('b', [layer.units], 'zeros', d);
      return { out: input.length === 2 ? [positions, layer.units] : [layer.units], macs: positions * d * layer.units };
    }
    case 'embedding': {
      if (!atInput) throw new SpecError(`${where}`, `${label} reads token ids: it must be the model's first layer`);
      if (input.length !== 1) throw new SpecError(`${where}`, `${label} reads a sequence of token ids [length] but the input is ${shapeText(input)}`);
      const L = input[0]!;
      param('table', [layer.vocab, layer.dim], 'lecun', layer.dim);
      if (layer.positions) param('pos', [L, layer.dim], 'lecun', layer.dim);
      return { out: [L, layer.dim], macs: 0 };
    }
    case 'sequencePool': {
      if (!isSequence(input)) throw new SpecError(`${where}`, `${label} pools a sequence [length, features] but gets ${shapeText(input)}`);
      return { out: [input[1]!], macs: 0 };
    }
    case 'conv1d': {
      if (!isSequence(input)) throw new SpecError(`${where}`, `${label} convolves a sequence [length, features] but gets ${shapeText(input)}`);
      const [L, d] = input as [number, number];
      // the layout of a 1 x k conv2d kernel: [1, k, D, filters]
      param('w', [1, layer.kernel, d, layer.filters], layer.init ?? 'he', layer.kernel * d);
      if (layer.bias) param('b', [layer.filters], 'zeros', layer.kernel * d);
      return { out: [L, layer.filters], macs: L * layer.filters * layer.kernel * d };
    }
    case 'attention': {
      if (!isSequence(input)) throw new SpecError(`${where}`, `${label} attends over a sequence [length, features] but gets ${shapeText(input)}`);
      const [L, d] = input as [number, number];
      if (d % layer.heads !== 0) throw new SpecError(`${where}.heads`, `${label}: ${d} features do not split into ${layer.heads} heads`);
      param('wqkv', [d, 3 * d], 'lecun', d);
      param('bqkv', [3 * d], 'zeros', d);
      param('wo', [d, d], 'lecun', d);
      param('bo', [d], 'zeros', d);
      // projections, then Q Kᵀ and P V (at most L x L per head)
      return { out: input, macs: L * 4 * d * d + 2 * L * L * d };
    }
    case 'conv2d': case 'depthwiseConv2d': {
      const [h, w, c] = needImage();
      const depthwise = layer.type === 'depthwiseConv2d';
      const groups = depthwise ? c : layer.groups;
      const filters = depthwise ? c * layer.multiplier : layer.filters;
      if (c % groups !== 0) throw new SpecError(`${where}.groups`, `${label}: ${c} input channels do not split into ${groups} groups`);
      if (filters % groups !== 0) throw new SpecError(`${where}.filters`, `${label}: ${filters} filters do not split into ${groups} groups`);
      const [kh, kw] = pairOf(layer.kernel);
      const { oh, ow } = window(label, where, 'kernel', [h, w], [kh, kw], pairOf(layer.stride), layer.padding);
      const cg = c / groups;
      param('w', [kh, kw, cg, filters], layer.init ?? 'he', kh * kw * cg);
      if (layer.bias) param('b', [filters], 'zeros', kh * kw * cg);
      return { out: [oh, ow, filters], macs: oh * ow * filters * kh * kw * cg };
    }
    case 'maxPool2d': case 'avgPool2d': {
      const [h, w, c] = needImage();
      const k = pairOf(layer.size);
      const { oh, ow } = window(label, where, 'size', [h, w], k, pairOf(layer.stride ?? layer.size), layer.padding);
      return { out: [oh, ow, c], macs: 0 };
    }
    case 'globalAvgPool': {
      const [, , c] = needImage();
      return { out: [c], macs: 0 };
    }
    case 'batchNorm': case 'layerNorm': {
      const c = input[input.length - 1]!;
      param('gamma', [c], 'ones', 0);
      param('beta', [c], 'zeros', 0);
      if (layer.type === 'batchNorm') {
        stateOf('running_mean', [c], 'zeros');
        stateOf('running_var', [c], 'ones');
      }
      return { out: input, macs: 0 };
    }
    case 'flatten':
      return { out: [size(input)], macs: 0 };
    case 'relu': case 'gelu': case 'dropout': case 'add':
      return { out: input, macs: 0 };
  }
}

/** Output size of a kernel/pool window sliding over (h, w); refuses windows that do not fit. */
function window(label: string, where: string, field: string, [h, w]: [number, number], [kh, kw]: [number, number],
                [sh, sw]: [number, number], padding: Padding): { oh: number; ow: number; pt: number; pl: number } {
  const pad = typeof padding === 'number' ? padding : 0;
  const fits = padding === 'same' || (kh <= h + 2 * pad && kw <= w + 2 * pad);
  if (!fits) {
    throw new SpecError(`${where}.${field}`, `a ${kh}x${kw} ${field === 'size' ? 'window' : 'kernel'} does not fit the ${h}x${w} input of ${label} (padding ${padding})`);
  }
  if (typeof padding === 'number' && (padding >= kh || padding >= kw)) {
    throw new SpecError(`${where}.padding`, `${label}: padding ${padding} must be smaller than the ${kh}x${kw} ${field === 'size' ? 'window' : 'kernel'}`);
  }
  const y = convOutput(h, kh, sh, padding), x = convOutput(w, kw, sw, padding);
  return { oh: y.out, ow: x.out, pt: y.before, pl: x.before };
}

/** Padding before (top, left) and output size of a window layer: what its kernels' geometry needs. */
export function windowGeometry(inShape: Shape, kernel: [number, number], stride: [number, number], padding: Padding):
{ oh: number; ow: number; pt: number; pl: number } {
  const y = convOutput(inShape[0]!, kernel[0], stride[0], padding), x = convOutput(inShape[1]!, kernel[1], stride[1], padding);
  return { oh: y.out, ow: x.out, pt: y.before, pl: x.before };
}
