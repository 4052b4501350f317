// The arena: hands out 16-byte aligned regions of the one linear memory that every
// backend computes in. First-fit over an address-ordered free list, neighbours
// coalesced on free, memory grown (whole 64 KiB pages) when nothing fits.
//
// Each allocation gets a generation number; a Tensor remembers the generation it was
// born with, so a freed tensor whose address was handed out again is still detected.

const ALIGN = 16;
const PAGE = 65536;

interface FreeBlock { start: number; size: number }
interface LiveBlock { size: number; generation: number }

export class Arena {
  private readonly free: FreeBlock[] = [];
  private readonly live = new Map<number, LiveBlock>();
  private top: number;
  private nextGeneration = 1;

  constructor(private readonly memory: WebAssembly.Memory, readonly base: number) {
    this.top = alignUp(base);
    this.ensure(this.top);
  }

  /** Bytes of linear memory currently allocated to callers. */
  get bytesInUse(): number {
    let total = 0;
    for (const b of this.live.values()) total += b.size;
    return total;
  }

  /** Allocates `bytes` (rounded up to 16, at least 16); returns the start offset and generation. */
  alloc(bytes: number): { ptr: number; generation: number } {
    const size = Math.max(ALIGN, alignUp(bytes));
    let ptr = -1;
    for (let i = 0; i < this.free.length; i++) {
      const block = this.free[i]!;
      if (block.size < size) continue;
      ptr = block.start;
      if (block.size === size) this.free.splice(i, 1);
      else { block.start += size; block.size -= size; }
      break;
    }
    if (ptr < 0) {
      ptr = this.top;
      this.ensure(ptr + size);
      this.top = ptr + size;
    }
    const generation = this.nextGeneration++;
    this.live.set(ptr, { size, generation });
    return { ptr, generation };
  }

  /** Returns a region to the free list. Throws on a pointer that is not a live allocation. */
  release(ptr: number): void {
    const block = this.live.get(ptr);
    if (!block) throw new RangeError(`free: offset ${ptr} is not a live allocation (double free?)`);
    this.live.delete(ptr);
    let lo = 0;
    let hi = this.free.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.free[mid]!.start < ptr) lo = mid + 1; else hi = mid;
    }
    this.free.splice(lo, 0, { start: ptr, size: block.size });
    // coalesce with the right neighbour, then the left one
    const cur = this.free[lo]!;
    const right = this.free[lo + 1];
    if (right && cur.start + cur.size === right.start) {
      cur.size += right.size;
      this.free.splice(lo + 1, 1);
    }
    const left = this.free[lo - 1];
    if (left && left.start + left.size === cur.start) {
      left.size += cur.size;
      this.free.splice(lo, 1);
    }
    // give the topmost free block back to the bump pointer so fragmentation does not pile up
    const last = this.free[this.free.length - 1];
    if (last && last.start + last.size === this.top) {
      this.top = last.start;
      this.free.pop();
    }
  }

  /** The generation of the live allocation starting at `ptr`, or undefined. */
  generationOf(ptr: number): number | undefined {
    return this.live.get(ptr)?.generation;
  }

  /** The live allocation containing byte `ptr`, or undefined. */
  regionContaining(ptr: number): { start: number; end: number } | undefined {
    for (const [start, b] of this.live) {
      if (ptr >= start && ptr < start + b.size) return { start, end: start + b.size };
    }
    return undefined;
  }

  /** Size in bytes of the live allocation starting at `ptr` (its usable extent). */
  sizeOf(ptr: number): number | undefined {
    return this.live.get(ptr)?.size;
  }

  private ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    const pages = Math.ceil((end - have) / PAGE);
    try {
      this.memory.grow(pages);
    } catch (e) {
      throw new RangeError(`alloc: cannot grow memory by ${pages} pages to ${end} bytes (${(e as Error).message})`);
    }
  }
}

function alignUp(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}
