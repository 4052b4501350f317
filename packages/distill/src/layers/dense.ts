// Dense (fully connected) layer.  B = batch rows, IN = input features, OUT = units.
//   x (B, IN) · W (IN, OUT) + b (OUT) = y (B, OUT)        W row-major: column j feeds unit j
// backward:
//   dW += xᵀ · dy      db += Σ_rows dy      dx += dy · Wᵀ   (dx skipped for the model input)
import type { DenseSpec } from '../model/layer-spec.js';
import { Layer, type PlanShared, type Planner, type Step } from './layer.js';

export class Dense extends Layer {
  private scratch = 0;
  private get spec(): DenseSpec { return this.node.spec as DenseSpec; }

  override get skipsInputGradient(): boolean { return true; }

  override plan(p: Planner): void { p.scratch(p.batch * this.inSize); }
  override bind(shared: PlanShared): void { this.scratch = shared.scratch; }

  forward(s: Step): void {
    const IN = this.inSize, OUT = this.spec.units, y = s.out[this.node.index]!;
    s.k.sgemm(0, 0, s.rows, OUT, IN, 1, this.inputOf(s), IN, s.P + this.param('w'), OUT, 0, y, OUT);
    if (this.spec.bias) s.k.biasAdd(y, s.P + this.param('b'), s.rows, OUT);
  }

  backward(s: Step): void {
    const IN = this.inSize, OUT = this.spec.units, dy = s.grad[this.node.index]!, k = s.k;
    k.sgemm(1, 0, IN, OUT, s.rows, 1, this.inputOf(s), IN, dy, OUT, 1, s.G + this.param('w'), OUT);
    if (this.spec.bias) k.biasBackward(s.G + this.param('b'), dy, s.rows, OUT);
    const dx = this.gradOfInput(s), W = s.P + this.param('w');
    if (dx === 0) return; // no gradient w.r.t. the data
    if (s.claim(this.inputIndex())) {
      k.sgemm(0, 1, s.rows, IN, OUT, 1, dy, OUT, W, OUT, 0, dx, IN);
    } else {
      // something (a loss on this tap) is already there: add the product to it in one rounding,
      // (dy·Wᵀ) + g, as a separate sum rather than folded into the GEMM's K blocks
      k.sgemm(0, 1, s.rows, IN, OUT, 1, dy, OUT, W, OUT, 0, this.scratch, IN);
      k.axpy(dx, this.scratch, s.rows * IN, 1);
    }
  }

  /** Max-norm: every unit's incoming weights (a column of W) scaled down to L2 norm maxNorm. */
  applyMaxNorm(k: Step['k'], P: number): void {
    if (this.spec.maxNorm !== undefined) k.maxNormColumns(P + this.param('w'), this.inSize, this.spec.units, this.spec.maxNorm);
  }
}
