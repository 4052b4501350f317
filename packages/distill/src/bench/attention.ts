// Attention forward + backward against the SIMD peak, at a teacher's shapes (transformer-l: width
// 256, 4 heads, 128 tokens, batch 32): a model of one attention layer between an embedding and a
// pooled dense head, run forward (train mode) and backward, no optimizer. Its FLOPs are the
// attention's alone — 2·B·MACs forward (the q|k|v and output projections, Q Kᵀ and P V), twice
// that backward (weight and input gradients; dQ, dK, dP, dV) — while the time also holds the
// embedding lookup, the pooling and the head (under 1 % of the work here), so the fraction is a
// lower bound.
import { measureInterleaved, type Stat, type TimingOptions } from '@retort/core-wasm/bench';
import type { Core } from '@retort/core-wasm';
import { createModel } from '../model/index.js';

export interface AttentionBenchResult {
  shapes: { batch: number; length: number; dim: number; heads: number; causal: boolean };
  flop: number;
  stat: Stat;
  gflops: number;
  peakGflops: number | null;
  fractionOfPeak: number | null;
}

export async function runAttentionBench(core: Core, o: { batch: number; length: number; dim: number; heads: number; causal?: boolean; timing: TimingOptions; peakGflops: number | null }): Promise<AttentionBenchResult> {
  const { batch: B, length: L, dim: D, heads: H } = o;
  const causal = o.causal ?? false;
  const vocab = 64;
  const model = createModel(core, { type: 'graph', input: [L], layers: [
    { type: 'embedding', vocab, dim: D, positions: false }, { type: 'attention', heads: H, causal, name: 'attn' },
    { type: 'sequencePool', mode: 'mean' }, { type: 'dense', units: 2 },
  ] });
  try {
    model.init(1);
    model.plan(B);
    const x = core.fromArray(Float32Array.from({ length: B * L }, (_, i) => (i * 2654435761 >>> 7) % vocab));
    const dz = core.fromArray(Float32Array.from({ length: B * 2 }, (_, i) => (i % 2 ? 1 : -1) / B));
    const attn = model.graph.nodes.find((n) => n.name === 'attn')!;
    // causal: Q Kᵀ and P V over the lower triangle only would halve their part; the kernels compute whole rows of n, so count them whole
    const flop = 3 * 2 * B * attn.macs;
    const [stat] = await measureInterleaved([{ run: () => { model.zeroGrad(); model.forward(x, B, 'train'); model.backward(dz, B); } }], o.timing, () => performance.now());
    core.free(x); core.free(dz);
    const gflops = flop / (stat!.medianMs / 1000) / 1e9;
    return { shapes: { batch: B, length: L, dim: D, heads: H, causal }, flop, stat: stat!, gflops, peakGflops: o.peakGflops, fractionOfPeak: o.peakGflops ? gflops / o.peakGflops : null };
  } finally {
    model.free();
  }
}

export function formatAttentionReport(r: AttentionBenchResult): string {
  const s = r.shapes;
  const pct = r.fractionOfPeak === null ? '-' : `${(100 * r.fractionOfPeak).toFixed(1)} %`;
  return [
    `Attention forward + backward (simd): batch ${s.batch}, ${s.length} tokens, width ${s.dim}, ${s.heads} heads${s.causal ? ', causal' : ''};`,
    `  ${(r.flop / 1e9).toFixed(2)} GFLOP per call (projections, Q Kᵀ, P V; backward twice the forward), median ${r.stat.medianMs.toFixed(1)} ms:`,
    `  ${r.gflops.toFixed(2)} GFLOP/s = ${pct} of the SIMD peak (${r.peakGflops === null ? '-' : `${r.peakGflops.toFixed(2)} GFLOP/s`}); target >= 50 %: ${r.fractionOfPeak === null ? 'NOT MEASURED' : r.fractionOfPeak >= 0.5 ? 'PASS' : 'FAIL'}`,
  ].join('\n');
}
