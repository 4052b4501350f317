// The ONNX operators Retort reads, one reader per operator (those over feature maps and the
// norms in ./onnx-conv-norm.ts): each checks its node (inputs, attributes — as the node's opset
// defines them — and weights against the shapes flowing in) and records what it computes,
// either as a Retort layer (an op of ./graph-import.ts) or as a change of layout. Weights are validated
// here and read later (ImportContext.ops hold thunks), so nothing is allocated before the whole
// graph has been checked.
//
// Values carry their Retort shape and how ONNX holds them:
//   nchw  an image [N, C, H, W] (Retort's [H, W, C]);   nhwc  an image ONNX holds channels last
//   flat  features [N, D]; `order` when they are a map flattened channels first (c, h, w), not
//         Retort's (h, w, c): dense rows and norm vectors reading them are reordered;
//         `squeezed` when ONNX still holds them as [N, C, 1, 1] (after GlobalAveragePool)
// GELU's erf form (x * 0.5 * (1 + erf(x / sqrt 2)), in the orders exporters write it) is
// recognised step by step: its partial results are values of their own that only the next step
// of the pattern may read.

import type { NodeSpec } from '../model/graph.js';
import {
  AT, biasTensor, chwIndexOfHwc, floatTensor, floatValues, int64Vector, permuteRows, q, readAttributes, scale,
  type Attributes, type FloatTensor, type onnx,
} from './onnx-format.js';
import { readBatchNorm, readConv, readGlobalPool, readLayerNorm, readPool } from './onnx-conv-norm.js';

export interface Reordered { H: number; W: number; C: number }

export interface DataValue {
  kind: 'data';
  /** The op computing it (-1: the graph input). */
  op: number;
  layout: 'flat' | 'nchw' | 'nhwc';
  /** Retort's per-sample shape: [D] (D null: the input's width, not known yet) or [H, W, C]. */
  shape: (number | null)[];
  squeezed: boolean;
  order: Reordered | null;
  /** The graph input taken as flat features: a Flatten or Reshape of it changes nothing. */
  flattenedInput: boolean;
  /** No layer between it and the graph input. */
  fromInput: boolean;
  /** The output of a dense layer itself, with or without its bias (an Add of a constant may be the bias). */
  denseOut: 'bias' | 'nobias' | null;
  /** The output of a Softmax/LogSoftmax, which only the graph output may be. */
  softmax: { op: 'Softmax' | 'LogSoftmax'; node: string } | null;
}

type GeluStage = 'scaled' | 'erf' | 'erf+1' | 'x(erf+1)' | 'x/2';
interface GeluValue { kind: 'gelu'; stage: GeluStage; x: string }
export type Value = DataValue | GeluValue;

/** An op whose tensors are read once the whole graph is checked. */
export interface LazyOp {
  layer: NodeSpec;
  inputs: number[];
  tensors: Map<string, () => Float32Array>;
  label: string;
}

export interface ImportContext {
  readonly fileFail: (problem: string) => never;
  readonly notes: string[];
  /** Initializers and Constant outputs by name. */
  readonly constants: Map<string, onnx.ITensorProto>;
  /** Constants some node read. */
  readonly used: Set<string>;
  readonly elemType: number;
  readonly opset: number;
  readonly values: Map<string, Value>;
  readonly ops: LazyOp[];
  /** How many node inputs read each value. */
  readonly readers: Map<string, number>;
  /** The input's feature count when ONNX leaves it open and a layer has fixed it. */
  inputWidth: number | null;
  /** The graph input's rank when it is taken as flat features (Flatten's axis may count from it). */
  readonly inputRank: number | null;
}

export const SUPPORTED_OPS = new Set([
  'Identity', 'Dropout', 'Flatten', 'Reshape', 'Transpose', 'Gemm', 'MatMul', 'Add', 'Relu', 'Gelu', 'Div', 'Mul', 'Erf',
  'Conv', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'BatchNormalization', 'LayerNormalization', 'Softmax', 'LogSoftmax', 'Constant',
]);
/** An attribute's type, and the opsets that have it ([since, until), when not all from 7). */
type AttributeRule = number | [type: number, since: number, until?: number];
const WINDOW = { auto_pad: AT.STRING, kernel_shape: AT.INTS, pads: AT.INTS, strides: AT.INTS };
/** Each operator's attributes as ONNX's schemas of the opsets Retort reads list them (onnxruntime refuses any other). */
const ATTRIBUTES: Record<string, Record<string, AttributeRule>> = {
  Flatten: { axis: AT.INT },
  Reshape: { allowzero: [AT.INT, 14] },
  Transpose: { perm: AT.INTS },
  Gemm: { alpha: AT.FLOAT, beta: AT.FLOAT, transA: AT.INT, transB: AT.INT },
  Softmax: { axis: AT.INT },
  LogSoftmax: { axis: AT.INT },
  Dropout: { ratio: [AT.FLOAT, 7, 12], seed: [AT.INT, 12] },
  Gelu: { approximate: AT.STRING },
  Conv: { ...WINDOW, dilations: AT.INTS, group: AT.INT },
  MaxPool: { ...WINDOW, storage_order: [AT.INT, 8], ceil_mode: [AT.INT, 10], dilations: [AT.INTS, 10] },
  AveragePool: { ...WINDOW, count_include_pad: AT.INT, ceil_mode: [AT.INT, 10], dilations: [AT.INTS, 19] },
  BatchNormalization: { epsilon: AT.FLOAT, momentum: AT.FLOAT, spatial: [AT.INT, 7, 9], training_mode: [AT.INT, 14] },
  LayerNormalization: { axis: AT.INT, epsilon: AT.FLOAT, stash_type: AT.INT },
  Constant: { value: AT.TENSOR, value_float: [AT.FLOAT, 12] },
};

/** The attributes `op` has at `opset`, with their types. */
function attributesAt(op: string, opset: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, rule] of Object.entries(ATTRIBUTES[op] ?? {})) {
    if (typeof rule === 'number') out[name] = rule;
    else if (opset >= rule[1] && (rule[2] === undefined || opset < rule[2])) out[name] = rule[0];
  }
  return out;
}
/** Opsets that introduced operators Retort reads. */
const SINCE: Record<string, number> = { LayerNormalization: 17, Gelu: 20 };

const SQRT2 = Math.SQRT2;

/** The shape of a value as ONNX holds it, with the batch dimension (for declared types). */
export function onnxDims(v: DataValue, batch: number | null, inputWidth: number | null): (number | null)[] {
  if (v.layout === 'flat') return v.squeezed ? [batch, v.shape[0]!, 1, 1] : [batch, v.shape[0] ?? inputWidth];
  const [h, w, c] = v.shape;
  return v.layout === 'nchw' ? [batch, c!, h!, w!] : [batch, h!, w!, c!];
}

/** Reads node `index` into the context (values, ops); throws through `fileFail` naming the node. */
export function readNode(ctx: ImportContext, node: onnx.INodeProto, index: number): void {
  const op = node.opType ?? '';
  const domain = node.domain ?? '';
  const label = `node ${node.name ? q(node.name) : `#${index}`} (${op === '' ? 'no op_type' : q(op).slice(1, -1)})`;
  const fail = (problem: string): never => ctx.fileFail(`${label}: ${problem}`);
  if ((domain !== '' && domain !== 'ai.onnx') || !SUPPORTED_OPS.has(op)) {
    fail(`operator ${domain !== '' && domain !== 'ai.onnx' ? `${q(domain).slice(1, -1)}.` : ''}${q(op).slice(1, -1)} cannot be represented by a Retort model`);
  }
  const since = SINCE[op];
  if (since !== undefined && ctx.opset < since) fail(`${op} is an opset-${since} operator but the model imports opset ${ctx.opset}`);
  const inputs = node.input ?? [];
  const outputs = node.output ?? [];
  for (const name of inputs) {
    if (name !== '' && !ctx.values.has(name) && !ctx.constants.has(name)) fail(`input ${q(name)} is not a graph input, an initializer, or the output of an earlier node`);
  }
  if (outputs.length !== 1 || outputs[0] === '') fail(`has ${outputs.length} outputs; Retort reads nodes with one output`);
  const out = outputs[0]!;
  if (ctx.values.has(out) || ctx.constants.has(out)) fail(`output ${q(out)} is already defined (each value must be produced once)`);
  const attrs = readAttributes(node, attributesAt(op, ctx.opset), fail);
  const r = new NodeReader(ctx, node, node.name || `#${index}`, label, fail, attrs);
  const result = r.read(op);
  if (result === 'constant') return;
  ctx.values.set(out, result);
}

export class NodeReader {
  readonly inputs: string[];
  constructor(readonly ctx: ImportContext, readonly node: onnx.INodeProto, readonly name: string, readonly label: string,
              readonly fail: (p: string) => never, readonly attrs: Attributes) {
    this.inputs = node.input ?? [];
  }

  expectInputs(min: number, max: number): void {
    const n = this.inputs.length;
    if (n < min || n > max) this.fail(`has ${n} inputs, expected ${min === max ? min : `${min} to ${max}`}`);
  }

  isConstant(k: number): boolean { return this.ctx.constants.has(this.inputs[k] ?? ''); }

  /** Input k as a data value (not a constant, nor part of a GELU pattern). */
  data(k: number, role = 'data'): DataValue {
    const name = this.inputs[k];
    if (name === undefined || name === '') return this.fail(`has no ${role} input`);
    const v = this.ctx.values.get(name);
    if (!v) return this.fail(`reads ${q(name)} as its ${role}, but it is a constant (Retort reads constant weights only where a layer has them)`);
    if (v.kind === 'gelu') return this.fail(`reads ${q(name)}, a step of a GELU pattern (x * 0.5 * (1 + erf(x / sqrt 2))) that is not finished`);
    if (v.softmax) return this.fail(`follows a ${v.softmax.op}; the ${v.softmax.op} must be the last node`);
    return v;
  }

  /** Input k as a constant (an initializer or a Constant's output). */
  weight(k: number, role: string, required = true): string | null {
    const name = this.inputs[k];
    if (name === undefined || name === '') return required ? this.fail(`has no ${role} input`) : null;
    if (!this.ctx.constants.has(name)) this.fail(`${role} ${q(name)} is not an initializer (Retort reads constant weights only)`);
    this.ctx.used.add(name);
    return name;
  }

  floatWeight(k: number, role: string): FloatTensor {
    const name = this.weight(k, role)!;
    return floatTensor(this.ctx.constants.get(name)!, name, this.ctx.elemType, this.fail);
  }

  /** A per-channel vector of `n` values. */
  vector(k: number, role: string, n: number): FloatTensor {
    const t = this.floatWeight(k, role);
    if (t.dims.length !== 1 || t.dims[0] !== n) this.fail(`shape mismatch: ${role} ${q(t.name)} has shape [${t.dims.join(', ')}] but the input has ${n} channels`);
    return t;
  }

  /** A one-element constant's value, or null when input k is not one. */
  scalar(k: number): number | null {
    const name = this.inputs[k];
    if (name === undefined || !this.ctx.constants.has(name)) return null;
    const t = floatTensor(this.ctx.constants.get(name)!, name, this.ctx.elemType, this.fail);
    if (t.count !== 1) return null;
    this.ctx.used.add(name);
    return floatValues(t)[0]!;
  }

  width(v: DataValue): number | null { return v.shape[0] ?? this.ctx.inputWidth; }

  /** A value derived from `v` by an elementwise or layout step. */
  like(v: DataValue, change: Partial<DataValue> = {}): DataValue { return { ...v, denseOut: null, ...change }; }

  /** Records a Retort layer reading `from`; returns its op index. */
  layer(layer: NodeSpec, from: DataValue[], tensors: [string, () => Float32Array][] = []): number {
    this.ctx.ops.push({ layer, inputs: from.map((v) => v.op), tensors: new Map(tensors), label: this.label });
    return this.ctx.ops.length - 1;
  }

  out(v: DataValue, op: number, change: Partial<DataValue>): DataValue {
    return { ...v, op, fromInput: false, denseOut: null, softmax: null, ...change };
  }

  image(v: DataValue, what: string): [number, number, number] {
    if (v.layout === 'nchw') return v.shape as [number, number, number];
    if (v.layout === 'nhwc') return this.fail(`reads an NHWC value; ONNX's ${what} takes NCHW (Transpose it back first)`);
    return this.fail(`its input has rank ${v.squeezed ? 4 : 2} ([batch, ${v.squeezed ? 'channels, 1, 1' : 'features'}]); ${what} needs an NCHW image`);
  }

  read(op: string): DataValue | GeluValue | 'constant' {
    switch (op) {
      case 'Identity': case 'Dropout': return this.identity(op);
      case 'Constant': return this.constant();
      case 'Relu': case 'Gelu': return this.activation(op);
      case 'Div': case 'Mul': case 'Erf': return this.geluStep(op);
      case 'Add': return this.add();
      case 'Flatten': case 'Reshape': return this.flatten(op);
      case 'Transpose': return this.transpose();
      case 'Gemm': case 'MatMul': return this.dense(op);
      case 'Conv': return readConv(this);
      case 'MaxPool': case 'AveragePool': return readPool(this, op);
      case 'GlobalAveragePool': return readGlobalPool(this);
      case 'BatchNormalization': return readBatchNorm(this);
      case 'LayerNormalization': return readLayerNorm(this);
      default: return this.softmax(op as 'Softmax' | 'LogSoftmax');
    }
  }

  identity(op: string): DataValue | GeluValue | 'constant' {
    if (op === 'Identity' || this.ctx.opset < 12) this.expectInputs(1, 1);
    else {
      // opset 12 on: ratio (a scalar) and training_mode as inputs; training mode is not inference
      this.expectInputs(1, 2);
      if (this.inputs[1]) {
        const ratio = this.floatWeight(1, 'ratio');
        if (ratio.dims.length !== 0) this.fail(`ratio ${q(ratio.name)} has shape [${ratio.dims.join(', ')}]; it must be a scalar`);
      }
    }
    const name = this.inputs[0]!;
    const out = (this.node.output ?? [])[0]!;
    const c = this.ctx.constants.get(name);
    if (c) { this.ctx.used.add(name); this.ctx.constants.set(out, c); return 'constant'; }
    const v = this.ctx.values.get(name)!;
    // a bias Add after the Identity may fold into the dense layer only when nothing else reads its output
    return v.kind === 'data' && (this.ctx.readers.get(name) ?? 0) > 1 ? { ...v, denseOut: null } : v;
  }

  constant(): 'constant' {
    this.expectInputs(0, 0);
    const out = (this.node.output ?? [])[0]!;
    const t = this.attrs.tensor('value');
    if (t) this.ctx.constants.set(out, { ...t, name: out });
    else if (this.attrs.has('value_float')) this.ctx.constants.set(out, { name: out, dataType: this.ctx.elemType === 11 ? 11 : 1, dims: [], ...(this.ctx.elemType === 11 ? { doubleData: [this.attrs.float('value_float', 0)] } : { floatData: [this.attrs.float('value_float', 0)] }) });
    else this.fail("has no 'value' (Retort reads Constant nodes holding a tensor or value_float)");
    return 'constant';
  }

  activation(op: 'Relu' | 'Gelu'): DataValue {
    this.expectInputs(1, 1);
    if (op === 'Gelu' && this.attrs.string('approximate', 'none') !== 'none') {
      this.fail(`approximate '${this.attrs.string('approximate', '')}': Retort's GELU is the exact (erf) form`);
    }
    const x = this.data(0);
    return this.out(x, this.layer({ type: op === 'Relu' ? 'relu' : 'gelu' }, [x]), {});
  }

  /** Div, Mul and Erf: the steps of GELU's erf form (nothing else is read). */
  geluStep(op: 'Div' | 'Mul' | 'Erf'): DataValue | GeluValue {
    const v = (k: number): Value | undefined => this.ctx.values.get(this.inputs[k] ?? '');
    const near = (c: number | null, want: number): boolean => c !== null && Math.abs(c - want) <= 1e-6 * want;
    const refuse = (): never => this.fail(`Retort reads ${op} only as a step of GELU's erf form, x * 0.5 * (1 + erf(x / sqrt 2))`);
    if (op === 'Erf') {
      this.expectInputs(1, 1);
      const a = v(0);
      if (a?.kind !== 'gelu' || a.stage !== 'scaled') return refuse();
      return { ...a, stage: 'erf' };
    }
    this.expectInputs(2, 2);
    if (op === 'Div') {
      const a = v(0);
      if (a?.kind === 'data' && near(this.scalar(1), SQRT2)) return { kind: 'gelu', stage: 'scaled', x: this.dataName(0) };
      return refuse();
    }
    for (const [i, j] of [[0, 1], [1, 0]] as const) {
      const a = v(i), b = v(j);
      if (a?.kind === 'data') {
        const c = this.scalar(j);
        if (near(c, Math.SQRT1_2)) return { kind: 'gelu', stage: 'scaled', x: this.dataName(i) };
        if (c === 0.5) return { kind: 'gelu', stage: 'x/2', x: this.dataName(i) };
        if (b?.kind === 'gelu' && b.stage === 'erf+1' && b.x === this.inputs[i]) return { ...b, stage: 'x(erf+1)' };
      }
      if (a?.kind === 'gelu') {
        if (a.stage === 'x(erf+1)' && this.scalar(j) === 0.5) return this.geluDone(a.x);
        if (a.stage === 'erf+1' && b?.kind === 'gelu' && b.stage === 'x/2' && b.x === a.x) return this.geluDone(a.x);
      }
    }
    return refuse();
  }

  dataName(k: number): string {
    this.data(k);
    return this.inputs[k]!;
  }

  geluDone(xName: string): DataValue {
    const x = this.ctx.values.get(xName) as DataValue;
    return this.out(x, this.layer({ type: 'gelu' }, [x]), {});
  }

  add(): DataValue | GeluValue {
    this.expectInputs(2, 2);
    const [a, b] = [0, 1].map((k) => this.ctx.values.get(this.inputs[k]!)) as [Value | undefined, Value | undefined];
    for (const [g, k] of [[a, 1], [b, 0]] as const) {
      if (g?.kind === 'gelu') {
        if (g.stage === 'erf' && this.scalar(k) === 1) return { ...g, stage: 'erf+1' };
        return this.data(1 - k); // names the unfinished pattern
      }
    }
    if (a && b) {
      const x = this.data(0), y = this.data(1);
      const same = x.layout === y.layout && x.squeezed === y.squeezed && x.shape.length === y.shape.length
        && x.shape.every((d, i) => d === y.shape[i]) && JSON.stringify(x.order) === JSON.stringify(y.order);
      if (!same) {
        this.fail(`adds values of different shapes or layouts (${this.describe(x)} and ${this.describe(y)}); Retort adds equal shapes only (no broadcasting)`);
      }
      if (x.flattenedInput) this.fail('adds the graph input before it is flattened');
      return this.out(x, this.layer({ type: 'add' }, [x, y]), {});
    }
    // a constant: the bias of the dense layer before it
    const k = a ? 0 : 1;
    const x = this.data(k);
    const denseOp = this.ctx.ops[x.op];
    if (x.denseOut !== 'nobias' || !denseOp) {
      return this.fail(x.denseOut === 'bias' ? 'adds a second bias to a dense layer; Retort supports one bias per layer' : 'is only supported as the bias of a preceding MatMul or Gemm');
    }
    if ((this.ctx.readers.get(this.inputs[k]!) ?? 0) > 1) this.fail(`the dense output ${q(this.inputs[k]!)} is also read elsewhere, so this Add cannot be folded into it as its bias`);
    const units = x.shape[0]!;
    const bName = this.weight(1 - k, 'bias')!;
    const bias = biasTensor(this.ctx.constants.get(bName)!, bName, units, this.ctx.elemType, this.fail);
    (denseOp.layer as { bias: boolean }).bias = true;
    denseOp.tensors.set('b', () => broadcast(floatValues(bias), units));
    return { ...x, denseOut: 'bias' };
  }

  describe(v: DataValue): string {
    const s = v.shape.map((d) => d ?? '?').join(', ');
    return v.layout === 'flat' ? `[${s}]${v.order ? ' in (c, h, w) order' : ''}${v.squeezed ? ' as [C, 1, 1]' : ''}` : `${v.layout.toUpperCase()} [${s}] (h, w, c)`;
  }

  flatten(op: 'Flatten' | 'Reshape'): DataValue {
    const x = this.data(0);
    const rank = x.layout === 'flat' && !x.squeezed ? 2 : 4;
    let width: number | null = null;
    if (op === 'Flatten') {
      this.expectInputs(1, 1);
      const axis = this.attrs.int('axis', 1);
      const inputRank = x.flattenedInput ? this.ctx.inputRank : rank;
      if (!(axis === 1 || (inputRank !== null && axis === 1 - inputRank))) this.fail(`axis ${axis} does not flatten to [batch, features]; only axis 1 is supported`);
    } else {
      this.expectInputs(2, 2);
      if (this.ctx.values.get(this.inputs[1] ?? '')) this.fail(`reads ${q(this.inputs[1]!)} as its shape; the data must be the first input`);
      const shapeName = this.weight(1, 'shape')!;
      const target = int64Vector(this.ctx.constants.get(shapeName)!, shapeName, this.fail);
      const allowZero = this.attrs.int('allowzero', 0);
      const [s0, s1] = target;
      const unsupported = `reshapes to [${target.join(', ')}]; only a reshape to [batch, features] ([0, -1] or [-1, F]) is supported`;
      if (target.length !== 2 || s0 === undefined || s1 === undefined) return this.fail(unsupported);
      const keepsBatch = (s0 === 0 && allowZero === 0) || (s0 === -1 && s1 > 0);
      if (!keepsBatch || !(s1 === -1 || s1 > 0)) this.fail(unsupported);
      if (s1 > 0) width = s1;
    }
    const features = x.layout === 'flat' ? this.width(x) : x.shape.reduce((p: number, d) => p * d!, 1);
    if (width !== null && features !== null && features !== width) this.fail(`reshapes ${features} features per row to ${width}`);
    if (x.flattenedInput || (x.layout === 'flat' && x.squeezed)) {
      if (features === null && width !== null) this.ctx.inputWidth = width;
      return this.like(x, { flattenedInput: false, squeezed: false });
    }
    if (x.layout === 'flat') {
      if (features === null && width !== null) this.ctx.inputWidth = width;
      return this.out(x, this.layer({ type: 'flatten' }, [x]), { shape: [features ?? width] });
    }
    const [h, w, c] = x.shape as [number, number, number];
    const order = x.layout === 'nchw' && h * w > 1 && c > 1 ? { H: h, W: w, C: c } : null;
    return this.out(x, this.layer({ type: 'flatten' }, [x]), { layout: 'flat', shape: [h * w * c], order });
  }

  transpose(): DataValue {
    this.expectInputs(1, 1);
    const x = this.data(0);
    const perm = this.attrs.ints('perm', null);
    const is = (p: number[]): boolean => perm !== null && perm.length === 4 && p.every((d, i) => perm[i] === d);
    if (x.layout === 'nchw' && is([0, 2, 3, 1])) return this.like(x, { layout: 'nhwc' });
    if (x.layout === 'nhwc' && is([0, 3, 1, 2])) return this.like(x, { layout: 'nchw' });
    return this.fail(`perm [${perm?.join(', ') ?? 'reversed'}] of ${this.describe(x)}: Retort reads Transposes between NCHW and NHWC only`);
  }

  dense(op: 'Gemm' | 'MatMul'): DataValue {
    const gemm = op === 'Gemm';
    this.expectInputs(2, gemm ? 3 : 2);
    if (!this.ctx.values.has(this.inputs[0] ?? '')) {
      if (this.ctx.values.has(this.inputs[1] ?? '')) this.fail(`reads ${q(this.inputs[1]!)} as its ${gemm ? 'B' : 'second'} input; Retort computes x·W, with x the first input`);
    }
    const x = this.data(0);
    if (x.layout !== 'flat' || x.squeezed) this.fail(`its input has rank 4; a dense layer needs [batch, features] (add a Flatten)`);
    if (gemm && this.attrs.int('transA', 0) !== 0) this.fail('transA = 1 is not supported (the data must be [batch, features])');
    const transB = gemm ? this.attrs.int('transB', 0) : 0;
    if (transB !== 0 && transB !== 1) this.fail(`transB must be 0 or 1, got ${transB}`);
    const alpha = gemm ? this.attrs.float('alpha', 1) : 1;
    const beta = gemm ? this.attrs.float('beta', 1) : 1;
    if (!Number.isFinite(alpha) || !Number.isFinite(beta)) this.fail(`alpha and beta must be finite, got ${alpha} and ${beta}`);
    const w = this.floatWeight(1, 'weight');
    const wName = w.name;
    if (w.dims.length !== 2) this.fail(`weight ${q(wName)} has shape [${w.dims.join(', ')}]; a dense layer needs a 2-D weight`);
    const [rows, cols] = transB === 1 ? [w.dims[1]!, w.dims[0]!] : [w.dims[0]!, w.dims[1]!];
    if (rows < 1 || cols < 1) this.fail(`weight ${q(wName)} has an empty shape [${w.dims.join(', ')}]`);
    const width = this.width(x);
    if (width !== null && rows !== width) {
      this.fail(`shape mismatch: weight ${q(wName)} [${w.dims.join(', ')}]${transB === 1 ? ' (transB = 1)' : ''} takes ${rows} inputs but the previous ${x.fromInput ? 'input' : 'layer'} gives ${width}`);
    }
    if (width === null) this.ctx.inputWidth = rows;
    let bias: FloatTensor | null = null;
    const name = this.name;
    if (gemm) {
      const cName = this.weight(2, 'bias', false);
      if (cName !== null) bias = biasTensor(this.ctx.constants.get(cName)!, cName, cols, this.ctx.elemType, this.fail);
      if (bias && beta === 0) {
        this.ctx.notes.push(`node ${q(name)}: beta = 0, so its bias ${q(cName!)} is not used`);
        bias = null;
      }
    }
    if (transB === 1) this.ctx.notes.push(`node ${q(name)}: the transposed weight (transB = 1) was transposed into Retort's [inputs, outputs] layout`);
    if (alpha !== 1 || (bias !== null && beta !== 1)) this.ctx.notes.push(`node ${q(name)}: alpha = ${alpha}, beta = ${beta} were folded into the weight and bias`);
    const order = x.order;
    const weightValues = (): Float32Array => {
      let m = floatValues(w);
      if (transB === 1) m = transpose2d(m, cols, rows);
      if (alpha !== 1) scale(m, alpha);
      return order ? permuteRows(m, chwIndexOfHwc(order.H, order.W, order.C), cols, true) : m;
    };
    const tensors: [string, () => Float32Array][] = [['w', weightValues]];
    if (bias) {
      const b = bias;
      tensors.push(['b', () => { const v = broadcast(floatValues(b), cols); if (beta !== 1) scale(v, beta); return v; }]);
    }
    const opIndex = this.layer({ type: 'dense', units: cols, bias: bias !== null }, [x], tensors);
    return this.out(x, opIndex, { layout: 'flat', shape: [cols], order: null, squeezed: false, denseOut: bias === null ? 'nobias' : 'bias' });
  }

  softmax(op: 'Softmax' | 'LogSoftmax'): DataValue {
    this.expectInputs(1, 1);
    const x = this.data(0);
    if (x.layout !== 'flat' || x.squeezed) this.fail('is only supported over the class scores [batch, classes]');
    const axis = this.attrs.int('axis', this.ctx.opset >= 13 ? -1 : 1);
    if (axis !== 1 && axis !== -1) this.fail(`axis ${axis} is not the class axis (1 or -1)`);
    return { ...x, softmax: { op, node: this.name }, denseOut: null };
  }
}

/** A [rows, cols] row-major matrix transposed. */
function transpose2d(m: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(m.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = m[r * cols + c]!;
  return out;
}

/** A bias of `n` units from one (broadcast) or n values. */
function broadcast(b: Float32Array, n: number): Float32Array {
  if (b.length === n) return b;
  return new Float32Array(n).fill(b[0]!);
}
