// Layers of token sequences. The model input is (B, L) token ids as f32, -1 for padding, with the
// padding after the tokens (../text/data.ts checks this when data are loaded): sample b's tokens
// are positions [0, n_b). Layers that must not look at padding (pooling, attention) read n_b from
// the model input itself, so the mask travels with the ids and needs no tensor of its own.
//
//   embedding     ids (B, L) -> (B, L, D)   y[b,l] = table[id[b,l]] (+ pos[l])
//                 backward: dtable[id] += dy (scatter-add, row order); dpos[l] += sum_b dy[b,l]
//   sequencePool  (B, L, D) -> (B, D)       mean over the n_b tokens, or the first token's row
//                 backward: dx[b,l] += dy[b] / n_b for l < n_b (mean), dx[b,0] += dy[b] (first)
import type { Core } from '@retort/core-wasm';
import { Layer, type Planner, type Step } from './layer.js';
import type { EmbeddingSpec, SequencePoolSpec } from '../model/layer-spec.js';

/** Tokens per sample of a batch: the positions before the first -1 of each row of the model input. */
export function tokenCounts(core: Core, s: Step, L: number, out: Int32Array): Int32Array {
  const f = core.views.f32;
  const base = s.input >>> 2;
  for (let b = 0; b < s.rows; b++) {
    const row = base + b * L;
    let n = 0;
    while (n < L && f[row + n]! >= 0) n++;
    out[b] = n;
  }
  return out;
}

export class Embedding extends Layer {
  private core: Core | null = null;
  private get spec(): EmbeddingSpec { return this.node.spec as EmbeddingSpec; }
  private get L(): number { return this.node.inShape[0]!; }

  /** The ids are the model input: there is no gradient to send there. */
  override get skipsInputGradient(): boolean { return true; }

  override plan(p: Planner): void { this.core = p.core; }

  forward(s: Step): void {
    const { vocab: V, dim: D } = this.spec, L = this.L, y = s.out[this.node.index]!, ids = this.inputOf(s);
    this.checkIds(s);
    s.k.embeddingForward(y, ids, s.P + this.param('table'), s.rows * L, D, V);
    if (this.spec.positions) s.k.biasAdd(y, s.P + this.param('pos'), s.rows, L * D);
  }

  backward(s: Step): void {
    const { vocab: V, dim: D } = this.spec, L = this.L, dy = s.grad[this.node.index]!;
    s.k.embeddingBackward(s.G + this.param('table'), dy, this.inputOf(s), s.rows * L, D, V);
    if (this.spec.positions) s.k.biasBackward(s.G + this.param('pos'), dy, s.rows, L * D);
  }

  /** Every id of the batch is -1 or a token of the vocabulary, padding only after the tokens. */
  private checkIds(s: Step): void {
    const f = this.core!.views.f32, base = this.inputOf(s) >>> 2, L = this.L, V = this.spec.vocab;
    for (let b = 0; b < s.rows; b++) {
      let padded = false;
      for (let l = 0; l < L; l++) {
        const v = f[base + b * L + l]!;
        if (v === -1) { padded = true; continue; }
        if (!(Number.isInteger(v) && v >= 0 && v < V)) {
          throw new RangeError(`embedding '${this.node.name}': batch row ${b}, position ${l}: token id ${v} is outside the vocabulary [0, ${V}) (-1 pads)`);
        }
        if (padded) throw new RangeError(`embedding '${this.node.name}': batch row ${b}, position ${l}: a token after padding (Retort pads after the tokens)`);
      }
    }
  }
}

export class SequencePool extends Layer {
  private counts = new Int32Array(0);
  private core: Core | null = null;
  private get spec(): SequencePoolSpec { return this.node.spec as SequencePoolSpec; }

  override plan(p: Planner): void { this.counts = new Int32Array(p.batch); this.core = p.core; }

  forward(s: Step): void {
    const [L, D] = this.node.inShape as [number, number], x = this.inputOf(s), y = s.out[this.node.index]!;
    tokenCounts(this.core!, s, L, this.counts);
    for (let b = 0; b < s.rows; b++) {
      const n = this.spec.mode === 'first' ? Math.min(1, this.counts[b]!) : this.counts[b]!;
      if (n === 0) s.k.fill(y + 4 * b * D, D, 0); // no token: a zero vector
      else s.k.globalAvgPoolForward(y + 4 * b * D, x + 4 * b * L * D, 1, n, D);
    }
  }

  backward(s: Step): void {
    const [L, D] = this.node.inShape as [number, number], dy = s.grad[this.node.index]!, dx = this.gradOfInput(s);
    if (dx === 0) return;
    if (s.claim(this.inputIndex())) s.k.fill(dx, s.rows * L * D, 0);
    for (let b = 0; b < s.rows; b++) {
      const n = this.spec.mode === 'first' ? Math.min(1, this.counts[b]!) : this.counts[b]!;
      if (n > 0) s.k.globalAvgPoolBackward(dx + 4 * b * L * D, dy + 4 * b * D, 1, n, D);
    }
  }
}
