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
import { loadCore, type Core } from '@retort/core-wasm';
import { TIMING_PRESETS } from '@retort/core-wasm/bench';
import { retortCnnContender, tfjsCnnContender } from './cnn-contenders.js';
import { runCnnBench, type CnnBenchResult, type CnnContender } from './cnn-step.js';
import { runStepBench, type StepContender } from './step.js';

const USAGE = `usage: node dist/bench/cli.js [--quick] [--json] [--out FILE [--merge-out]] [--skip-tfjs] [--skip-tfjs-cpu] [--skip-cnn]

  One full training step (forward, fused KD loss, backward, AdamW) of the 784-800-800-10
  student at batch 128 on simd, scalar and js, beside the same step in TensorFlow.js; then
  the same for a CNN student (LeNet-5), with its forward pass beside tfjs-backend-wasm's.

  --quick          a small net, few repetitions (seconds; for CI), instead of the full run
  --json           print the JSON result instead of the table
  --out FILE       also write the JSON result to FILE
  --merge-out      if FILE already holds the kernel benchmark's result (retort-bench/1, as
                   \`npm run bench\` writes it just before), add this result to it as
                   \`trainingStep\` instead of replacing the file
  --skip-tfjs      do not load TensorFlow.js (no baseline ratio or target)
  --skip-tfjs-cpu  leave out tfjs's cpu backend (the slowest contender, there for reference)
  --skip-cnn       leave out the CNN step
  --help           this text`;

async function main(): Promise<void> {
  const parsed = parseBenchArgs('retort step bench', USAGE, ['merge-out', 'skip-tfjs-cpu', 'skip-cnn']);
  const args = { ...parsed, mergeOut: parsed.flags['merge-out'] === true, skipTfjsCpu: parsed.flags['skip-tfjs-cpu'] === true, skipCnn: parsed.flags['skip-cnn'] === true };
  const log = (m: string): void => { process.stderr.write(`${m}\n`); };
  const contenders: StepContender[] = await backendContenders(retortStepContender, log);
  const cnnContenders: CnnContender[] = await backendContenders(retortCnnContender, log);
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
  if (!args.skipCnn) {
    const core = await loadCore({ backend: 'simd' }).catch(() => null);
    const peak = core ? measurePeak(core) : null;
    log(`retort cnn step bench: ${args.quick ? 'quick' : 'full'} run${peak ? `, SIMD peak ${peak.toFixed(2)} GFLOP/s` : ''}`);
    cnn = await runCnnBench(cnnContenders, {
      model: args.quick ? 'lenet5:input=12x12x1,classes=10,width=0.5' : 'lenet5:input=28x28x1,classes=10',
      batch: args.quick ? 16 : 128, timing: TIMING_PRESETS[args.quick ? 'quick' : 'full'], peakGflops: peak, onProgress: log,
    });
  }
  const full = cnn ? { ...result, cnnStep: cnn } : result;
  const json = `${JSON.stringify(full, null, 2)}\n`;
  if (args.out) {
    const path = resolve(args.out);
    const kernels = args.mergeOut ? await readKernelResult(path) : null;
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, kernels ? `${JSON.stringify({ ...kernels, trainingStep: full }, null, 2)}\n` : json);
    log(kernels ? `added the training step to ${path}` : `wrote ${path}`);
  }
  process.stdout.write(args.json ? json : `${formatStepReport(result)}\n${cnn ? `\n${formatCnnReport(cnn)}\n` : ''}`);
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
