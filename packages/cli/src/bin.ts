#!/usr/bin/env node
import { setFlagsFromString } from 'node:v8';

// Everything large (datasets, module memory) lives in ArrayBuffers; the JS heap stays
// small, so a small young generation trims ~10 MB of peak memory at no measurable cost.
// Set before the program module (and its dependencies) allocate much.
setFlagsFromString('--max-semi-space-size=1');
// Node 20 validates relaxed SIMD (the opt-in `--backend relaxed`) only behind this V8 flag; it
// must be set before the first module compiles (Node 22+ has it on). 'auto' never picks relaxed.
setFlagsFromString('--experimental-wasm-relaxed-simd');

// `retort info x | head`: a reader that closes the pipe early is not an error of ours
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

const { run } = await import('./program.js');
const code = await run(process.argv.slice(2), {
  out: (line) => process.stdout.write(line + '\n'),
  err: (line) => process.stderr.write(line + '\n'),
  isTTY: process.stdout.isTTY === true,
  stream: process.stdout,
});
process.exitCode = code;
