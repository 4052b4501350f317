// Static layout of the module's own part of linear memory.
// [0, __heap_base)            static data emitted by the compiler
// [scratchBase, + SCRATCH)    GEMM packing panels (see kernels/gemm.ts), or, inside one
//                             crossEntropy / klDivergence / kdLoss call, the row cache of
//                             kernels/kd_loss.ts: three rows of cols f32 (e1, eq, ep, each
//                             16-byte aligned), used when they fit in SCRATCH_BYTES; or,
//                             inside one batch-norm call, per-channel f64 sums and f32
//                             constants (kernels/batch_norm.ts), inside one layerNormBackward
//                             call, per-column f64 dgamma/dbeta sums (kernels/layer_norm.ts),
//                             each in chunks of channels / columns that fit
// [heapBase(), ...)           owned by the JS-side arena
// Scratch holds nothing between calls: an instance runs one kernel at a time and no kernel
// calls another, so each kernel may use all of it. The instances of a thread pool (threaded
// builds, ../src/threads/pool.ts) share one memory, so every helper instance is given its own
// scratch region in the arena with setScratch; the calling thread's instance keeps this one.
// Scratch is not a data segment (memory.data would bloat the .wasm with zeros): it is
// carved out above __heap_base and the loader grows memory to cover heapBase().

/** Bytes of scratch. kernels/gemm.ts asserts its panels fit; kd_loss.ts checks its cache rows per call. */
export const SCRATCH_BYTES: usize = 2 << 20;

// @ts-ignore: decorator
@inline function ownScratch(): usize {
  return (__heap_base + 63) & ~(<usize>63);
}

/** This instance's scratch: its own region below heapBase(), or the one setScratch gave it. */
let scratchOverride: usize = 0;

// @ts-ignore: decorator
@inline export function scratchBase(): usize {
  return scratchOverride != 0 ? scratchOverride : ownScratch();
}

/** Points this instance's scratch at [ptr, ptr + SCRATCH_BYTES) (64-byte aligned, owned by the caller); 0 restores its own. */
export function setScratch(ptr: usize): void {
  scratchOverride = ptr;
}

/** Bytes of scratch one instance needs (what setScratch's region must hold). */
export function scratchBytes(): usize {
  return SCRATCH_BYTES;
}

export function heapBase(): usize {
  return (ownScratch() + SCRATCH_BYTES + 15) & ~(<usize>15);
}
