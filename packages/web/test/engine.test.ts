import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { api } from '../src/engine.js';

describe('web engine api', () => {
  it.each(['simd', 'scalar', 'js'] as const)('runs a kernel on the %s backend', async (backend) => {
    const r = await api.info(backend);
    expect(r).toEqual({ backend, check: true });
  });

  it('the production build ships both .wasm variants as assets', () => {
    const assets = fileURLToPath(new URL('../dist/assets', import.meta.url));
    expect(existsSync(assets)).toBe(true);
    const files = readdirSync(assets);
    expect(files.some((f) => /^retort\.simd.*\.wasm$/.test(f))).toBe(true);
    expect(files.some((f) => /^retort\.scalar.*\.wasm$/.test(f))).toBe(true);
  });
});
