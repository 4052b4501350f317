// Elementwise layers: ReLU, GELU, dropout, flatten and the residual add. x, y (B, N) with N the
// per-sample size of any shape.
//   relu     y = max(x, 0)                    dx += (y > 0) dy        (may run in place: y over x)
//   gelu     y = x Φ(x)                       dx += dy (Φ(x) + x φ(x)) (needs x: never in place)
//   dropout  y = x ⊙ mask (train; mask from the step's PRNG, inverted scaling)   dx += dy ⊙ mask
//            y = x (eval: the output is the input buffer)
//   flatten  y = x (the same buffer, and the same gradient buffer: a shape change only)
//   add      y = a + b                        da += dy, db += dy
import type { Planner, Step } from './layer.js';
import { Layer } from './layer.js';
import type { Tensor } from '@retort/core-wasm';

/** Zeroes a freshly claimed gradient buffer: accumulate-only kernels then add into it. */
function accumulateInto(s: Step, i: number, ptr: number, n: number): void {
  if (s.claim(i)) s.k.fill(ptr, n, 0);
}

export class Relu extends Layer {
  override get canRunInPlace(): boolean { return true; }
  forward(s: Step): void {
    s.k.reluForward(s.out[this.node.index]!, this.inputOf(s), s.rows * this.outSize);
  }
  backward(s: Step): void {
    const n = s.rows * this.outSize, dx = this.gradOfInput(s);
    if (dx === 0) return;
    accumulateInto(s, this.inputIndex(), dx, n);
    s.k.reluBackward(dx, s.grad[this.node.index]!, s.out[this.node.index]!, n);
  }
}

export class Gelu extends Layer {
  forward(s: Step): void {
    s.k.geluForward(s.out[this.node.index]!, this.inputOf(s), s.rows * this.outSize);
  }
  backward(s: Step): void {
    const n = s.rows * this.outSize, dx = this.gradOfInput(s);
    if (dx === 0) return;
    accumulateInto(s, this.inputIndex(), dx, n);
    s.k.geluBackward(dx, s.grad[this.node.index]!, this.inputOf(s), n);
  }
}

export class Dropout extends Layer {
  private mask: Tensor<'f32'> | null = null;
  private get rate(): number { return (this.node.spec as { rate: number }).rate; }
  override aliasesInput(train: boolean): boolean { return !train || this.rate === 0; }
  override plan(p: Planner): void { if (this.rate > 0) this.mask = p.f32(p.batch * this.outSize); }
  forward(s: Step): void {
    if (!s.train || this.rate === 0) return;
    const n = s.rows * this.outSize;
    s.k.dropoutMask(this.mask!.ptr, s.rng, n, this.rate);
    s.k.dropoutForward(s.out[this.node.index]!, this.inputOf(s), this.mask!.ptr, n);
  }
  backward(s: Step): void {
    const n = s.rows * this.outSize, dx = this.gradOfInput(s);
    if (dx === 0 || this.rate === 0) return; // rate 0 aliases: the gradient buffer is shared
    accumulateInto(s, this.inputIndex(), dx, n);
    if (s.train) s.k.dropoutBackward(dx, s.grad[this.node.index]!, this.mask!.ptr, n);
    else s.k.axpy(dx, s.grad[this.node.index]!, n, 1); // after an eval-mode forward dropout was the identity
  }
}

export class Flatten extends Layer {
  override aliasesInput(): boolean { return true; }
  forward(): void {}
  backward(): void {}
}

export class Add extends Layer {
  forward(s: Step): void {
    s.k.addForward(s.out[this.node.index]!, this.inputOf(s, 0), this.inputOf(s, 1), s.rows * this.outSize);
  }
  backward(s: Step): void {
    const n = s.rows * this.outSize, dy = s.grad[this.node.index]!;
    for (const which of [0, 1]) {
      const dx = this.gradOfInput(s, which);
      if (dx === 0) continue;
      accumulateInto(s, this.inputIndex(which), dx, n);
      s.k.axpy(dx, dy, n, 1);
    }
  }
}
