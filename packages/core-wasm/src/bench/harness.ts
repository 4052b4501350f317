// The benchmark suite, platform-neutral: no node: imports and no tfjs, so the same
// code runs under Node (cli.ts) and inside a browser Web Worker. Contenders are
// injected (core-contenders.ts for our backends, tfjs-contenders.ts for TensorFlow.js);
// each case is timed on all of them interleaved, in this one thread (timing.ts).
//
// Suite: sgemm NN/TN/NT over the shapes of an MNIST MLP (GFLOP/s = 2MNK/t, each also
// as a fraction of the SIMD peak probe); conv2d forward / backward-data / backward-filter
// over small-CNN layers (conv.ts; GFLOP/s and fraction of peak likewise, with the lead's
// target of 60% of peak on layers with >= 16 input channels); batch norm (training) and GELU,
// forward + backward (layers.ts, µs per call); tempered softmax, KL + gradient and the fused
// KD loss + gradient (µs per call); module sizes; ratios and the issue's targets,
// computed from this same run. Targets are reported, never asserted.

import { evaluate } from './analysis.js';
import { CONV_LAYERS, CONV_PASSES, QUICK_CONV_LAYERS, convFlop, convOperands, convReference } from './conv.js';
import { LAYER_SHAPES, QUICK_LAYER_SHAPES, layerCase, layerReference } from './layers.js';
import { FORMULAS, gemmCase, gemmOperands, lossCase, lossError, lossReference, relativeError } from './problems.js';
import { measureInterleaved, summarize, TIMING_PRESETS, type Timed } from './timing.js';
import type {
  Contender, ConvEntry, ConvRow, GemmEntry, GemmForm, GemmRow, LayerRow, LossEntry, LossKernel, LossRow, PeakEntry, Prepared, Stat,
  SuiteOptions, SuiteResult, TargetResult, TimingOptions,
} from './types.js';

export type * from './types.js';
export { coreContender } from './core-contenders.js';
export { backendContenders } from './backends.js';
// tfjs contenders take the tfjs namespace from the runner (this imports tfjs's types only)
export { tfjsContender, type TfjsContenderOptions } from './tfjs-contenders.js';
export { formatReport } from './report.js';
export { measureInterleaved, summarize, TIMING_PRESETS, type Timed } from './timing.js';
export { FORMULAS } from './problems.js';
export { CONV_LAYERS, QUICK_CONV_LAYERS, CONV_PASSES } from './conv.js';
export { LAYER_SHAPES, QUICK_LAYER_SHAPES, LAYER_FORMULAS } from './layers.js';

/** Per mode: a conv contender whose check call took longer than this is reported from that single call. */
export const CONV_SLOW_CALL_MS = { quick: 2000, full: 5000 } as const;

/** The lead's convolution target: every pass of a layer with >= 16 input channels (depthwise ones included) at >= 60% of the SIMD peak. */
export const CONV_TARGET = { minInputChannels: 16, fractionOfPeak: 0.6 } as const;

/** (M, K, N): the layers of a 784-800-800-10 MLP and of 784-1200-1200-10, at batch 128, plus a small square. */
export const FULL_GEMM_SHAPES = [
  [128, 784, 800], [128, 800, 800], [128, 800, 10], [128, 784, 1200], [128, 1200, 1200], [64, 64, 64],
] as const;
/** Quick mode: small, with sizes that are not multiples of 4 so that the tails run too. */
export const QUICK_GEMM_SHAPES = [[64, 64, 64], [13, 37, 10]] as const;
export const LOSS_SHAPES = [[128, 10], [128, 1000]] as const;
export const GEMM_FORMS: readonly GemmForm[] = ['NN', 'TN', 'NT'];
export const LOSS_KERNELS: readonly LossKernel[] = ['softmax', 'kl', 'kdLoss'];

/** Runs the whole suite on `contenders` and returns the figures, ratios and targets. */
export async function runSuite(contenders: readonly Contender[], options: SuiteOptions): Promise<SuiteResult> {
  const names = new Set<string>();
  for (const c of contenders) {
    if (names.has(c.name)) throw new Error(`runSuite: two contenders are named '${c.name}'`);
    names.add(c.name);
  }
  const now = options.now ?? (() => performance.now());
  const progress = options.onProgress ?? (() => {});
  const timing: TimingOptions = { ...TIMING_PRESETS[options.mode], ...options.timing };
  const seed = options.seed ?? 20150309;
  const T = options.temperature ?? 4;
  const alpha = options.alpha ?? 0.9;
  const startedAt = new Date().toISOString();
  const t0 = now();

  const peak = await runPeak(contenders, timing, now, progress);
  const peakFrom = options.peakFrom ?? 'simd';
  const peakGflops = peak.find((p) => p.contender === peakFrom)?.gflops ?? null;

  const gemm: GemmRow[] = [];
  const shapes = options.gemmShapes ?? (options.mode === 'full' ? FULL_GEMM_SHAPES : QUICK_GEMM_SHAPES);
  for (const [M, K, N] of shapes) {
    const ops = gemmOperands(M, K, N, seed + M * 7 + K * 13 + N * 17);
    for (const form of options.gemmForms ?? GEMM_FORMS) {
      const c = gemmCase(ops, form);
      const flop = 2 * M * N * K;
      const measured = await runCase(contenders, (x) => x.gemm?.(c), (out) => relativeError(out, ops.reference), timing, now);
      const entries: GemmEntry[] = measured.map(({ contender, stat, error }) => {
        const gflops = flop / (stat.medianMs * 1e6);
        return { contender, stat, gflops, fractionOfPeak: peakGflops ? gflops / peakGflops : null, error };
      });
      gemm.push({ form, M, K, N, flop, entries });
      progress(`sgemm ${form} (${M},${K},${N}): ${entries.map((e) => `${e.contender} ${e.gflops.toFixed(2)}`).join(', ')} GFLOP/s`);
    }
  }

  const conv: ConvRow[] = [];
  const ours = options.ours ?? 'simd';
  // A batch-128 layer pass is tens to hundreds of ms for our backends and up to a minute for
  // tfjs-cpu's Conv2DBackpropFilter: one warm-up call and at least three samples each.
  const convTiming: TimingOptions = { ...timing, warmupCalls: 1, minReps: Math.min(timing.minReps, 3) };
  // The peak probe runs once more inside every conv case's rounds, interleaved with the
  // contenders, and the case's fractions are of that peak: a pass is then compared with what the
  // machine gave in the same seconds (on a shared host the peak moves by a quarter within one run,
  // and a ratio to a peak timed minutes earlier would credit or blame the kernel for it).
  const peakContender = contenders.find((c) => c.name === peakFrom);
  const peakSized = peak.find((p) => p.contender === peakFrom);
  let peakSink = 0;
  const peakAlongside: Timed | undefined = peakContender?.peak && peakSized ? {
    activate: () => peakContender.activate?.(),
    run: () => { peakSink += peakContender.peak!.probe(peakSized.iters); },
  } : undefined;
  for (const [li, layer] of (options.convLayers ?? (options.mode === 'full' ? CONV_LAYERS : QUICK_CONV_LAYERS)).entries()) {
    const ops = convOperands(layer, seed + 1000 + li);
    const flop = convFlop(ops.geometry);
    for (const pass of options.convPasses ?? CONV_PASSES) {
      const c = { layer, pass, geometry: ops.geometry, x: ops.x, w: ops.w, dy: ops.dy };
      const reference = convReference(ops, pass);
      const unavailable: ConvRow['unavailable'] = [];
      const alongside = peakAlongside ? { items: [peakAlongside], stats: [] as Stat[] } : undefined;
      const measured = await runCase(contenders, (x) => {
        const p = x.conv?.(c);
        if (p && 'unavailable' in p) { unavailable.push({ contender: x.name, reason: p.unavailable }); return undefined; }
        return p;
      }, (out) => relativeError(out, reference), convTiming, now, CONV_SLOW_CALL_MS[options.mode], alongside);
      const casePeak = alongside?.stats[0] && peakSized ? probeGflops(peakSized, alongside.stats[0]) : peakGflops;
      const entries: ConvEntry[] = measured.map(({ contender, stat, error }) => {
        const gflops = flop / (stat.medianMs * 1e6);
        return { contender, stat, gflops, fractionOfPeak: casePeak ? gflops / casePeak : null, error };
      });
      conv.push({ layer: layer.name, pass, geometry: ops.geometry, flop, peakGflops: casePeak, entries, unavailable,
        target: convTarget(layer.name, pass, layer.C, entries.find((e) => e.contender === ours)) });
      progress(`conv2d ${pass} ${layer.name}: ${entries.map((e) => `${e.contender} ${e.gflops.toFixed(2)}`).join(', ')} GFLOP/s`
        + unavailable.map((u) => `; ${u.contender} n/a`).join(''));
    }
  }

  if (Number.isNaN(peakSink)) progress('peak probe returned NaN');

  const layers: LayerRow[] = [];
  for (const [li, shape] of (options.layerShapes ?? (options.mode === 'full' ? LAYER_SHAPES : QUICK_LAYER_SHAPES)).entries()) {
    const c = layerCase(shape, seed + 2000 + li);
    const reference = layerReference(c);
    const unavailable: LayerRow['unavailable'] = [];
    const measured = await runCase(contenders, (x) => {
      const p = x.layer?.(c);
      if (p && 'unavailable' in p) { unavailable.push({ contender: x.name, reason: p.unavailable }); return undefined; }
      return p;
    }, (out) => relativeError(out, reference), timing, now);
    const entries = measured.map(({ contender, stat, error }) => ({ contender, stat, usPerCall: stat.medianMs * 1e3, error }));
    layers.push({ kernel: shape.kernel, rows: shape.rows, cols: shape.cols, entries, unavailable });
    progress(`${shape.kernel} [${shape.rows},${shape.cols}] fwd+bwd: ${entries.map((e) => `${e.contender} ${e.usPerCall.toFixed(1)}`).join(', ')} µs`
      + unavailable.map((u) => `; ${u.contender} n/a`).join(''));
  }

  const losses: LossRow[] = [];
  for (const [rows, cols] of options.lossShapes ?? LOSS_SHAPES) {
    for (const kernel of options.lossKernels ?? LOSS_KERNELS) {
      const c = lossCase(kernel, rows, cols, T, alpha, seed + rows * 31 + cols);
      const ref = lossReference(c);
      const measured = await runCase(contenders, (x) => x.loss?.(c), (out) => lossError(out, ref), timing, now);
      const entries: LossEntry[] = measured.map(({ contender, stat, error }) => (
        { contender, stat, usPerCall: stat.medianMs * 1e3, error }));
      losses.push({ kernel, rows, cols, temperature: T, alpha, entries });
      progress(`${kernel} [${rows},${cols}]: ${entries.map((e) => `${e.contender} ${e.usPerCall.toFixed(1)}`).join(', ')} µs`);
    }
  }

  const partial = {
    schema: 'retort-bench/1' as const,
    mode: options.mode,
    startedAt,
    durationMs: 0,
    environment: { ...options.environment },
    timing,
    contenders: contenders.map((c) => ({ name: c.name, description: c.description })),
    formulas: { ...FORMULAS },
    peak,
    peakGflops,
    gemm,
    conv,
    layers,
    losses,
    wasmBytes: { ...options.wasmBytes },
  };
  const { ratios, targets } = evaluate(partial, options.ours ?? 'simd', options.baseline ?? 'tfjs-wasm');
  return { ...partial, ratios, targets, durationMs: now() - t0 };
}

function convTarget(layer: string, pass: string, inputChannels: number, e: ConvEntry | undefined): TargetResult | null {
  if (inputChannels < CONV_TARGET.minInputChannels) return null;
  const name = `conv2d ${pass} ${layer} vs peak`, requirement = `>= ${100 * CONV_TARGET.fractionOfPeak}% of peak`;
  const v = e?.fractionOfPeak ?? null;
  if (v === null || !Number.isFinite(v)) return { name, requirement, measured: '-', status: 'not measured' };
  return { name, requirement, measured: `${(100 * v).toFixed(1)}%`, status: v >= CONV_TARGET.fractionOfPeak ? 'pass' : 'fail' };
}

interface Measured { contender: string; stat: Stat; error: number }

/**
 * Prepares one case on every contender that takes part, checks each output against the
 * reference (untimed), times them interleaved, and disposes them.
 */
async function runCase<O>(contenders: readonly Contender[], prepare: (c: Contender) => Prepared<O> | undefined,
                          check: (out: O) => number, timing: TimingOptions, now: () => number,
                          slowMs = Infinity, alongside?: { items: readonly Timed[]; stats: Stat[] }): Promise<Measured[]> {
  const taking: { contender: Contender; prepared: Prepared<O> }[] = [];
  try {
    for (const contender of contenders) {
      await contender.activate?.();
      const prepared = prepare(contender);
      if (prepared) taking.push({ contender, prepared });
    }
    const errors: number[] = [], checkMs: number[] = [];
    for (const { contender, prepared } of taking) {
      await contender.activate?.();
      const t0 = now();
      const out = prepared.output();
      checkMs.push(now() - t0);
      errors.push(check(out));
    }
    // A contender whose check call alone took longer than slowMs is not timed again: that one
    // call (output included) is its figure, reported with samples = 1.
    const timedIdx = taking.flatMap((_, i) => (checkMs[i]! > slowMs ? [] : [i]));
    const timed: Timed[] = timedIdx.map((i) => ({
      activate: () => taking[i]!.contender.activate?.(),
      run: taking[i]!.prepared.run,
    }));
    // `alongside` items (the peak probe) are timed in the same rounds; their stats go to alongside.stats
    const extra = alongside?.items ?? [];
    const all = timed.length || extra.length ? await measureInterleaved([...timed, ...extra], timing, now) : [];
    const measured = all.slice(0, timed.length);
    if (alongside) alongside.stats.push(...all.slice(timed.length));
    const stats = taking.map((_, i) => {
      const k = timedIdx.indexOf(i);
      return k >= 0 ? measured[k]! : summarize([checkMs[i]!], 1);
    });
    return taking.map(({ contender }, i) => ({ contender: contender.name, stat: stats[i]!, error: errors[i]! }));
  } finally {
    for (const { contender, prepared } of taking) {
      await contender.activate?.();
      prepared.dispose();
    }
  }
}

/** GFLOP/s of a peak probe call of `iters` iterations timed at stat's median. */
function probeGflops(p: { iters: number; flopsPerIter: number }, stat: Stat): number {
  return (p.iters * p.flopsPerIter) / (stat.medianMs * 1e6);
}

/** The peak probe of every contender that has one, sized so that one call lasts about a sample. */
async function runPeak(contenders: readonly Contender[], timing: TimingOptions, now: () => number,
                       progress: (m: string) => void): Promise<PeakEntry[]> {
  const probes = contenders.flatMap((c) => (c.peak ? [{ name: c.name, probe: c.peak }] : []));
  if (probes.length === 0) return [];
  let sink = 0;
  // A probe call lasts at least a few ms even in quick mode, so that the figure is not call overhead.
  const callMs = Math.max(timing.sampleMs, 5);
  const sized = probes.map(({ name, probe }) => {
    // Sized three times: the first passes also warm the probe up (the js one starts in the interpreter).
    let iters = 1024;
    for (let pass = 0; pass < 3; pass++) for (;;) {
      const t0 = now();
      sink += probe.probe(iters);
      const t = now() - t0;
      if (t >= callMs / 4 || iters >= 1 << 30) {
        iters = Math.max(1, Math.round(iters * callMs / Math.max(t, 1e-3)));
        break;
      }
      iters *= 4;
    }
    return { name, probe, iters, flopsPerIter: probe.flopsPerIter() };
  });
  const stats = await measureInterleaved(
    sized.map(({ probe, iters }) => ({ run: () => { sink += probe.probe(iters); } })),
    // One call per sample (each is already ~sampleMs long); a warm-up long enough for
    // the js probe's loop to reach optimised code even in quick mode.
    { ...timing, sampleMs: 0, warmupMs: Math.max(timing.warmupMs, 50), maxWarmupCalls: Math.max(timing.maxWarmupCalls, 1000) }, now);
  if (Number.isNaN(sink)) progress('peak probe returned NaN');
  const entries = sized.map(({ name, iters, flopsPerIter }, i) => {
    const stat = stats[i]!;
    return { contender: name, iters, flopsPerIter, stat, gflops: probeGflops({ iters, flopsPerIter }, stat) };
  });
  progress(`peak probe: ${entries.map((e) => `${e.contender} ${e.gflops.toFixed(2)}`).join(', ')} GFLOP/s`);
  return entries;
}
