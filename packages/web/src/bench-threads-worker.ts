// Threads against threads, in its own module Worker (exposed with comlink; bench-worker.ts
// starts it after the one-thread suite): tfjs-backend-wasm reads its thread count once per
// worker, so its threaded build (setThreadsCount) gets a worker of its own. The MLP training step
// of the step benchmark on our simd build on one thread and on N threads (module Workers over a
// shared memory, the same bits) beside tfjs-backend-wasm's threaded build asked for N threads,
// interleaved as always. (Measured in headless Chromium 156: tfjs loads its threaded binary here
// but its XNNPACK pool reports one thread inside a module Worker; the environment block says
// what it reports, and the contender is named for the build, not for a count it may not reach.)
import { expose } from 'comlink';
import { loadCore } from '@retort/core-wasm';
import { retortStepContender, runStepBench, tfjsStepContender, type StepBenchResult, type StepContender } from '@retort/distill/bench';

export const threadsBenchApi = {
  async run(req: { mode: 'quick' | 'full'; threads: number; tfjs: boolean }, onProgress: (message: string) => void): Promise<StepBenchResult> {
    const t = req.threads;
    const contenders: StepContender[] = [
      retortStepContender(await loadCore({ backend: 'simd', threads: 1 }), 'simd'),
      retortStepContender(await loadCore({ backend: 'simd', threads: t }), `simd-${t}t`),
    ];
    const environment: Record<string, string | number | boolean> = { 'threads table: runner': 'a module Worker of its own', 'threads table: threads': t };
    if (req.tfjs) {
      onProgress(`loading TensorFlow.js (wasm backend, ${t} threads)…`);
      const { setupTfjsBrowser } = await import('./bench-tfjs.js');
      const tfjs = await setupTfjsBrowser(t);
      contenders.push(tfjsStepContender(tfjs.tf, { name: 'tfjs-wasm-threaded', backend: 'wasm' }));
      for (const [k, v] of Object.entries(tfjs.environment)) environment[`threads table: ${k}`] = v;
      for (const w of tfjs.warnings) onProgress(`warning: ${w}`);
    }
    onProgress(`threads (${req.mode}): ${contenders.map((c) => c.name).join(', ')}`);
    return runStepBench(contenders, { mode: req.mode, environment, onProgress, ours: `simd-${t}t`, baseline: 'tfjs-wasm-threaded', reference: 'simd' });
  },
};

export type ThreadsBenchApi = typeof threadsBenchApi;

expose(threadsBenchApi);
