// Peak-throughput probe, the plain-JS analogue of the wasm probe: what a JS engine's
// scalar f64 multiply-add reaches at best, the ceiling to quote JS kernels against.
//
// CHAINS independent chains x = x * A + B run in locals, i.e. in registers once the
// function is optimised (call it once to warm up before timing: the first, cold call
// runs partly in the interpreter). Measured in V8 on x64: 8 chains don't cover the
// mul + add latency, 12 reach ~14 GFLOP/s, 16 spill out of the 16 xmm registers and
// collapse, so 12 keeps a margin below that cliff.
// With A = 1 - 2^-20 and B = 2^-20 every chain converges to 1, so no value overflows or
// goes subnormal (either would slow the probe down) however many iterations run.

const CHAINS = 12;
const FLOPS_PER_ITER = 2 * CHAINS;
const A = 1 - 2 ** -20;
const B = 2 ** -20;

export function peakProbe(iters: number): number {
  let x0 = 0.1, x1 = 0.2, x2 = 0.3, x3 = 0.4, x4 = 0.5, x5 = 0.6;
  let x6 = 0.7, x7 = 0.8, x8 = 0.9, x9 = 1.1, x10 = 1.2, x11 = 1.3;
  for (let i = 0; i < iters; i++) {
    x0 = x0 * A + B; x1 = x1 * A + B; x2 = x2 * A + B; x3 = x3 * A + B;
    x4 = x4 * A + B; x5 = x5 * A + B; x6 = x6 * A + B; x7 = x7 * A + B;
    x8 = x8 * A + B; x9 = x9 * A + B; x10 = x10 * A + B; x11 = x11 * A + B;
  }
  // Every chain feeds the result, so none can be dropped as dead code.
  return x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10 + x11;
}

/** FLOPs per iteration of peakProbe: one multiply and one add per chain. */
export function peakProbeFlopsPerIter(): number {
  return FLOPS_PER_ITER;
}
