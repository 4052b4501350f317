// Shared machinery of the normalisation and GELU suites (norm.test.ts, layer-norm.test.ts,
// gelu.test.ts): shapes, guarded buffers, input generators, and a finite-difference check whose
// bound is stated relative to the magnitude of the gradient's terms.
import { expect } from 'vitest';
import type { Core } from '@retort/core-wasm';
import { finiteDifference } from '../reference/finite-difference.js';
import { TestRand } from '../reference/prng.js';
import { TOL, expectClose } from './helpers.js';

export const ROWS = [1, 2, 3, 17, 129];
export const WIDTHS = [1, 3, 5, 17, 100];
export const EPS = 1e-5, MOMENTUM = 0.1;
export const e32 = Math.fround(EPS), m32 = Math.fround(MOMENTUM); // the kernels take eps and momentum as f32
// Finite-difference step for inputs of spread ~1: normalisation is strongly curved when a channel's
// spread is small (rows = 2), so a step below the usual 1e-4 keeps the truncation error ~1e-10.
export const FD_STEP = 1e-5;

// ---- guarded buffers: GUARD canaries on each side; the interior starts 12 bytes into a 16-aligned
// allocation, so the SIMD builds run on unaligned addresses too -------------------------------------
const GUARD = 3, CANARY = -7.375;

export interface Guarded { ptr: number; read(): Float32Array; check(what: string): void }

export function guarded(core: Core, values: ArrayLike<number>): Guarded {
  const n = values.length;
  const t = core.alloc(n + 2 * GUARD).set(new Float32Array(n + 2 * GUARD).fill(CANARY)).set(values, GUARD);
  return {
    ptr: t.ptr + 4 * GUARD,
    read: () => t.toArray().slice(GUARD, GUARD + n),
    check: (what) => {
      const all = t.toArray();
      for (let i = 0; i < GUARD; i++) {
        expect(all[i], `${what}: guard before`).toBe(CANARY);
        expect(all[GUARD + n + i], `${what}: guard after`).toBe(CANARY);
      }
    },
  };
}

/**
 * gradientReference (helpers.ts) with the bound stated relative to `scale`, the magnitude of the
 * terms the gradient is made of: with rows = 2 a batch-norm gradient is O(eps / var) of those
 * terms, so a bound relative to the gradient itself would only measure the differences' round-off.
 */
export function checkedGradient(f: (x: Float64Array) => number, x: ArrayLike<number>, analytic: ArrayLike<number>, h: number,
                         scale: number, what: string): Float64Array {
  const n = x.length;
  const idx = n <= 260 ? undefined : Array.from({ length: 24 }, (_, k) => Math.floor((k * (n - 1)) / 23));
  const fd = finiteDifference(f, x, h, idx);
  const pick = (a: ArrayLike<number>): number[] => (idx ? idx.map((i) => a[i]!) : Array.from(a));
  expectClose(pick(analytic), pick(fd), TOL.referenceFd, `${what}: reference gradient vs finite differences`, scale);
  return idx ? Float64Array.from(analytic) : fd;
}

/** Per-channel location and spread: x[r, c] = mu_c + sigma_c N(0, 1). */
export function activations(rand: TestRand, rows: number, C: number, mu = 2, sigma = 2): Float32Array {
  const m = Array.from({ length: C }, () => rand.uniform(-mu, mu)), s = Array.from({ length: C }, () => rand.uniform(0.25, sigma));
  return Float32Array.from({ length: rows * C }, (_, i) => m[i % C]! + s[i % C]! * rand.normal());
}

export function signedScale(rand: TestRand, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => (rand.next() < 0.2 ? -1 : 1) * rand.uniform(0.5, 1.5));
}

/** |gamma xhat| + |beta| per element: the magnitudes y's last f32 steps round. */
export function yScale(xhat: (i: number) => number, gamma: (i: number) => number, beta: (i: number) => number, n: number): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => Math.abs(gamma(i) * xhat(i)) + Math.abs(beta(i)));
}
