#!/usr/bin/env node
// The Node runner of the benchmark: loads our three backends and TensorFlow.js, runs
// the suite (harness.ts) and prints a table, or the JSON result with --json.
// Progress goes to stderr so that `--json > result.json` stays clean.

import { stat, mkdir, writeFile } from 'node:fs/promises';
import { setFlagsFromString } from 'node:v8';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { backendContenders, benchEnvironment, parseBenchArgs } from './node.js';
import { coreContender, formatReport, runSuite, type Contender } from './harness.js';

const USAGE = `usage: node dist/bench/cli.js [--quick] [--json] [--out FILE] [--skip-tfjs]

  --quick       small shapes, few repetitions (seconds; for CI), instead of the full run (minutes)
  --json        print the JSON result instead of the table
  --out FILE    also write the JSON result to FILE
  --skip-tfjs   do not load TensorFlow.js (no baseline ratios or targets)
  --help        this text`;

async function fileSize(url: URL): Promise<number | undefined> {
  try { return (await stat(fileURLToPath(url))).size; } catch { return undefined; }
}

// Node 20 validates relaxed SIMD only behind this V8 flag (set before the first module compiles)
setFlagsFromString('--experimental-wasm-relaxed-simd');

async function main(): Promise<void> {
  const args = parseBenchArgs('retort bench', USAGE);
  const log = (m: string): void => { process.stderr.write(`${m}\n`); };
  // the opt-in relaxed build beside the three: relaxed against plain SIMD, side by side
  const contenders: Contender[] = await backendContenders(coreContender, log, ['simd', 'scalar', 'js', 'relaxed']);
  const environment = benchEnvironment();
  if (!args.skipTfjs) {
    const { setupTfjs } = await import('./tfjs-node.js');
    const tfjs = await setupTfjs();
    contenders.push(...tfjs.contenders);
    Object.assign(environment, tfjs.environment);
    for (const w of tfjs.warnings) log(`warning: ${w}`);
  }
  const wasmBytes: { simd?: number; scalar?: number } = {};
  for (const v of ['simd', 'scalar'] as const) {
    const size = await fileSize(new URL(`../../build/retort.${v}.wasm`, import.meta.url));
    if (size !== undefined) wasmBytes[v] = size;
  }

  log(`retort bench: ${args.quick ? 'quick' : 'full'} run, contenders: ${contenders.map((c) => c.name).join(', ')}`);
  const result = await runSuite(contenders, { mode: args.quick ? 'quick' : 'full', wasmBytes, environment, onProgress: log });

  const json = `${JSON.stringify(result, null, 2)}\n`;
  if (args.out) {
    const path = resolve(args.out);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, json);
    log(`wrote ${path}`);
  }
  process.stdout.write(args.json ? json : `${formatReport(result)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`retort bench: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
