// Where the .wasm variants live: package assets next to dist/. The literal
// `new URL('…', import.meta.url)` form is what bundlers (Vite) recognise and emit
// as assets; Node resolves the same URL to a file on disk.
//   simd, scalar         one thread, a private memory
//   simd.mt, scalar.mt   the same kernels over a shared memory, for the thread pool (threads/pool.ts)
//   relaxed, relaxed.mt  the opt-in relaxed-SIMD build (assembly/kernels/madd.ts)
export type WasmVariant = 'simd' | 'scalar' | 'simd.mt' | 'scalar.mt' | 'relaxed' | 'relaxed.mt';

export function wasmUrl(variant: WasmVariant): URL {
  switch (variant) {
    case 'simd': return new URL('../build/retort.simd.wasm', import.meta.url);
    case 'scalar': return new URL('../build/retort.scalar.wasm', import.meta.url);
    case 'simd.mt': return new URL('../build/retort.simd.mt.wasm', import.meta.url);
    case 'scalar.mt': return new URL('../build/retort.scalar.mt.wasm', import.meta.url);
    case 'relaxed': return new URL('../build/retort.relaxed.wasm', import.meta.url);
    case 'relaxed.mt': return new URL('../build/retort.relaxed.mt.wasm', import.meta.url);
  }
}
