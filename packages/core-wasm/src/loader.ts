// loadCore: picks a backend, compiles (once per variant) and instantiates the module
// over a fresh WebAssembly.Memory that the Core owns, and wraps it.
import { KERNEL_NAMES, KERNELS, type RawKernels } from './kernels/list.js';
import { createJsKernels } from './backends/js/index.js';
import { Core, type BackendName } from './core.js';
import { compileWasm, type WasmVariant } from '#wasm-source';
import { hasSimd } from './simd.js';

export { hasSimd };

export interface LoadOptions {
  /** 'auto' (default) picks 'simd' when the engine validates a SIMD module, else 'scalar'. */
  backend?: 'auto' | BackendName;
  /** Initial memory in 64 KiB pages (default 64 = 4 MiB, grown on demand). */
  initialPages?: number;
  /** Maximum memory in 64 KiB pages (default 65536 = 4 GiB). */
  maximumPages?: number;
  /** Precompiled module or bytes for the chosen wasm variant, for bundlers that inline assets. */
  wasm?: WebAssembly.Module | BufferSource;
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
  if (!['auto', 'simd', 'scalar', 'js'].includes(requested)) {
    throw new RangeError(`loadCore: backend must be 'auto', 'simd', 'scalar' or 'js', got ${String(requested)}`);
  }
  const backend: BackendName = requested === 'auto' ? (hasSimd() ? 'simd' : 'scalar') : requested;
  if (backend === 'simd' && !hasSimd()) {
    throw new Error("loadCore: backend 'simd' requested but this engine does not support WebAssembly SIMD; use 'auto' or 'scalar'");
  }
  const initial = options.initialPages ?? 64;
  const maximum = options.maximumPages ?? 65536;
  const memory = new WebAssembly.Memory({ initial, maximum });

  let kernels: RawKernels;
  if (backend === 'js') {
    kernels = createJsKernels(memory);
  } else {
    let module: WebAssembly.Module;
    if (options.wasm instanceof WebAssembly.Module) module = options.wasm;
    else if (options.wasm) module = await WebAssembly.compile(options.wasm);
    else module = await moduleFor(backend);
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
  return new Core(backend, kernels, memory);
}
