// Node: the .wasm files are read from disk.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { wasmUrl, type WasmVariant } from './wasm-url.js';

export type { WasmVariant };

export async function compileWasm(variant: WasmVariant): Promise<WebAssembly.Module> {
  const path = fileURLToPath(wasmUrl(variant));
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    throw new Error(`@retort/core-wasm: cannot read ${path} (${(e as Error).message}); run \`npm run build\` first`);
  }
  return WebAssembly.compile(bytes);
}
