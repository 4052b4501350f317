// Pooling, channels last.  x (B, H, W, C) -> y (B, OH, OW, C), or (B, C) for the global average.
//   maxPool2d     y = max over the window (padding never wins); argmax (B, OH, OW, C) kept for backward
//                 dx += dy scattered to the argmax
//   avgPool2d     y = mean over the window's positions inside the input     dx += dy / count, spread
//   globalAvgPool y (B, C) = mean over H·W                                 dx += dy / (H·W), broadcast
import type { Tensor } from '@retort/core-wasm';
import { pairOf, type PoolSpec } from '../model/layer-spec.js';
import { Layer, type Planner, type Step } from './layer.js';
import { GeometrySlot, layerGeometry } from './conv2d.js';

export class Pool2d extends Layer {
  private geom: GeometrySlot | null = null;
  private argmax: Tensor<'i32'> | null = null;
  private get max(): boolean { return this.node.spec.type === 'maxPool2d'; }

  override plan(p: Planner): void {
    const sp = this.node.spec as PoolSpec;
    const k = pairOf(sp.size);
    this.geom = new GeometrySlot(layerGeometry(this.node, p.batch, k, pairOf(sp.stride ?? sp.size), sp.padding, 1));
    this.geom.plan(p);
    if (this.max) this.argmax = p.i32(p.batch * this.outSize);
  }

  forward(s: Step): void {
    const y = s.out[this.node.index]!, g = this.geom!.at(s.rows);
    if (this.max) s.k.maxPool2dForward(y, this.argmax!.ptr, this.inputOf(s), g);
    else s.k.avgPool2dForward(y, this.inputOf(s), g);
  }

  backward(s: Step): void {
    const dx = this.gradOfInput(s);
    if (dx === 0) return;
    if (s.claim(this.inputIndex())) s.k.fill(dx, s.rows * this.inSize, 0);
    const dy = s.grad[this.node.index]!, g = this.geom!.at(s.rows);
    if (this.max) s.k.maxPool2dBackward(dx, dy, this.argmax!.ptr, g);
    else s.k.avgPool2dBackward(dx, dy, g);
  }
}

export class GlobalAvgPool extends Layer {
  private get hw(): number { return this.node.inShape[0]! * this.node.inShape[1]!; }
  private get c(): number { return this.node.inShape[2]!; }
  forward(s: Step): void {
    s.k.globalAvgPoolForward(s.out[this.node.index]!, this.inputOf(s), s.rows, this.hw, this.c);
  }
  backward(s: Step): void {
    const dx = this.gradOfInput(s);
    if (dx === 0) return;
    if (s.claim(this.inputIndex())) s.k.fill(dx, s.rows * this.inSize, 0);
    s.k.globalAvgPoolBackward(dx, s.grad[this.node.index]!, s.rows, this.hw, this.c);
  }
}
