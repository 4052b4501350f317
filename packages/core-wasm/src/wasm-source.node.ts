// Node: the .wasm files are package assets next to dist/, read from disk.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export type WasmVariant = 'simd' | 'scalar';

export function wasmUrl(variant: WasmVariant): URL {
  return variant === 'simd'
    ? new URL('../build/retort.simd.wasm', import.meta.url)
    : new URL('../build/retort.scalar.wasm', import.meta.url);
}

export async function compileWasm(variant: WasmVariant): Promise<WebAssembly.Module> {
  const path = fileURLToPath(wasmUrl(variant));
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    throw new Error(`@retort/core-wasm: cannot read ${path} (${(e as Error).message}); run \`npm run build\` first`);
  }
  return WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
}
