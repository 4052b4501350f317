// Helpers for the `retort` end-to-end tests: run the built binary, make temp folders,
// check the one-line error contract.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { expect } from 'vitest';

/** The built binary of @retort/cli, resolved through the package (turbo builds it before tests). */
export const BIN = join(dirname(createRequire(import.meta.url).resolve('@retort/cli/package.json')), 'dist', 'bin.js');

/** A small, fast slice of MNIST: 2000 training samples, 500 validation, 500 test, one epoch. */
export const SMALL = ['--train-size', '2000', '--validation', '500', '--test-size', '500', '--epochs', '1'];

export interface Result { status: number | null; stdout: string; stderr: string }

export function retort(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {}): Result {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8', cwd: opts.cwd, env: { ...process.env, RETORT_DEBUG: '', ...opts.env }, timeout: opts.timeout ?? 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Spawns retort asynchronously; `onLine` sees each stdout line and may signal the child. */
export function retortAsync(args: string[], onLine: (line: string, child: ReturnType<typeof spawn>) => void,
                            opts: { cwd?: string } = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd, env: { ...process.env, RETORT_DEBUG: '' } });
    let stdout = '', stderr = '', pending = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        onLine(pending.slice(0, nl), child);
        pending = pending.slice(nl + 1);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** Exit code `code` (or any non-zero), exactly one stderr line `retort: ...` matching every pattern, no stack. */
export function expectOneLineError(r: Result, patterns: (RegExp | string)[], code?: number): void {
  const lines = r.stderr.trimEnd().split('\n');
  expect(r.status, r.stderr).not.toBe(0);
  if (code !== undefined) expect(r.status, r.stderr).toBe(code);
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^retort: /);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  for (const p of patterns) expect(lines[0]).toMatch(typeof p === 'string' ? new RegExp(p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : p);
}

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `retort-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Every stdout line parsed as JSON (fails the test on a line that is not). */
export function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout.trimEnd().split('\n').map((line) => {
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new Error(`stdout line is not JSON: ${line.slice(0, 200)}`);
    }
  });
}
