// Half-precision conversions for the interop readers and writers, exact and pure.
//   IEEE 754 binary16 (F16): 1 sign, 5 exponent (bias 15), 10 mantissa bits. Every binary16
//     value is exactly representable in float32, subnormals (0x0001 = 2^-24) included.
//   bfloat16 (BF16): the top 16 bits of a float32, so widening is a 16-bit shift.
// Narrowing (f32 -> f16 / bf16) rounds to nearest, ties to even; overflow gives ±Inf; NaN
// stays NaN (quiet). Widening keeps ±0, ±Inf and NaN (bf16 keeps the NaN payload too).

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** The float32 value of binary16 bits `h` (0..0xffff). */
export function f16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24; // zero or subnormal: mant * 2^-24 (keeps -0)
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

let f16Table: Float32Array | null = null;

/** All 65536 binary16 values as float32, built once (256 KiB) on first use. */
export function f16Table32(): Float32Array {
  if (!f16Table) {
    const t = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) t[h] = f16BitsToNumber(h);
    f16Table = t;
  }
  return f16Table;
}

/** Binary16 bits of `x` rounded to nearest, ties to even (through float32 first, like a Float32Array store). */
export function numberToF16Bits(x: number): number {
  scratchF32[0] = x;
  const bits = scratchU32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const e = (bits >>> 23) & 0xff;
  const m = bits & 0x7fffff;
  if (e === 0xff) return m === 0 ? sign | 0x7c00 : sign | 0x7e00 | (m >>> 13); // Inf, or a quiet NaN
  const exp = e - 127 + 15;
  if (exp >= 0x1f) return sign | 0x7c00; // too large: Inf
  if (exp <= 0) {
    // a binary16 subnormal (or zero): h = M * 2^(exp - 14), M the 24-bit significand
    if (exp < -10) return sign; // below half the smallest subnormal (or a float32 subnormal): ±0
    const significand = m | 0x800000;
    const shift = 14 - exp; // 14..24
    let h = significand >>> shift;
    const rest = significand & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rest > half || (rest === half && (h & 1) === 1)) h++;
    return sign | h; // h may carry into the smallest normal: still the right bits
  }
  let h = (exp << 10) | (m >>> 13);
  const rest = m & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h++; // a carry may reach Inf: correct
  return sign | h;
}

/** The float32 value of bfloat16 bits `b`. */
export function bf16BitsToNumber(b: number): number {
  scratchU32[0] = (b & 0xffff) << 16;
  return scratchF32[0]!;
}

/** Bfloat16 bits of `x` rounded to nearest, ties to even (through float32 first). */
export function numberToBf16Bits(x: number): number {
  scratchF32[0] = x;
  const bits = scratchU32[0]!;
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0) return ((bits >>> 16) | 0x40) & 0xffff; // quiet NaN
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Widens `n` little-endian binary16 values at `bytes[offset..]` into `out[outOffset..]`. */
export function decodeF16(bytes: Uint8Array, offset: number, n: number, out: Float32Array, outOffset = 0): void {
  const table = f16Table32();
  for (let i = 0, p = offset; i < n; i++, p += 2) out[outOffset + i] = table[bytes[p]! | (bytes[p + 1]! << 8)]!;
}

/** Widens `n` little-endian bfloat16 values at `bytes[offset..]` into `out[outOffset..]` (bit-exact). */
export function decodeBf16(bytes: Uint8Array, offset: number, n: number, out: Float32Array, outOffset = 0): void {
  const u32 = new Uint32Array(out.buffer, out.byteOffset + 4 * outOffset, n);
  for (let i = 0, p = offset; i < n; i++, p += 2) u32[i] = ((bytes[p]! | (bytes[p + 1]! << 8)) << 16) >>> 0;
}
