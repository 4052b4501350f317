// Dense (fully connected) layer.  B = batch rows, IN = input features, OUT = units.
//   x (B, IN) · W (IN, OUT) + b (OUT) = y (B, OUT)        W row-major: column j feeds unit j
// On a sequence (L, IN) every position is a row: B becomes B * L.
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
  /** Features per row: the last dimension of the input. */
  private get IN(): number { return this.node.inShape[this.node.inShape.length - 1]!; }
  /** Rows per sample: 1, or a sequence's length. */
  private get per(): number { return this.inSize / this.IN; }

  forward(s: Step): void {
    const IN = this.IN, OUT = this.spec.units, y = s.out[this.node.index]!, rows = s.rows * this.per;
    s.k.sgemm(0, 0, rows, OUT, IN, 1, this.inputOf(s), IN, s.P + this.param('w'), OUT, 0, y, OUT);
    if (this.spec.bias) s.k.biasAdd(y, s.P + this.param('b'), rows, OUT);
  }

  backward(s: Step): void {
    const IN = this.IN, OUT = this.spec.units, dy = s.grad[this.node.index]!, k = s.k, rows = s.rows * this.per;
    k.sgemm(1, 0, IN, OUT, rows, 1, this.inputOf(s), IN, dy, OUT, 1, s.G + this.param('w'), OUT);
    if (this.spec.bias) k.biasBackward(s.G + this.param('b'), dy, rows, OUT);
    const dx = this.gradOfInput(s), W = s.P + this.param('w');
    if (dx === 0) return; // no gradient w.r.t. the data
    if (s.claim(this.inputIndex())) {
      k.sgemm(0, 1, rows, IN, OUT, 1, dy, OUT, W, OUT, 0, dx, IN);
    } else {
      // something (a loss on this tap) is already there: add the product to it in one rounding,
      // (dy·Wᵀ) + g, as a separate sum rather than folded into the GEMM's K blocks
      k.sgemm(0, 1, rows, IN, OUT, 1, dy, OUT, W, OUT, 0, this.scratch, IN);
      k.axpy(dx, this.scratch, rows * IN, 1);
    }
  }

  /** Max-norm: every unit's incoming weights (a column of W) scaled down to L2 norm maxNorm. */
  applyMaxNorm(k: Step['k'], P: number): void {
    if (this.spec.maxNorm !== undefined) k.maxNormColumns(P + this.param('w'), this.IN, this.spec.units, this.spec.maxNorm);
  }
}
