// Experiments of the distillation family: `retort compare --methods` (every method, several
// seeds, one table), `retort born-again` (self-distillation over generations) and
// `retort sweep-temperature` (the T × width study of Hinton et al.). Each is many ordinary
// run directories under --out; rerunning the command resumes, --fresh reruns.
import { resolve } from 'node:path';
import {
  bornAgainJob, compareMethods, COMPARED_METHODS, ExperimentStopped, METHOD_COMPARE_QUICK, METHOD_COMPARE_TEXT_QUICK, isTextData, renderBornAgain, renderMethodComparison,
  renderSweep, temperatureSweep, type ComparedMethod, type MethodCompareSettings, type SweepSettings,
} from '@retort/distill/node';
import type { BackendName } from '@retort/core-wasm';
import type { RunConfig } from '@retort/distill';
import { EXIT, UsageError } from '../errors.js';
import { buildRunConfig, dataSettingsFromFlags, defaultRunDir, type DataFlags, type RunFlags, specText } from '../options.js';
import type { Io } from '../program.js';
import { multiRun } from './compare.js';

export interface MethodsCompareFlags extends DataFlags {
  out?: string; json?: boolean; backend?: 'auto' | BackendName; fresh?: boolean; quick?: boolean;
  methods?: string; seeds?: number; teacherModel?: string; secondTeacherModel?: string; model?: string; teacherEpochs?: number; epochs?: number;
  batchSize?: number; lr?: number; temperature?: number; alpha?: number; trainSize?: number; testSize?: number; transferSize?: number; validation?: number;
}

/** Runs an experiment with progress, Ctrl-C and the closing table. */
async function experiment<R>(flags: { json?: boolean }, io: Io, out: string, what: string,
                             job: (m: ReturnType<typeof multiRun>) => Promise<R>, render: (r: R) => string): Promise<number> {
  const m = multiRun(flags, io);
  try {
    const result = await job(m);
    m.close();
    m.reporter.record(what, { ...(result as object), out });
    m.reporter.line('');
    for (const line of render(result).trimEnd().split('\n')) m.reporter.line(line);
    m.reporter.line(`runs: ${out}`);
    return EXIT.ok;
  } catch (e) {
    if (e instanceof ExperimentStopped) {
      io.err(`retort: interrupted; rerun the same command to resume (${out})`);
      return EXIT.interrupted;
    }
    throw e;
  } finally {
    m.close();
  }
}

export function parseMethodList(value: string | undefined): ComparedMethod[] | undefined {
  if (value === undefined || value === 'all') return undefined;
  const names = value.split(',').map((x) => x.trim()).filter((x) => x !== '');
  const known = COMPARED_METHODS.map((c) => c.name) as string[];
  for (const n of names) if (!known.includes(n)) throw new UsageError(`--methods: unknown method '${n}' (known: all, ${known.join(', ')})`);
  if (names.length === 0) throw new UsageError('--methods: expected all or a comma-separated list');
  return names as ComparedMethod[];
}

export async function methodsCompareCommand(flags: MethodsCompareFlags, io: Io): Promise<number> {
  const out = resolve(flags.out ?? defaultRunDir('methods'));
  const methods = parseMethodList(flags.methods);
  const { data, dataOptions } = dataSettingsFromFlags(flags);
  const settings: Partial<MethodCompareSettings> = flags.quick ? { ...(isTextData(data ?? 'mnist') ? METHOD_COMPARE_TEXT_QUICK : METHOD_COMPARE_QUICK) } : {};
  const set = <K extends keyof MethodCompareSettings>(k: K, v: MethodCompareSettings[K] | undefined) => { if (v !== undefined) settings[k] = v; };
  set('data', data); set('dataOptions', dataOptions); set('seeds', flags.seeds);
  set('teacherModel', specText(flags.teacherModel, '--teacher-model')); set('studentModel', specText(flags.model, '--model'));
  set('secondTeacherModel', specText(flags.secondTeacherModel, '--second-teacher-model'));
  set('teacherEpochs', flags.teacherEpochs); set('studentEpochs', flags.epochs); set('batchSize', flags.batchSize);
  set('lr', flags.lr); set('temperature', flags.temperature); set('alpha', flags.alpha);
  set('trainSize', flags.trainSize); set('testSize', flags.testSize); set('transferSize', flags.transferSize); set('validation', flags.validation);
  return experiment(flags, io, out, 'methods', (m) => compareMethods({
    out, settings, ...(methods ? { methods } : {}), ...(flags.fresh ? { fresh: true } : {}),
    ...(flags.backend ? { backend: flags.backend } : {}), onEvent: m.onEvent, shouldStop: m.shouldStop,
  }), renderMethodComparison);
}

export interface BornAgainFlags extends RunFlags { generations?: number; ensemble?: boolean; fresh?: boolean }

export async function bornAgainCommand(flags: BornAgainFlags, io: Io): Promise<number> {
  if (flags.resume) throw new UsageError('--resume: born-again resumes by rerunning the same command with the same --out');
  for (const [flag, given] of [['--method', flags.method], ['--losses', flags.losses], ['--peers', flags.peers]] as const) {
    if (given !== undefined) throw new UsageError(`${flag}: born-again sets each generation's loss itself (labels only, then kd from the previous generation)`);
  }
  if (flags.labels === false) throw new UsageError('--no-labels: generation 0 of born-again learns from the labels');
  for (const [flag, v] of [['--temperature', flags.temperature], ['--alpha', flags.alpha]] as const) {
    if (v === 'auto') throw new UsageError(`${flag}: born-again distils every generation at one T and alpha; give a number`);
  }
  const config: RunConfig = buildRunConfig('train', flags);
  const out = resolve(flags.out ?? defaultRunDir('born-again'));
  return experiment(flags, io, out, 'bornAgain', (m) => bornAgainJob({
    out, config, generations: flags.generations ?? 3, ensemble: flags.ensemble === true, ...(flags.fresh ? { fresh: true } : {}),
    ...(flags.backend ? { backend: flags.backend } : {}), onEvent: m.onEvent, shouldStop: m.shouldStop,
  }), (r) => renderBornAgain(r, flags.ensemble === true));
}

export interface SweepFlags extends DataFlags {
  out?: string; json?: boolean; backend?: 'auto' | BackendName; fresh?: boolean; teacher?: string;
  widths?: number[]; temperatures?: number[]; seeds?: number; epochs?: number; transferSize?: number; alpha?: number; testSize?: number;
}

export async function sweepCommand(flags: SweepFlags, io: Io): Promise<number> {
  if (!flags.teacher) throw new UsageError('--teacher: required (a teacher model file, e.g. runs/methods/teacher/model.retort)');
  const out = resolve(flags.out ?? defaultRunDir('sweep'));
  const settings: Partial<SweepSettings> = {};
  const set = <K extends keyof SweepSettings>(k: K, v: SweepSettings[K] | undefined) => { if (v !== undefined) settings[k] = v; };
  set('widths', flags.widths); set('temperatures', flags.temperatures); set('seeds', flags.seeds); set('studentEpochs', flags.epochs);
  set('transferSize', flags.transferSize); set('alpha', flags.alpha); set('testSize', flags.testSize);
  return experiment(flags, io, out, 'sweep', (m) => temperatureSweep({
    out, teacher: resolve(flags.teacher!), settings, ...dataSettingsFromFlags(flags), ...(flags.fresh ? { fresh: true } : {}),
    ...(flags.backend ? { backend: flags.backend } : {}), onEvent: m.onEvent, shouldStop: m.shouldStop,
  }), renderSweep);
}
