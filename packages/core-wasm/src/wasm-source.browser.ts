// Browsers and workers: the .wasm files are fetched relative to the package.
import { wasmUrl, type WasmVariant } from './wasm-url.js';

export type { WasmVariant };

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
