import { describe, expect, it } from 'vitest';
import { Arena } from '../src/arena.js';

function memory(pages = 1) {
  return new WebAssembly.Memory({ initial: pages, maximum: 1024 });
}

describe('Arena', () => {
  it('hands out 16-byte aligned, non-overlapping regions above its base', () => {
    const arena = new Arena(memory(), 100);
    const regions: [number, number][] = [];
    for (const bytes of [1, 4, 15, 16, 17, 1000, 3]) {
      const { ptr } = arena.alloc(bytes);
      expect(ptr % 16).toBe(0);
      expect(ptr).toBeGreaterThanOrEqual(100);
      for (const [s, e] of regions) expect(ptr >= e || ptr + bytes <= s).toBe(true);
      regions.push([ptr, ptr + bytes]);
    }
  });

  it('reuses freed space and coalesces neighbours', () => {
    const arena = new Arena(memory(), 0);
    const a = arena.alloc(64).ptr;
    const b = arena.alloc(64).ptr;
    const c = arena.alloc(64).ptr;
    arena.alloc(16); // keeps c's successor live so the free blocks stay in the list
    arena.release(a);
    arena.release(b);
    // a and b coalesced: a 128-byte request fits where a was
    expect(arena.alloc(128).ptr).toBe(a);
    arena.release(c);
    expect(arena.alloc(64).ptr).toBe(c);
  });

  it('grows memory when nothing fits and keeps old contents', () => {
    const mem = memory(1);
    const arena = new Arena(mem, 0);
    const a = arena.alloc(1000).ptr;
    new Uint8Array(mem.buffer).fill(7, a, a + 1000);
    const big = arena.alloc(200_000).ptr;
    expect(mem.buffer.byteLength).toBeGreaterThanOrEqual(big + 200_000);
    expect(new Uint8Array(mem.buffer, a, 1000).every((v) => v === 7)).toBe(true);
  });

  it('gives each allocation a new generation, also at a reused address', () => {
    const arena = new Arena(memory(), 0);
    const first = arena.alloc(32);
    arena.release(first.ptr);
    const second = arena.alloc(32);
    expect(second.ptr).toBe(first.ptr);
    expect(second.generation).not.toBe(first.generation);
    expect(arena.generationOf(first.ptr)).toBe(second.generation);
  });

  it('rejects a double free and finds the region containing an offset', () => {
    const arena = new Arena(memory(), 0);
    const { ptr } = arena.alloc(48);
    expect(arena.regionContaining(ptr + 47)).toEqual({ start: ptr, end: ptr + 48 });
    expect(arena.regionContaining(ptr + 48)).toBeUndefined();
    arena.release(ptr);
    expect(() => arena.release(ptr)).toThrow(RangeError);
    expect(arena.regionContaining(ptr)).toBeUndefined();
  });

  it('reports a memory that cannot grow as a RangeError', () => {
    const mem = new WebAssembly.Memory({ initial: 1, maximum: 2 });
    const arena = new Arena(mem, 0);
    expect(() => arena.alloc(10 * 65536)).toThrow(/cannot grow memory/);
  });
});
