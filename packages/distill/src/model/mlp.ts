// A multilayer perceptron: dense -> ReLU (-> dropout) ... -> dense (logits).
// Shapes: B = batch rows, IN = sizes[0], H_i = sizes[i+1] (hidden), C = classes.
//   layer l:  y_l (B, OUT_l) = x_l (B, IN_l) · W_l (IN_l, OUT_l) + b_l (OUT_l)
//   hidden:   h_l = relu(y_l), then (train) hd_l = h_l ⊙ mask_l (inverted dropout)
//   input:    (train) xd = x ⊙ mask_in
//
// Memory (ARCHITECTURE.md "distill"): params and grads are two flat f32 buffers with one
// layout (paramLayout: per layer W then b); optimizers allocate their state with the same
// length. Activations live in a plan made once per batch size; the hot path (forward,
// backward) calls raw kernels on offsets computed and validated when the plan was made.

import type { Core, Tensor } from '@retort/core-wasm';
import { paramCount, paramLayout, parseModelSpec, type DenseLayout, type ModelSpec } from './spec.js';

export type Mode = 'train' | 'eval';

/** Activation buffers for one batch size; byte offsets cached for the raw kernels. */
interface Plan {
  batch: number;
  tensors: Tensor[];
  /** Input after dropout (B, IN), when input dropout is on. */
  inputDrop: Tensor<'f32'> | null;
  inputMask: Tensor<'f32'> | null;
  /** Per hidden layer: post-ReLU h (B, H), the extra gradient dh (hiddenGrad), dropout output/mask if on. */
  hidden: { h: Tensor<'f32'>; dh: Tensor<'f32'>; drop: Tensor<'f32'> | null; mask: Tensor<'f32'> | null }[];
  logits: Tensor<'f32'>;
  /** Scratch (B, max H): gradient w.r.t. a pre-activation, and w.r.t. a hidden layer's output. */
  dPre: Tensor<'f32'>;
  dDrop: Tensor<'f32'>;
}

/** What the last forward did, so backward retraces it. */
interface Trace { rows: number; input: Tensor<'f32'>; dropped: boolean[]; inputDropped: boolean }

export class Mlp {
  readonly spec: ModelSpec;
  readonly layers: readonly DenseLayout[];
  readonly paramCount: number;
  readonly inputSize: number;
  readonly classes: number;
  /** Flat parameters (paramCount) in module memory; layout: `layers`. */
  readonly params: Tensor<'f32'>;
  /** Flat gradients, same layout; backward accumulates, zeroGrad clears. */
  private grads_: Tensor<'f32'> | null = null;
  private readonly inputRate: number;
  private readonly hiddenRate: number;
  private plan_: Plan | null = null;
  private trace: Trace | null = null;
  private freed = false;

  constructor(readonly core: Core, spec: ModelSpec | string | object) {
    this.spec = parseModelSpec(spec);
    this.layers = paramLayout(this.spec);
    this.paramCount = paramCount(this.spec);
    this.inputSize = this.spec.sizes[0]!;
    this.classes = this.spec.sizes[this.spec.sizes.length - 1]!;
    this.inputRate = this.spec.dropout?.input ?? 0;
    this.hiddenRate = this.spec.dropout?.hidden ?? 0;
    this.params = core.alloc(this.paramCount);
  }

  /**
   * Flat gradients, same layout as params; backward accumulates, zeroGrad clears. Allocated
   * on first use, so a model used only for inference (a teacher) never holds a gradient buffer.
   */
  get grads(): Tensor<'f32'> {
    this.alive();
    if (!this.grads_) this.grads_ = this.core.alloc(this.paramCount);
    return this.grads_;
  }

  /** Number of hidden (ReLU) layers. */
  get hiddenCount(): number { return this.layers.length - 1; }

  /** True when train-mode forward needs an rng (some dropout rate > 0). */
  get usesDropout(): boolean { return this.inputRate > 0 || (this.hiddenRate > 0 && this.hiddenCount > 0); }

  /** The planned batch size (0 before plan()). */
  get batchSize(): number { return this.plan_?.batch ?? 0; }

  /** He/Kaiming normal init, W ~ N(0, 2 / fan_in), b = 0; a function of `seed` alone. */
  init(seed: number): void {
    this.alive();
    const core = this.core;
    const rng = core.createRng(seed);
    try {
      core.fill(this.params, this.paramCount, 0);
      for (const l of this.layers) {
        core.rngNormal(this.params.ptr + 4 * l.weightOffset, rng, l.inputs * l.outputs, 0, Math.sqrt(2 / l.inputs));
      }
    } finally {
      core.free(rng);
    }
  }

  /**
   * Allocates activations for batches of up to `batchSize` rows (frees the previous plan).
   * A smaller last batch runs on the same plan with `rows` < batchSize.
   */
  plan(batchSize: number): void {
    this.alive();
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`Mlp.plan: batchSize must be a positive integer, got ${String(batchSize)}`);
    this.freePlan();
    const core = this.core;
    const tensors: Tensor[] = [];
    const alloc = (n: number): Tensor<'f32'> => { const t = core.alloc(n); tensors.push(t); return t; };
    const B = batchSize;
    const maxHidden = Math.max(1, ...this.spec.sizes.slice(1, -1));
    const hidden = this.layers.slice(0, -1).map((l) => ({
      h: alloc(B * l.outputs),
      dh: alloc(B * l.outputs),
      drop: this.hiddenRate > 0 ? alloc(B * l.outputs) : null,
      mask: this.hiddenRate > 0 ? alloc(B * l.outputs) : null,
    }));
    this.plan_ = {
      batch: B, tensors, hidden,
      inputDrop: this.inputRate > 0 ? alloc(B * this.inputSize) : null,
      inputMask: this.inputRate > 0 ? alloc(B * this.inputSize) : null,
      logits: alloc(B * this.classes),
      dPre: alloc(B * maxHidden),
      dDrop: alloc(B * maxHidden),
    };
    this.trace = null;
  }

  /**
   * Logits (B, classes) for the first `rows` rows of x (B, IN). The returned tensor belongs
   * to the plan and is overwritten by the next forward. Train mode applies dropout (masks
   * drawn from `rng`, required when a rate is > 0) and is what backward() differentiates.
   */
  forward(x: Tensor<'f32'>, rows: number, mode: Mode, rng?: Tensor<'u32'>): Tensor<'f32'> {
    const plan = this.checkRun('forward', rows);
    const core = this.core;
    if (!core.isLive(x) || x.dtype !== 'f32') throw new RangeError('Mlp.forward: x must be a live f32 tensor of this core');
    if (x.length < rows * this.inputSize) throw new RangeError(`Mlp.forward: x holds ${x.length} values but ${rows} rows of ${this.inputSize} need ${rows * this.inputSize}`);
    const train = mode === 'train';
    if (mode !== 'train' && mode !== 'eval') throw new RangeError(`Mlp.forward: mode must be 'train' or 'eval', got ${String(mode)}`);
    if (train && this.usesDropout && (!rng || !core.isLive(rng) || rng.length < 4)) {
      throw new RangeError('Mlp.forward: train mode with dropout needs a live rng tensor (core.createRng(seed))');
    }
    const k = core.kernels;
    const P = this.params.ptr;
    let input = x.ptr;
    const inputDropped = train && this.inputRate > 0;
    if (inputDropped) {
      const n = rows * this.inputSize;
      k.dropoutMask(plan.inputMask!.ptr, rng!.ptr, n, this.inputRate);
      k.dropoutForward(plan.inputDrop!.ptr, x.ptr, plan.inputMask!.ptr, n);
      input = plan.inputDrop!.ptr;
    }
    const dropped: boolean[] = [];
    for (let i = 0; i < this.layers.length; i++) {
      const l = this.layers[i]!;
      const last = i === this.layers.length - 1;
      const out = last ? plan.logits.ptr : plan.hidden[i]!.h.ptr;
      // y = x · W + b
      k.sgemm(0, 0, rows, l.outputs, l.inputs, 1, input, l.inputs, P + 4 * l.weightOffset, l.outputs, 0, out, l.outputs);
      k.biasAdd(out, P + 4 * l.biasOffset, rows, l.outputs);
      if (last) break;
      const hid = plan.hidden[i]!;
      const n = rows * l.outputs;
      k.reluForward(out, out, n);
      k.fill(hid.dh.ptr, n, 0);
      input = out;
      const drop = train && this.hiddenRate > 0;
      dropped.push(drop);
      if (drop) {
        k.dropoutMask(hid.mask!.ptr, rng!.ptr, n, this.hiddenRate);
        k.dropoutForward(hid.drop!.ptr, out, hid.mask!.ptr, n);
        input = hid.drop!.ptr;
      }
    }
    this.trace = { rows, input: x, dropped, inputDropped };
    return plan.logits;
  }

  /**
   * Accumulates dL/dparams into `grads` given dL/dlogits (B, classes) for the rows of the
   * last forward (call zeroGrad() between optimizer steps). Gradients a feature loss has
   * added into hiddenGrad(i) since that forward are included. Calling it twice adds twice.
   */
  backward(dlogits: Tensor<'f32'>, rows: number): void {
    const plan = this.checkRun('backward', rows);
    const trace = this.trace;
    if (!trace) throw new RangeError('Mlp.backward: no forward() since the last plan()');
    if (trace.rows !== rows) throw new RangeError(`Mlp.backward: rows = ${rows} but the last forward ran ${trace.rows} rows`);
    if (!trace.inputDropped && !this.core.isLive(trace.input)) throw new RangeError('Mlp.backward: the forward input x has been freed');
    if (!this.core.isLive(dlogits) || dlogits.dtype !== 'f32' || dlogits.length < rows * this.classes) {
      throw new RangeError(`Mlp.backward: dlogits must be a live f32 tensor of at least ${rows * this.classes} values`);
    }
    const k = this.core.kernels;
    const P = this.params.ptr, G = this.grads.ptr;
    let dy = dlogits.ptr; // dL/dy_l for the layer being differentiated
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const l = this.layers[i]!;
      const x = i === 0
        ? (trace.inputDropped ? plan.inputDrop!.ptr : trace.input.ptr)
        : (trace.dropped[i - 1] ? plan.hidden[i - 1]!.drop!.ptr : plan.hidden[i - 1]!.h.ptr);
      // y = x · W + b:  dW += xᵀ · dy,  db += Σ_rows dy
      k.sgemm(1, 0, l.inputs, l.outputs, rows, 1, x, l.inputs, dy, l.outputs, 1, G + 4 * l.weightOffset, l.outputs);
      k.biasBackward(G + 4 * l.biasOffset, dy, rows, l.outputs);
      if (i === 0) break; // no gradient w.r.t. the data
      const below = plan.hidden[i - 1]!;
      const n = rows * l.inputs;
      // dx = dy · Wᵀ (w.r.t. this layer's input: the hidden output, after dropout if any)
      k.sgemm(0, 1, rows, l.inputs, l.outputs, 1, dy, l.outputs, P + 4 * l.weightOffset, l.outputs, 0, plan.dDrop.ptr, l.inputs);
      if (trace.dropped[i - 1]) k.dropoutForward(plan.dDrop.ptr, plan.dDrop.ptr, below.mask!.ptr, n); // hd = h ⊙ mask
      // h = relu(y): dy = (h > 0) ⊙ (dx + hiddenGrad); hiddenGrad itself is left as it is
      k.fill(plan.dPre.ptr, n, 0);
      k.reluBackward(plan.dPre.ptr, plan.dDrop.ptr, below.h.ptr, n);
      k.reluBackward(plan.dPre.ptr, below.dh.ptr, below.h.ptr, n);
      dy = plan.dPre.ptr;
    }
  }

  zeroGrad(): void {
    this.alive();
    this.core.kernels.fill(this.grads.ptr, this.paramCount, 0);
  }

  /** Hidden layer i's post-ReLU activations (B, sizes[i+1]), before dropout; valid after forward. */
  hidden(i: number): Tensor<'f32'> { return this.hiddenSlot('hidden', i).h; }

  /**
   * An extra gradient w.r.t. hidden(i) (B, sizes[i+1]): zeroed by forward(); a feature-
   * distillation loss may accumulate its dL/dhidden(i) here before backward(), which adds
   * it to the gradient coming from the layers above (and does not modify it).
   */
  hiddenGrad(i: number): Tensor<'f32'> { return this.hiddenSlot('hiddenGrad', i).dh; }

  /** Scales every unit's incoming weight vector down to L2 norm spec.maxNorm; no-op without maxNorm. */
  applyMaxNorm(): void {
    this.alive();
    const maxNorm = this.spec.maxNorm;
    if (maxNorm === undefined) return;
    const k = this.core.kernels;
    for (const l of this.layers) k.maxNormColumns(this.params.ptr + 4 * l.weightOffset, l.inputs, l.outputs, maxNorm);
  }

  /** A copy of the flat parameters. */
  readParams(): Float32Array { this.alive(); return this.params.toArray(); }

  writeParams(values: Float32Array): void {
    this.alive();
    if (values.length !== this.paramCount) {
      throw new RangeError(`Mlp.writeParams: got ${values.length} values but ${this.spec.sizes.join('-')} has ${this.paramCount} parameters`);
    }
    this.params.set(values);
  }

  /** Frees params, grads and the plan. The model is unusable afterwards. */
  free(): void {
    if (this.freed) return;
    this.freePlan();
    this.core.free(this.params);
    if (this.grads_) this.core.free(this.grads_);
    this.grads_ = null;
    this.freed = true;
  }

  private hiddenSlot(op: string, i: number): Plan['hidden'][number] {
    const plan = this.checkPlan(op);
    const slot = Number.isInteger(i) ? plan.hidden[i] : undefined;
    if (!slot) throw new RangeError(`Mlp.${op}: layer ${i} is not a hidden layer (this model has ${this.hiddenCount})`);
    return slot;
  }

  private checkPlan(op: string): Plan {
    this.alive();
    if (!this.plan_) throw new RangeError(`Mlp.${op}: call plan(batchSize) first`);
    return this.plan_;
  }

  private checkRun(op: string, rows: number): Plan {
    const plan = this.checkPlan(op);
    if (!Number.isInteger(rows) || rows < 1 || rows > plan.batch) {
      throw new RangeError(`Mlp.${op}: rows must be an integer in [1, ${plan.batch}] (the planned batch size), got ${String(rows)}`);
    }
    return plan;
  }

  private freePlan(): void {
    if (!this.plan_) return;
    for (const t of this.plan_.tensors) this.core.free(t);
    this.plan_ = null;
    this.trace = null;
  }

  private alive(): void {
    if (this.freed) throw new RangeError('Mlp: the model has been freed');
  }
}
