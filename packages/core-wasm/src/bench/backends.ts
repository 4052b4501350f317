// Our three backends loaded as contenders, platform-neutral (Node's runners and the web
// app's benchmark worker share it): a backend that fails to load is logged and skipped.
import { loadCore } from '../loader.js';
import type { BackendName, Core } from '../core.js';

/** Loads simd, scalar and js, mapping each to a contender; backends that fail to load are logged and skipped. */
export async function backendContenders<C>(make: (core: Core) => C, log: (m: string) => void,
                                           backends: readonly BackendName[] = ['simd', 'scalar', 'js']): Promise<C[]> {
  const out: C[] = [];
  for (const backend of backends) {
    try {
      out.push(make(await loadCore({ backend })));
    } catch (e) {
      log(`warning: backend '${backend}' not benchmarked: ${(e as Error).message}`);
    }
  }
  return out;
}
