// A model: a compiled layer graph (./graph.ts) over three flat buffers in module memory —
// parameters, gradients (same layout) and state (batch-norm running statistics) — with the
// activations of a batch size planned once (ARCHITECTURE.md "Models as layer graphs").
//
//   forward(x (B, ...input), rows, mode) -> logits (B, classes): every node in order
//   backward(dlogits): every node in reverse order, accumulating parameter gradients
//   tap(name): a named layer's output of the last forward; tapGrad(name): where a loss on it
//   adds its gradient (zeroed by every train-mode forward, read by backward)
//
// Memory plan per batch size: one output buffer per node, except flatten and eval-mode dropout
// (their output is their input's buffer) and a ReLU whose input nobody else reads (in place);
// gradient buffers (one per node output, shared by aliases) only once a train-mode forward ran,
// so a teacher that only predicts never holds any.
import type { Core, RawKernels, Tensor } from '@retort/core-wasm';
import { layerFor } from '../layers/index.js';
import { Dense } from '../layers/dense.js';
import type { Attention } from '../layers/attention.js';
import type { Layer, PlanShared, Step } from '../layers/layer.js';
import type { CompiledGraph, GraphNode, Shape, TensorDecl } from './graph.js';
import { shapeText } from './graph.js';
import { compileSpec, formatModelSpec, parseModelSpec, type ModelSpec } from './spec.js';

export type Mode = 'train' | 'eval';

/** A tap of the last forward: its output activation (B, ...shape) and the shape of one sample. */
export interface TapRef {
  readonly name: string;
  readonly ptr: number;
  readonly shape: Shape;
  /** Elements of one sample. */
  readonly size: number;
}

interface Plan {
  batch: number;
  tensors: Tensor[];
  /** Own output buffer of each node (0: the node's output is its input's buffer). */
  own: number[];
  /** Own gradient buffer of each node (0: shares its input's, or none planned yet). */
  ownGrad: number[];
  inputGrad: number;
  /** Per tap node a loss asked for (tapGrad): where losses put dL/dtap, zeroed by every forward. */
  extras: Map<number, Tensor<'f32'>>;
  scratch: number;
  workspace: number;
  workspaceElems: number;
}

export class Model {
  readonly spec: ModelSpec;
  readonly graph: CompiledGraph;
  readonly inputShape: Shape;
  /** Elements of one input sample. */
  readonly inputSize: number;
  readonly classes: number;
  readonly paramCount: number;
  readonly stateCount: number;
  /** Flat parameters (paramCount) in module memory; layout: graph.params. */
  readonly params: Tensor<'f32'>;
  /** Flat state (stateCount), e.g. batch-norm running statistics; null when the model has none. */
  readonly state: Tensor<'f32'> | null;
  private readonly impl: Layer[];
  private grads_: Tensor<'f32'> | null = null;
  private plan_: Plan | null = null;
  private step: (Step & { fresh: Set<number> }) | null = null;
  private lastForward: { rows: number; train: boolean } | null = null;
  private freed = false;

  /** `allowEmpty`: a parameter-free graph (pooling, flatten) is allowed, e.g. as a fixed transform. */
  constructor(readonly core: Core, spec: ModelSpec | string | object, opts: { allowEmpty?: boolean } = {}) {
    this.spec = parseModelSpec(spec);
    this.graph = compileSpec(this.spec);
    this.inputShape = this.graph.inputShape;
    this.inputSize = this.inputShape.reduce((a, b) => a * b, 1);
    this.classes = this.graph.classes;
    this.paramCount = this.graph.paramCount;
    this.stateCount = this.graph.stateCount;
    if (this.paramCount === 0 && !opts.allowEmpty) throw new RangeError(`model: ${formatModelSpec(this.spec).slice(0, 80)} has no parameters to train`);
    this.impl = this.graph.nodes.map(layerFor);
    this.params = core.alloc(Math.max(1, this.paramCount));
    this.state = this.stateCount > 0 ? core.alloc(this.stateCount) : null;
    this.initState();
  }

  /**
   * Flat gradients, same layout as params; backward accumulates, zeroGrad clears. Allocated on
   * first use, so a model used only for inference (a teacher) never holds a gradient buffer.
   */
  get grads(): Tensor<'f32'> {
    this.alive();
    if (!this.grads_) this.grads_ = this.core.alloc(this.paramCount);
    return this.grads_;
  }

  /** True when train-mode forward needs an rng (some dropout rate > 0). */
  get usesDropout(): boolean { return this.graph.nodes.some((n) => n.spec.type === 'dropout' && n.spec.rate > 0); }

  /** True when the model has layers that behave differently in train and eval mode besides dropout (batch norm). */
  get hasState(): boolean { return this.stateCount > 0; }

  /** f32 activation values one sample needs in an eval-mode plan (the nodes that own an output buffer). */
  get activationsPerSample(): number {
    return this.graph.nodes.reduce((n, node, i) => (this.impl[i]!.aliasesInput(false) ? n : n + size(node.outShape)), 0);
  }

  /** The planned batch size (0 before plan()). */
  get batchSize(): number { return this.plan_?.batch ?? 0; }

  /**
   * The attention layer a tap names: the tap's own node, or else the last attention layer inside
   * the block it names (a Transformer preset's `attn<i>`); null when there is none.
   */
  attentionAt(name: string): Attention | null {
    const i = this.graph.taps.get(name);
    if (i === undefined) return null;
    const nodes = this.graph.nodes, prefix = `${nodes[i]!.name}.`;
    for (let j = i; j >= 0; j--) {
      if ((j === i || nodes[j]!.name.startsWith(prefix)) && nodes[j]!.spec.type === 'attention') return this.impl[j] as Attention;
    }
    return null;
  }

  /** The names of the model's taps (named layers and blocks), in graph order. */
  get tapNames(): string[] { return [...this.graph.taps.keys()]; }

  /** Parameter tensors (name, shape, offset in elements) in buffer order. */
  get paramLayout(): readonly TensorDecl[] { return this.graph.params; }
  get stateLayout(): readonly TensorDecl[] { return this.graph.state; }

  /**
   * He/Kaiming normal weights W ~ N(0, 2 / fan_in) (LeCun N(0, 1 / fan_in) where a layer asks
   * for it) in graph order from one PRNG seeded with `seed`, zero biases, unit batch-norm scales;
   * running statistics reset (mean 0, variance 1).
   */
  init(seed: number): void {
    this.alive();
    const core = this.core;
    const rng = core.createRng(seed);
    try {
      core.fill(this.params, this.paramCount, 0);
      for (const t of this.graph.params) {
        if (t.init === 'he') core.rngNormal(this.params.ptr + 4 * t.offset, rng, t.length, 0, Math.sqrt(2 / t.fanIn));
        else if (t.init === 'lecun') core.rngNormal(this.params.ptr + 4 * t.offset, rng, t.length, 0, Math.sqrt(1 / t.fanIn));
        else if (t.init === 'ones') core.fill(this.params.ptr + 4 * t.offset, t.length, 1);
      }
    } finally {
      core.free(rng);
    }
    this.initState();
  }

  private initState(): void {
    if (!this.state) return;
    this.core.fill(this.state, this.stateCount, 0);
    for (const t of this.graph.state) if (t.init === 'ones') this.core.fill(this.state.ptr + 4 * t.offset, t.length, 1);
  }

  /**
   * Allocates activations for batches of up to `batchSize` rows (frees the previous plan).
   * A smaller last batch runs on the same plan with `rows` < batchSize.
   */
  plan(batchSize: number): void {
    this.alive();
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`model.plan: batchSize must be a positive integer, got ${String(batchSize)}`);
    this.freePlan();
    const core = this.core, B = batchSize, nodes = this.graph.nodes;
    const tensors: Tensor[] = [];
    let scratch = 0, workspace = 0;
    const planner = {
      core, batch: B,
      f32: (n: number) => { const t = core.alloc(Math.max(1, n)); tensors.push(t); return t; },
      i32: (n: number) => { const t = core.allocI32(Math.max(1, n)); tensors.push(t); return t; },
      scratch: (n: number) => { scratch = Math.max(scratch, n); },
      workspace: (n: number) => { workspace = Math.max(workspace, n); },
    };
    const consumers = new Array<number>(nodes.length).fill(0);
    for (const n of nodes) for (const i of n.inputs) if (i >= 0) consumers[i]!++;
    const own = nodes.map((n, i) => {
      const layer = this.impl[i]!;
      if (layer.aliasesInput(true) && layer.aliasesInput(false)) return 0;
      const input = n.inputs[0]!;
      if (layer.canRunInPlace && input >= 0 && consumers[input] === 1 && !nodes[input]!.tap
          && !this.impl[input]!.canRunInPlace && !(this.impl[input]!.aliasesInput(true) || this.impl[input]!.aliasesInput(false))) {
        return -1; // in place over its input's buffer
      }
      return planner.f32(B * size(n.outShape)).ptr;
    });
    for (const layer of this.impl) layer.plan(planner);
    const shared: PlanShared = {
      scratch: scratch > 0 ? planner.f32(scratch).ptr : 0,
      workspace: workspace > 0 ? planner.f32(workspace).ptr : 0,
      workspaceElems: workspace,
    };
    for (const layer of this.impl) layer.bind(shared);
    this.plan_ = { batch: B, tensors, own, ownGrad: [], inputGrad: 0, extras: new Map(), ...shared };
    this.step = null;
    this.lastForward = null;
  }

  /** Gradient buffers for the plan (on the first train-mode forward). */
  private planGradients(plan: Plan): void {
    if (plan.ownGrad.length > 0) return;
    const core = this.core, B = plan.batch, nodes = this.graph.nodes;
    const alloc = (n: number): number => { const t = core.alloc(Math.max(1, n)); plan.tensors.push(t); return t.ptr; };
    const last = nodes.length - 1;
    plan.ownGrad = nodes.map((n, i) => (this.impl[i]!.aliasesInput(true) || i === last ? 0 : alloc(B * size(n.outShape))));
    const needsInputGrad = nodes.some((n, i) => n.inputs.includes(-1) && !this.impl[i]!.skipsInputGradient);
    plan.inputGrad = needsInputGrad ? alloc(B * this.inputSize) : 0;
  }

  /**
   * Logits (B, classes) for the first `rows` rows of x (B, ...input). The returned tensor belongs
   * to the plan and is overwritten by the next forward. Train mode uses batch statistics and
   * dropout (masks drawn from `rng`, required when a rate is > 0) and is what backward() differentiates.
   */
  forward(x: Tensor<'f32'>, rows: number, mode: Mode, rng?: Tensor<'u32'>): Tensor<'f32'> {
    this.checkRun('forward', rows);
    if (!this.core.isLive(x) || x.dtype !== 'f32') throw new RangeError('model.forward: x must be a live f32 tensor of this core');
    if (x.length < rows * this.inputSize) throw new RangeError(`model.forward: x holds ${x.length} values but ${rows} rows of ${shapeText(this.inputShape)} need ${rows * this.inputSize}`);
    return this.forwardAt(x.ptr, rows, mode, rng);
  }

  /** forward() on an input given as a byte offset (another model's tap), checked to lie in a live allocation. */
  forwardAt(xPtr: number, rows: number, mode: Mode, rng?: Tensor<'u32'>): Tensor<'f32'> {
    const plan = this.checkRun('forward', rows);
    const core = this.core;
    const x = { ptr: core.resolve('model.forward', 'x', xPtr, rows * this.inputSize, 'f32') };
    if (mode !== 'train' && mode !== 'eval') throw new RangeError(`model.forward: mode must be 'train' or 'eval', got ${String(mode)}`);
    const train = mode === 'train';
    if (train && this.usesDropout && (!rng || !core.isLive(rng) || rng.length < 4)) {
      throw new RangeError('model.forward: train mode with dropout needs a live rng tensor (core.createRng(seed))');
    }
    if (train) {
      this.planGradients(plan);
      void this.grads; // allocated before any pointer of this step is taken (allocation may grow memory)
    }
    const s = this.stepFor(plan);
    s.rows = rows; s.train = train; s.rng = rng?.ptr ?? 0; s.input = x.ptr; s.G = this.grads_?.ptr ?? 0;
    const nodes = this.graph.nodes;
    for (let i = 0; i < nodes.length; i++) {
      const o = plan.own[i]!;
      const input = nodes[i]!.inputs[0]!;
      const inPtr = input < 0 ? x.ptr : s.out[input]!;
      s.out[i] = o === 0 || (o > 0 && this.impl[i]!.aliasesInput(train)) ? inPtr : o === -1 ? inPtr : o;
    }
    for (const [i, t] of plan.extras) core.kernels.fill(t.ptr, rows * size(nodes[i]!.outShape), 0);
    for (let i = 0; i < nodes.length; i++) this.impl[i]!.forward(s);
    this.lastForward = { rows, train };
    return this.logitsTensor(s.out[nodes.length - 1]!);
  }

  /**
   * Accumulates dL/dparams into `grads` given dL/dlogits (B, classes) for the rows of the last
   * (train-mode) forward; gradients losses added into tapGrad(...) since that forward are
   * included. Call zeroGrad() between optimizer steps; calling it twice adds twice.
   */
  backward(dlogits: Tensor<'f32'>, rows: number): void {
    this.backwardAt(dlogits, rows, 0);
  }

  /**
   * backward(), also accumulating dL/dinput into `inputGrad` (rows × input, a byte offset; 0:
   * none) — for a model applied to another model's tap (a hint regressor).
   */
  backwardAt(dlogits: Tensor<'f32'>, rows: number, inputGrad: number): void {
    const plan = this.checkRun('backward', rows);
    const last = this.lastForward;
    if (!last) throw new RangeError('model.backward: no forward() since the last plan()');
    if (!last.train && this.hasState) throw new RangeError('model.backward: the last forward ran in eval mode (running statistics); backward needs a train-mode forward');
    if (last.rows !== rows) throw new RangeError(`model.backward: rows = ${rows} but the last forward ran ${last.rows} rows`);
    if (!this.core.isLive(dlogits) || dlogits.dtype !== 'f32' || dlogits.length < rows * this.classes) {
      throw new RangeError(`model.backward: dlogits must be a live f32 tensor of at least ${rows * this.classes} values`);
    }
    // backward of an eval-mode forward (no dropout, no batch norm: the same function) plans them now
    this.planGradients(plan);
    const s = this.step!;
    s.G = this.grads.ptr;
    // a caller's input gradient (a regressor on another model's tap) stands where the model input's would
    const given = inputGrad !== 0 ? this.core.resolve('model.backward', 'inputGrad', inputGrad, rows * this.inputSize, 'f32') : 0;
    this.resolveGrads(plan, s, dlogits.ptr, given);
    s.fresh.clear();
    for (const g of s.grad) if (g !== 0 && g !== dlogits.ptr && g !== given) s.fresh.add(g);
    if (plan.inputGrad && !given) s.fresh.add(plan.inputGrad);
    const lastGrad = s.grad[this.impl.length - 1]!;
    if (lastGrad !== dlogits.ptr && lastGrad !== 0) {
      // the last node shares its input's buffer (a trailing flatten): start from a copy of dlogits
      s.fresh.delete(lastGrad);
      this.core.kernels.fill(lastGrad, rows * this.classes, 0);
      this.core.kernels.axpy(lastGrad, dlogits.ptr, rows * this.classes, 1);
    }
    const k = this.core.kernels, nodes = this.graph.nodes;
    for (let i = this.impl.length - 1; i >= 0; i--) {
      const extra = plan.extras.get(i);
      if (extra) {
        // this node's gradient from the layers above is complete: add what losses put on the tap
        const n = rows * size(nodes[i]!.outShape);
        if (s.claim(i)) k.fill(s.grad[i]!, n, 0);
        k.axpy(s.grad[i]!, extra.ptr, n, 1);
      }
      this.impl[i]!.backward(s);
    }
  }

  zeroGrad(): void {
    this.alive();
    this.core.kernels.fill(this.grads.ptr, this.paramCount, 0);
  }

  /** A named layer's output of the last forward (B, ...shape). */
  tap(name: string): TapRef {
    const plan = this.checkPlan('tap');
    const i = this.tapIndex('tap', name);
    if (!this.step || !this.lastForward) throw new RangeError(`model.tap: no forward() since the last plan()`);
    void plan;
    const shape = this.graph.nodes[i]!.outShape;
    return { name, ptr: this.step.out[i]!, shape, size: size(shape) };
  }

  /** A view of tap `name`'s values for the first `rows` rows of the last forward (take it again after any allocation). */
  tapValues(name: string, rows: number): Float32Array {
    const t = this.tap(name);
    return this.core.views.f32.subarray(t.ptr >>> 2, (t.ptr >>> 2) + rows * t.size);
  }

  /**
   * Where a loss on tap `name` accumulates dL/dtap (B, ...shape): a buffer of the plan, zeroed by
   * every forward, that backward adds to the gradient reaching the tap from the layers above
   * (and leaves as it is, so backward twice adds twice). Allocated on first request.
   */
  tapGrad(name: string): Tensor<'f32'> {
    const plan = this.checkPlan('tapGrad');
    const i = this.tapIndex('tapGrad', name);
    let t = plan.extras.get(i);
    if (!t) {
      t = this.core.alloc(plan.batch * size(this.graph.nodes[i]!.outShape));
      plan.tensors.push(t);
      plan.extras.set(i, t);
    }
    return t;
  }

  /** The plan's tensor holding tap `name`'s output (for callers that want a Tensor rather than an offset). */
  tapTensor(name: string): Tensor<'f32'> {
    const ptr = this.tap(name).ptr;
    const t = this.plan_!.tensors.find((x) => x.ptr === ptr);
    if (!t) throw new RangeError(`model.tapTensor: tap '${name}' is the model input itself`);
    return t as Tensor<'f32'>;
  }

  /** The shape of one sample of tap `name` (no forward needed). */
  tapShape(name: string): Shape {
    return this.graph.nodes[this.tapIndex('tapShape', name)]!.outShape;
  }

  hasTap(name: string): boolean { return this.graph.taps.has(name); }

  /** Caps every max-norm dense layer's incoming weight vectors; no-op without maxNorm. */
  applyMaxNorm(): void {
    this.alive();
    const k = this.core.kernels;
    for (const l of this.impl) if (l instanceof Dense) l.applyMaxNorm(k, this.params.ptr);
  }

  /** True when some layer has a max-norm constraint (the trainer applies it after each step). */
  get usesMaxNorm(): boolean { return this.graph.nodes.some((n) => n.spec.type === 'dense' && n.spec.maxNorm !== undefined); }

  /** A copy of the flat parameters. */
  readParams(): Float32Array { this.alive(); return this.params.toArray(); }

  writeParams(values: Float32Array): void {
    this.alive();
    if (values.length !== this.paramCount) {
      throw new RangeError(`model.writeParams: got ${values.length} values but ${formatModelSpec(this.spec).slice(0, 80)} has ${this.paramCount} parameters`);
    }
    this.params.set(values);
  }

  /** A copy of the flat state (empty when the model has none). */
  readState(): Float32Array { this.alive(); return this.state ? this.state.toArray() : new Float32Array(0); }

  writeState(values: Float32Array): void {
    this.alive();
    if (values.length !== this.stateCount) throw new RangeError(`model.writeState: got ${values.length} values but the model has ${this.stateCount} state values`);
    this.state?.set(values);
  }

  /** Frees params, state, grads and the plan. The model is unusable afterwards. */
  free(): void {
    if (this.freed) return;
    this.freePlan();
    this.core.free(this.params);
    if (this.state) this.core.free(this.state);
    if (this.grads_) this.core.free(this.grads_);
    this.grads_ = null;
    this.freed = true;
  }

  get isFreed(): boolean { return this.freed; }

  // ---- internals ---------------------------------------------------------------------------------

  private stepFor(plan: Plan): Step & { fresh: Set<number> } {
    if (this.step) return this.step;
    const fresh = new Set<number>();
    const n = this.graph.nodes.length;
    const s: Step & { fresh: Set<number> } = {
      k: this.core.kernels as RawKernels, rows: 0, train: false, rng: 0,
      P: this.params.ptr, G: 0, S: this.state?.ptr ?? 0,
      out: new Array<number>(n).fill(0), input: 0, grad: new Array<number>(n).fill(0), inputGrad: plan.inputGrad,
      fresh,
      claim: (i: number): boolean => {
        const ptr = i < 0 ? s.inputGrad : s.grad[i]!;
        return fresh.delete(ptr);
      },
    };
    this.step = s;
    return s;
  }

  /**
   * Gradient pointers of this pass: own buffers, aliases resolved; the logits' gradient is
   * `dlogits` itself (0 in forward), or, when the last node shares its input's buffer, that
   * buffer, into which backward copies dlogits.
   */
  private resolveGrads(plan: Plan, s: Step, dlogits: number, inputGrad = 0): void {
    const nodes = this.graph.nodes, last = nodes.length - 1;
    s.inputGrad = inputGrad !== 0 ? inputGrad : plan.inputGrad;
    for (let i = 0; i < nodes.length; i++) {
      const input = nodes[i]!.inputs[0]!;
      if (i === last && !this.impl[i]!.aliasesInput(true)) s.grad[i] = dlogits;
      else s.grad[i] = plan.ownGrad[i]! !== 0 ? plan.ownGrad[i]! : input < 0 ? s.inputGrad : s.grad[input]!;
    }
  }

  private logitsTensor(ptr: number): Tensor<'f32'> {
    // the logits of a forward are one of the plan's buffers; return that tensor
    const t = this.plan_!.tensors.find((x) => x.ptr === ptr);
    if (!t) throw new Error('model.forward: the last layer wrote outside the plan');
    return t as Tensor<'f32'>;
  }

  private tapIndex(op: string, name: string): number {
    const i = this.graph.taps.get(name);
    if (i === undefined) {
      const names = this.tapNames;
      throw new RangeError(`model.${op}: no tap '${name}'; this model's taps are ${names.length ? names.join(', ') : '(none: name a layer in the spec)'} and 'logits'`);
    }
    return i;
  }

  private checkPlan(op: string): Plan {
    this.alive();
    if (!this.plan_) throw new RangeError(`model.${op}: call plan(batchSize) first`);
    return this.plan_;
  }

  private checkRun(op: string, rows: number): Plan {
    const plan = this.checkPlan(op);
    if (!Number.isInteger(rows) || rows < 1 || rows > plan.batch) {
      throw new RangeError(`model.${op}: rows must be an integer in [1, ${plan.batch}] (the planned batch size), got ${String(rows)}`);
    }
    return plan;
  }

  private freePlan(): void {
    if (!this.plan_) return;
    for (const t of this.plan_.tensors) this.core.free(t);
    this.plan_ = null;
    this.step = null;
    this.lastForward = null;
  }

  protected alive(): void {
    if (this.freed) throw new RangeError('model: the model has been freed');
  }
}

const size = (s: Shape): number => s.reduce((a, b) => a * b, 1);

export type { GraphNode };
