// An f64 reference of any compiled layer graph, for the tests: plain loops straight from each
// layer's formula (no GEMM, no im2col, no shared code with src/layers), so the f32 model's
// logits can be compared with it and its gradients held to central finite differences of it.
// Dropout takes fixed masks; batch norm uses the batch's statistics (train mode) or given
// running statistics (eval mode).
import type { CompiledGraph, GraphNode } from '../../src/model/graph.js';

export interface GraphRefOptions {
  /** Train mode: batch norm on batch statistics, dropout with `masks`. Eval: running statistics, no dropout. */
  train: boolean;
  /** Inverted-dropout masks by node index (0 or 1/(1-p) per activation). */
  masks?: Map<number, ArrayLike<number>>;
  /** The model's state buffer (running statistics), for eval mode. */
  state?: ArrayLike<number>;
  /** Adds Σ w ⊙ tap to the loss for taps by node index (a linear "feature loss"). */
  tapWeights?: Map<number, ArrayLike<number>>;
}

const size = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

function erf(x: number): number {
  // series for |x| < 3, continued fraction (Lentz) beyond: ~1e-15 everywhere
  const ax = Math.abs(x);
  if (ax < 3) {
    let sum = x, term = x, n = 0;
    do { n++; term *= -x * x / n; sum += term / (2 * n + 1); } while (Math.abs(term) > 1e-17 * Math.abs(sum) && n < 200);
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  let f = ax, C = ax, D = 0;
  for (let k = 1; k < 200; k++) {
    const a = k / 2;
    D = ax + a * D; D = 1 / D;
    C = ax + a / C;
    const delta = C * D; f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

/** The activations of every node (rows × out size each) and the logits, in f64. */
export function refForward(g: CompiledGraph, params: ArrayLike<number>, x: ArrayLike<number>, rows: number,
                           o: GraphRefOptions): { acts: Float64Array[]; logits: Float64Array } {
  const acts: Float64Array[] = [];
  const input = Float64Array.from({ length: rows * size(g.inputShape) }, (_, i) => x[i]!);
  const p = (n: GraphNode, kind: string): (i: number) => number => {
    const t = n.params.find((d) => d.name.endsWith(`.${kind}`));
    return t ? (i) => params[t.offset + i]! : () => 0;
  };
  const st = (n: GraphNode, kind: string): (i: number) => number => {
    const t = n.state.find((d) => d.name.endsWith(`.${kind}`))!;
    return (i) => o.state![t.offset + i]!;
  };
  /** Tokens of sample r: the positions before the first -1 of its ids (the model input). */
  const tokens = (r: number, L: number): number => { let k = 0; while (k < L && input[r * L + k]! >= 0) k++; return k; };
  for (const n of g.nodes) {
    const inAct = (k = 0): Float64Array => (n.inputs[k]! < 0 ? input : acts[n.inputs[k]!]!);
    const xin = inAct();
    const out = new Float64Array(rows * size(n.outShape));
    const sp = n.spec;
    switch (sp.type) {
      case 'dense': {
        // a sequence (L, IN) runs every position as a row
        const IN = n.inShape[n.inShape.length - 1]!, OUT = sp.units, w = p(n, 'w'), b = p(n, 'b');
        const R = rows * (n.inShape.length === 2 ? n.inShape[0]! : 1);
        for (let r = 0; r < R; r++) for (let j = 0; j < OUT; j++) {
          let s = b(j);
          for (let k = 0; k < IN; k++) s += xin[r * IN + k]! * w(k * OUT + j);
          out[r * OUT + j] = s;
        }
        break;
      }
      case 'conv2d': case 'depthwiseConv2d': {
        const [H, W, C] = n.inShape as [number, number, number];
        const [OH, OW, OC] = n.outShape as [number, number, number];
        const [kh, kw] = typeof sp.kernel === 'number' ? [sp.kernel, sp.kernel] : sp.kernel;
        const [sh, sw] = typeof sp.stride === 'number' ? [sp.stride, sp.stride] : sp.stride;
        const G = sp.type === 'depthwiseConv2d' ? C : sp.groups;
        const cg = C / G, og = OC / G;
        const [pt, pl] = padBefore([H, W], [kh, kw], [sh, sw], [OH, OW], sp.padding);
        const w = p(n, 'w'), b = p(n, 'b');
        for (let r = 0; r < rows; r++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) for (let oc = 0; oc < OC; oc++) {
          const grp = Math.floor(oc / og);
          let s = b(oc);
          for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) {
            const iy = oy * sh - pt + ky, ix = ox * sw - pl + kx;
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
            for (let ci = 0; ci < cg; ci++) {
              s += xin[((r * H + iy) * W + ix) * C + grp * cg + ci]! * w(((ky * kw + kx) * cg + ci) * OC + oc);
            }
          }
          out[((r * OH + oy) * OW + ox) * OC + oc] = s;
        }
        break;
      }
      case 'conv1d': {
        // out[r, i, f] = b[f] + Σ_t Σ_c x[r, i - pl + t, c] w[0, t, c, f], 'same' padding: pl = floor((k - 1) / 2)
        const [Ln, D] = n.inShape as [number, number], F = sp.filters, k = sp.kernel, pl = Math.floor((k - 1) / 2);
        const w = p(n, 'w'), b = p(n, 'b');
        for (let r = 0; r < rows; r++) for (let i = 0; i < Ln; i++) for (let f = 0; f < F; f++) {
          let s = b(f);
          for (let t = 0; t < k; t++) {
            const j = i - pl + t;
            if (j < 0 || j >= Ln) continue;
            for (let c = 0; c < D; c++) s += xin[(r * Ln + j) * D + c]! * w((t * D + c) * F + f);
          }
          out[(r * Ln + i) * F + f] = s;
        }
        break;
      }
      case 'maxPool2d': case 'avgPool2d': {
        const [H, W, C] = n.inShape as [number, number, number];
        const [OH, OW] = n.outShape as [number, number, number];
        const [kh, kw] = typeof sp.size === 'number' ? [sp.size, sp.size] : sp.size;
        const st2 = sp.stride ?? sp.size;
        const [sh, sw] = typeof st2 === 'number' ? [st2, st2] : st2;
        const [pt, pl] = padBefore([H, W], [kh, kw], [sh, sw], [OH, OW], sp.padding);
        for (let r = 0; r < rows; r++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) for (let c = 0; c < C; c++) {
          let m = -Infinity, s = 0, cnt = 0;
          for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) {
            const iy = oy * sh - pt + ky, ix = ox * sw - pl + kx;
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
            const v = xin[((r * H + iy) * W + ix) * C + c]!;
            m = Math.max(m, v); s += v; cnt++;
          }
          out[((r * OH + oy) * OW + ox) * C + c] = sp.type === 'maxPool2d' ? m : s / cnt;
        }
        break;
      }
      case 'globalAvgPool': {
        const [H, W, C] = n.inShape as [number, number, number];
        for (let r = 0; r < rows; r++) for (let c = 0; c < C; c++) {
          let s = 0;
          for (let i = 0; i < H * W; i++) s += xin[(r * H * W + i) * C + c]!;
          out[r * C + c] = s / (H * W);
        }
        break;
      }
      case 'batchNorm': case 'layerNorm': {
        const C = n.inShape[n.inShape.length - 1]!, R = (rows * size(n.inShape)) / C;
        const gamma = p(n, 'gamma'), beta = p(n, 'beta');
        if (sp.type === 'batchNorm') {
          for (let c = 0; c < C; c++) {
            let mean: number, v: number;
            if (o.train) {
              mean = 0; for (let i = 0; i < R; i++) mean += xin[i * C + c]!; mean /= R;
              v = 0; for (let i = 0; i < R; i++) v += (xin[i * C + c]! - mean) ** 2; v /= R;
            } else { mean = st(n, 'running_mean')(c); v = st(n, 'running_var')(c); }
            for (let i = 0; i < R; i++) out[i * C + c] = gamma(c) * (xin[i * C + c]! - mean) / Math.sqrt(v + sp.eps) + beta(c);
          }
        } else {
          for (let i = 0; i < R; i++) {
            let mean = 0; for (let c = 0; c < C; c++) mean += xin[i * C + c]!; mean /= C;
            let v = 0; for (let c = 0; c < C; c++) v += (xin[i * C + c]! - mean) ** 2; v /= C;
            for (let c = 0; c < C; c++) out[i * C + c] = gamma(c) * (xin[i * C + c]! - mean) / Math.sqrt(v + sp.eps) + beta(c);
          }
        }
        break;
      }
      case 'relu': for (let i = 0; i < out.length; i++) out[i] = Math.max(0, xin[i]!); break;
      case 'gelu': for (let i = 0; i < out.length; i++) out[i] = 0.5 * xin[i]! * (1 + erf(xin[i]! / Math.SQRT2)); break;
      case 'dropout': {
        const m = o.train ? o.masks?.get(n.index) : undefined;
        for (let i = 0; i < out.length; i++) out[i] = xin[i]! * (m ? m[i]! : 1);
        break;
      }
      case 'flatten': out.set(xin); break;
      case 'embedding': {
        const L = n.inShape[0]!, D = sp.dim, table = p(n, 'table'), pos = p(n, 'pos');
        for (let r = 0; r < rows; r++) for (let l = 0; l < L; l++) {
          const id = xin[r * L + l]!;
          for (let c = 0; c < D; c++) out[(r * L + l) * D + c] = (id >= 0 ? table(id * D + c) : 0) + (sp.positions ? pos(l * D + c) : 0);
        }
        break;
      }
      case 'sequencePool': {
        const [L, D] = n.inShape as [number, number];
        for (let r = 0; r < rows; r++) {
          const k = sp.mode === 'first' ? Math.min(1, tokens(r, L)) : tokens(r, L);
          for (let c = 0; c < D; c++) {
            let s = 0;
            for (let l = 0; l < k; l++) s += xin[(r * L + l) * D + c]!;
            out[r * D + c] = k > 0 ? s / k : 0;
          }
        }
        break;
      }
      case 'attention': {
        const [L, D] = n.inShape as [number, number], H = sp.heads, dh = D / H;
        const wqkv = p(n, 'wqkv'), bqkv = p(n, 'bqkv'), wo = p(n, 'wo'), bo = p(n, 'bo');
        for (let r = 0; r < rows; r++) {
          const k = tokens(r, L);
          const proj = (l: number, j: number): number => { // column j of [q | k | v] at position l
            let s = bqkv(j);
            for (let c = 0; c < D; c++) s += xin[(r * L + l) * D + c]! * wqkv(c * 3 * D + j);
            return s;
          };
          const Q = Array.from({ length: k }, (_, l) => Array.from({ length: D }, (_, j) => proj(l, j)));
          const K = Array.from({ length: k }, (_, l) => Array.from({ length: D }, (_, j) => proj(l, D + j)));
          const V = Array.from({ length: k }, (_, l) => Array.from({ length: D }, (_, j) => proj(l, 2 * D + j)));
          const ctx = Array.from({ length: L }, () => new Float64Array(D));
          for (let h = 0; h < H; h++) for (let i = 0; i < k; i++) {
            const last = sp.causal ? i : k - 1;
            const sc: number[] = [];
            for (let j = 0; j <= last; j++) {
              let s = 0; for (let c = 0; c < dh; c++) s += Q[i]![h * dh + c]! * K[j]![h * dh + c]!;
              sc.push(s / Math.sqrt(dh));
            }
            const m = Math.max(...sc), e = sc.map((v) => Math.exp(v - m)), z = e.reduce((a, b) => a + b, 0);
            for (let c = 0; c < dh; c++) {
              let s = 0; for (let j = 0; j <= last; j++) s += (e[j]! / z) * V[j]![h * dh + c]!;
              ctx[i]![h * dh + c] = s;
            }
          }
          for (let l = 0; l < L; l++) for (let j = 0; j < D; j++) {
            let s = bo(j); for (let c = 0; c < D; c++) s += ctx[l]![c]! * wo(c * D + j);
            out[(r * L + l) * D + j] = s;
          }
        }
        break;
      }
      case 'add': { const b2 = inAct(1); for (let i = 0; i < out.length; i++) out[i] = xin[i]! + b2[i]!; break; }
    }
    acts.push(out);
  }
  return { acts, logits: acts[acts.length - 1]! };
}

/** Mean cross-entropy of the graph's logits against `labels`, plus the linear tap terms, in f64. */
export function refGraphLoss(g: CompiledGraph, params: ArrayLike<number>, x: ArrayLike<number>, labels: ArrayLike<number>,
                             rows: number, o: GraphRefOptions): number {
  const { acts, logits } = refForward(g, params, x, rows, o);
  const C = g.classes;
  let loss = 0;
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let c = 0; c < C; c++) m = Math.max(m, logits[r * C + c]!);
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp(logits[r * C + c]! - m);
    loss += m + Math.log(s) - logits[r * C + labels[r]!]!;
  }
  loss /= rows;
  for (const [i, w] of o.tapWeights ?? []) for (let k = 0; k < acts[i]!.length; k++) loss += w[k]! * acts[i]![k]!;
  return loss;
}

/** Padding before for 'same' / 'valid' / explicit, recomputed here from its definition. */
function padBefore([H, W]: [number, number], [kh, kw]: [number, number], [sh, sw]: [number, number], [OH, OW]: [number, number],
                   padding: 'same' | 'valid' | number): [number, number] {
  if (padding === 'valid') return [0, 0];
  if (typeof padding === 'number') return [padding, padding];
  return [Math.floor(Math.max(0, (OH - 1) * sh + kh - H) / 2), Math.floor(Math.max(0, (OW - 1) * sw + kw - W) / 2)];
}
