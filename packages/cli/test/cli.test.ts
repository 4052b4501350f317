import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

function retort(...args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
}

describe('retort command', () => {
  it('prints its version', () => {
    const r = retort('--version');
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('lists its commands and exit codes in --help', () => {
    const r = retort('--help');
    expect(r.status).toBe(0);
    for (const c of ['train', 'distill', 'eval', 'info', 'backends']) expect(r.stdout).toMatch(new RegExp(`\\n  ${c} `));
    expect(r.stdout).toMatch(/Exit codes: 0 ok; 1 .*; 2 /);
    const d = retort('distill', '--help');
    for (const f of ['--data', '--model', '--teacher', '--teacher-logits', '--temperature', '--alpha', '--epochs', '--batch-size',
      '--lr', '--seed', '--out', '--resume', '--json', '--force', '--config']) expect(d.stdout).toContain(f + ' ');
  });

  it('checks every backend it can run', () => {
    const r = retort('backends', '--json');
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { auto: string; backends: { backend: string; available: boolean; check: string }[] };
    expect(out.backends.map((b) => b.backend)).toEqual(['simd', 'scalar', 'js', 'relaxed']);
    for (const b of out.backends) if (b.available) expect(b.check).toBe('ok');
    // the opt-in relaxed build runs (the bin sets V8's relaxed-SIMD flag on Node 20), and auto never picks it
    expect(out.backends.find((b) => b.backend === 'relaxed')).toMatchObject({ available: true, check: 'ok' });
    expect(['simd', 'scalar']).toContain(out.auto);
  });

  it('rejects an unknown command and an unknown flag with a non-zero exit', () => {
    const a = retort('frobnicate');
    expect(a.status).toBe(2);
    expect(a.stderr).toMatch(/unknown command 'frobnicate'/);
    const b = retort('backends', '--bogus');
    expect(b.status).toBe(2);
    expect(b.stderr).toMatch(/unknown option '--bogus'/);
  });
});
