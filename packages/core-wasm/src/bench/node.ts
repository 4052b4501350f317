// '@retort/core-wasm/bench/node': what every Node benchmark runner shares: the three
// backends loaded (a missing one is a warning, not a failure), the environment block of
// the report, and the TensorFlow.js setup (tfjs-node.ts).
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';

export * from './tfjs-node.js';
export { backendContenders } from './backends.js';

/** Node, V8, platform and CPU, for the report header. */
export function benchEnvironment(): Record<string, string | number | boolean> {
  return {
    node: process.version,
    v8: process.versions.v8,
    platform: `${process.platform}-${process.arch}`,
    cpu: `${cpus()[0]?.model ?? 'unknown'} (${cpus().length} logical cores; all timings single-threaded)`,
  };
}

/** The flags every benchmark runner takes, plus its own boolean flags (`extra`). */
export interface BenchArgs { quick: boolean; json: boolean; out?: string; skipTfjs: boolean; flags: Record<string, boolean> }

/**
 * Parses a runner's argv strictly: --quick, --json, --out FILE, --skip-tfjs, --help and the
 * runner's own boolean `extra` flags. An unknown flag or a stray argument is one line on
 * stderr (`<name>: …`) and exit code 2; --help prints `usage` and exits 0.
 */
export function parseBenchArgs(name: string, usage: string, extra: readonly string[] = []): BenchArgs {
  const fail = (message: string): never => {
    process.stderr.write(`${name}: ${message}\n`);
    process.exit(2);
  };
  const options: Record<string, { type: 'boolean' | 'string'; default?: boolean }> = {
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    out: { type: 'string' },
    'skip-tfjs': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  };
  for (const f of extra) options[f] = { type: 'boolean', default: false };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ options, strict: true, allowPositionals: false }));
  } catch (e) {
    const err = e as Error & { code?: string };
    if (err.code?.startsWith('ERR_PARSE_ARGS')) fail(`${err.message.split('. ')[0]!.replace(/\.$/, '')} (see --help)`);
    throw e;
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  if (values.out === '') fail('--out needs a file name');
  const flags: Record<string, boolean> = {};
  for (const f of extra) flags[f] = values[f] === true;
  return {
    quick: values.quick === true, json: values.json === true, skipTfjs: values['skip-tfjs'] === true, flags,
    ...(typeof values.out === 'string' ? { out: values.out } : {}),
  };
}
