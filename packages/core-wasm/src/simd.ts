// WebAssembly SIMD feature detection, shared by the full loader and the inference entry.

// (module (func (result v128) (v128.const i32x4 0 0 0 0)))
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, 0x03,
  0x02, 0x01, 0x00, 0x0a, 0x16, 0x01, 0x14, 0x00, 0xfd, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0b,
]);

let simdSupported: boolean | undefined;

/** Whether this engine runs WebAssembly fixed-width SIMD (checked once). */
export function hasSimd(): boolean {
  if (simdSupported === undefined) {
    simdSupported = typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
  }
  return simdSupported;
}

// (module (func (result v128) (f32x4.relaxed_madd (v128.const 0) (v128.const 0) (v128.const 0))))
const RELAXED_PROBE = (() => {
  const zero = [0xfd, 0x0c, ...new Array(16).fill(0)];
  const body = [0x00, ...zero, ...zero, ...zero, 0xfd, 0x85, 0x02, 0x0b];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, 0x03,
    0x02, 0x01, 0x00, 0x0a, body.length + 2, 0x01, body.length, ...body,
  ]);
})();

let relaxedSupported: boolean | undefined;

/**
 * Whether this engine validates relaxed SIMD (checked once): Chrome 114+, Node 22+, or Node 20
 * started with --experimental-wasm-relaxed-simd.
 */
export function hasRelaxedSimd(): boolean {
  if (relaxedSupported === undefined) {
    relaxedSupported = typeof WebAssembly === 'object' && WebAssembly.validate(RELAXED_PROBE);
  }
  return relaxedSupported;
}
