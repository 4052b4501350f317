// Builds the two WebAssembly variants of one AssemblyScript source:
//   build/retort.simd.wasm    --enable simd   (ASC_FEATURE_SIMD is true)
//   build/retort.scalar.wasm  simd disabled   (same source, scalar paths)
// the same source over a shared memory for the thread pool (src/threads/pool.ts; the
// helper instances and the calling one share the arena, each with its own scratch):
//   build/retort.simd.mt.wasm, build/retort.scalar.mt.wasm
// the opt-in relaxed-SIMD build (fused multiply-adds where the CPU has them; not bit-portable):
//   build/retort.relaxed.wasm, build/retort.relaxed.mt.wasm
// and the same two variants of the inference-only module (assembly/infer.ts: f32 GEMM, bias,
// ReLU and the int8 kernels, nothing for training), loaded by @retort/core-wasm/infer:
//   build/retort.infer.simd.wasm, build/retort.infer.scalar.wasm
// Both use the stub runtime (nothing on the hot path allocates) and import their
// memory from the loader, which owns it.
import { main } from 'assemblyscript/asc';
import { mkdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'build');
mkdirSync(outDir, { recursive: true });

const common = [
  '--runtime', 'stub',
  '--importMemory',
  '--optimizeLevel', '3',
  '--shrinkLevel', '0',
  '--converge',
  '--noAssert',
  '--use', 'abort=',
];

// A shared memory must declare its maximum: the loader's default (src/loader.ts, 4 GiB).
const shared = ['--enable', 'threads', '--sharedMemory', '--maximumMemory', '65536'];

const variants = [
  { name: 'simd', entry: 'assembly/index.ts', flags: ['--enable', 'simd'] },
  { name: 'scalar', entry: 'assembly/index.ts', flags: ['--disable', 'simd'] },
  { name: 'simd.mt', entry: 'assembly/index.ts', flags: ['--enable', 'simd', ...shared] },
  { name: 'scalar.mt', entry: 'assembly/index.ts', flags: ['--disable', 'simd', ...shared] },
  // opt-in: the SIMD inner loops' multiply-adds as f32x4.relaxed_madd (assembly/kernels/madd.ts)
  { name: 'relaxed', entry: 'assembly/index.ts', flags: ['--enable', 'simd', '--enable', 'relaxed-simd'] },
  { name: 'relaxed.mt', entry: 'assembly/index.ts', flags: ['--enable', 'simd', '--enable', 'relaxed-simd', ...shared] },
  { name: 'infer.simd', entry: 'assembly/infer.ts', flags: ['--enable', 'simd'] },
  { name: 'infer.scalar', entry: 'assembly/infer.ts', flags: ['--disable', 'simd'] },
];

for (const v of variants) {
  const outFile = join(outDir, `retort.${v.name}.wasm`);
  const { error, stderr } = await main([join(root, v.entry), ...common, ...v.flags, '--outFile', outFile, '--textFile', outFile.replace(/\.wasm$/, '.wat')], {});
  if (error) {
    process.stderr.write(stderr.toString());
    process.stderr.write(`build-wasm: ${v.name} build failed: ${error.message}\n`);
    process.exit(1);
  }
  console.log(`build-wasm: ${v.name.padEnd(12)} ${statSync(outFile).size} bytes -> ${outFile}`);
}
