// FNV-1a 64 in pure TS (two 32-bit halves, no BigInt on the hot path), so fingerprints
// agree between Node and browsers. Not cryptographic: it detects stale caches, not attacks.

export class Fnv1a64 {
  private hi = 0xcbf29ce4;
  private lo = 0x84222325;

  /** Feeds bytes. h = (h ^ b) * 0x100000001b3 mod 2^64, where 0x100000001b3 = 2^40 + 0x1b3. */
  update(bytes: Uint8Array): this {
    let hi = this.hi, lo = this.lo;
    for (let i = 0; i < bytes.length; i++) {
      lo = (lo ^ bytes[i]!) >>> 0;
      const t = lo * 0x1b3; // < 2^41: exact in a double
      const tLo = t >>> 0;
      hi = (Math.imul(hi, 0x1b3) + (t - tLo) / 4294967296 + (lo << 8)) >>> 0;
      lo = tLo;
    }
    this.hi = hi; this.lo = lo;
    return this;
  }

  /** Feeds a string's UTF-8 bytes. */
  updateString(s: string): this {
    return this.update(new TextEncoder().encode(s));
  }

  /** 16 lowercase hex digits. */
  digest(): string {
    return this.hi.toString(16).padStart(8, '0') + this.lo.toString(16).padStart(8, '0');
  }
}
