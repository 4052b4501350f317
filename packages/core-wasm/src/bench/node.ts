// '@retort/core-wasm/bench/node': what every Node benchmark runner shares: the three
// backends loaded (a missing one is a warning, not a failure), the environment block of
// the report, and the TensorFlow.js setup (tfjs-node.ts).
import { cpus } from 'node:os';
import { loadCore } from '../loader.js';
import type { BackendName, Core } from '../core.js';

export * from './tfjs-node.js';

/** Loads simd, scalar and js, mapping each to a contender; backends that fail to load are logged and skipped. */
export async function backendContenders<C>(make: (core: Core) => C, log: (m: string) => void): Promise<C[]> {
  const out: C[] = [];
  for (const backend of ['simd', 'scalar', 'js'] as const satisfies readonly BackendName[]) {
    try {
      out.push(make(await loadCore({ backend })));
    } catch (e) {
      log(`warning: backend '${backend}' not benchmarked: ${(e as Error).message}`);
    }
  }
  return out;
}

/** Node, V8, platform and CPU, for the report header. */
export function benchEnvironment(): Record<string, string | number | boolean> {
  return {
    node: process.version,
    v8: process.versions.v8,
    platform: `${process.platform}-${process.arch}`,
    cpu: `${cpus()[0]?.model ?? 'unknown'} (${cpus().length} logical cores; all timings single-threaded)`,
  };
}
