import { expect } from 'vitest';

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

/** |got_i - want_i| <= atol·scale + rtol·|want_i| for every i, with a message naming the first failure. */
export function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number, scale: number, what: string): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!, w = want[i]!;
    if (!(Math.abs(g - w) <= atol * scale + rtol * Math.abs(w))) {
      expect.fail(`${what}: [${i}] = ${g} but want ${w} (|diff| ${Math.abs(g - w)}, bound ${atol * scale + rtol * Math.abs(w)})`);
    }
  }
}

/** Central differences of f at p0 (parameters of an f32 model, evaluated in f64), one coordinate at a time. */
export function finiteDifference(f: (p: Float64Array) => number, p0: Float32Array, h: number): Float64Array {
  const p = Float64Array.from(p0);
  return Float64Array.from(p0, (v, i) => {
    p[i] = v + h; const fp = f(p);
    p[i] = v - h; const fm = f(p);
    p[i] = v;
    return (fp - fm) / (2 * h);
  });
}
