// The test suite's OWN input generator (mulberry32), deliberately unrelated to the
// xoshiro128** generator under test, so that random inputs stay the same whatever the
// kernels do. Every array it produces is a Float32Array: the f64 reference then sees
// exactly the f32 values the kernels see.

export class TestRand {
  private s: number;

  constructor(seed: number) { this.s = seed >>> 0; }

  /** Uniform in [0, 1) with 32 random bits. */
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  uniform(lo: number, hi: number): number { return lo + (hi - lo) * this.next(); }

  /** Integer in [0, n). */
  int(n: number): number { return Math.floor(this.next() * n); }

  normal(): number {
    const u1 = 1 - this.next();
    const u2 = this.next();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  f32(n: number, lo = -1, hi = 1): Float32Array {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = this.uniform(lo, hi);
    return a;
  }

  /** Gaussian logits with standard deviation `scale`. */
  logits(n: number, scale = 3): Float32Array {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = scale * this.normal();
    return a;
  }

  labels(rows: number, cols: number): Int32Array {
    const a = new Int32Array(rows);
    for (let r = 0; r < rows; r++) a[r] = this.int(cols);
    return a;
  }

  /** Values bounded away from 0 by at least `gap` (for ReLU, whose derivative jumps at 0). */
  awayFromZero(n: number, gap = 1e-2): Float32Array {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const m = gap + this.next();
      a[i] = this.next() < 0.5 ? -m : m;
    }
    return a;
  }
}
