import { defineConfig } from 'vite';

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
  build: { target: 'es2022', outDir: 'dist', emptyOutDir: true },
});
