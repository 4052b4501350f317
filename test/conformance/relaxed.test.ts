// The opt-in relaxed-SIMD backend: chosen only when asked, refused with one clear error where
// the engine does not validate relaxed SIMD, and really built with fused multiply-adds (its
// conformance to the same tolerances as every backend runs in the other files of this folder,
// helpers.ts BACKENDS; its threads in threads.test.ts).
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { hasRelaxedSimd, loadCore } from '@retort/core-wasm';
import './helpers.js'; // sets V8's relaxed-SIMD flag under Node 20

const build = join(dirname(createRequire(import.meta.url).resolve('@retort/core-wasm/package.json')), 'build');
const nodeMajor = Number(process.versions.node.split('.')[0]);

describe('the relaxed backend', () => {
  it('is never what auto picks, even where the engine has relaxed SIMD', async () => {
    expect(hasRelaxedSimd()).toBe(true);
    expect((await loadCore()).backend).not.toBe('relaxed');
    expect((await loadCore({ backend: 'relaxed' })).backend).toBe('relaxed');
  });

  it('is built with relaxed_madd in its inner loops; the simd build has none', () => {
    const count = (variant: string) => (readFileSync(join(build, `retort.${variant}.wat`), 'utf8').match(/f32x4\.relaxed_madd/g) ?? []).length;
    expect(count('relaxed')).toBeGreaterThan(50);
    expect(count('relaxed.mt')).toBe(count('relaxed'));
    expect(count('simd')).toBe(0);
    expect(count('simd.mt')).toBe(0);
  });

  it('the one-input-channel filter gradient gives the same bits for a channel range as for the whole call, on values in [1, 4)', async () => {
    // Its tiles drop products from outside the image by masking only for an image with an Inf or
    // a NaN (assembly/kernels/conv_narrow.ts). The check once ORed two channels' bits, so 1.5
    // beside 2.5 looked like an Inf: most images took the masked (unfused) tiles on the whole
    // call, and a lone channel's range the fused ones. Both must take the fused tiles here.
    const core = await loadCore({ backend: 'relaxed' });
    const B = 5, H = 28, OC = 6, O = 24;
    const x = core.alloc(B * H * H), dy = core.alloc(B * O * O * OC), dw = core.alloc(25 * OC), g = core.allocI32(16);
    let seed = 7;
    const value = () => { seed = (seed * 1103515245 + 12345) >>> 0; const u = seed / 2 ** 32; return (u < 0.5 ? -1 : 1) * (1 + 6 * Math.abs(u - 0.5)); };
    x.view().forEach((_, i, a) => { a[i] = value(); });
    dy.view().forEach((_, i, a) => { a[i] = value(); });
    const run = (o0: number, on: number): Float32Array => {
      g.set(new Int32Array([B, H, H, 1, O, O, OC, 5, 5, 1, 1, 0, 0, 1, o0, on]));
      core.kernels.fill(dw.ptr, 25 * OC, 0);
      core.kernels.conv2dBackwardFilter(dw.ptr, x.ptr, dy.ptr, g.ptr, 0, 0);
      return dw.toArray();
    };
    const whole = run(0, 0);
    for (const [o0, on] of [[0, 1], [5, 1], [2, 2], [1, 3]] as const) {
      const part = run(o0, on);
      for (let t = 0; t < 25; t++) {
        for (let o = o0; o < o0 + on; o++) expect(part[t * OC + o], `tap ${t}, channel ${o} of range ${o0}+${on}`).toBe(whole[t * OC + o]);
      }
    }
  });

  it.skipIf(nodeMajor >= 22)('without the engine feature: one error naming the backend and the flag', () => {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e',
      "import { loadCore } from '@retort/core-wasm'; await loadCore({ backend: 'relaxed' });"], { encoding: 'utf8', cwd: import.meta.dirname });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/backend 'relaxed' needs an engine that validates relaxed SIMD .*--experimental-wasm-relaxed-simd/);
  });
});
