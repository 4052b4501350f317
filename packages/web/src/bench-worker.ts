// The benchmark's module Worker (exposed with comlink): the same harness as `npm run bench`
// — core-wasm's kernel suite (runSuite) and distill's training-step benchmark
// (runStepBench) — on our three backends and TensorFlow.js's wasm backend, in this one
// worker thread, so the page's main thread stays free. Only the runner differs from Node's:
// how the contenders are loaded and what the environment block says.

import { expose, proxy, wrap } from 'comlink';
import type { ThreadsBenchApi } from './bench-threads-worker.js';
import { hasSimd } from '@retort/core-wasm';
import simdWasmUrl from '@retort/core-wasm/build/retort.simd.wasm?url';
import scalarWasmUrl from '@retort/core-wasm/build/retort.scalar.wasm?url';
import {
  backendContenders, coreContender, runSuite, tfjsContender, type Contender, type SuiteResult,
} from '@retort/core-wasm/bench';
import { retortStepContender, runStepBench, tfjsStepContender, type StepBenchResult, type StepContender } from '@retort/distill/bench';
import type { Core } from '@retort/distill';

export interface BenchRequest {
  mode: 'quick' | 'full';
  /** Include TensorFlow.js's wasm backend (the baseline of the ratios and targets). */
  tfjs: boolean;
}

/**
 * The kernel suite's result with the training step's added, as `npm run bench -- --out FILE`
 * writes it, and (cross-origin isolated, 2 or more cores) the threads-against-threads step.
 */
export type BenchResult = SuiteResult & { trainingStep: StepBenchResult; threadsStep?: StepBenchResult };

/** The MLP step on 1 and `threads` threads beside tfjs-backend-wasm on `threads`, in a worker of its own. */
async function threadsStep(req: BenchRequest, threads: number, log: (m: string) => void): Promise<StepBenchResult> {
  const worker = new Worker(new URL('./bench-threads-worker.ts', import.meta.url), { type: 'module', name: 'retort-bench-threads' });
  try {
    const api = wrap<ThreadsBenchApi>(worker);
    return await api.run({ mode: req.mode === 'full' ? 'full' : 'quick', threads, tfjs: req.tfjs }, proxy(log));
  } finally {
    worker.terminate(); // its helper threads with it
  }
}

async function wasmSize(url: string): Promise<number | undefined> {
  try {
    const r = await fetch(new URL(url, import.meta.url));
    return r.ok ? (await r.arrayBuffer()).byteLength : undefined;
  } catch {
    return undefined;
  }
}

function browserEnvironment(): Record<string, string | number | boolean> {
  return {
    runner: 'bench.html, one module Worker',
    userAgent: navigator.userAgent,
    cpu: `${navigator.hardwareConcurrency} logical cores; every timing single-threaded but the threads table's`,
    crossOriginIsolated: self.crossOriginIsolated,
    'wasm simd': hasSimd(),
  };
}

export const benchApi = {
  async run(req: BenchRequest, onProgress: (message: string) => void): Promise<BenchResult> {
    const log = (m: string): void => { onProgress(m); };
    const mode = req.mode === 'full' ? 'full' : 'quick';
    // one core per backend, shared by both suites (each loadCore owns its memory)
    const cores = await backendContenders((core: Core) => core, log);
    const kernelContenders: Contender[] = cores.map((core) => coreContender(core));
    const stepContenders: StepContender[] = cores.map((core) => retortStepContender(core));
    const environment = browserEnvironment();
    if (req.tfjs) {
      log('loading TensorFlow.js (wasm backend, one thread)…');
      const { setupTfjsBrowser } = await import('./bench-tfjs.js');
      const tfjs = await setupTfjsBrowser();
      kernelContenders.push(
        tfjsContender(tfjs.tf, { name: 'tfjs-wasm', backend: 'wasm' }),
        tfjsContender(tfjs.tf, { name: 'tfjs-wasm-resident', backend: 'wasm', freshWeights: false, losses: false }),
      );
      stepContenders.push(tfjsStepContender(tfjs.tf, { name: 'tfjs-wasm', backend: 'wasm' }));
      Object.assign(environment, tfjs.environment);
      for (const w of tfjs.warnings) log(`warning: ${w}`);
    }
    const wasmBytes: { simd?: number; scalar?: number } = {};
    const simd = await wasmSize(simdWasmUrl), scalar = await wasmSize(scalarWasmUrl);
    if (simd !== undefined) wasmBytes.simd = simd;
    if (scalar !== undefined) wasmBytes.scalar = scalar;

    log(`kernels (${mode}): ${kernelContenders.map((c) => c.name).join(', ')}`);
    const kernels = await runSuite(kernelContenders, { mode, wasmBytes, environment, onProgress: log });
    log(`training step (${mode}): ${stepContenders.map((c) => c.name).join(', ')}`);
    const trainingStep = await runStepBench(stepContenders, { mode, environment, onProgress: log });
    const threads = Math.min(16, navigator.hardwareConcurrency || 1);
    if (!self.crossOriginIsolated || threads < 2) {
      log(`threads: not measured (${self.crossOriginIsolated ? 'one core' : 'the page is not cross-origin isolated'})`);
      return { ...kernels, trainingStep };
    }
    return { ...kernels, trainingStep, threadsStep: await threadsStep(req, threads, log) };
  },
};

export type BenchApi = typeof benchApi;

expose(benchApi);
