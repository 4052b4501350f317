// loadCore: picks a backend, compiles (once per variant) and instantiates the module
// over a fresh WebAssembly.Memory that the Core owns, and wraps it.
import { KERNEL_NAMES, KERNELS, type RawKernels } from './kernels/list.js';
import { createJsKernels } from './backends/js/index.js';
import { Core, type BackendName } from './core.js';
import { compileWasm, type WasmVariant } from '#wasm-source';
import { hasRelaxedSimd, hasSimd } from './simd.js';
import { ThreadPool } from './threads/pool.js';

export { hasRelaxedSimd, hasSimd };

export interface LoadOptions {
  /** 'auto' (default) picks 'simd' when the engine validates a SIMD module, else 'scalar'; 'relaxed' (fused multiply-adds, not bit-portable across CPUs) only when asked. */
  backend?: 'auto' | BackendName;
  /** Initial memory in 64 KiB pages (default 64 = 4 MiB, grown on demand). */
  initialPages?: number;
  /** Maximum memory in 64 KiB pages (default 65536 = 4 GiB). */
  maximumPages?: number;
  /** Precompiled module or bytes for the chosen wasm variant, for bundlers that inline assets. */
  wasm?: WebAssembly.Module | BufferSource;
  /**
   * Threads the big kernels run on (default 1): this one plus threads - 1 helpers over a shared
   * memory (threads/pool.ts); the same bits for every count (threads/parallel.ts). The js
   * backend always runs on one. Needs SharedArrayBuffer (a browser page: cross-origin isolated).
   */
  threads?: number;
  /** Test hook: helper thread 1 fails its job number `failHelperOnJob`. */
  failHelperOnJob?: number;
  /** Test hook: helper thread 1 sleeps this many ms before it takes the parts of each job. */
  slowHelperMs?: number;
}

let defaultThreads = 1;
let defaultHelperFailure: number | undefined;

/**
 * Test hook for whole programs: every core loaded afterwards with threads > 1 has its helper
 * thread 1 fail its job number `job` (as loadCore's failHelperOnJob); undefined turns it off.
 */
export function setHelperFailureForTests(job: number | undefined): void {
  defaultHelperFailure = job;
}

/**
 * The thread count loadCore uses when its options name none (initially 1). A program sets it
 * once (the CLI from --threads) so that every core it loads runs on that many threads.
 */
export function setDefaultThreads(threads: number): void {
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
    throw new RangeError(`threads must be an integer from 1 to 256, got ${String(threads)}`);
  }
  defaultThreads = threads;
}

export function getDefaultThreads(): number { return defaultThreads; }

const openCores = new Set<Core>();

/** Stops the helper threads of every core loaded with threads > 1 (a program's last step; idempotent). */
export function closeAllThreads(): void {
  for (const c of openCores) c.close();
  openCores.clear();
}

/** Whether this runtime can share a WebAssembly memory between threads. */
export function canShareMemory(): boolean {
  if (typeof SharedArrayBuffer !== 'function') return false;
  try {
    const m = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true } as WebAssembly.MemoryDescriptor);
    return m.buffer instanceof SharedArrayBuffer;
  } catch {
    return false;
  }
}

const modules = new Map<WasmVariant, Promise<WebAssembly.Module>>();

function moduleFor(variant: WasmVariant): Promise<WebAssembly.Module> {
  let m = modules.get(variant);
  if (!m) {
    m = compileWasm(variant);
    m.catch(() => modules.delete(variant));
    modules.set(variant, m);
  }
  return m;
}

export async function loadCore(options: LoadOptions = {}): Promise<Core> {
  const requested = options.backend ?? 'auto';
  if (!['auto', 'simd', 'scalar', 'js', 'relaxed'].includes(requested)) {
    throw new RangeError(`loadCore: backend must be 'auto', 'simd', 'scalar', 'js' or 'relaxed', got ${String(requested)}`);
  }
  // 'relaxed' only when asked: its fused multiply-adds make the bits depend on the CPU
  if (requested === 'relaxed' && !hasRelaxedSimd()) {
    throw new Error("loadCore: backend 'relaxed' needs an engine that validates relaxed SIMD (Chrome 114+, Node 22+; "
      + 'Node 20: start node with --experimental-wasm-relaxed-simd); use simd');
  }
  const backend: BackendName = requested === 'auto' ? (hasSimd() ? 'simd' : 'scalar') : requested;
  if (backend === 'simd' && !hasSimd()) {
    throw new Error("loadCore: backend 'simd' requested but this engine does not support WebAssembly SIMD; use 'auto' or 'scalar'");
  }
  const initial = options.initialPages ?? 64;
  const maximum = options.maximumPages ?? 65536;
  const threadsRequested = options.threads ?? defaultThreads;
  if (!Number.isInteger(threadsRequested) || threadsRequested < 1 || threadsRequested > 256) {
    throw new RangeError(`loadCore: threads must be an integer from 1 to 256, got ${String(options.threads)}`);
  }
  const threads = backend === 'js' ? 1 : threadsRequested;
  if (threads > 1 && !canShareMemory()) {
    throw new Error(`loadCore: ${threads} threads need a shared WebAssembly memory, which this runtime does not allow `
      + '(a browser page must be cross-origin isolated: COOP/COEP headers); use threads: 1');
  }
  if (threads > 1 && options.wasm) throw new RangeError('loadCore: a precompiled module (options.wasm) runs on one thread; leave threads at 1');
  const memory = new WebAssembly.Memory({ initial, maximum, ...(threads > 1 ? { shared: true } : {}) } as WebAssembly.MemoryDescriptor);

  let kernels: RawKernels;
  let module: WebAssembly.Module | null = null;
  if (backend === 'js') {
    kernels = createJsKernels(memory);
  } else {
    if (options.wasm instanceof WebAssembly.Module) module = options.wasm;
    else if (options.wasm) module = await WebAssembly.compile(options.wasm);
    else module = await moduleFor(threads > 1 ? `${backend}.mt` as WasmVariant : backend);
    const instance = await WebAssembly.instantiate(module, { env: { memory } });
    const exports = instance.exports as Record<string, unknown>;
    for (const name of KERNEL_NAMES) {
      const fn = exports[name];
      if (typeof fn !== 'function') throw new Error(`loadCore: the ${backend} module does not export kernel '${name}'`);
      const want = KERNELS[name].args.length;
      if (fn.length !== want) throw new Error(`loadCore: the ${backend} module's kernel '${name}' takes ${fn.length} arguments, its descriptor ${want}`);
    }
    kernels = exports as unknown as RawKernels;
  }
  // The module's scratch (GEMM panels) lives below heapBase; make sure memory covers it.
  const need = kernels.heapBase();
  const have = memory.buffer.byteLength;
  if (need > have) memory.grow(Math.ceil((need - have) / 65536));
  const core = new Core(backend, kernels, memory);
  if (threads === 1) return core;
  // helpers: each gets a scratch region of its own from the arena (held for the core's life)
  const scratchBytes = (kernels as unknown as { scratchBytes(): number }).scratchBytes();
  const regions = Array.from({ length: threads - 1 }, () => core.allocU8(scratchBytes + 64));
  let pool: ThreadPool;
  try {
    pool = await ThreadPool.start(threads, module!, memory, (i) => (regions[i]!.ptr + 63) & ~63, KERNEL_NAMES, { failOnJob: options.failHelperOnJob ?? defaultHelperFailure, slowMs: options.slowHelperMs });
  } catch (e) {
    throw new Error(`loadCore: cannot start ${threads - 1} helper thread(s): ${(e as Error).message}`);
  }
  core.useThreads(pool);
  openCores.add(core);
  return core;
}
