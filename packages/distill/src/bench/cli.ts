#!/usr/bin/env node
// The Node runner of the training-step benchmark: our three backends and TensorFlow.js
// (core-wasm's tfjs setup: wasm one thread with SIMD, and cpu), one run (step.ts), a
// table or, with --json, the JSON result. Progress goes to stderr so that
// `--json > result.json` stays clean.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { backendContenders, benchEnvironment, parseBenchArgs } from '@retort/core-wasm/bench/node';

import { retortStepContender } from './contenders.js';
import { formatCnnReport, formatStepReport } from './report.js';
import { canShareMemory, loadCore, type Core } from '@retort/core-wasm';
import { availableParallelism } from 'node:os';
import { formatThreadsReport, runThreadsKernels, runThreadsStep, threadsTargets, type ThreadsBenchResult } from './threads.js';
import { TIMING_PRESETS } from '@retort/core-wasm/bench';
import { retortCnn, retortCnnContender, tfjsCnnContender } from './cnn-contenders.js';
import { makeCnnStepProblem, runCnnBench, type CnnBenchResult, type CnnContender } from './cnn-step.js';
import { makeStepProblem, runStepBench, type StepContender } from './step.js';
import { formatAttentionReport, runAttentionBench, type AttentionBenchResult } from './attention.js';

const USAGE = `usage: node dist/bench/cli.js [--quick] [--json] [--out FILE [--merge-out]] [--skip-tfjs] [--skip-tfjs-cpu] [--skip-cnn] [--skip-transformer]

  One full training step (forward, fused KD loss, backward, AdamW) of the 784-800-800-10
  student at batch 128 on simd, scalar and js, beside the same step in TensorFlow.js; then
  the same for a CNN student (LeNet-5), with its forward pass beside tfjs-backend-wasm's; then
  a Transformer student's step, and attention forward+backward against the SIMD peak.

  --quick          a small net, few repetitions (seconds; for CI), instead of the full run
  --json           print the JSON result instead of the table
  --out FILE       also write the JSON result to FILE
  --merge-out      if FILE already holds the kernel benchmark's result (retort-bench/1, as
                   \`npm run bench\` writes it just before), add this result to it as
                   \`trainingStep\` instead of replacing the file
  --skip-tfjs      do not load TensorFlow.js (no baseline ratio or target)
  --skip-tfjs-cpu  leave out tfjs's cpu backend (the slowest contender, there for reference)
  --skip-cnn       leave out the CNN step
  --skip-threads   leave out the threaded simd contenders (2 threads and every core) and the
                   threads section (sgemm, teacher caching and the steps, 1 vs N threads)
  --skip-transformer  leave out the Transformer step (transformer-s, batch 32, 128 tokens, beside
                   the same network in tfjs ops) and attention forward+backward at the teacher's shapes
  --help           this text`;

async function main(): Promise<void> {
  const parsed = parseBenchArgs('retort step bench', USAGE, ['merge-out', 'skip-tfjs-cpu', 'skip-cnn', 'skip-transformer', 'skip-threads']);
  const args = { ...parsed, mergeOut: parsed.flags['merge-out'] === true, skipTfjsCpu: parsed.flags['skip-tfjs-cpu'] === true, skipCnn: parsed.flags['skip-cnn'] === true,
    skipTransformer: parsed.flags['skip-transformer'] === true, skipThreads: parsed.flags['skip-threads'] === true };
  const log = (m: string): void => { process.stderr.write(`${m}\n`); };
  const contenders: StepContender[] = await backendContenders(retortStepContender, log);
  const cnnContenders: CnnContender[] = await backendContenders(retortCnnContender, log);
  // threaded simd beside the one-thread backends: 2 threads and every core (the same bits)
  const threadCounts = args.skipThreads || !canShareMemory() ? [] : [...new Set([2, availableParallelism()])].filter((t) => t > 1);
  const threadedCores: Core[] = [];
  for (const t of threadCounts) {
    const core = await loadCore({ backend: 'simd', threads: t });
    threadedCores.push(core);
    contenders.push(retortStepContender(core, `simd-${t}t`));
    cnnContenders.push(retortCnnContender(core, `simd-${t}t`));
  }
  const environment = benchEnvironment();
  if (!args.skipTfjs) {
    const { setupTfjsNode } = await import('@retort/core-wasm/bench/node');
    const { tfjsStepContender } = await import('./tfjs-step.js');
    // tfjs-core alone registers no gradient rules; the @tensorflow/tfjs bundle registers
    // all of tfjs's own (its registries are global, so tfjs-core's autograd sees them)
    await import('@tensorflow/tfjs');
    const tfjs = await setupTfjsNode();
    contenders.push(tfjsStepContender(tfjs.tf, { name: 'tfjs-wasm', backend: 'wasm' }));
    if (!args.skipTfjsCpu) contenders.push(tfjsStepContender(tfjs.tf, { name: 'tfjs-cpu', backend: 'cpu' }));
    cnnContenders.push(tfjsCnnContender(tfjs.tf, { name: 'tfjs-wasm', backend: 'wasm' }));
    if (!args.skipTfjsCpu) cnnContenders.push(tfjsCnnContender(tfjs.tf, { name: 'tfjs-cpu', backend: 'cpu' }));
    Object.assign(environment, tfjs.environment);
    environment['tfjs gradient rules'] = "tfjs's own (registered by @tensorflow/tfjs)";
    for (const w of tfjs.warnings) log(`warning: ${w}`);
  }

  log(`retort step bench: ${args.quick ? 'quick' : 'full'} run, contenders: ${contenders.map((c) => c.name).join(', ')}`);
  const result = await runStepBench(contenders, { mode: args.quick ? 'quick' : 'full', environment, onProgress: log });

  let cnn: CnnBenchResult | null = null;
  const simdCore = await loadCore({ backend: 'simd' }).catch(() => null);
  const peak = simdCore && (!args.skipCnn || !args.skipTransformer) ? measurePeak(simdCore) : null;
  if (!args.skipCnn) {
    log(`retort cnn step bench: ${args.quick ? 'quick' : 'full'} run${peak ? `, SIMD peak ${peak.toFixed(2)} GFLOP/s` : ''}`);
    cnn = await runCnnBench(cnnContenders, {
      model: args.quick ? 'lenet5:input=12x12x1,classes=10,width=0.5' : 'lenet5:input=28x28x1,classes=10',
      batch: args.quick ? 16 : 128, timing: TIMING_PRESETS[args.quick ? 'quick' : 'full'], peakGflops: peak, onProgress: log,
    });
  }
  let transformer: CnnBenchResult | null = null, attention: AttentionBenchResult | null = null;
  if (!args.skipTransformer) {
    const model = args.quick ? 'transformer-s:input=16,classes=2,vocab=64,layers=1,dim=16,heads=2' : 'transformer-s:input=128,classes=2,vocab=4096';
    log(`retort transformer step bench: ${args.quick ? 'quick' : 'full'} run, ${model}`);
    // the MLP and CNN contenders, on a text model (cnn-contenders.ts writes the text layers out in tfjs)
    transformer = await runCnnBench(cnnContenders, { model, kind: 'transformer', batch: args.quick ? 4 : 32, timing: TIMING_PRESETS[args.quick ? 'quick' : 'full'], peakGflops: peak, onProgress: log });
    if (simdCore) {
      log('retort attention bench: forward + backward at the teacher\'s shapes');
      attention = await runAttentionBench(simdCore, { ...(args.quick ? { batch: 2, length: 16, dim: 32, heads: 2 } : { batch: 32, length: 128, dim: 256, heads: 4 }),
        timing: TIMING_PRESETS[args.quick ? 'quick' : 'full'], peakGflops: peak });
    }
  }
  let threads: ThreadsBenchResult | null = null;
  if (threadedCores.length > 0 && simdCore) {
    log(`retort threads bench: sgemm and teacher caching on 1, ${threadCounts.join(', ')} threads`);
    const counts = [1, ...threadCounts];
    const cores = [simdCore, ...threadedCores];
    const rows = runThreadsKernels(cores, { quick: args.quick });
    // the steps again, back to back on each core count (threads.ts says why), the same problems as the tables
    log('retort threads bench: the training steps back to back on each thread count');
    const q = result.problem;
    const mlpProblem = makeStepProblem({ sizes: q.sizes, batch: q.batch, temperature: q.temperature, alpha: q.alpha, lr: q.lr, seed: q.seed });
    rows.push(runThreadsStep(`MLP step (${q.model}, batch ${q.batch})`, cores, (core) => retortStepContender(core).prepare(mlpProblem),
      (c) => result.entries.find((e) => e.contender === c)?.msPerStep, { quick: args.quick }));
    for (const [label, r] of [['CNN step', cnn], ['Transformer step', transformer]] as const) {
      if (!r) continue;
      const { model, batch, seed, temperature, alpha } = r.problem;
      const problem = makeCnnStepProblem({ model, batch, seed, temperature, alpha });
      rows.push(runThreadsStep(`${label} (${r.problem.model}, batch ${r.problem.batch})`, cores,
        (core) => { const w = retortCnn(core, problem); return { step: w.step!, dispose: w.dispose }; }, (c) => r.step.find((e) => e.contender === c)?.ms, { quick: args.quick }));
    }
    threads = { schema: 'retort-threads-bench/1', counts, rows, targets: threadsTargets(rows),
      tfjsThreads: 'tfjs-backend-wasm runs on one thread here: its threaded build (setThreadsCount) does not start under Node (Emscripten starts its pthread workers from a blob: URL, which worker_threads refuses: ERR_WORKER_PATH), so the comparison is our threads against its one' };
  }
  for (const c of threadedCores) c.close();
  const full = { ...result, ...(cnn ? { cnnStep: cnn } : {}), ...(transformer ? { transformerStep: transformer } : {}), ...(attention ? { attention } : {}), ...(threads ? { threads } : {}) };
  const json = `${JSON.stringify(full, null, 2)}\n`;
  if (args.out) {
    const path = resolve(args.out);
    const kernels = args.mergeOut ? await readKernelResult(path) : null;
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, kernels ? `${JSON.stringify({ ...kernels, trainingStep: full }, null, 2)}\n` : json);
    log(kernels ? `added the training step to ${path}` : `wrote ${path}`);
  }
  process.stdout.write(args.json ? json : `${formatStepReport(result)}\n${cnn ? `\n${formatCnnReport(cnn)}\n` : ''}`
    + `${transformer ? `\n${formatCnnReport(transformer, 'Transformer training step')}\n` : ''}${attention ? `\n${formatAttentionReport(attention)}\n` : ''}`
    + `${threads ? `\n${formatThreadsReport(threads)}\n` : ''}`);
}

/** The SIMD peak in GFLOP/s: the best of five runs of the core's register-resident multiply-add probe. */
function measurePeak(core: Core): number {
  const k = core.kernels;
  const iters = 2_000_000;
  k.peakProbe(iters / 10); // warm up
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    k.peakProbe(iters);
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return (iters * k.peakProbeFlopsPerIter()) / best / 1e9;
}

/** The kernel benchmark's JSON result in `path`, or null (no file, or something else). */
async function readKernelResult(path: string): Promise<Record<string, unknown> | null> {
  let text: string;
  try { text = await readFile(path, 'utf8'); } catch { return null; }
  try {
    const parsed: unknown = JSON.parse(text);
    const isKernel = typeof parsed === 'object' && parsed !== null && (parsed as { schema?: unknown }).schema === 'retort-bench/1';
    return isKernel ? parsed as Record<string, unknown> : null;
  } catch {
    return null;
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`retort step bench: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
