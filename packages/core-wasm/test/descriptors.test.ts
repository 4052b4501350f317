// The kernel list (src/kernels/list.ts) is the one place a kernel is declared: the wasm
// builds export exactly its names with its arities, the js backend is built from it, and the
// validated wrappers (core.ops) derived from it refuse bad arguments by name.
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { loadCore } from '../src/loader.js';
import { KERNELS, KERNEL_NAMES } from '../src/kernels/list.js';
import { createJsKernels } from '../src/backends/js/index.js';
import { encodeGeometry, checkGeometry, convOutput } from '../src/kernels/geometry.js';

describe('kernel descriptors', () => {
  it('each wasm build exports exactly the described kernels, with the described arities, and the thread pool\'s two', async () => {
    setFlagsFromString('--experimental-wasm-relaxed-simd'); // Node 20: the relaxed builds validate behind it
    // setScratch / scratchBytes: a helper thread's own scratch region (src/threads/pool.ts)
    const expected = [...KERNEL_NAMES, 'scratchBytes', 'setScratch'].sort();
    for (const variant of ['simd', 'scalar', 'simd.mt', 'scalar.mt', 'relaxed', 'relaxed.mt']) {
      const module = await WebAssembly.compile(readFileSync(new URL(`../build/retort.${variant}.wasm`, import.meta.url)));
      const names = WebAssembly.Module.exports(module).filter((e) => e.kind === 'function').map((e) => e.name).sort();
      expect(names, variant).toEqual(expected);
      const shared = variant.endsWith('.mt');
      const memory = new WebAssembly.Memory({ initial: 64, ...(shared ? { maximum: 65536, shared: true } : {}) } as WebAssembly.MemoryDescriptor);
      const instance = await WebAssembly.instantiate(module, { env: { memory } });
      for (const name of KERNEL_NAMES) {
        expect((instance.exports[name] as (...a: unknown[]) => unknown).length, `${variant} ${name}`).toBe(KERNELS[name].args.length);
      }
    }
  });

  it('the js backend has every kernel, with the described arity', () => {
    const js = createJsKernels(new WebAssembly.Memory({ initial: 1 }));
    expect(Object.keys(js).sort()).toEqual([...KERNEL_NAMES].sort());
    for (const name of KERNEL_NAMES) expect(js[name].length, name).toBe(KERNELS[name].args.length);
  });

  it('core.ops checks scalars, extents and liveness by name, then computes what the raw kernel computes', async () => {
    const core = await loadCore({ backend: 'js' });
    const x = core.fromArray([1, -2, 3, -4]);
    const y = core.alloc(4);
    core.ops.reluForward(y, x, 4);
    expect(Array.from(y.toArray())).toEqual([1, 0, 3, 0]);
    expect(() => core.ops.reluForward(y, x, 5)).toThrow(/reluForward: y holds 4 elements but the sizes need 5/);
    expect(() => core.ops.reluForward(y, x, -1)).toThrow(/reluForward: n must be a non-negative integer/);
    expect(() => core.ops.softmaxRows(y, x, 2, 2, 0)).toThrow(/softmaxRows: T must be a finite number > 0/);
    expect(() => core.ops.biasAdd(y, x.ptr + 8, 1, 4)).toThrow(/biasAdd: b at offset \d+ has room for 2 elements but the sizes need 4/);
    const labels = core.allocI32(2).set([0, 2]);
    expect(() => core.ops.crossEntropy(0, x, labels, 2, 2, 1)).toThrow(/crossEntropy: labels\[1\] = 2 is outside \[0, 2\)/);
    core.free(x);
    expect(() => core.ops.reluForward(y, x, 4)).toThrow(/reluForward: x is a freed tensor/);
  });

  it('convolution geometry: same/valid output sizes and the checks', () => {
    expect(convOutput(28, 5, 1, 'same')).toEqual({ out: 28, before: 2 });
    expect(convOutput(28, 3, 2, 'same')).toEqual({ out: 14, before: 0 }); // TF: the odd pixel goes at the end
    expect(convOutput(7, 3, 2, 'same')).toEqual({ out: 4, before: 1 });
    expect(convOutput(28, 5, 1, 'valid')).toEqual({ out: 24, before: 0 });
    expect(convOutput(5, 3, 2, 1)).toEqual({ out: 3, before: 1 });
    const g = { B: 2, H: 5, W: 5, C: 4, OH: 3, OW: 3, OC: 8, KH: 3, KW: 3, SH: 2, SW: 2, PT: 1, PL: 1, G: 2 };
    expect(checkGeometry('t', g)).toEqual(g);
    expect(Array.from(encodeGeometry(g)).slice(0, 14)).toEqual([2, 5, 5, 4, 3, 3, 8, 3, 3, 2, 2, 1, 1, 2]);
    expect(() => checkGeometry('t', { ...g, G: 3 })).toThrow(/C = 4 is not a multiple of G = 3/);
    expect(() => checkGeometry('t', { ...g, PT: 3 })).toThrow(/PT = 3 must be smaller than KH = 3/);
    expect(() => checkGeometry('t', { ...g, OH: 4 })).toThrow(/OH = 4 has windows starting below the input/);
  });
});
