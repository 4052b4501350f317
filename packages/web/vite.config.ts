import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// every page of the app (index: the lab; bench: the benchmark; selftest: the Node/browser
// determinism check), as far as it exists
const pages = Object.fromEntries(['index', 'bench', 'selftest']
  .map((name) => [name, fileURLToPath(new URL(`./${name}.html`, import.meta.url))] as const)
  .filter(([, path]) => existsSync(path)));

// COOP/COEP make the page cross-origin isolated, which SharedArrayBuffer (threaded
// WASM) needs; harmless for the single-threaded core.
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  base: './',
  server: { host: '127.0.0.1', headers: isolation },
  preview: { host: '127.0.0.1', headers: isolation },
  worker: { format: 'es' },
  // pre-bundling would move the core away from its .wasm assets (new URL(..., import.meta.url))
  optimizeDeps: { exclude: ['@retort/core-wasm'] },
  build: { target: 'es2022', outDir: 'dist', emptyOutDir: true, rollupOptions: { input: pages } },
});
