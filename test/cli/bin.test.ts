// The `retort` bin as npm links it: in this repository after `npm ci` (the root's prepare
// script builds, and the bin's target exists before the build), and its one-line refusal where
// the CLI has not been built.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const tmp = tempDir('bin');
afterAll(() => tmp.cleanup());

describe('the retort bin', () => {
  it('is linked at the repository root, so `npx retort` runs the CLI', () => {
    const r = spawnSync(join(root, 'node_modules', '.bin', 'retort'), ['--help'], { cwd: root, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Usage: retort /);
    expect(r.stdout).toMatch(/data/);
  });

  it('says in one line that the CLI is not built where dist/ is missing', () => {
    mkdirSync(join(tmp.dir, 'bin'));
    copyFileSync(join(root, 'packages', 'cli', 'bin', 'retort.js'), join(tmp.dir, 'bin', 'retort.js'));
    const r = spawnSync(process.execPath, [join(tmp.dir, 'bin', 'retort.js'), '--help'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr.trimEnd().split('\n')).toEqual(['retort: the CLI is not built yet: run `npm run build` (the repository root) first']);
  });
});
