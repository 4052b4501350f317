// `retort train` and `retort distill`: flags -> RunConfig -> runJob, with progress, Ctrl-C
// (stop after the current step, keep the last checkpoint, exit 130) and cleanup: a run
// directory this invocation created is removed again when the job fails before training
// starts, so a typo leaves nothing half-written behind.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { readModelFile, readNpyFile, readTeacherLogits, runJob, type JobKind, type RunReport } from '@retort/distill/node';
import { formatModelSpec, parseModelSpec, type RunConfig } from '@retort/distill';
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
      throw new UsageError(`--resume continues the saved configuration of the run; ${extra.map(flagName).join(', ')} cannot be combined with it (only --json and --backend can)`);
    }
    out = resolve(flags.resume!);
  } else {
    config = buildRunConfig(kind, flags);
    if (kind === 'distill') preflightTeacher(config);
    out = resolve(flags.out ?? freshDefaultDir(kind));
  }

  const reporter = createReporter(flags.json ? 'json' : io.isTTY ? 'tty' : 'plain', { out: io.out, ...(io.stream ? { stream: io.stream } : {}) });
  const firstMissing = firstMissingAncestor(out);
  const existed = firstMissing === null;
  const wasEmpty = existed && isEmptyDir(out);
  let wroteRun = false;   // the first event comes after createRunDir and config.json
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
        wroteRun = true;
        if (e.type === 'start') started = true;
        reporter.event(e);
      },
      shouldStop: () => stopRequested,
    });
  } catch (e) {
    reporter.close();
    if (!resume && !started) removeWhatWeWrote(out, firstMissing, wasEmpty || (existed && flags.force === true && wroteRun));
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

/** Checks the teacher file before any run directory exists (errors name the file). */
function preflightTeacher(config: RunConfig): void {
  const student = parseModelSpec(config.model as string | object);
  const classes = student.sizes[student.sizes.length - 1]!;
  if (config.teacher) {
    const teacher = readModelFile(config.teacher).spec;
    const tc = teacher.sizes[teacher.sizes.length - 1]!;
    if (tc !== classes) {
      throw new RangeError(`teacher ${config.teacher} has ${tc} classes but the student (${formatModelSpec(student)}) has ${classes}`);
    }
    if (teacher.sizes[0] !== student.sizes[0]) {
      throw new RangeError(`teacher ${config.teacher} takes ${teacher.sizes[0]} inputs but the student (${formatModelSpec(student)}) takes ${student.sizes[0]}`);
    }
  } else if (config.teacherLogits) {
    // dtype, 2-D, classes and finite values; the sample count is checked against the data in runJob
    const shape = readNpyFile(config.teacherLogits).shape;
    readTeacherLogits(config.teacherLogits, shape.length === 2 ? shape[0]! : -1, classes);
  }
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
