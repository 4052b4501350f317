// `retort train` and `retort distill`: flags -> RunConfig -> runJob, with progress, Ctrl-C
// (stop after the current step, keep the last checkpoint, exit 130) and cleanup: a run
// directory this invocation created is removed again when the job fails before training
// starts, so a typo leaves nothing half-written behind.
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { runJob, type JobKind, type RunReport } from '@retort/distill/node';
import type { RunConfig } from '@retort/distill';
import { EXIT, UsageError } from '../errors.js';
import { buildRunConfig, defaultRunDir, RESUME_COMPATIBLE, type RunFlags } from '../options.js';
import { createReporter, summaryLines, type Reporter } from '../progress.js';
import type { Io } from '../program.js';

export async function runCommand(kind: JobKind, flags: RunFlags, given: ReadonlySet<string>, io: Io): Promise<number> {
  const resume = flags.resume !== undefined;
  let config: RunConfig | undefined;
  let out: string;
  if (resume) {
    const extra = [...given].filter((k) => !RESUME_COMPATIBLE.has(k));
    if (extra.length > 0) {
      throw new UsageError(`--resume continues the saved configuration of the run; ${extra.map(flagName).join(', ')} cannot be combined with it (only --json, --backend and --threads can)`);
    }
    out = resolve(flags.resume!);
  } else {
    config = buildRunConfig(kind, flags);
    out = resolve(flags.out ?? freshDefaultDir(kind));
  }

  const reporter = createReporter(flags.json ? 'json' : io.isTTY ? 'tty' : 'plain', { out: io.out, ...(io.stream ? { stream: io.stream } : {}) });
  const firstMissing = firstMissingAncestor(out);
  const existed = firstMissing === null;
  const wasEmpty = existed && isEmptyDir(out);
  // runJob creates (or, with --force, clears) the directory only after every input checked out,
  // and then writes a new config.json: a new inode there is the sign it got that far
  const configBefore = configInode(out);
  let started = false;    // training began: from here on the directory is a resumable run
  let stopRequested = false;
  const onSigint = (): void => {
    if (stopRequested) process.exit(EXIT.interrupted);
    stopRequested = true;
    io.err('retort: stopping after the current step (Ctrl-C again to quit at once)');
  };
  process.on('SIGINT', onSigint);
  reporter.record('run', { kind, runDir: out, resume, ...(config ? { config } : {}) });
  let report: RunReport;
  try {
    report = await runJob(kind, config, {
      out, resume, force: flags.force === true, backend: flags.backend ?? 'auto',
      onEvent: (e) => {
        if (e.type === 'start') started = true;
        reporter.event(e);
      },
      shouldStop: () => stopRequested,
    });
  } catch (e) {
    reporter.close();
    if (!resume && !started) {
      const rewritten = configInode(out) !== undefined && configInode(out) !== configBefore;
      removeWhatWeWrote(out, firstMissing, wasEmpty || (existed && flags.force === true && rewritten));
    }
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
  }
  reporter.close();
  const resumeCmd = `retort ${kind} --resume ${out}`;
  if (report.stopped) {
    const done = report.history.length;
    reporter.record('interrupted', { runDir: out, epochsDone: done, resume: resumeCmd });
    io.err(`retort: interrupted; ${done > 0 ? `the checkpoint after epoch ${done} is kept` : 'no epoch finished yet'} in ${out}. Resume with: ${resumeCmd}`);
    return EXIT.interrupted;
  }
  reporter.record('report', { ...report });
  for (const line of summaryLines(report)) reporter.line(line);
  return EXIT.ok;
}

/** The inode of `dir`/config.json, or undefined when there is none. */
function configInode(dir: string): number | undefined {
  try { return statSync(join(dir, 'config.json')).ino; } catch { return undefined; }
}

/** A fresh default run directory: runs/<kind>-YYYYMMDD-HHMMSS, with -2, -3... if taken. */
function freshDefaultDir(kind: string): string {
  const base = defaultRunDir(kind);
  let dir = base;
  for (let i = 2; existsSync(dir) && readdirSync(dir).length > 0; i++) dir = `${base}-${i}`;
  return dir;
}

/** The highest ancestor of `path` (or path itself) that does not exist yet; null if path exists. */
function firstMissingAncestor(path: string): string | null {
  if (existsSync(path)) return null;
  let top = path;
  for (let p = dirname(path); p !== top && !existsSync(p); p = dirname(p)) top = p;
  return top;
}

function isEmptyDir(path: string): boolean {
  try { return readdirSync(path).length === 0; } catch { return false; }
}

/** Removes the directories this invocation created, or empties a pre-existing one it filled. */
function removeWhatWeWrote(out: string, firstMissing: string | null, emptyExisting: boolean): void {
  try {
    if (firstMissing) rmSync(firstMissing, { recursive: true, force: true });
    else if (emptyExisting && existsSync(out)) for (const e of readdirSync(out)) rmSync(resolve(out, e), { recursive: true, force: true });
  } catch {
    // best effort: the error that got us here is the one to report
  }
}

function flagName(key: string): string {
  if (key === 't2Scaling') return '--no-t2-scaling';
  return '--' + key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}
