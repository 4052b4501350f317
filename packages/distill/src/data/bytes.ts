// Byte-order helpers shared by the IDX (big-endian) and .npy (usually little-endian)
// readers and writers. Typed arrays use the host's byte order; every host we target is
// little-endian, but the check costs nothing and keeps the readers honest.

export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Reverses the byte order of every `itemSize`-byte element of `bytes`, in place. */
export function swapBytesInPlace(bytes: Uint8Array, itemSize: number): void {
  if (itemSize === 1) return;
  const n = bytes.length;
  for (let i = 0; i < n; i += itemSize) {
    for (let a = i, b = i + itemSize - 1; a < b; a++, b--) {
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}

/** Brings elements stored in `fileLittleEndian` order into host order, in place. */
export function toHostOrder(bytes: Uint8Array, itemSize: number, fileLittleEndian: boolean): void {
  if (fileLittleEndian !== HOST_LITTLE_ENDIAN) swapBytesInPlace(bytes, itemSize);
}

/** The bytes of a typed array (a view, no copy). */
export function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Product of dims as a double; exact for any size a file can have, and > 2^53 for absurd ones. */
export function product(dims: readonly number[]): number {
  let p = 1;
  for (const d of dims) p *= d;
  return p;
}
