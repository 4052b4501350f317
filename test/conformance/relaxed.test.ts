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

  it.skipIf(nodeMajor >= 22)('without the engine feature: one error naming the backend and the flag', () => {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e',
      "import { loadCore } from '@retort/core-wasm'; await loadCore({ backend: 'relaxed' });"], { encoding: 'utf8', cwd: import.meta.dirname });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/backend 'relaxed' needs an engine that validates relaxed SIMD .*--experimental-wasm-relaxed-simd/);
  });
});
