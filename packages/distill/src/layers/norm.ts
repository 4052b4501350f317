// Normalisation over the channel (last) dimension.  x, y (R, C) with R = B·(H·W) rows.
//   batchNorm  train: per-channel batch mean / variance over R rows, y = γ (x − μ) / √(σ² + ε) + β,
//                     running statistics updated (PyTorch convention: momentum, unbiased variance)
//              eval:  y = γ (x − running μ) / √(running σ² + ε) + β
//              backward (train statistics): dγ += Σ dy x̂, dβ += Σ dy, dx += γ/(R σ) (R dy − Σdy − x̂ Σ dy x̂)
//   layerNorm  per row r over its C values: y = γ (x − μ_r) / σ_r + β (the same in train and eval)
import type { Tensor } from '@retort/core-wasm';
import { Layer, type Planner, type Step } from './layer.js';

export class BatchNorm extends Layer {
  private mean: Tensor<'f32'> | null = null;
  private invstd: Tensor<'f32'> | null = null;
  private get c(): number { return this.node.outShape[this.node.outShape.length - 1]!; }
  private get cfg(): { eps: number; momentum: number } { return this.node.spec as { eps: number; momentum: number }; }

  override plan(p: Planner): void {
    this.mean = p.f32(this.c);
    this.invstd = p.f32(this.c);
  }

  forward(s: Step): void {
    const C = this.c, rows = s.rows * this.outSize / C, y = s.out[this.node.index]!, x = this.inputOf(s);
    const gamma = s.P + this.param('gamma'), beta = s.P + this.param('beta');
    const rm = s.S + this.stateAt('running_mean'), rv = s.S + this.stateAt('running_var');
    if (s.train) s.k.batchNormTrainForward(y, this.mean!.ptr, this.invstd!.ptr, rm, rv, x, gamma, beta, rows, C, this.cfg.eps, this.cfg.momentum);
    else s.k.batchNormInferForward(y, x, rm, rv, gamma, beta, rows, C, this.cfg.eps);
  }

  backward(s: Step): void {
    const C = this.c, rows = s.rows * this.outSize / C, dx = this.gradOfInput(s);
    if (s.claim(this.inputIndex())) s.k.fill(dx, s.rows * this.inSize, 0);
    s.k.batchNormBackward(dx, s.G + this.param('gamma'), s.G + this.param('beta'), s.grad[this.node.index]!, this.inputOf(s),
      this.mean!.ptr, this.invstd!.ptr, s.P + this.param('gamma'), rows, C);
  }
}

export class LayerNorm extends Layer {
  private mean: Tensor<'f32'> | null = null;
  private rstd: Tensor<'f32'> | null = null;
  private get d(): number { return this.node.outShape[this.node.outShape.length - 1]!; }

  override plan(p: Planner): void {
    const rows = p.batch * this.outSize / this.d;
    this.mean = p.f32(rows);
    this.rstd = p.f32(rows);
  }

  forward(s: Step): void {
    const D = this.d, rows = s.rows * this.outSize / D;
    s.k.layerNormForward(s.out[this.node.index]!, this.mean!.ptr, this.rstd!.ptr, this.inputOf(s),
      s.P + this.param('gamma'), s.P + this.param('beta'), rows, D, (this.node.spec as { eps: number }).eps);
  }

  backward(s: Step): void {
    const D = this.d, rows = s.rows * this.outSize / D, dx = this.gradOfInput(s);
    if (s.claim(this.inputIndex())) s.k.fill(dx, s.rows * this.inSize, 0);
    s.k.layerNormBackward(dx, s.G + this.param('gamma'), s.G + this.param('beta'), s.grad[this.node.index]!, this.inputOf(s),
      this.mean!.ptr, this.rstd!.ptr, s.P + this.param('gamma'), rows, D);
  }
}
