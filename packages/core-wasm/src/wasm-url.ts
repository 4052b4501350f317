// Where the two .wasm variants live: package assets next to dist/. The literal
// `new URL('…', import.meta.url)` form is what bundlers (Vite) recognise and emit
// as assets; Node resolves the same URL to a file on disk.
export type WasmVariant = 'simd' | 'scalar';

export function wasmUrl(variant: WasmVariant): URL {
  return variant === 'simd'
    ? new URL('../build/retort.simd.wasm', import.meta.url)
    : new URL('../build/retort.scalar.wasm', import.meta.url);
}
