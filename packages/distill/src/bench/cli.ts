#!/usr/bin/env node
// The Node runner of the training-step benchmark: our three backends and TensorFlow.js
// (core-wasm's tfjs setup: wasm one thread with SIMD, and cpu), one run (step.ts), a
// table or, with --json, the JSON result. Progress goes to stderr so that
// `--json > result.json` stays clean.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { backendContenders, benchEnvironment, parseBenchArgs } from '@retort/core-wasm/bench/node';

import { retortStepContender } from './contenders.js';
import { formatStepReport } from './report.js';
import { runStepBench, type StepContender } from './step.js';

const USAGE = `usage: node dist/bench/cli.js [--quick] [--json] [--out FILE [--merge-out]] [--skip-tfjs] [--skip-tfjs-cpu]

  One full training step (forward, fused KD loss, backward, AdamW) of the 784-800-800-10
  student at batch 128 on simd, scalar and js, beside the same step in TensorFlow.js.

  --quick          a small net, few repetitions (seconds; for CI), instead of the full run
  --json           print the JSON result instead of the table
  --out FILE       also write the JSON result to FILE
  --merge-out      if FILE already holds the kernel benchmark's result (retort-bench/1, as
                   \`npm run bench\` writes it just before), add this result to it as
                   \`trainingStep\` instead of replacing the file
  --skip-tfjs      do not load TensorFlow.js (no baseline ratio or target)
  --skip-tfjs-cpu  leave out tfjs's cpu backend (the slowest contender, there for reference)
  --help           this text`;

async function main(): Promise<void> {
  const parsed = parseBenchArgs('retort step bench', USAGE, ['merge-out', 'skip-tfjs-cpu']);
  const args = { ...parsed, mergeOut: parsed.flags['merge-out'] === true, skipTfjsCpu: parsed.flags['skip-tfjs-cpu'] === true };
  const log = (m: string): void => { process.stderr.write(`${m}\n`); };
  const contenders: StepContender[] = await backendContenders(retortStepContender, log);
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
    Object.assign(environment, tfjs.environment);
    environment['tfjs gradient rules'] = "tfjs's own (registered by @tensorflow/tfjs)";
    for (const w of tfjs.warnings) log(`warning: ${w}`);
  }

  log(`retort step bench: ${args.quick ? 'quick' : 'full'} run, contenders: ${contenders.map((c) => c.name).join(', ')}`);
  const result = await runStepBench(contenders, { mode: args.quick ? 'quick' : 'full', environment, onProgress: log });

  const json = `${JSON.stringify(result, null, 2)}\n`;
  if (args.out) {
    const path = resolve(args.out);
    const kernels = args.mergeOut ? await readKernelResult(path) : null;
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, kernels ? `${JSON.stringify({ ...kernels, trainingStep: result }, null, 2)}\n` : json);
    log(kernels ? `added the training step to ${path}` : `wrote ${path}`);
  }
  process.stdout.write(args.json ? json : `${formatStepReport(result)}\n`);
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
