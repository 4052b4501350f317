// Node: file: URLs are read from disk, anything else is fetched.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export async function compileWasmFrom(url: URL): Promise<WebAssembly.Module> {
  if (url.protocol !== 'file:') {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`@retort/core-wasm/infer: fetching ${url.href} failed with HTTP ${response.status}`);
    return WebAssembly.compile(await response.arrayBuffer());
  }
  const path = fileURLToPath(url);
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    throw new Error(`@retort/core-wasm/infer: cannot read ${path} (${(e as Error).message}); run \`npm run build\` first`);
  }
  return WebAssembly.compile(bytes);
}
