// The training-step benchmark in quick mode: every contender trains (the sanity check
// passed, losses fall and follow the js reference), every figure is finite and positive,
// the report names every contender, the result survives JSON, and tfjs leaks no tensors.
// No timing is asserted (CI machines are noisy); only structure and correctness.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCore } from '@retort/core-wasm';
import '@tensorflow/tfjs'; // registers tfjs's own gradient rules
import { setupTfjsNode } from '@retort/core-wasm/bench/node';
import { retortStepContender } from '../src/bench/contenders.js';
import { formatStepReport } from '../src/bench/report.js';
import { makeStepProblem, runStepBench, sanityCheck, type StepBenchResult, type StepContender } from '../src/bench/step.js';
import { tfjsStepContender } from '../src/bench/tfjs-step.js';

const require = createRequire(import.meta.url);
const coreDir = dirname(require.resolve('@retort/core-wasm/package.json'));
const built = (v: string): boolean => existsSync(join(coreDir, 'build', `retort.${v}.wasm`));

function positive(x: number): void {
  expect(Number.isFinite(x)).toBe(true);
  expect(x).toBeGreaterThan(0);
}

describe('training-step benchmark (quick mode)', () => {
  let result: StepBenchResult;
  let names: string[];
  let tfjs: Awaited<ReturnType<typeof setupTfjsNode>>;

  it('runs every contender', async () => {
    const list: StepContender[] = [];
    for (const backend of ['simd', 'scalar', 'js'] as const) {
      if (backend === 'js' || built(backend)) list.push(retortStepContender(await loadCore({ backend })));
    }
    tfjs = await setupTfjsNode();
    list.push(tfjsStepContender(tfjs.tf, { name: 'tfjs-wasm', backend: 'wasm' }));
    list.push(tfjsStepContender(tfjs.tf, { name: 'tfjs-cpu', backend: 'cpu' }));
    names = list.map((c) => c.name);
    const before = tfjs.tf.memory().numTensors;
    result = await runStepBench(list, { mode: 'quick' });
    expect(tfjs.tf.memory().numTensors).toBe(before);
    expect(result.mode).toBe('quick');
    expect(result.contenders.map((c) => c.name)).toEqual(names);
    positive(result.durationMs);
  });

  it('checked that every contender trains the same step', () => {
    expect(result.reference).toBe('js');
    expect(result.sanity.map((s) => s.contender)).toEqual(names);
    for (const s of result.sanity) {
      expect(s.losses).toHaveLength(5);
      expect(s.losses[4]!).toBeLessThan(s.losses[0]!);
      expect(s.deviation).toBeLessThan(1e-4);
    }
  });

  it('times every contender', () => {
    expect(result.entries.map((e) => e.contender)).toEqual(names);
    for (const e of result.entries) {
      positive(e.samplesPerSec); positive(e.msPerStep); positive(e.gflops);
      expect(e.stat.samples).toBe(3);
      expect(e.stat.minMs).toBeLessThanOrEqual(e.stat.medianMs);
      expect(e.stat.medianMs).toBeLessThanOrEqual(e.stat.maxMs);
      expect(e.samplesPerSec).toBeCloseTo(result.problem.batch / (e.msPerStep / 1e3), 6);
    }
  });

  it('reports the ratio to tfjs-wasm against the target, without asserting it', () => {
    const target = result.targets.find((t) => t.name.includes('tfjs-wasm'));
    expect(target?.requirement).toBe('>= 8x');
    expect(['pass', 'fail']).toContain(target?.status);
    const names0 = result.ratios.map((r) => r.name);
    expect(names0.some((n) => n.includes('tfjs-wasm'))).toBe(true);
    for (const r of result.ratios) if (r.value !== null) positive(r.value);
  });

  it('formats a report and round-trips through JSON', () => {
    const text = formatStepReport(result);
    for (const n of names) expect(text).toContain(n);
    expect(text).toContain('Targets (reported, not asserted)');
    expect(JSON.parse(JSON.stringify(result))).toEqual(result);
  });
});

describe('sanity check', () => {
  it('rejects a step that does not train', async () => {
    const problem = makeStepProblem({ sizes: [5, 4, 3], batch: 2, temperature: 4, alpha: 0.9, lr: 1e-3, seed: 1 });
    const core = await loadCore({ backend: 'js' });
    const frozen: StepContender = { name: 'frozen', description: 'returns a constant loss', prepare: () => ({ step: () => 1, dispose: () => {} }) };
    await expect(sanityCheck([retortStepContender(core), frozen], problem, 'js', 3, 1e-2)).rejects.toThrow(/frozen does not train/);
  });

  it('rejects a step that trains something else', async () => {
    const problem = makeStepProblem({ sizes: [5, 4, 3], batch: 2, temperature: 4, alpha: 0.9, lr: 1e-3, seed: 1 });
    const core = await loadCore({ backend: 'js' });
    let loss = 10;
    const other: StepContender = { name: 'other', description: 'falls, but from elsewhere', prepare: () => ({ step: () => (loss -= 1), dispose: () => {} }) };
    await expect(sanityCheck([retortStepContender(core), other], problem, 'js', 3, 1e-2)).rejects.toThrow(/other's losses/);
  });
});

describe('CNN training-step benchmark (quick problem)', () => {
  it('every Retort backend and tfjs-cpu train the same step; tfjs-wasm is recorded as unable to, with its error; forwards agree', async () => {
    const { retortCnnContender, tfjsCnnContender } = await import('../src/bench/cnn-contenders.js');
    const { runCnnBench } = await import('../src/bench/cnn-step.js');
    const { formatCnnReport } = await import('../src/bench/report.js');
    const { TIMING_PRESETS } = await import('@retort/core-wasm/bench');
    const tfjs = await setupTfjsNode();
    const list = [];
    for (const backend of ['simd', 'scalar', 'js'] as const) {
      if (backend === 'js' || built(backend)) list.push(retortCnnContender(await loadCore({ backend })));
    }
    list.push(tfjsCnnContender(tfjs.tf, { name: 'tfjs-wasm', backend: 'wasm' }), tfjsCnnContender(tfjs.tf, { name: 'tfjs-cpu', backend: 'cpu' }));
    const before = tfjs.tf.memory().numTensors;
    const r = await runCnnBench(list, { model: 'lenet5:input=12x12x1,classes=10,width=0.5', batch: 8, timing: TIMING_PRESETS.quick, peakGflops: 10 });
    expect(tfjs.tf.memory().numTensors).toBe(before);
    expect(r.contenders.find((c) => c.name === 'tfjs-wasm')!.cannotTrain).toMatch(/Conv2DBackpropFilter/);
    expect(r.step.map((e) => e.contender)).toEqual(list.map((c) => c.name).filter((n) => n !== 'tfjs-wasm'));
    expect(r.forward.map((e) => e.contender)).toEqual(list.map((c) => c.name));
    for (const s of r.sanity) {
      expect(s.forwardDeviation).toBeLessThan(1e-4);
      if (s.contender === 'tfjs-wasm') { expect(s.losses).toEqual([]); continue; }
      expect(s.losses[3]!).toBeLessThan(s.losses[0]!);
      expect(s.deviation).toBeLessThan(1e-4);
    }
    for (const e of [...r.step, ...r.forward]) { positive(e.samplesPerSec); positive(e.gflops); expect(e.fractionOfPeak).toBeCloseTo(e.gflops / 10, 10); }
    expect(r.problem.stepFlop).toBeGreaterThan(2 * r.problem.forwardFlop);
    const text = formatCnnReport(r);
    for (const n of list.map((c) => c.name)) expect(text).toContain(n);
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
  }, 120_000);
});

describe('Transformer training-step benchmark (quick problem)', () => {
  it('the tfjs network written from tf ops computes what the model computes; tfjs-cpu trains the same step, tfjs-wasm with its embedding frozen (said so)', async () => {
    const { retortCnnContender, tfjsCnnContender } = await import('../src/bench/cnn-contenders.js');
    const { runCnnBench } = await import('../src/bench/cnn-step.js');
    const { formatCnnReport } = await import('../src/bench/report.js');
    const { runAttentionBench, formatAttentionReport } = await import('../src/bench/attention.js');
    const { TIMING_PRESETS } = await import('@retort/core-wasm/bench');
    const tfjs = await setupTfjsNode();
    const list = [retortCnnContender(await loadCore({ backend: 'js' })), tfjsCnnContender(tfjs.tf, { name: 'tfjs-wasm', backend: 'wasm' }), tfjsCnnContender(tfjs.tf, { name: 'tfjs-cpu', backend: 'cpu' })];
    if (built('simd')) list.unshift(retortCnnContender(await loadCore({ backend: 'simd' })));
    const before = tfjs.tf.memory().numTensors;
    const r = await runCnnBench(list, { model: 'transformer-s:input=12,classes=3,vocab=40,layers=2,dim=16,heads=2', kind: 'transformer', batch: 4, timing: TIMING_PRESETS.quick, peakGflops: 10 });
    expect(tfjs.tf.memory().numTensors).toBe(before);
    expect(r.contenders.find((c) => c.name === 'tfjs-wasm')!.note).toMatch(/embedding frozen: no 'UnsortedSegmentSum'/);
    expect(r.contenders.find((c) => c.name === 'tfjs-cpu')!.note).toBeUndefined();
    for (const s of r.sanity) {
      expect(s.forwardDeviation, s.contender).toBeLessThan(1e-4);
      expect(s.losses[3]!).toBeLessThan(s.losses[0]!);
      expect(s.deviation, s.contender).toBeLessThan(1e-4); // tfjs-cpu trains the embedding too: every loss agrees
    }
    expect(r.targets.map((t) => t.name)).toEqual(built('simd') ? ['Transformer training step (simd) vs tfjs-wasm'] : []);
    expect(formatCnnReport(r, 'Transformer training step')).toMatch(/^Transformer training step: transformer-s/);
    if (built('simd')) {
      const core = await loadCore({ backend: 'simd' });
      const a = await runAttentionBench(core, { batch: 2, length: 8, dim: 16, heads: 2, timing: TIMING_PRESETS.quick, peakGflops: 10 });
      // projections 4·L·D² and Q Kᵀ + P V 2·L²·D per sample, forward and twice that backward
      expect(a.flop).toBe(3 * 2 * 2 * (8 * 4 * 16 * 16 + 2 * 8 * 8 * 16));
      expect(a.fractionOfPeak).toBeCloseTo(a.gflops / 10, 10);
      expect(formatAttentionReport(a)).toMatch(/of the SIMD peak/);
    }
  }, 120_000);
});

describe('threads section: the steps back to back on each thread count', () => {
  it('times the same step on 1 and 2 threads, the same losses on both, and takes the round-robin speed-up and the tfjs ratio from the table', async () => {
    const { runThreadsStep } = await import('../src/bench/threads.js');
    const cores = [await loadCore({ backend: 'simd' }), await loadCore({ backend: 'simd', threads: 2 })];
    try {
      const problem = makeStepProblem({ sizes: [37, 30, 22, 10], batch: 13, temperature: 4, alpha: 0.9, lr: 1e-3, seed: 5 });
      const losses: number[][] = [];
      let disposed = 0;
      const r = runThreadsStep('MLP step', cores, (core) => {
        const w = retortStepContender(core).prepare(problem);
        const mine: number[] = [];
        losses.push(mine);
        return { step: () => { mine.push(w.step()); }, dispose: () => { disposed++; w.dispose(); } };
      }, (c) => ({ simd: 8, 'simd-2t': 5, 'tfjs-wasm': 40 } as Record<string, number>)[c], { quick: true });
      expect(disposed).toBe(2);
      // each core ran the same steps from the same weights: the same losses, bit for bit
      expect(losses[0]!.length).toBeGreaterThan(3);
      const n = Math.min(losses[0]!.length, losses[1]!.length);
      expect(losses[1]!.slice(0, n)).toEqual(losses[0]!.slice(0, n));
      positive(r.ms['1']!); positive(r.ms['2']!);
      expect(r.speedup['2']).toBeCloseTo(r.ms['1']! / r.ms['2']!, 12);
      expect(r.roundRobinSpeedup).toEqual({ 2: 8 / 5 });
      expect(r.vsTfjsWasm).toEqual({ 1: 40 / 8, 2: 40 / 5 });
    } finally {
      for (const c of cores) c.close();
    }
  });
});
