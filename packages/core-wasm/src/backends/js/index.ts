// The js backend: every kernel of the raw ABI (../../abi.ts) in plain TypeScript over the
// loader's shared linear memory. It is the conformance reference for the wasm builds and the
// "plain JS" side of the benchmarks, so it is written to be fast within plain code
// (register-tiled GEMM, no allocation per call), not as a strawman.
// One file per op group, mirroring assembly/kernels/; memory.ts holds the view accessor.
// Which function implements which kernel is stated once, in ../../kernels/list.ts; here each is
// bound to one memory's views.

import { KERNELS, KERNEL_NAMES, type RawKernels } from '../../kernels/list.js';
import type { JsKernel } from '../../kernels/describe.js';
import { HeapViews } from './memory.js';

export { JS_HEAP_BASE } from './memory.js';

export function createJsKernels(memory: WebAssembly.Memory): RawKernels {
  const heap = new HeapViews(memory);
  const out: Record<string, unknown> = {};
  for (const name of KERNEL_NAMES) out[name] = (KERNELS[name].js as JsKernel).bind(null, heap);
  return out as RawKernels;
}
