// What every layer of a model is at run time: a forward/backward pair over the model's flat
// buffers (llm.c's shape: no autograd, backward replays the forward's node list in reverse).
//
// A layer reads its input activation and writes its output activation; in backward it reads
// the gradient of its output and ACCUMULATES into the gradient of its input (and into the
// parameter gradients). Pointers are byte offsets into the core's memory, resolved when the
// model was planned for a batch size, so a step calls raw kernels only.
import type { Core, RawKernels, Tensor } from '@retort/core-wasm';
import type { GraphNode } from '../model/graph.js';

/** Buffers of one forward/backward, shared by every layer of the model. */
export interface Step {
  readonly k: RawKernels;
  /** Rows of this batch (<= the planned batch size). */
  rows: number;
  train: boolean;
  /** PRNG state for dropout masks (0 when none was given). */
  rng: number;
  /** Byte offsets of the flat parameter, gradient and state buffers. */
  readonly P: number;
  G: number;
  readonly S: number;
  /** Output activation of each node in this forward (index -1 is the model input: `input`). */
  readonly out: number[];
  input: number;
  /** Gradient buffer of each node's output (0 before gradients are planned). */
  readonly grad: number[];
  /** Gradient buffer of the model input, when some first layer cannot skip it (else 0). */
  inputGrad: number;
  /**
   * Before writing a gradient into node `i`'s output gradient (i may be -1): true when this is
   * its first write of the backward pass and nothing else (a loss on a tap) put anything there,
   * so the writer may overwrite instead of accumulate. After the call the buffer counts as written.
   */
  claim(i: number): boolean;
}

/** What a layer may allocate when the model is planned for a batch size. */
export interface Planner {
  readonly core: Core;
  readonly batch: number;
  /** A zeroed f32 buffer owned by the plan. */
  f32(n: number): Tensor<'f32'>;
  i32(n: number): Tensor<'i32'>;
  /** The model's shared scratch (for staging one gradient before it is added), at least n floats. */
  scratch(n: number): void;
  /** The model's shared convolution workspace, at least n floats. */
  workspace(n: number): void;
}

/** Plan-wide pointers handed to layers after every layer has planned. */
export interface PlanShared {
  scratch: number;
  workspace: number;
  workspaceElems: number;
}

export abstract class Layer {
  constructor(readonly node: GraphNode) {}

  /** Elements of one sample's output. */
  get outSize(): number { return this.node.outShape.reduce((a, b) => a * b, 1); }
  get inSize(): number { return this.node.inShape.reduce((a, b) => a * b, 1); }
  /** Byte offset of parameter tensor `kind` of this layer (relative to the params base). */
  protected param(kind: string): number {
    const t = this.node.params.find((p) => p.name.endsWith(`.${kind}`));
    if (!t) throw new Error(`layer ${this.node.name} has no parameter ${kind}`);
    return 4 * t.offset;
  }
  protected hasParam(kind: string): boolean { return this.node.params.some((p) => p.name.endsWith(`.${kind}`)); }
  protected stateAt(kind: string): number {
    const t = this.node.state.find((p) => p.name.endsWith(`.${kind}`));
    if (!t) throw new Error(`layer ${this.node.name} has no state ${kind}`);
    return 4 * t.offset;
  }

  /** True when the output is the input's buffer itself (flatten; dropout and identity in eval). */
  aliasesInput(_train: boolean): boolean { return false; }
  /** True when the output may be computed in place over the input (ReLU): the model decides whether it is safe. */
  get canRunInPlace(): boolean { return false; }
  /**
   * True when backward needs no gradient buffer for the model input when it reads it: it skips
   * dx (dense, convolution), or has nothing else to do and returns (layers without parameters).
   */
  get skipsInputGradient(): boolean { return this.node.params.length === 0; }

  /** Allocates batch-size-dependent buffers (masks, argmax, saved statistics, geometry). */
  plan(_p: Planner): void {}
  /** Called once every layer has planned, with the shared scratch and workspace. */
  bind(_shared: PlanShared): void {}
  abstract forward(s: Step): void;
  abstract backward(s: Step): void;

  protected inputOf(s: Step, which = 0): number {
    const i = this.node.inputs[which]!;
    return i < 0 ? s.input : s.out[i]!;
  }
  protected inputIndex(which = 0): number { return this.node.inputs[which]!; }
  protected gradOfInput(s: Step, which = 0): number {
    const i = this.node.inputs[which]!;
    return i < 0 ? s.inputGrad : s.grad[i]!;
  }
}
