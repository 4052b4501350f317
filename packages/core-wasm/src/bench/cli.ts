#!/usr/bin/env node
// The Node runner of the benchmark: loads our three backends and TensorFlow.js, runs
// the suite (harness.ts) and prints a table, or the JSON result with --json.
// Progress goes to stderr so that `--json > result.json` stays clean.

import { stat, mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { backendContenders, benchEnvironment } from './node.js';
import { coreContender, formatReport, runSuite, type Contender } from './harness.js';

const USAGE = `usage: node dist/bench/cli.js [--quick] [--json] [--out FILE] [--skip-tfjs]

  --quick       small shapes, few repetitions (seconds; for CI), instead of the full run (minutes)
  --json        print the JSON result instead of the table
  --out FILE    also write the JSON result to FILE
  --skip-tfjs   do not load TensorFlow.js (no baseline ratios or targets)
  --help        this text`;

function fail(message: string): never {
  process.stderr.write(`retort bench: ${message}\n`);
  process.exit(2);
}

function parse(): { quick: boolean; json: boolean; out?: string; skipTfjs: boolean } {
  try {
    const { values } = parseArgs({
      options: {
        quick: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        out: { type: 'string' },
        'skip-tfjs': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    }
    if (values.out === '') fail('--out needs a file name');
    return { quick: values.quick, json: values.json, skipTfjs: values['skip-tfjs'], ...(values.out ? { out: values.out } : {}) };
  } catch (e) {
    const err = e as Error & { code?: string };
    if (err.code?.startsWith('ERR_PARSE_ARGS')) fail(`${err.message.split('. ')[0]!.replace(/\.$/, '')} (see --help)`);
    throw e;
  }
}

async function fileSize(url: URL): Promise<number | undefined> {
  try { return (await stat(fileURLToPath(url))).size; } catch { return undefined; }
}

async function main(): Promise<void> {
  const args = parse();
  const log = (m: string): void => { process.stderr.write(`${m}\n`); };
  const contenders: Contender[] = await backendContenders(coreContender, log);
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
