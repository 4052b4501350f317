// Browser bundle size of the inference entry (@retort/core-wasm/infer): bundles dist/infer/index.js
// with esbuild as a browser app would (--bundle --minify --format=esm --platform=browser), gzips the
// JS and the inference .wasm builds (zlib level 9), and checks that nothing from training (losses,
// optimizers, the JS kernels, zod) came along. Run after `npm run build`.
//   node scripts/infer-size.mjs [--json]
import { build } from 'esbuild';
import { readFileSync, existsSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist/infer/index.js');
for (const f of [entry, join(root, 'build/retort.infer.simd.wasm')]) {
  if (!existsSync(f)) {
    console.error(`infer-size: ${f} is missing; run \`npm run build\` in packages/core-wasm first`);
    process.exit(1);
  }
}

const result = await build({
  entryPoints: [entry], bundle: true, minify: true, format: 'esm', platform: 'browser', write: false,
  metafile: true, logLevel: 'silent',
});
const js = result.outputFiles[0].contents;
const gz = (bytes) => gzipSync(bytes, { level: 9 }).length;
const inputs = Object.keys(result.metafile.inputs).map((p) => p.replace(/^.*?packages\/core-wasm\//, ''));
const forbidden = inputs.filter((p) => /backends\/js|loader\.js|core\.js|convenience|zod|distill/.test(p));
const wasm = (name) => readFileSync(join(root, 'build', name));
const simd = wasm('retort.infer.simd.wasm'), scalar = wasm('retort.infer.scalar.wasm'), full = wasm('retort.simd.wasm');

const report = {
  js: { bytes: js.length, gzip: gz(js) },
  wasmSimd: { bytes: simd.length, gzip: gz(simd) },
  wasmScalar: { bytes: scalar.length, gzip: gz(scalar) },
  totalGzip: gz(js) + gz(simd),
  fullSimdWasm: { bytes: full.length, gzip: gz(full) },
  modules: inputs,
};
if (process.argv.includes('--json')) {
  console.log(JSON.stringify(report, null, 2));
} else {
  const kb = (n) => `${(n / 1024).toFixed(1)} KiB`.padStart(10);
  console.log('@retort/core-wasm/infer, browser bundle (esbuild --bundle --minify --format=esm --platform=browser; gzip -9)');
  console.log(`  JS                         ${kb(report.js.bytes)}  gzip ${kb(report.js.gzip)}`);
  console.log(`  retort.infer.simd.wasm     ${kb(report.wasmSimd.bytes)}  gzip ${kb(report.wasmSimd.gzip)}`);
  console.log(`  retort.infer.scalar.wasm   ${kb(report.wasmScalar.bytes)}  gzip ${kb(report.wasmScalar.gzip)}  (fallback, fetched only without SIMD)`);
  console.log(`  total (JS + SIMD wasm)                  gzip ${kb(report.totalGzip)}  (target < 100 KiB)`);
  console.log(`  for comparison, the full retort.simd.wasm ${kb(report.fullSimdWasm.bytes)}  gzip ${kb(report.fullSimdWasm.gzip)}`);
  console.log(`  modules bundled: ${inputs.join(', ')}`);
}
if (forbidden.length > 0) {
  console.error(`infer-size: training or JS-kernel modules leaked into the bundle: ${forbidden.join(', ')}`);
  process.exit(1);
}
if (report.totalGzip >= 100 * 1024) {
  console.error('infer-size: over the 100 KiB gzip budget');
  process.exit(1);
}
