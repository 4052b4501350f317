// The benchmark harness in quick mode: every contender shows up in every table it
// takes part in, every figure is finite and positive, the result survives JSON.
// No timing is asserted (CI machines are noisy); only structure and accuracy.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadCore } from '../src/loader.js';
import { coreContender, formatReport, runSuite, type Contender, type SuiteResult } from '../src/bench/harness.js';
import { setupTfjs } from '../src/bench/tfjs-node.js';

const built = (v: string): boolean => existsSync(new URL(`../build/retort.${v}.wasm`, import.meta.url));

async function contenders(): Promise<Contender[]> {
  const list: Contender[] = [];
  for (const backend of ['simd', 'scalar', 'js'] as const) {
    if (backend === 'js' || built(backend)) list.push(coreContender(await loadCore({ backend })));
  }
  list.push(...(await setupTfjs()).contenders);
  return list;
}

function positive(x: number): void {
  expect(Number.isFinite(x)).toBe(true);
  expect(x).toBeGreaterThan(0);
}

describe('benchmark harness (quick mode)', () => {
  let result: SuiteResult;
  let names: string[];

  it('runs the whole suite', async () => {
    const list = await contenders();
    names = list.map((c) => c.name);
    result = await runSuite(list, { mode: 'quick', wasmBytes: { simd: 1000, scalar: 900 } });
    expect(result.mode).toBe('quick');
    expect(result.contenders.map((c) => c.name)).toEqual(names);
    positive(result.durationMs);
  });

  it('has a peak for every core backend', () => {
    const cores = names.filter((n) => ['simd', 'scalar', 'js'].includes(n));
    expect(result.peak.map((p) => p.contender)).toEqual(cores);
    for (const p of result.peak) positive(p.gflops);
    if (cores.includes('simd')) positive(result.peakGflops!);
  });

  it('times every contender on every GEMM case, with correct results', () => {
    expect(result.gemm).toHaveLength(2 * 3);
    for (const row of result.gemm) {
      expect(row.flop).toBe(2 * row.M * row.N * row.K);
      expect(row.entries.map((e) => e.contender)).toEqual(names);
      for (const e of row.entries) {
        positive(e.gflops); positive(e.stat.medianMs); positive(e.stat.samples); positive(e.stat.callsPerSample);
        expect(e.stat.minMs).toBeLessThanOrEqual(e.stat.medianMs);
        expect(e.stat.medianMs).toBeLessThanOrEqual(e.stat.maxMs);
        expect(e.error).toBeLessThan(1e-4);
        if (result.peakGflops !== null) positive(e.fractionOfPeak!);
      }
    }
  });

  it('times every loss contender on every loss case, with correct values and gradients', () => {
    expect(result.losses).toHaveLength(2 * 3);
    const lossNames = names.filter((n) => n !== 'tfjs-wasm-resident');
    for (const row of result.losses) {
      expect(row.entries.map((e) => e.contender)).toEqual(lossNames);
      for (const e of row.entries) {
        positive(e.usPerCall);
        expect(e.error).toBeLessThan(1e-4);
      }
    }
  });

  it('times conv2d forward / backward-data / backward-filter on every contender that has them, with correct results', () => {
    expect(result.conv).toHaveLength(2 * 3); // quick mode: two layers, three passes each
    const convNames = names.filter((n) => n !== 'tfjs-wasm-resident');
    for (const row of result.conv) {
      const g = row.geometry;
      expect(row.flop).toBe(2 * g.B * g.OH * g.OW * g.KH * g.KW * (g.C / g.G) * g.OC);
      // each contender is timed or listed as unavailable with a reason, never both, never a 0 figure
      expect([...row.entries.map((e) => e.contender), ...row.unavailable.map((u) => u.contender)].sort()).toEqual([...convNames].sort());
      for (const u of row.unavailable) {
        expect(['simd', 'scalar', 'js']).not.toContain(u.contender);
        expect(u.reason).toMatch(/has no \w+ kernel|no grouped/);
      }
      for (const e of row.entries) {
        positive(e.gflops); positive(e.stat.medianMs);
        expect(e.error, `${row.layer} ${row.pass} ${e.contender}`).toBeLessThan(1e-4);
      }
    }
    // each row's fractions are of the peak probe timed in its own rounds, not of the run's first peak
    const peaks = result.conv.map((r) => r.peakGflops);
    for (const [i, row] of result.conv.entries()) {
      positive(peaks[i]!);
      for (const e of row.entries) expect(e.fractionOfPeak!).toBeCloseTo(e.gflops / peaks[i]!, 12);
    }
    expect(new Set([...peaks, result.peakGflops]).size, 'every case timed its own peak').toBeGreaterThan(1);
    // tfjs's wasm backend has no Conv2DBackpropFilter: reported, not timed
    const dw = result.conv.find((r) => r.pass === 'backwardFilter' && r.geometry.G === 1)!;
    if (names.includes('tfjs-wasm')) expect(dw.unavailable.map((u) => u.contender)).toContain('tfjs-wasm');
  });

  it('times batch norm and GELU forward + backward on every contender that has them, with correct results', () => {
    expect(result.layers.map((l) => l.kernel)).toEqual(['batchNorm', 'gelu']);
    const layerNames = names.filter((n) => n !== 'tfjs-wasm-resident');
    for (const row of result.layers) {
      // each contender is either timed or listed as unavailable, with a reason
      expect([...row.entries.map((e) => e.contender), ...row.unavailable.map((u) => u.contender)].sort()).toEqual([...layerNames].sort());
      for (const u of row.unavailable) expect(['simd', 'scalar', 'js']).not.toContain(u.contender);
      for (const e of row.entries) {
        positive(e.usPerCall);
        expect(e.error, `${row.kernel} ${e.contender}`).toBeLessThan(1e-4);
      }
    }
  });

  it('computes ratios and reports every target', () => {
    for (const r of result.ratios) if (r.value !== null) positive(r.value);
    expect(result.targets).toHaveLength(3 + 3 + 2 + 1);
    for (const t of result.targets) expect(['pass', 'fail', 'not measured']).toContain(t.status);
    // Quick mode does not run the headline GEMM shape, but it does run the KD loss shapes.
    const kd = result.targets.filter((t) => t.name.startsWith('fused KD')).map((t) => t.status);
    if (names.includes('simd')) expect(kd).not.toContain('not measured');
    expect(result.targets.at(-1)!.status).toBe('pass');
  });

  it('is JSON-serialisable and prints a table naming every contender', () => {
    expect(JSON.parse(JSON.stringify(result))).toEqual(result);
    const text = formatReport(result);
    for (const n of names) expect(text).toContain(n);
  });
});
