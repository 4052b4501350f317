// 2-D convolution, channels last, any groups (depthwise when groups == C); and 1-D over sequences (Conv1d, below).
//   x (B, H, W, C) * w (KH, KW, C/G, OC) + b (OC) = y (B, OH, OW, OC)
// backward:
//   dw += conv2dBackwardFilter(x, dy)      db += Σ_{B,OH,OW} dy      dx += conv2dBackwardData(dy, w)
// The kernels take the geometry as a struct in memory (core-wasm abi.ts "Convolution
// geometry"), written here once per plan; B is rewritten when a batch has fewer rows.
import { conv2dWorkElems, encodeGeometry, type ConvGeometry, type Tensor } from '@retort/core-wasm';
import { pairOf, type Conv1dSpec, type Conv2dSpec, type DepthwiseConv2dSpec } from '../model/layer-spec.js';
import { windowGeometry } from '../model/graph.js';
import { Layer, type PlanShared, type Planner, type Step } from './layer.js';

/** The geometry of a window layer (convolution or pooling) for a batch of `batch` rows. */
export function layerGeometry(node: Layer['node'], batch: number, kernel: [number, number], stride: [number, number],
                              padding: 'same' | 'valid' | number, groups: number): ConvGeometry {
  const [H, W, C] = node.inShape as [number, number, number];
  const [OH, OW, OC] = node.outShape as [number, number, number];
  const g = windowGeometry(node.inShape, kernel, stride, padding);
  return { B: batch, H, W, C, OH, OW, OC, KH: kernel[0], KW: kernel[1], SH: stride[0], SW: stride[1], PT: g.pt, PL: g.pl, G: groups };
}

/** A geometry struct in module memory whose B follows the rows of each call. */
export class GeometrySlot {
  private t: Tensor<'i32'> | null = null;
  private rows = 0;
  constructor(private readonly geometry: ConvGeometry) {}
  plan(p: Planner): void {
    this.t = p.i32(16).set(encodeGeometry(this.geometry));
    this.rows = this.geometry.B;
  }
  /** The struct's offset with B set to `rows`. */
  at(rowsNow: number): number {
    const t = this.t!;
    if (rowsNow !== this.rows) { t.view()[0] = rowsNow; this.rows = rowsNow; }
    return t.ptr;
  }
}

export class Conv2d extends Layer {
  private geom: GeometrySlot | null = null;
  private work = 0;
  private workElems = 0;
  private geometry: ConvGeometry | null = null;

  override get skipsInputGradient(): boolean { return true; }

  private get settings(): { kernel: [number, number]; stride: [number, number]; padding: Conv2dSpec['padding']; groups: number; bias: boolean } {
    const sp = this.node.spec as Conv2dSpec | DepthwiseConv2dSpec;
    const groups = sp.type === 'depthwiseConv2d' ? this.node.inShape[2]! : sp.groups;
    return { kernel: pairOf(sp.kernel), stride: pairOf(sp.stride), padding: sp.padding, groups, bias: sp.bias };
  }

  override plan(p: Planner): void {
    const st = this.settings;
    this.geometry = layerGeometry(this.node, p.batch, st.kernel, st.stride, st.padding, st.groups);
    this.geom = new GeometrySlot(this.geometry);
    this.geom.plan(p);
    p.workspace(conv2dWorkElems(this.geometry));
  }

  override bind(shared: PlanShared): void {
    this.work = shared.workspace;
    this.workElems = shared.workspaceElems;
  }

  forward(s: Step): void {
    const y = s.out[this.node.index]!, g = this.geom!.at(s.rows);
    s.k.conv2dForward(y, this.inputOf(s), s.P + this.param('w'), g, this.work, this.workElems);
    if (this.settings.bias) s.k.biasAdd(y, s.P + this.param('b'), s.rows * this.outSize / this.node.outShape[2]!, this.node.outShape[2]!);
  }

  backward(s: Step): void {
    const dy = s.grad[this.node.index]!, g = this.geom!.at(s.rows), k = s.k;
    const OC = this.node.outShape[2]!;
    k.conv2dBackwardFilter(s.G + this.param('w'), this.inputOf(s), dy, g, this.work, this.workElems);
    if (this.settings.bias) k.biasBackward(s.G + this.param('b'), dy, s.rows * this.outSize / OC, OC);
    const dx = this.gradOfInput(s);
    if (dx === 0) return; // no gradient w.r.t. the data
    if (s.claim(this.inputIndex())) k.fill(dx, s.rows * this.inSize, 0);
    k.conv2dBackwardData(dx, dy, s.P + this.param('w'), g, this.work, this.workElems);
  }
}

/**
 * 1-D convolution over a sequence (B, L, D) -> (B, L, F), stride 1, 'same' padding: the conv2d
 * kernels on the sequence seen as a (B, 1, L, D) image with a 1 x k kernel (the same weights layout).
 */
export class Conv1d extends Layer {
  private geom: GeometrySlot | null = null;
  private work = 0;
  private workElems = 0;

  override get skipsInputGradient(): boolean { return true; }
  private get spec(): Conv1dSpec { return this.node.spec as Conv1dSpec; }

  override plan(p: Planner): void {
    const [L, D] = this.node.inShape as [number, number], F = this.spec.filters, k = this.spec.kernel;
    const g = windowGeometry([1, L], [1, k], [1, 1], 'same');
    const geometry: ConvGeometry = { B: p.batch, H: 1, W: L, C: D, OH: 1, OW: L, OC: F, KH: 1, KW: k, SH: 1, SW: 1, PT: g.pt, PL: g.pl, G: 1 };
    this.geom = new GeometrySlot(geometry);
    this.geom.plan(p);
    p.workspace(conv2dWorkElems(geometry));
  }

  override bind(shared: PlanShared): void {
    this.work = shared.workspace;
    this.workElems = shared.workspaceElems;
  }

  forward(s: Step): void {
    const y = s.out[this.node.index]!, g = this.geom!.at(s.rows), F = this.spec.filters, L = this.node.inShape[0]!;
    s.k.conv2dForward(y, this.inputOf(s), s.P + this.param('w'), g, this.work, this.workElems);
    if (this.spec.bias) s.k.biasAdd(y, s.P + this.param('b'), s.rows * L, F);
  }

  backward(s: Step): void {
    const dy = s.grad[this.node.index]!, g = this.geom!.at(s.rows), k = s.k, F = this.spec.filters, L = this.node.inShape[0]!;
    k.conv2dBackwardFilter(s.G + this.param('w'), this.inputOf(s), dy, g, this.work, this.workElems);
    if (this.spec.bias) k.biasBackward(s.G + this.param('b'), dy, s.rows * L, F);
    const dx = this.gradOfInput(s);
    if (dx === 0) return;
    if (s.claim(this.inputIndex())) k.fill(dx, s.rows * this.inSize, 0);
    k.conv2dBackwardData(dx, dy, s.P + this.param('w'), g, this.work, this.workElems);
  }
}
