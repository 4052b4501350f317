// Tensors are typed regions of the core's linear memory, plus the one accessor that
// hands out typed-array views of that memory. `memory.grow` detaches every view taken
// before it, so views are rebuilt whenever `memory.buffer` changes identity; a view
// must never be cached across a call that may allocate.

export type DType = 'f32' | 'i32' | 'u32' | 'u8' | 'i8';

export interface TypedArrayOf {
  f32: Float32Array;
  i32: Int32Array;
  u32: Uint32Array;
  u8: Uint8Array;
  i8: Int8Array;
}

export const BYTES_PER_ELEMENT: Record<DType, number> = { f32: 4, i32: 4, u32: 4, u8: 1, i8: 1 };

export class MemoryViews {
  private buffer: ArrayBuffer | null = null;
  private f32View = new Float32Array(0);
  private i32View = new Int32Array(0);
  private u32View = new Uint32Array(0);
  private u8View = new Uint8Array(0);
  private i8View = new Int8Array(0);

  constructor(readonly memory: WebAssembly.Memory) {}

  private refresh(): void {
    const buf = this.memory.buffer as ArrayBuffer;
    if (buf === this.buffer) return;
    this.buffer = buf;
    this.f32View = new Float32Array(buf);
    this.i32View = new Int32Array(buf);
    this.u32View = new Uint32Array(buf);
    this.u8View = new Uint8Array(buf);
    this.i8View = new Int8Array(buf);
  }

  get f32(): Float32Array { this.refresh(); return this.f32View; }
  get i32(): Int32Array { this.refresh(); return this.i32View; }
  get u32(): Uint32Array { this.refresh(); return this.u32View; }
  get u8(): Uint8Array { this.refresh(); return this.u8View; }
  get i8(): Int8Array { this.refresh(); return this.i8View; }

  of<D extends DType>(dtype: D): TypedArrayOf[D] {
    return this[dtype] as TypedArrayOf[D];
  }
}

/** What a tensor needs from its owner, so that tensor.ts does not depend on core.ts. */
export interface TensorOwner {
  readonly views: MemoryViews;
  isLive(t: Tensor): boolean;
}

/** A typed region of module memory: `ptr` is its byte offset, `length` its element count. */
export class Tensor<D extends DType = DType> {
  constructor(
    private readonly owner: TensorOwner,
    readonly ptr: number,
    readonly length: number,
    readonly dtype: D,
    /** Allocation generation; lets the owner tell this tensor from a later one at the same address. */
    readonly generation: number,
  ) {}

  get byteLength(): number { return this.length * BYTES_PER_ELEMENT[this.dtype]; }

  /** Whether `owner` (a Core) allocated this tensor: offsets and generations mean nothing to another core. */
  isOwnedBy(owner: TensorOwner): boolean { return this.owner === owner; }

  /** True until `core.free(this)`. */
  get live(): boolean { return this.owner.isLive(this); }

  /**
   * A typed-array view of this tensor's elements. Take it again after any allocation:
   * growing memory detaches old views.
   */
  view(): TypedArrayOf[D] {
    if (!this.live) throw new RangeError(`view: tensor at offset ${this.ptr} has been freed`);
    const all = this.owner.views.of(this.dtype);
    const start = this.ptr / BYTES_PER_ELEMENT[this.dtype];
    return all.subarray(start, start + this.length) as TypedArrayOf[D];
  }

  /** Copies `src` into the tensor (src.length must not exceed the tensor's length). */
  set(src: ArrayLike<number>, offset = 0): this {
    if (src.length + offset > this.length) {
      throw new RangeError(`set: ${src.length} values at offset ${offset} do not fit in a tensor of length ${this.length}`);
    }
    this.view().set(src, offset);
    return this;
  }

  /** A fresh copy of the tensor's elements, detached from module memory. */
  toArray(): TypedArrayOf[D] {
    return this.view().slice() as TypedArrayOf[D];
  }
}
