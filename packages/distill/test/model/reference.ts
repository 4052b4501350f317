// An f64 reference MLP for the tests: plain loops straight from the layer formulas, with
// optional fixed dropout masks and an extra linear "feature loss" <w_i, h_i> on hidden layers,
// so that the f32 model's gradients can be held to central finite differences of it.
import type { ModelSpec } from '../../src/model/spec.js';
import { paramLayout } from '../../src/model/spec.js';

export interface RefOptions {
  /** Inverted-dropout masks (values 0 or 1/(1-p)): input (B*IN) and one per hidden layer. */
  inputMask?: ArrayLike<number>;
  hiddenMasks?: (ArrayLike<number> | undefined)[];
  /** Adds sum(w_i ⊙ h_i) over the post-ReLU, pre-dropout hidden activations to the loss. */
  featureWeights?: (ArrayLike<number> | undefined)[];
}

/** Mean cross-entropy of the MLP's logits against `labels` (+ feature terms), in f64. */
export function refLoss(spec: ModelSpec, params: ArrayLike<number>, x: ArrayLike<number>, labels: ArrayLike<number>,
                        rows: number, o: RefOptions = {}): number {
  const layers = paramLayout(spec);
  let act = Float64Array.from({ length: rows * spec.sizes[0]! }, (_, i) => x[i]! * (o.inputMask ? o.inputMask[i]! : 1));
  let extra = 0;
  for (const [li, l] of layers.entries()) {
    const y = new Float64Array(rows * l.outputs);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < l.outputs; j++) {
        let s = params[l.biasOffset + j]!;
        for (let k = 0; k < l.inputs; k++) s += act[r * l.inputs + k]! * params[l.weightOffset + k * l.outputs + j]!;
        y[r * l.outputs + j] = s;
      }
    }
    if (li === layers.length - 1) { act = y; break; }
    const w = o.featureWeights?.[li];
    const mask = o.hiddenMasks?.[li];
    for (let i = 0; i < y.length; i++) {
      const h = Math.max(0, y[i]!);
      if (w) extra += w[i]! * h;
      y[i] = h * (mask ? mask[i]! : 1);
    }
    act = y;
  }
  const C = spec.sizes[spec.sizes.length - 1]!;
  let loss = 0;
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let c = 0; c < C; c++) m = Math.max(m, act[r * C + c]!);
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp(act[r * C + c]! - m);
    loss += m + Math.log(s) - act[r * C + labels[r]!]!;
  }
  return loss / rows + extra;
}
