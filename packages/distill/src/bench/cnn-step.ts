// The convolutional training-step benchmark, platform-neutral: one full step — forward (train
// mode), the fused KD loss against teacher logits, backward, Adam — of a CNN student (LeNet-5 by
// default) at batch 128, and its eval forward pass, on every contender. TensorFlow.js is the
// peer: tfjs-cpu trains it; tfjs-backend-wasm cannot (it registers no Conv2DBackpropFilter
// kernel, so the weight gradient of every convolution throws), which the result records as
// measured (the attempt's error), while its forward pass (XNNPACK) is timed.
//
// Effective FLOPs of a step: forward 2·B·MACs, the weight gradient the same, the input gradient
// the same for every layer but the first (whose input is the data): 2·B·(3·MACs − MACs_first).
// The forward: 2·B·MACs. Pooling, activations and the loss are not counted.
import { measureInterleaved, type Stat, type TargetResult, type TimingOptions } from '@retort/core-wasm/bench';
import { compileSpec, parseModelSpec } from '../model/spec.js';
import type { CompiledGraph } from '../model/graph.js';

export interface CnnStepProblem {
  /** The resolved spec, as text (what --model takes). */
  model: string;
  graph: CompiledGraph;
  batch: number;
  temperature: number;
  alpha: number;
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Flat initial parameters in the graph's layout (He normal weights, zero biases, unit BN scales). */
  initialParams: Float32Array;
  x: Float32Array;
  labels: Int32Array;
  teacherLogits: Float32Array;
  /** Effective FLOPs of one training step and of one forward pass (see the header). */
  stepFlop: number;
  forwardFlop: number;
}

/** One contender's prepared work on a problem. */
export interface PreparedCnn {
  /** One training step; returns the loss before the update. Absent: this contender cannot train the model. */
  step?: () => number;
  /** Why it cannot train (the error the attempt raised), when `step` is absent. */
  cannotTrain?: string;
  /** What differs in its step (a part it cannot train and leaves frozen). */
  note?: string;
  /** One eval forward pass of the batch; returns the first logit (so that nothing is optimised away). */
  forward(): number;
  /** The logits of the last forward (batch × classes), for the sanity check. */
  logits(): Float32Array;
  dispose(): void;
}

export interface CnnContender {
  name: string;
  description: string;
  activate?(): void | Promise<void>;
  prepare(problem: CnnStepProblem): PreparedCnn | Promise<PreparedCnn>;
}

export interface CnnEntry { contender: string; stat: Stat; ms: number; samplesPerSec: number; gflops: number; fractionOfPeak: number | null }

export interface CnnBenchResult {
  schema: 'retort-cnn-step-bench/1';
  startedAt: string;
  durationMs: number;
  problem: { model: string; batch: number; params: number; macsPerSample: number; stepFlop: number; forwardFlop: number; optimizer: string; temperature: number; alpha: number; seed: number };
  /** The measured SIMD peak (GFLOP/s) the fractions refer to, or null. */
  peakGflops: number | null;
  contenders: { name: string; description: string; cannotTrain?: string; note?: string }[];
  sanity: { contender: string; losses: number[]; deviation: number | null; forwardDeviation: number }[];
  step: CnnEntry[];
  forward: CnnEntry[];
  targets: TargetResult[];
}

/** The problem: He-normal weights and MNIST-like inputs from a seed, as in the MLP step benchmark. */
export function makeCnnStepProblem(o: { model: string; batch: number; seed: number; temperature?: number; alpha?: number; lr?: number }): CnnStepProblem {
  const spec = parseModelSpec(o.model);
  const graph = compileSpec(spec);
  const B = o.batch, C = graph.classes, IN = graph.inputShape.reduce((a, b) => a * b, 1);
  let s = (o.seed >>> 0) || 1;
  const uniform = (): number => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 4294967296; };
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  const initialParams = new Float32Array(graph.paramCount);
  for (const t of graph.params) {
    for (let i = 0; i < t.length; i++) {
      initialParams[t.offset + i] = t.init === 'he' ? Math.sqrt(2 / t.fanIn) * normal() : t.init === 'lecun' ? Math.sqrt(1 / t.fanIn) * normal() : t.init === 'ones' ? 1 : 0;
    }
  }
  const x = new Float32Array(B * IN);
  const first0 = graph.nodes[0]!.spec;
  if (first0.type === 'embedding') {
    // token ids: every position a token (no padding: every contender does the whole L x L work)
    for (let i = 0; i < x.length; i++) x[i] = Math.min(first0.vocab - 1, Math.floor(uniform() * first0.vocab));
  } else {
    for (let i = 0; i < x.length; i++) { const u = uniform(); x[i] = u > 0.8 ? u : 0; }
  }
  const labels = Int32Array.from({ length: B }, () => Math.min(C - 1, Math.floor(uniform() * C)));
  const teacherLogits = new Float32Array(B * C);
  for (let r = 0; r < B; r++) for (let c = 0; c < C; c++) teacherLogits[r * C + c] = 2 * normal() + (c === labels[r] ? 6 : 0);
  // the first layer with multiply-adds has no input gradient when it reads the data itself
  const firstNode = graph.nodes.find((n) => n.macs > 0);
  const first = firstNode && firstNode.inputs[0]! < 0 ? firstNode.macs : 0;
  return {
    model: o.model, graph, batch: B, temperature: o.temperature ?? 4, alpha: o.alpha ?? 0.9, lr: o.lr ?? 1e-3,
    beta1: 0.9, beta2: 0.999, eps: 1e-8, initialParams, x, labels, teacherLogits,
    stepFlop: 2 * B * (3 * graph.macs - first), forwardFlop: 2 * B * graph.macs,
  };
}

export interface CnnBenchOptions {
  model?: string;
  /** Which targets the result reports: the CNN's (default) or the Transformer's. */
  kind?: 'cnn' | 'transformer';
  batch?: number;
  seed?: number;
  timing: TimingOptions;
  /** The SIMD peak in GFLOP/s, measured by the caller (core-wasm's peak probe), or null. */
  peakGflops: number | null;
  /** Untimed steps of the sanity check (default 4). */
  checkSteps?: number;
  /** The reference contender of the sanity check (default 'js'). */
  reference?: string;
  onProgress?: (message: string) => void;
}

export async function runCnnBench(contenders: readonly CnnContender[], o: CnnBenchOptions): Promise<CnnBenchResult> {
  const t0 = Date.now();
  const model = o.model ?? 'lenet5:input=28x28x1,classes=10';
  const seed = o.seed ?? 1;
  const p = makeCnnStepProblem({ model, batch: o.batch ?? 128, seed });
  const log = o.onProgress ?? (() => {});
  const prepared: { c: CnnContender; w: PreparedCnn }[] = [];
  try {
    for (const c of contenders) {
      await c.activate?.();
      prepared.push({ c, w: await c.prepare(p) });
    }
    // sanity: the same losses from the same weights (and falling), the same logits
    const steps = o.checkSteps ?? 4;
    const losses = new Map<string, number[]>();
    const logits = new Map<string, Float32Array>();
    for (const { c, w } of prepared) {
      await c.activate?.();
      w.forward();
      logits.set(c.name, w.logits().slice());
      if (!w.step) continue;
      const l: number[] = [];
      for (let i = 0; i < steps; i++) l.push(w.step());
      losses.set(c.name, l);
    }
    const refName = o.reference ?? 'js';
    const refLosses = losses.get(refName), refLogits = logits.get(refName);
    const sanity = prepared.map(({ c, w }) => {
      const l = losses.get(c.name) ?? [];
      // a contender that leaves a part frozen (w.note) trains another function after its first step: its first loss only
      const compared = w.note ? l.slice(0, 1) : l;
      const deviation = refLosses && l.length ? Math.max(...compared.map((v, i) => Math.abs(v - refLosses[i]!) / Math.abs(refLosses[i]!))) : null;
      const z = logits.get(c.name)!;
      const scale = refLogits ? Math.max(...Array.from(refLogits, Math.abs)) : 1;
      const forwardDeviation = refLogits ? Math.max(...Array.from(z, (v, i) => Math.abs(v - refLogits[i]!))) / scale : NaN;
      return { contender: c.name, losses: l, deviation, forwardDeviation };
    });
    for (const s of sanity) {
      if (s.losses.length && !(s.losses[s.losses.length - 1]! < s.losses[0]!)) throw new Error(`cnn bench: ${s.contender}'s loss does not fall (${s.losses.join(', ')})`);
      if (s.deviation !== null && s.deviation > 1e-3) throw new Error(`cnn bench: ${s.contender}'s losses deviate from ${refName}'s by ${s.deviation}`);
      if (s.forwardDeviation > 1e-4) throw new Error(`cnn bench: ${s.contender}'s logits deviate from ${refName}'s by ${s.forwardDeviation} of the logit scale`);
    }
    log('cnn bench: sanity checked; timing the training steps');
    const trainable = prepared.filter(({ w }) => w.step);
    const stepStats = await measureInterleaved(trainable.map(({ c, w }) => ({
      ...(c.activate ? { activate: () => c.activate!() } : {}), run: () => { w.step!(); },
    })), o.timing, () => performance.now());
    log('cnn bench: timing the forward passes');
    const fwdStats = await measureInterleaved(prepared.map(({ c, w }) => ({
      ...(c.activate ? { activate: () => c.activate!() } : {}), run: () => { w.forward(); },
    })), o.timing, () => performance.now());
    const entry = (name: string, stat: Stat, flop: number): CnnEntry => {
      const sec = stat.medianMs / 1000;
      const gflops = flop / sec / 1e9;
      return { contender: name, stat, ms: sec * 1000, samplesPerSec: p.batch / sec, gflops, fractionOfPeak: o.peakGflops ? gflops / o.peakGflops : null };
    };
    const step = trainable.map(({ c }, i) => entry(c.name, stepStats[i]!, p.stepFlop));
    const forward = prepared.map(({ c }, i) => entry(c.name, fwdStats[i]!, p.forwardFlop));
    return {
      schema: 'retort-cnn-step-bench/1', startedAt: new Date(t0).toISOString(), durationMs: Date.now() - t0,
      problem: { model, batch: p.batch, params: p.graph.paramCount, macsPerSample: p.graph.macs, stepFlop: p.stepFlop, forwardFlop: p.forwardFlop,
        optimizer: 'Adam (AdamW, weight decay 0)', temperature: p.temperature, alpha: p.alpha, seed },
      peakGflops: o.peakGflops,
      contenders: prepared.map(({ c, w }) => ({ name: c.name, description: c.description, ...(w.cannotTrain ? { cannotTrain: w.cannotTrain } : {}), ...(w.note ? { note: w.note } : {}) })),
      sanity, step, forward,
      targets: o.kind === 'transformer' ? transformerTargets(step) : cnnTargets(step, forward),
    };
  } finally {
    for (const { w } of prepared) w.dispose();
  }
}

function transformerTargets(step: readonly CnnEntry[]): TargetResult[] {
  const simd = step.find((e) => e.contender === 'simd'), tw = step.find((e) => e.contender === 'tfjs-wasm');
  if (!simd || !tw) return [];
  const r = simd.samplesPerSec / tw.samplesPerSec;
  return [{ name: 'Transformer training step (simd) vs tfjs-wasm', requirement: '>= 5x', measured: `${r.toFixed(2)}x`, status: r >= 5 ? 'pass' : 'fail' }];
}

function cnnTargets(step: readonly CnnEntry[], forward: readonly CnnEntry[]): TargetResult[] {
  const simd = step.find((e) => e.contender === 'simd');
  const fs = forward.find((e) => e.contender === 'simd'), fw = forward.find((e) => e.contender === 'tfjs-wasm');
  const pct = (v: number | null | undefined): string => (v === null || v === undefined ? '-' : `${(100 * v).toFixed(1)} % of the SIMD peak`);
  const out: TargetResult[] = [];
  if (simd) {
    out.push({ name: 'CNN training step (simd) vs the SIMD peak', requirement: '>= 25 %', measured: `${pct(simd.fractionOfPeak)} (${simd.samplesPerSec.toFixed(0)} samples/s)`,
      status: simd.fractionOfPeak === null ? 'not measured' : simd.fractionOfPeak >= 0.25 ? 'pass' : 'fail' });
  }
  if (fs && fw) {
    const r = fs.samplesPerSec / fw.samplesPerSec;
    out.push({ name: 'CNN forward (simd) vs tfjs-wasm', requirement: '>= 1x', measured: `${r.toFixed(2)}x`, status: r >= 1 ? 'pass' : 'fail' });
  }
  return out;
}
