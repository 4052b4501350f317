// The engine API that the worker exposes. Pure (no worker globals at import) so Node tests can
// call it directly; src/worker.ts only wires it to comlink. `info` checks the core; the lab's
// methods (src/lab/engine.ts) load MNIST, teachers and run distillations.
import { loadCore, type BackendName, type Core } from '@retort/core-wasm';
import { lab } from './lab/engine.js';

let core: Core | undefined;

export const api = {
  /** Loads the core (once) and reports which backend runs and that a kernel gives the right answer. */
  async info(backend: 'auto' | BackendName = 'auto'): Promise<{ backend: BackendName; check: boolean }> {
    if (!core || (backend !== 'auto' && core.backend !== backend)) core = await loadCore({ backend });
    const c = core.matmul(new Float32Array([1, 2, 3, 4]), new Float32Array([5, 6, 7, 8]), 2, 2, 2);
    return { backend: core.backend, check: c.join(',') === '19,22,43,50' };
  },
  ...lab,
};

export type Api = typeof api;
