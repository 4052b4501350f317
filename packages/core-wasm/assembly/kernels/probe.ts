// Peak-throughput probe: how many f32 multiply-adds per second this engine's
// WebAssembly issues when nothing else is in the way (no loads, no stores). Benchmarks
// report kernel GFLOP/s as a fraction of it. FLOPs done = iters * peakProbeFlopsPerIter().
//
// Plain wasm SIMD has no FMA: a multiply-add is a mul and an add, and the form that keeps
// the most of both pipes busy differs between the builds (each measured against 8..14-chain
// variants of both forms; these were the fastest):
// - SIMD: 12 chains acc = acc * c + d, written out twice per iteration. A chain's latency is
//   mul + add (~5 cycles), so ~10 chains cover it; 12 accumulators + c + d = 14 of the 15
//   XMM registers V8 gives wasm (xmm15 is its scratch). 13 or more spill.
// - scalar: 7 pairs m = m * c; s = s + m. The add never waits for its own chain's mul of
//   the same step, so the chains are short (one op each); 7 pairs + c = 15 registers.
//   This measured ~20% above the acc * c + d form in f32.
// c, d are compile-time constants so V8 keeps them in registers: values derived at run time
// were re-derived inside the loop by TurboFan. They keep every value normal for any i32
// iteration count (no overflow, no denormals, which are slow), and the result sums every
// chain so none is dead code.

export function peakProbeFlopsPerIter(): i32 {
  return ASC_FEATURE_SIMD ? 12 * 2 * 2 * 4 : 7 * 2;
}

export function peakProbe(iters: i32): f32 {
  if (ASC_FEATURE_SIMD) return probeSimd(iters);
  return probeScalar(iters);
}

function probeSimd(iters: i32): f32 {
  const c = f32x4.splat(0.5), d = f32x4.splat(0.25); // each chain converges to 0.5
  let a0 = f32x4.splat(1), a1 = f32x4.splat(2), a2 = f32x4.splat(3), a3 = f32x4.splat(4);
  let a4 = f32x4.splat(5), a5 = f32x4.splat(6), a6 = f32x4.splat(7), a7 = f32x4.splat(8);
  let a8 = f32x4.splat(9), a9 = f32x4.splat(10), a10 = f32x4.splat(11), a11 = f32x4.splat(12);
  for (let i = 0; i < iters; i++) {
    a0 = f32x4.add(f32x4.mul(a0, c), d); a1 = f32x4.add(f32x4.mul(a1, c), d);
    a2 = f32x4.add(f32x4.mul(a2, c), d); a3 = f32x4.add(f32x4.mul(a3, c), d);
    a4 = f32x4.add(f32x4.mul(a4, c), d); a5 = f32x4.add(f32x4.mul(a5, c), d);
    a6 = f32x4.add(f32x4.mul(a6, c), d); a7 = f32x4.add(f32x4.mul(a7, c), d);
    a8 = f32x4.add(f32x4.mul(a8, c), d); a9 = f32x4.add(f32x4.mul(a9, c), d);
    a10 = f32x4.add(f32x4.mul(a10, c), d); a11 = f32x4.add(f32x4.mul(a11, c), d);
    // second copy: halves the loop and stack-check overhead per multiply-add
    a0 = f32x4.add(f32x4.mul(a0, c), d); a1 = f32x4.add(f32x4.mul(a1, c), d);
    a2 = f32x4.add(f32x4.mul(a2, c), d); a3 = f32x4.add(f32x4.mul(a3, c), d);
    a4 = f32x4.add(f32x4.mul(a4, c), d); a5 = f32x4.add(f32x4.mul(a5, c), d);
    a6 = f32x4.add(f32x4.mul(a6, c), d); a7 = f32x4.add(f32x4.mul(a7, c), d);
    a8 = f32x4.add(f32x4.mul(a8, c), d); a9 = f32x4.add(f32x4.mul(a9, c), d);
    a10 = f32x4.add(f32x4.mul(a10, c), d); a11 = f32x4.add(f32x4.mul(a11, c), d);
  }
  const s = f32x4.add(
    f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7))),
    f32x4.add(f32x4.add(a8, a9), f32x4.add(a10, a11)));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
}

function probeScalar(iters: i32): f32 {
  // m decays by 2^-24 per step: from 1e29 it stays above 1e-27 after 2^31 steps, and
  // s tends to m0 * 2^24 < 2e37, below f32 max.
  const c: f32 = 1 - 1.0 / 16777216;
  let m0: f32 = 1e29, m1: f32 = 2e29, m2: f32 = 3e29, m3: f32 = 4e29, m4: f32 = 5e29, m5: f32 = 6e29, m6: f32 = 7e29;
  let s0: f32 = 0, s1: f32 = 0, s2: f32 = 0, s3: f32 = 0, s4: f32 = 0, s5: f32 = 0, s6: f32 = 0;
  for (let i = 0; i < iters; i++) {
    m0 = m0 * c; s0 = s0 + m0; m1 = m1 * c; s1 = s1 + m1;
    m2 = m2 * c; s2 = s2 + m2; m3 = m3 * c; s3 = s3 + m3;
    m4 = m4 * c; s4 = s4 + m4; m5 = m5 * c; s5 = s5 + m5;
    m6 = m6 * c; s6 = s6 + m6;
  }
  return (((s0 + s1) + (s2 + s3)) + ((s4 + s5) + s6)) + (((m0 + m1) + (m2 + m3)) + ((m4 + m5) + m6));
}
