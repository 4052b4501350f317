// FitNets hints (Romero et al. 2015): a student layer h_s (rows, ds), passed through a learned
// linear regressor r = h_s · W + b (W: ds × dt), matches a teacher layer h_t (rows, dt):
//
//   L_hint = mean over rows and teacher units of (r − h_t)²
//   dL/dr  = 2 (r − h_t) / (rows · dt)        (the core's mseLoss kernel)
//   dW += h_sᵀ · dr,  db += Σ_rows dr,  dh_s += dr · Wᵀ
//
// The regressor is trained with the student (its own parameters, gradients and optimizer
// state, checkpointed beside the student's) and discarded afterwards. Cost per step:
// 3 GEMMs of rows × ds × dt (forward, dW, dh_s), about 6 · rows · ds · dt FLOPs.
import type { Core, Tensor } from '@retort/core-wasm';

export class HintRegressor {
  readonly params: Tensor<'f32'>;
  readonly grads: Tensor<'f32'>;
  readonly paramCount: number;
  private readonly r: Tensor<'f32'>;
  private readonly dr: Tensor<'f32'>;
  private freed = false;

  constructor(readonly core: Core, readonly inputs: number, readonly outputs: number, readonly maxRows: number) {
    for (const [k, v] of [['inputs', inputs], ['outputs', outputs], ['maxRows', maxRows]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`HintRegressor: ${k} must be a positive integer, got ${v}`);
    }
    this.paramCount = inputs * outputs + outputs;
    this.params = core.alloc(this.paramCount);
    this.grads = core.alloc(this.paramCount);
    this.r = core.alloc(maxRows * outputs);
    this.dr = core.alloc(maxRows * outputs);
  }

  /** W ~ N(0, 1/ds) (a linear layer: no ReLU follows), b = 0; a function of `seed` alone. */
  init(seed: number): void {
    const core = this.core;
    const rng = core.createRng(seed);
    try {
      core.fill(this.params, this.paramCount, 0);
      core.rngNormal(this.params, rng, this.inputs * this.outputs, 0, Math.sqrt(1 / this.inputs));
    } finally {
      core.free(rng);
    }
  }

  zeroGrad(): void { this.core.fill(this.grads, this.paramCount, 0); }

  /**
   * The hint loss of rows `hs` (student layer, ptr to rows × inputs) against `ht` (teacher layer,
   * rows × outputs). With gradScale ≠ 0 accumulates gradScale · dL/dW, dL/db into `grads` and,
   * when `dhs` is given, gradScale · dL/dh_s into it.
   */
  compute(dhs: number | null, hs: number, ht: number, rows: number, gradScale: number): number {
    if (this.freed) throw new RangeError('HintRegressor: freed');
    if (!Number.isInteger(rows) || rows < 1 || rows > this.maxRows) throw new RangeError(`HintRegressor: rows must be in [1, ${this.maxRows}], got ${rows}`);
    const k = this.core.kernels;
    const ds = this.inputs, dt = this.outputs;
    const W = this.params.ptr, b = W + 4 * ds * dt;
    const gW = this.grads.ptr, gb = gW + 4 * ds * dt;
    k.sgemm(0, 0, rows, dt, ds, 1, hs, ds, W, dt, 0, this.r.ptr, dt);
    k.biasAdd(this.r.ptr, b, rows, dt);
    if (gradScale === 0) return k.mseLoss(0, this.r.ptr, ht, rows * dt, 0);
    k.fill(this.dr.ptr, rows * dt, 0);
    const loss = k.mseLoss(this.dr.ptr, this.r.ptr, ht, rows * dt, gradScale);
    k.sgemm(1, 0, ds, dt, rows, 1, hs, ds, this.dr.ptr, dt, 1, gW, dt);
    k.biasBackward(gb, this.dr.ptr, rows, dt);
    if (dhs !== null) k.sgemm(0, 1, rows, ds, dt, 1, this.dr.ptr, dt, W, dt, 1, dhs, ds);
    return loss;
  }

  free(): void {
    if (this.freed) return;
    for (const t of [this.params, this.grads, this.r, this.dr]) this.core.free(t);
    this.freed = true;
  }
}
