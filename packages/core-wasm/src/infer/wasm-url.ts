// Where the inference-only .wasm builds live (package assets, see ../wasm-url.ts for why the
// literal `new URL('…', import.meta.url)` form).
export type InferVariant = 'simd' | 'scalar';

export function inferWasmUrl(variant: InferVariant): URL {
  return variant === 'simd'
    ? new URL('../../build/retort.infer.simd.wasm', import.meta.url)
    : new URL('../../build/retort.infer.scalar.wasm', import.meta.url);
}
