// `retort compare` (the main job, what `npm start` runs) and `retort repro hinton-mnist`:
// several runs in one invocation, each an ordinary run directory, with the same
// progress output as `retort train` and a closing table.
import { resolve } from 'node:path';
import { compareJob, renderCnnSummary, renderComparison, renderSummary, reproCnnMnist, reproHintonMnist, type CompareSettings, type RunEvent } from '@retort/distill/node';
import type { BackendName } from '@retort/core-wasm';
import { EXIT } from '../errors.js';
import { dataSettingsFromFlags, defaultRunDir, specText, type DataFlags } from '../options.js';
import { createReporter, type Reporter } from '../progress.js';
import type { Io } from '../program.js';

export interface CompareFlags extends DataFlags {
  out?: string; force?: boolean; json?: boolean; backend?: 'auto' | BackendName;
  teacherModel?: string; model?: string; teacherEpochs?: number; epochs?: number; batchSize?: number; lr?: number;
  temperature?: number | 'auto'; alpha?: number | 'auto'; seed?: number; validation?: number; trainSize?: number; testSize?: number; transferSize?: number;
}

/** Shared plumbing: a reporter, a header per sub-run, and Ctrl-C = stop after the current step. */
export function multiRun(flags: { json?: boolean }, io: Io) {
  const reporter: Reporter = createReporter(flags.json ? 'json' : io.isTTY ? 'tty' : 'plain', { out: io.out, ...(io.stream ? { stream: io.stream } : {}) });
  let stop = false;
  const onSigint = (): void => {
    if (stop) process.exit(EXIT.interrupted);
    stop = true;
    io.err('retort: stopping after the current step (Ctrl-C again to quit at once)');
  };
  process.on('SIGINT', onSigint);
  let current = '';
  return {
    reporter,
    onEvent: (run: string, e: RunEvent): void => {
      if (run !== current) {
        current = run;
        reporter.line(`== ${run} ==`);
        reporter.record('run', { name: run });
      }
      reporter.event(e);
    },
    shouldStop: () => stop,
    stopped: () => stop,
    close: () => { reporter.close(); process.off('SIGINT', onSigint); },
  };
}

export async function compareCommand(flags: CompareFlags, io: Io): Promise<number> {
  const out = resolve(flags.out ?? defaultRunDir('compare'));
  const settings: Partial<CompareSettings> = {};
  const set = <K extends keyof CompareSettings>(k: K, v: CompareSettings[K] | undefined) => { if (v !== undefined) settings[k] = v; };
  const { data, dataOptions } = dataSettingsFromFlags(flags);
  set('data', data); set('dataOptions', dataOptions); set('teacherModel', specText(flags.teacherModel, '--teacher-model')); set('studentModel', specText(flags.model, '--model'));
  set('teacherEpochs', flags.teacherEpochs); set('studentEpochs', flags.epochs); set('batchSize', flags.batchSize);
  set('lr', flags.lr); set('temperature', flags.temperature); set('alpha', flags.alpha); set('seed', flags.seed);
  set('trainSize', flags.trainSize); set('testSize', flags.testSize); set('transferSize', flags.transferSize);
  set('validation', flags.validation);
  const m = multiRun(flags, io);
  try {
    const result = await compareJob({
      out, force: flags.force === true, settings, ...(flags.backend ? { backend: flags.backend } : {}),
      onEvent: m.onEvent, shouldStop: m.shouldStop,
    });
    m.close();
    if (m.stopped()) {
      io.err(`retort: interrupted; the runs in ${out} keep their last checkpoints`);
      return EXIT.interrupted;
    }
    m.reporter.record('comparison', { ...result, out });
    m.reporter.line('');
    for (const line of renderComparison(result).trimEnd().split('\n')) m.reporter.line(line);
    m.reporter.line(`runs: ${out} (teacher/, distilled/, alone/, comparison.md)`);
    return EXIT.ok;
  } finally {
    m.close();
  }
}

export interface ReproFlags { out?: string; json?: boolean; backend?: 'auto' | BackendName; epochScale?: number }

export async function reproCommand(experiment: string, flags: ReproFlags, io: Io): Promise<number> {
  if (experiment === 'cnn-mnist') return reproCnnCommand(flags, io);
  if (experiment !== 'hinton-mnist') {
    io.err(`retort: unknown experiment '${experiment}' (known: hinton-mnist, cnn-mnist)`);
    return EXIT.usage;
  }
  const out = resolve(flags.out ?? 'runs/hinton-mnist');
  const m = multiRun(flags, io);
  try {
    const summary = await reproHintonMnist({
      out, ...(flags.epochScale !== undefined ? { epochScale: flags.epochScale } : {}),
      ...(flags.backend ? { backend: flags.backend } : {}), onEvent: m.onEvent,
    });
    m.close();
    m.reporter.record('summary', { ...summary, out });
    for (const line of renderSummary(summary).trimEnd().split('\n')) m.reporter.line(line);
    m.reporter.line(`runs: ${out} (summary.md, summary.json)`);
    return EXIT.ok;
  } finally {
    m.close();
  }
}

async function reproCnnCommand(flags: ReproFlags, io: Io): Promise<number> {
  const out = resolve(flags.out ?? 'runs/cnn-mnist');
  const m = multiRun(flags, io);
  try {
    const summary = await reproCnnMnist({
      out, ...(flags.epochScale !== undefined ? { epochScale: flags.epochScale } : {}),
      ...(flags.backend ? { backend: flags.backend } : {}), onEvent: m.onEvent,
    });
    m.close();
    m.reporter.record('summary', { ...summary, out });
    for (const line of renderCnnSummary(summary).trimEnd().split('\n')) m.reporter.line(line);
    m.reporter.line(`runs: ${out} (summary.md, summary.json)`);
    return EXIT.ok;
  } finally {
    m.close();
  }
}
