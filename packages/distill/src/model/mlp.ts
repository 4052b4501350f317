// The multilayer perceptron, the first model Retort had, as one composition of the layer
// graph (./spec.ts mlpGraph): [dropout] dense 'layer0' -> relu 'hidden1' [-> dropout] ... -> dense.
// Shapes: B = batch rows, IN = sizes[0], H_i = sizes[i+1] (hidden), C = classes.
//   layer l:  y_l (B, OUT_l) = x_l (B, IN_l) · W_l (IN_l, OUT_l) + b_l (OUT_l)
//   hidden:   h_l = relu(y_l), then (train) hd_l = h_l ⊙ mask_l (inverted dropout)
// What it adds to Model: the MLP's own vocabulary (its dense layouts, hidden layers by number),
// which the MLP-only exporters and the numbered loss-term layers use.
import type { Core, Tensor } from '@retort/core-wasm';
import { Model } from './model.js';
import { paramLayout, parseModelSpec, SpecError, type DenseLayout, type MlpSpec, type ModelSpec } from './spec.js';

export type { Mode } from './model.js';

export class Mlp extends Model {
  declare readonly spec: MlpSpec;
  readonly layers: readonly DenseLayout[];

  constructor(core: Core, spec: ModelSpec | string | object) {
    const parsed = parseModelSpec(spec);
    if (parsed.type !== 'mlp') throw new SpecError('model.type', `Mlp takes an mlp spec, got ${parsed.type} (use createModel for any model)`);
    super(core, parsed);
    this.layers = paramLayout(parsed);
  }

  /** Number of hidden (ReLU) layers. */
  get hiddenCount(): number { return this.layers.length - 1; }

  /** Hidden layer i's post-ReLU activations (B, sizes[i+1]), before dropout; valid after forward. */
  hidden(i: number): Tensor<'f32'> { return this.tapTensor(this.hiddenName('hidden', i)); }

  /**
   * An extra gradient w.r.t. hidden(i) (B, sizes[i+1]): zeroed by every forward(); a
   * feature-distillation loss may accumulate its dL/dhidden(i) here before backward().
   */
  hiddenGrad(i: number): Tensor<'f32'> { return this.tapGrad(this.hiddenName('hiddenGrad', i)); }

  private hiddenName(op: string, i: number): string {
    if (!Number.isInteger(i) || i < 0 || i >= this.hiddenCount) {
      throw new RangeError(`Mlp.${op}: layer ${i} is not a hidden layer (this model has ${this.hiddenCount})`);
    }
    return `hidden${i + 1}`;
  }
}

/** True when `m` is an MLP (its spec is an mlp spec). */
export function isMlp(m: Model): m is Mlp {
  return m instanceof Mlp;
}
