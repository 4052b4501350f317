// Static layout of the module's own part of linear memory.
// [0, __heap_base)            static data emitted by the compiler
// [scratchBase, + SCRATCH)    GEMM packing panels (see kernels/gemm.ts)
// [heapBase(), ...)           owned by the JS-side arena
// Scratch is not a data segment (memory.data would bloat the .wasm with zeros): it is
// carved out above __heap_base and the loader grows memory to cover heapBase().

/** Bytes reserved for GEMM packing panels. kernels/gemm.ts asserts its panels fit. */
export const SCRATCH_BYTES: usize = 2 << 20;

// @ts-ignore: decorator
@inline export function scratchBase(): usize {
  return (__heap_base + 63) & ~(<usize>63);
}

export function heapBase(): usize {
  return (scratchBase() + SCRATCH_BYTES + 15) & ~(<usize>15);
}
