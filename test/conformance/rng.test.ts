// The seeded PRNG and dropout masks: exact streams against the reference xoshiro128**,
// bit-identical across repeated runs and across all three backends (rngNormal: 1e-6
// js vs wasm, bit-identical simd vs scalar), statistics, and a determinism chain.
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCore, type BackendName, type Core } from '@retort/core-wasm';
import { RefXoshiro128ss, refDropoutMask, refNormal, refUint32, refUniform, splitMix64 } from '../reference/rng.js';
import { BACKENDS, TOL, expectBitIdentical, expectClose, fnv1a, useCore } from './helpers.js';

const SEEDS = [0, 1, 42, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER];

function stateOf(core: Core, seed: number): Uint32Array {
  return core.createRng(seed).toArray();
}

describe.each(BACKENDS)('rng [%s]', (backend) => {
  const core = useCore(backend);

  it('rngSeed is SplitMix64 of the 64-bit seed, words [lo(z1), hi(z1), lo(z2), hi(z2)]; never all zero', () => {
    for (const seed of SEEDS) {
      const [z1, z2] = splitMix64(BigInt(seed), 2) as [bigint, bigint];
      const expected = [z1 & 0xffffffffn, z1 >> 32n, z2 & 0xffffffffn, z2 >> 32n].map(Number);
      const s = stateOf(core(), seed);
      expect(Array.from(s), `state for seed ${seed}`).toEqual(expected);
      expect(s.some((w) => w !== 0)).toBe(true);
    }
  });

  it('rngUint32 is the reference xoshiro128** stream; successive calls continue it', () => {
    for (const seed of SEEDS) {
      const rng = core().createRng(seed);
      const s0 = rng.toArray();
      const all = core().allocOf('u32', 1000);
      core().rngUint32(all, rng, 5);
      core().rngUint32(all.ptr + 20, rng, 995);
      expectBitIdentical(all.toArray(), refUint32(s0, 1000), `uint32 stream seed ${seed}`);
    }
  });

  it('rngUniform is exactly lo + (hi - lo) * u in f32, in [lo, hi); mean and variance sane', () => {
    const rng = core().createRng(7);
    for (const [lo, hi, n] of [[0, 1, 1], [0, 1, 17], [-2, 3, 129], [0.25, 0.75, 1000]] as const) {
      const s0 = rng.toArray();
      const out = core().alloc(n);
      core().rngUniform(out, rng, n, lo, hi);
      const u = out.toArray();
      expectBitIdentical(u, refUniform(s0, n, lo, hi), `uniform [${lo}, ${hi}) n=${n}`);
      for (const x of u) expect(x >= lo && x < hi, `${x} in [${lo}, ${hi})`).toBe(true);
    }
    const n = 100_000;
    const out = core().alloc(n);
    core().rngUniform(out, rng, n);
    const u = out.toArray();
    const mean = u.reduce((a, b) => a + b, 0) / n;
    const variance = u.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
    // standard errors: mean 1/sqrt(12 n) ~ 9e-4, variance ~ 2.7e-4; allow ~5 sigma
    expect(Math.abs(mean - 0.5)).toBeLessThan(5e-3);
    expect(Math.abs(variance - 1 / 12)).toBeLessThan(1.5e-3);
  });

  it('rngNormal matches Box-Muller of the stream within 1e-6; mean ~ 0, std ~ 1 over 1e5 samples', () => {
    const rng = core().createRng(11);
    for (const [n, mean, std] of [[1, 0, 1], [3, 2, 0.5], [17, 0, 1], [1000, -1, 3]] as const) {
      const s0 = rng.toArray();
      const out = core().alloc(n);
      core().rngNormal(out, rng, n, mean, std);
      const ref = refNormal(s0, n, mean, std);
      expectClose(out.toArray(), ref, TOL.rngNormal, `normal n=${n}`, Float64Array.from(ref, (v) => Math.max(1, Math.abs(v))));
      // an odd n consumes a whole pair: the state moved by 2 ceil(n/2) draws
      expectBitIdentical(rng.toArray(), advanced(s0, 2 * Math.ceil(n / 2)), `state after normal n=${n}`);
    }
    const n = 100_000;
    const out = core().alloc(n);
    core().rngNormal(out, rng, n);
    const x = out.toArray();
    for (const v of x) expect(Number.isFinite(v)).toBe(true);
    const mean = x.reduce((a, b) => a + b, 0) / n;
    const sd = Math.sqrt(x.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
    expect(Math.abs(mean)).toBeLessThan(0.016); // 5 standard errors
    expect(Math.abs(sd - 1)).toBeLessThan(0.012);
  });

  it('dropoutMask: exact reference masks, values exactly 0 or f32(1/(1-p)), keep rate ~ 1-p', () => {
    const rng = core().createRng(13);
    for (const p of [0, 0.1, 0.3, 0.5, 0.9]) {
      for (const n of [1, 3, 17, 129, 1000]) {
        const s0 = rng.toArray();
        const mask = core().alloc(n);
        core().dropoutMask(mask, rng, n, p);
        expectBitIdentical(mask.toArray(), refDropoutMask(s0, n, p), `mask p=${p} n=${n}`);
      }
      const n = 100_000;
      const mask = core().alloc(n);
      core().dropoutMask(mask, rng, n, p);
      const keep = Math.fround(1 / Math.fround(1 - Math.fround(p)));
      let kept = 0;
      for (const m of mask.toArray()) {
        if (m !== 0 && m !== keep) expect.fail(`mask value ${m} is neither 0 nor ${keep}`);
        if (m !== 0) kept++;
      }
      const sigma = Math.sqrt(p * (1 - p) / n);
      expect(Math.abs(kept / n - (1 - p)), `keep rate at p=${p}`).toBeLessThanOrEqual(5 * sigma + 1e-12);
    }
  });

  it('same seed, same stream (repeated runs, fresh cores); different seeds differ', async () => {
    const other = await loadCore({ backend });
    for (const seed of SEEDS) {
      const a = draws(core(), seed), b = draws(other, seed);
      for (const k of Object.keys(a) as (keyof Draws)[]) expectBitIdentical(a[k], b[k], `${k} seed ${seed}`);
    }
    const d1 = draws(core(), 1), d2 = draws(core(), 2);
    expect(fnv1a(d1.u32)).not.toBe(fnv1a(d2.u32));
    expect(Array.from(d1.uniform)).not.toEqual(Array.from(d2.uniform));
  });
});

/** The reference generator's state after `count` draws from s0. */
function advanced(s0: Uint32Array, count: number): Uint32Array {
  const g = new RefXoshiro128ss(s0);
  for (let i = 0; i < count; i++) g.next();
  return g.s;
}

interface Draws { u32: Uint32Array; uniform: Float32Array; normal: Float32Array; mask: Float32Array; normalized: Float32Array }

function draws(core: Core, seed: number): Draws {
  const rng = core.createRng(seed);
  const u32 = core.allocOf('u32', 257), uniform = core.alloc(257), normal = core.alloc(257), mask = core.alloc(257);
  core.rngUint32(u32, rng, 257);
  core.rngUniform(uniform, rng, 257, -1, 1);
  core.rngNormal(normal, rng, 257);
  core.dropoutMask(mask, rng, 257, 0.3);
  const bytes = core.allocU8(257).set(Uint8Array.from({ length: 257 }, (_, i) => (i * 31) & 255));
  const normalized = core.alloc(257);
  core.normalizeU8(normalized, bytes, 257, 0.1307, 0.3081);
  return { u32: u32.toArray(), uniform: uniform.toArray(), normal: normal.toArray(), mask: mask.toArray(), normalized: normalized.toArray() };
}

describe('rng across backends', () => {
  const cores = new Map<BackendName, Core>();
  beforeAll(async () => { for (const b of BACKENDS) cores.set(b, await loadCore({ backend: b })); });

  it('rngUint32, rngUniform, dropoutMask and normalizeU8 are bit-identical on simd, scalar and js', () => {
    for (const seed of SEEDS) {
      const [first, ...rest] = BACKENDS.map((b) => [b, draws(cores.get(b)!, seed)] as const);
      for (const [b, d] of rest) {
        for (const k of ['u32', 'uniform', 'mask', 'normalized'] as const) {
          expectBitIdentical(d[k], first![1][k], `${k}: ${b} vs ${first![0]} (seed ${seed})`);
        }
      }
    }
  });

  it('rngNormal: simd and scalar bit-identical; js within 1e-6', () => {
    for (const seed of SEEDS) {
      const simd = draws(cores.get('simd')!, seed).normal, scalar = draws(cores.get('scalar')!, seed).normal;
      expectBitIdentical(scalar, simd, `normal scalar vs simd (seed ${seed})`);
      const js = draws(cores.get('js')!, seed).normal;
      expectClose(js, simd, TOL.rngNormal, `normal js vs simd (seed ${seed})`, Float64Array.from(simd, (v) => Math.max(1, Math.abs(v))));
    }
  });
});
