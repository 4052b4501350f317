// The js backend's view of the shared linear memory.
//
// Every backend runs over the loader's one WebAssembly.Memory, so a Ptr (byte offset)
// means the same bytes here as in the wasm builds. f32/i32/u32 data sits at 4-byte
// aligned offsets (index = ptr >>> 2); u8 and i8 data (normalizeU8's input, the int8 kernels) at any offset.
//
// memory.grow() detaches the old ArrayBuffer and every view over it, and the arena may
// grow memory between any two kernel calls. So kernels never keep a view across calls:
// each one starts with `heap.sync()`, which compares buffer identity and re-takes the
// views only after a growth. No view is allocated on the common path.

/** Static data of the js backend: none. Offsets below this stay free so 0 is never a valid pointer. */
export const JS_HEAP_BASE = 64;

export class HeapViews {
  f32: Float32Array = new Float32Array(0);
  i32: Int32Array = new Int32Array(0);
  u32: Uint32Array = new Uint32Array(0);
  u8: Uint8Array = new Uint8Array(0);
  i8: Int8Array = new Int8Array(0);
  private buffer: ArrayBufferLike | null = null;

  constructor(private readonly memory: WebAssembly.Memory) {
    this.sync();
  }

  /** Re-takes the views if memory.buffer changed identity (after growth); otherwise a no-op. */
  sync(): this {
    const buffer = this.memory.buffer;
    if (buffer !== this.buffer) {
      this.buffer = buffer;
      this.f32 = new Float32Array(buffer);
      this.i32 = new Int32Array(buffer);
      this.u32 = new Uint32Array(buffer);
      this.u8 = new Uint8Array(buffer);
      this.i8 = new Int8Array(buffer);
    }
    return this;
  }
}
