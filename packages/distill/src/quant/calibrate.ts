// Calibration statistics of |x| for one tensor stream: the exact maximum, and a histogram over
// the f32 bit pattern of |x| for percentiles. For non-negative floats the bit pattern is
// monotonic in the value, so bin = bits >>> 16 (8 exponent bits, 7 mantissa bits) is a
// log-spaced histogram with a relative bin width of 2^-7 (0.8%) over the whole f32 range:
// one pass, no sort, 256 KiB whatever the number of values.

const SHIFT = 16;
const BINS = 1 << (31 - SHIFT);

export class AbsStats {
  private readonly bins = new Float64Array(BINS);
  private maxBits = 0;
  /** Values seen (NaN excluded). */
  count = 0;
  /** NaN values seen (skipped). */
  nan = 0;

  /** Adds |values[i]| for every i. */
  add(values: Float32Array): void {
    const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
    const bins = this.bins;
    let maxBits = this.maxBits, nan = 0;
    for (let i = 0; i < bits.length; i++) {
      const b = bits[i]! & 0x7fffffff;
      if (b > 0x7f800000) { nan++; continue; }
      bins[b >>> SHIFT]!++;
      if (b > maxBits) maxBits = b;
    }
    this.maxBits = maxBits;
    this.nan += nan;
    this.count += bits.length - nan;
  }

  /** Largest |x| seen (0 before any value). */
  get max(): number {
    return bitsToFloat(this.maxBits);
  }

  /**
   * A value v with at least p% of the |x| seen <= v: the upper edge of the bin where the
   * cumulative count reaches p% (so at most 0.8% above the exact percentile), capped at max.
   */
  percentile(p: number): number {
    if (this.count === 0) return 0;
    if (p >= 100) return this.max;
    const target = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let b = 0; b < BINS; b++) {
      seen += this.bins[b]!;
      if (seen >= target) return b >= 0x7f800000 >>> SHIFT ? this.max : Math.min(this.max, bitsToFloat((b + 1) << SHIFT));
    }
    return this.max;
  }
}

const conv = new DataView(new ArrayBuffer(4));
function bitsToFloat(bits: number): number {
  conv.setUint32(0, bits >>> 0);
  return conv.getFloat32(0);
}
