// A run directory (Node): the resolved config, metrics.jsonl, the checkpoint, the final
// model and the report. An existing run is never overwritten without `force`, and even
// with it only a directory that looks like a Retort run is cleared.
import { appendFileSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';

export const RUN_FILES = {
  config: 'config.json',
  metrics: 'metrics.jsonl',
  checkpoint: 'checkpoint.retort',
  model: 'model.retort',
  report: 'report.json',
  reportMarkdown: 'report.md',
  teacherOutputs: 'teacher-outputs',
} as const;

export class RunDirError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunDirError';
  }
}

/** Creates `dir` for a new run; refuses a non-empty one unless `force` and it is a run directory. */
export function createRunDir(dir: string, opts: { force?: boolean } = {}): void {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new RunDirError(`${dir} exists and is not a directory`);
    const entries = readdirSync(dir);
    if (entries.length > 0) {
      if (!opts.force) {
        throw new RunDirError(`${dir} already exists and is not empty: pass --force to replace it, or --resume ${dir} to continue it`);
      }
      if (!entries.includes(RUN_FILES.config)) {
        throw new RunDirError(`${dir} is not empty and is not a Retort run directory (no ${RUN_FILES.config}); refusing to clear it even with --force`);
      }
      for (const e of entries) rmSync(join(dir, e), { recursive: true, force: true });
    }
  } else {
    mkdirSync(dir, { recursive: true });
  }
}

export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, new TextEncoder().encode(JSON.stringify(value, null, 2) + '\n'));
}

export function writeTextAtomic(path: string, text: string): void {
  writeFileAtomic(path, new TextEncoder().encode(text));
}

/** Appends one JSON object per line, flushed to disk, so a killed run keeps what it logged. */
export function appendJsonLine(path: string, value: unknown): void {
  appendFileSync(path, JSON.stringify(value) + '\n');
  const fd = openSync(path, 'r+');
  try { fsyncSync(fd); } finally { closeSync(fd); }
}

/**
 * On resume: keeps the metrics lines up to the checkpoint's epoch and drops what a killed
 * run logged after it (those epochs run again), so metrics.jsonl matches an uninterrupted run.
 */
export function truncateMetrics(path: string, epoch: number): void {
  if (!existsSync(path)) return;
  const kept = readFileSync(path, 'utf8').split('\n').filter((line) => {
    if (line.trim() === '') return false;
    try {
      const rec = JSON.parse(line) as { epoch?: unknown };
      return typeof rec.epoch !== 'number' || rec.epoch <= epoch;
    } catch {
      return false; // a line cut short by the kill
    }
  });
  writeTextAtomic(path, kept.map((l) => l + '\n').join(''));
}
