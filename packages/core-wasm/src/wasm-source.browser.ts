// Browsers and workers: the .wasm files are package assets fetched relative to this
// module. The literal `new URL('…', import.meta.url)` form lets bundlers (Vite) emit
// them as assets.
export type WasmVariant = 'simd' | 'scalar';

export function wasmUrl(variant: WasmVariant): URL {
  return variant === 'simd'
    ? new URL('../build/retort.simd.wasm', import.meta.url)
    : new URL('../build/retort.scalar.wasm', import.meta.url);
}

export async function compileWasm(variant: WasmVariant): Promise<WebAssembly.Module> {
  const url = wasmUrl(variant);
  const response = await fetch(url);
  if (!response.ok) throw new Error(`@retort/core-wasm: fetching ${url.href} failed with HTTP ${response.status}`);
  if (typeof WebAssembly.compileStreaming === 'function'
      && response.headers.get('content-type')?.startsWith('application/wasm')) {
    return WebAssembly.compileStreaming(response);
  }
  return WebAssembly.compile(await response.arrayBuffer());
}
