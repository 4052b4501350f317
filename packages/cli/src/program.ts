// The `retort` command's program definition: commander wiring only; the work is in
// commands/*.ts, flag parsing in options.ts, error mapping in errors.ts.
import { Command, CommanderError } from 'commander';
import { closeAllThreads, hasRelaxedSimd, hasSimd, loadCore, setDefaultThreads, setHelperFailureForTests, type BackendName } from '@retort/core-wasm';
import { availableParallelism } from 'node:os';
import type { JobKind } from '@retort/distill/node';
import { compareCommand, reproCommand, type CompareFlags, type ReproFlags } from './commands/compare.js';
import { dataInspectCommand, dataShardCommand, type DataShardFlags } from './commands/data.js';
import { evalCommand, type EvalFlags } from './commands/eval.js';
import { infoCommand } from './commands/info.js';
import { methodsCommand } from './commands/methods.js';
import { modelsCommand, type ModelsFlags } from './commands/models.js';
import { exportCommand, importCommand, quantizeCommand, reportCommand, type ExportFlags, type ImportFlags, type QuantizeFlags, type ReportFlags } from './commands/deploy.js';
import { bornAgainCommand, methodsCompareCommand, sweepCommand, type BornAgainFlags, type MethodsCompareFlags, type SweepFlags } from './commands/experiments.js';
import { COMPARED_METHODS } from '@retort/distill/node';
import { runCommand } from './commands/run.js';
import { generateCommand, lmEvalCommand, lmQuantizeCommand, lmRunCommand, type GenerateFlags, type LmFlags } from './commands/lm.js';
import { describeError, EXIT, UsageError } from './errors.js';
import { addDataOptions, backendOption, threadsOption, choiceArg, configArg, configOrAutoArg, DATA_HELP, intArg, jsonOption, listArg, numberArg, scheduleArg, type DataFlags, type RunFlags } from './options.js';
import { METHOD_NAMES } from '@retort/distill';

export const VERSION = '0.1.0';

export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
  /** stdout is a terminal: draw progress bars (on `stream`) instead of plain lines. */
  isTTY?: boolean;
  stream?: NodeJS.WritableStream;
}

const HELP_AFTER = `
Run directories (--out, default runs/<command>-YYYYMMDD-HHMMSS) hold config.json,
metrics.jsonl, checkpoint.retort, model.retort, report.json and report.md.

Loss: a weighted sum of terms. The default method, kd, is Hinton et al.'s
(1 - alpha) * CE(labels) + alpha * T^2 * KL(teacher_T || student_T): --alpha weights the
soft (teacher) term, --temperature is T. 'retort methods' lists the other methods (dkd,
fitnets, rkd, dml, tfkd, adaptive, born-again); --losses writes any combination out.

Examples:
  retort train --model mlp:784-1200-1200-10,dropout=0.2/0.5,maxnorm=3.5 --jitter 2 --epochs 60 --out runs/teacher
  retort distill --teacher runs/teacher/model.retort --model mlp:784-800-800-10 --temperature 20 --out runs/student
  retort eval runs/student/model.retort --teacher runs/teacher/model.retort
  retort info runs/student/model.retort

Exit codes: 0 ok; 1 a data, model or run file is bad or the run failed; 2 a flag,
value or config field is wrong; 130 interrupted (Ctrl-C; resume with --resume DIR).
Set RETORT_DEBUG=1 to print stack traces.`;

function addRunOptions(cmd: Command, kind: JobKind): Command {
  cmd.option('--config <file>', 'JSON file of run settings (RunConfig fields); flags override it');
  addDataOptions(cmd)
    .option('--model <spec>', "model spec: a preset (lenet5, resnet8, mobilenet-tiny; NAME:width=W), mlp:784-800-800-10[,dropout=IN/HID][,maxnorm=X], or a JSON graph (text or file); see 'retort models'");
  if (kind === 'distill') {
    cmd
      .option('--teacher <file>', 'teacher model file (.retort)')
      .option('--teacher-logits <path>', 'teacher outputs over the training set: a .npy or .safetensors [samples, classes] of logits, or a teacher-outputs directory (sharded logits or top-k; see the README)')
      .option('--teachers <files>', 'several teachers: comma-separated model files (.retort, .onnx, TF.js model.json) and/or logits (.npy, .safetensors, teacher-outputs directories)')
      .option('--shuffle-buffer <n>', 'rows of the shuffle buffer a training set streamed from shards passes through (default 16384)', configArg('--shuffle-buffer', 'shuffleBuffer'))
      .option('--top-k <k>', "cache a teacher model's soft labels as its k largest logits per row instead of all (for many classes; the rest of the mass is spread evenly)", configArg('--top-k', 'topK'))
      .option('--teacher-weights <w,...>', 'weights of --teachers (default all 1)', listArg('--teacher-weights', false, { min: 0 }))
      .option('--combine <how>', 'combine teachers by averaging probabilities (default) or logits', choiceArg('--combine', ['probabilities', 'logits'] as const));
  }
  cmd
    .option('--temperature <T|auto>', 'temperature T > 0 of the soft terms (kd, tfkd; default 4); auto: chosen from 1, 2, 4, 8 on the validation split (kd)',
      configOrAutoArg('--temperature', 'temperature'))
    .option('--alpha <a|auto>', 'soft weight a in [0, 1] of kd, tfkd, fitnets, adaptive: a·soft + (1 - a)·ce (default 0.9); auto: chosen from 0, 0.5, 0.9 on the validation split (kd)',
      configOrAutoArg('--alpha', 'alpha'))
    .option('--tune-epochs <n>', 'with auto: epochs of each candidate of the search (default --epochs)', intArg('--tune-epochs', { min: 1 }))
    .option('--no-t2-scaling', 'do not multiply the soft terms by T^2')
    .option('--method <name>', `distillation method (see 'retort methods'): ${METHOD_NAMES.filter((m) => m !== 'born-again').join(', ')} (default: kd for distill, none for train)`,
      choiceArg('--method', METHOD_NAMES.filter((m) => m !== 'born-again')))
    .option('--layer-map <map>', "tinybert, minilm: which teacher block each student block learns from: uniform (tinybert's default) or last (minilm's)",
      choiceArg('--layer-map', ['uniform', 'last'] as const))
    .option('--losses <json|file>', 'loss terms written out, as JSON text or a JSON file (overrides --method)')
    .option('--peers <n>', 'further students trained together (Deep Mutual Learning; default 1 with --method dml)', configArg('--peers', 'peers'))
    .option('--transfer-fraction <f>', 'train on this fraction of the training samples, chosen by seed', numberArg('--transfer-fraction', { above: 0, max: 1 }))
    .option('--transfer-classes <list>', 'train only on samples of these classes (e.g. 0,1,2)', listArg('--transfer-classes', true, { min: 0 }))
    .option('--omit-classes <list>', 'never show the student samples of these classes (e.g. 3)', listArg('--omit-classes', true, { min: 0 }))
    .option('--no-labels', 'the student never reads a label: soft targets alone');
  return cmd
    .option('--epochs <n>', 'epochs (default 10)', configArg('--epochs', 'epochs'))
    .option('--batch-size <n>', 'batch size (default 128)', configArg('--batch-size', 'batchSize'))
    .option('--lr <x>', 'learning rate (default 1e-3 for adamw, 0.1 for sgd)', numberArg('--lr', { min: 0 }))
    .option('--optimizer <name>', 'adamw (default) or sgd (momentum 0.9 unless --momentum)', choiceArg('--optimizer', ['adamw', 'sgd'] as const))
    .option('--momentum <m>', 'SGD momentum in [0, 1)', numberArg('--momentum', { min: 0, below: 1 }))
    .option('--weight-decay <x>', 'decoupled (adamw) or L2 (sgd) weight decay', numberArg('--weight-decay', { min: 0 }))
    .option('--schedule <s>', 'learning-rate schedule: cosine (default), constant or step:EVERY:GAMMA', scheduleArg)
    .option('--warmup <steps>', 'linear warm-up steps', intArg('--warmup', { min: 0 }))
    .option('--seed <n>', 'seed of initialisation, split, shuffling, dropout and jitter (default 1)', configArg('--seed', 'seed'))
    .option('--validation <n>', 'training samples held out for validation (default 5000)', configArg('--validation', 'validation'))
    .option('--train-size <n>', 'train on only this many samples', configArg('--train-size', 'trainSize'))
    .option('--test-size <n>', 'test on only the first n test samples', configArg('--test-size', 'testSize'))
    .option('--jitter <px>', 'random shifts of up to ±px pixels (default 0)', configArg('--jitter', 'jitter'))
    .option('--normalize <how>', "'channel': standardise inputs per channel (per feature of a table) with the training split's mean and std, recorded in the model file",
      choiceArg('--normalize', ['channel'] as const))
    .option('--token-noise <p>', 'text: replace each training token with probability p by a random vocabulary id, afresh every epoch (a teacher reads the same noised texts; default 0)',
      configArg('--token-noise', 'tokenNoise'))
    .option('--mixup', 'mix each batch with a permutation of itself (one weight per batch, labels mixed alike; a teacher sees the mixed inputs)')
    .option('--out <dir>', 'run directory (default runs/<command>-YYYYMMDD-HHMMSS)')
    .option('--force', 'replace an existing run directory')
    .option('--resume <dir>', 'continue the run in <dir> from its last checkpoint (with --json/--backend/--threads only)')
    .addOption(jsonOption('events'))
    .addOption(backendOption()).addOption(threadsOption());
}

/** Flags the user typed (not defaults), by commander's attribute name. */
function givenFlags(cmd: Command): Set<string> {
  return new Set(Object.keys(cmd.opts()).filter((k) => cmd.getOptionValueSource(k) === 'cli'));
}

export function buildProgram(io: Io, setExit: (code: number) => void = () => {}): Command {
  const program = new Command('retort')
    .description('Knowledge distillation in JavaScript: train a teacher, distill a student, on WebAssembly SIMD.')
    .version(VERSION)
    .exitOverride()
    .showSuggestionAfterError()
    .configureOutput({
      writeOut: (s) => io.out(s.trimEnd()),
      writeErr: (s) => io.err(s.trimEnd().replace(/^error: /, 'retort: ')),
    })
    .addHelpText('after', HELP_AFTER);

  for (const kind of ['train', 'distill'] as const) {
    const cmd = program.command(kind).description(kind === 'train'
      ? 'train a model (a teacher, or a student without distillation) from a spec'
      : 'distill a student from one or more teachers (model files or logits) with any method of the family (--method, --losses)');
    addRunOptions(cmd, kind).action(async (opts: RunFlags, self: Command) => {
      setExit(await runCommand(kind, opts, givenFlags(self), io));
    });
  }

  addDataOptions(program
    .command('compare')
    .description('the main job: train a teacher, distill a student, train the same student alone, and compare the three; with --methods, every distillation method over several seeds'))
    .option('--out <dir>', 'parent folder of the three runs (default runs/compare-YYYYMMDD-HHMMSS)')
    .option('--force', 'replace existing runs in --out')
    .option('--teacher-model <spec>', 'teacher spec (default mlp:784-1200-1200-10,dropout=0.1/0.3)')
    .option('--second-teacher-model <spec>', 'with --methods: the second teacher of the two-teacher row (default mlp:784-800-800-10,dropout=0.1/0.3)')
    .option('--model <spec>', 'student spec (default mlp:784-800-800-10)')
    .option('--teacher-epochs <n>', 'teacher epochs (default 8)', intArg('--teacher-epochs', { min: 1 }))
    .option('--epochs <n>', 'student epochs, distilled and alone (default 10)', configArg('--epochs', 'epochs'))
    .option('--transfer-size <n>', 'training images the students learn from; the teacher uses all (default 5000; 0 = all)', intArg('--transfer-size', { min: 0 }))
    .option('--batch-size <n>', 'batch size (default 128)', configArg('--batch-size', 'batchSize'))
    .option('--lr <x>', 'AdamW learning rate (default 1e-3)', numberArg('--lr', { min: 0 }))
    .option('--temperature <T|auto>', 'distillation temperature (default auto: chosen from 1, 2, 4, 8 on the validation split)', configOrAutoArg('--temperature', 'temperature'))
    .option('--alpha <a|auto>', 'weight of the soft term in [0, 1] (default auto: chosen from 0, 0.5, 0.9 on the validation split)', configOrAutoArg('--alpha', 'alpha'))
    .option('--seed <n>', 'seed shared by all three runs (default 1)', configArg('--seed', 'seed'))
    .option('--train-size <n>', 'train the teacher on only this many samples', configArg('--train-size', 'trainSize'))
    .option('--test-size <n>', 'test on only the first n test samples', configArg('--test-size', 'testSize'))
    .option('--validation <n>', 'training samples every run holds out for validation (default 5000)', configArg('--validation', 'validation'))
    .option('--methods <list>', `compare distillation methods instead: all, or a comma-separated list of ${COMPARED_METHODS.map((c) => c.name).join(', ')}; its defaults differ: student mlp:784-300-300-10, T 4, transfer set 10000, teachers 784-1200-1200-10 and 784-800-800-10; on text: student transformer-s, teachers transformer-l and cnn1d, 3 epochs, batch 32, every text (tinybert and minilm rows when both models have attention)`)
    .option('--seeds <n>', 'with --methods: seeds per method (default 3)', intArg('--seeds', { min: 1, max: 100 }))
    .option('--quick', 'with --methods: a tiny smoke run (seconds; the numbers mean nothing)')
    .option('--fresh', 'with --methods: rerun finished runs instead of reading them back')
    .addOption(jsonOption('events'))
    .addOption(backendOption()).addOption(threadsOption())
    .action(async (opts: CompareFlags & Omit<MethodsCompareFlags, 'temperature' | 'alpha'>) => {
      if (opts.methods !== undefined) {
        if (opts.force) throw new UsageError('--force: with --methods, finished runs are read back; use --fresh to rerun them');
        if (opts.seed !== undefined) throw new UsageError('--seed: with --methods, use --seeds N (seeds 1..N)');
        for (const [flag, v] of [['--temperature', opts.temperature], ['--alpha', opts.alpha]] as const) {
          if (v === 'auto') throw new UsageError(`${flag}: auto chooses T and alpha of the main comparison; --methods compares each method at one setting (give a number)`);
        }
        setExit(await methodsCompareCommand(opts as MethodsCompareFlags, io));
        return;
      }
      for (const [flag, v] of [['--seeds', opts.seeds], ['--quick', opts.quick], ['--fresh', opts.fresh]] as const) {
        if (v !== undefined) throw new UsageError(`${flag}: only applies with --methods`);
      }
      setExit(await compareCommand(opts, io));
    });

  const bornAgain = program
    .command('born-again')
    .description('born-again networks: generations of one student, each distilled from the previous one (Furlanello et al. 2018)');
  addRunOptions(bornAgain, 'train')
    .option('--generations <n>', 'generations after the first (default 3)', intArg('--generations', { min: 1, max: 20 }))
    .option('--ensemble', 'teach each generation with the average of all earlier generations')
    .option('--fresh', 'rerun finished generations instead of reading them back')
    .action(async (opts: BornAgainFlags) => { setExit(await bornAgainCommand(opts, io)); });
  // born-again sets each generation's loss itself: these run flags are refused, so not listed
  for (const o of bornAgain.options) if (['--method', '--losses', '--peers', '--no-labels', '--resume', '--tune-epochs'].includes(o.long ?? '')) o.hideHelp();

  addDataOptions(program
    .command('sweep-temperature')
    .description('the temperature study of Hinton et al.: distill students of several widths at several temperatures'))
    .option('--teacher <file>', 'teacher model file (.retort)')
    .option('--out <dir>', 'folder of the runs (default runs/sweep-YYYYMMDD-HHMMSS); rerun to resume')
    .option('--widths <list>', 'hidden widths W of 784-W-W-10 students (default 30,300,800)', listArg('--widths', true, { min: 1 }))
    .option('--temperatures <list>', 'temperatures (default 1,2,2.5,4,8,20)', listArg('--temperatures', false, { above: 0 }))
    .option('--seeds <n>', 'seeds per cell (default 2)', intArg('--seeds', { min: 1, max: 100 }))
    .option('--epochs <n>', 'student epochs (default 10)', configArg('--epochs', 'epochs'))
    .option('--transfer-size <n>', 'training images the students learn from (default 20000; 0 = all)', intArg('--transfer-size', { min: 0 }))
    .option('--alpha <a>', 'soft weight (default 0.9)', numberArg('--alpha', { min: 0, max: 1 }))
    .option('--test-size <n>', 'test on only the first n test samples', configArg('--test-size', 'testSize'))
    .option('--fresh', 'rerun finished runs instead of reading them back')
    .addOption(jsonOption('events'))
    .addOption(backendOption()).addOption(threadsOption())
    .action(async (opts: SweepFlags) => { setExit(await sweepCommand(opts, io)); });

  program
    .command('repro')
    .description('reproduce an experiment: hinton-mnist (Hinton, Vinyals & Dean 2015, MNIST; about 2.5 hours on 2 cores), cnn-mnist (a CNN teacher, CNN students alone and distilled, an MLP taught by the CNN); rerun to resume')
    .argument('<experiment>', 'hinton-mnist or cnn-mnist')
    .option('--out <dir>', 'folder of the experiment\'s runs (default runs/EXPERIMENT); rerun to resume')
    .option('--epoch-scale <x>', 'scale every epoch count (e.g. 0.05 for a smoke run)', numberArg('--epoch-scale', { above: 0 }))
    .addOption(jsonOption('events'))
    .addOption(backendOption()).addOption(threadsOption())
    .action(async (experiment: string, opts: ReproFlags) => { setExit(await reproCommand(experiment, opts, io)); });

  addDataOptions(program
    .command('eval')
    .description('test-set metrics of a model file: errors, accuracy, per-class errors, confusion, ECE, agreement'))
    .argument('<model>', 'model file (.retort)')
    .option('--test-size <n>', 'only the first n test samples', configArg('--test-size', 'testSize'))
    .option('--teacher <file>', 'a teacher model: also report top-1 agreement with it')
    .addOption(jsonOption('object'))
    .addOption(backendOption()).addOption(threadsOption())
    .action(async (model: string, opts: EvalFlags) => { setExit(await evalCommand(model, opts, io)); });

  addDataOptions(program
    .command('report')
    .description('the deployment report: size, latency, throughput, accuracy and agreement of a student (f32 and int8) beside its teacher'))
    .argument('<student>', 'student model (.retort, .onnx, or a TF.js model.json / folder)')
    .option('--teacher <model>', 'teacher model (same formats)')
    .option('--test-size <n>', 'only the first n test samples', configArg('--test-size', 'testSize'))
    .option('--calibration <n>', 'training images held out to calibrate the int8 scales (default 1000)', intArg('--calibration', { min: 1 }))
    .option('--timing <seconds>', 'length of each of the 5 timing rounds (default 0.25)', numberArg('--timing', { above: 0, max: 60 }))
    .option('--out <dir>', 'where report.json and report.md go (default runs/report-YYYYMMDD-HHMMSS)')
    .addOption(jsonOption('object'))
    .addOption(backendOption()).addOption(threadsOption())
    .action(async (student: string, opts: ReportFlags) => { setExit(await reportCommand(student, opts, io)); });

  program
    .command('export')
    .description('export a model to ONNX (opset 13) or a TensorFlow.js LayersModel')
    .argument('<model>', 'model (.retort, .onnx, or a TF.js model.json / folder)')
    .option('--format <f>', 'onnx or tfjs', choiceArg('--format', ['onnx', 'tfjs'] as const))
    .option('--out <path>', 'the .onnx file, or the folder for model.json + weights.bin')
    .option('--force', 'replace an existing --out')
    .action(async (model: string, opts: ExportFlags) => { setExit(await exportCommand(model, opts, io)); });

  program
    .command('import')
    .description('import an ONNX or TensorFlow.js MLP as a Retort model file (to fine-tune it, or to use it as a teacher)')
    .argument('<file>', '.onnx file, or a TF.js model.json / folder')
    .option('--out <file>', 'the Retort model file to write')
    .option('--force', 'replace an existing --out')
    .action(async (file: string, opts: ImportFlags) => { setExit(await importCommand(file, opts, io)); });

  addDataOptions(program
    .command('quantize')
    .description('post-training int8 quantization of a student (per-channel weights, calibrated activation scales)'), { dataHelp: `training data for calibration: ${DATA_HELP}` })
    .argument('<model>', 'model (.retort, .onnx, or a TF.js model.json / folder)')
    .option('--out <file>', 'the int8 model file to write (loaded by @retort/core-wasm/infer)')
    .option('--calibration <n>', 'training images held out to calibrate the activation scales (default 1000)', intArg('--calibration', { min: 1 }))
    .option('--seed <n>', 'which images are held out (default 1)', configArg('--seed', 'seed'))
    .option('--force', 'replace an existing --out')
    .action(async (model: string, opts: QuantizeFlags) => { setExit(await quantizeCommand(model, opts, io)); });

  program
    .command('methods')
    .description('list the distillation methods with their loss terms, parameters and defaults')
    .addOption(jsonOption('list'))
    .action((opts: { json?: boolean }) => { setExit(methodsCommand(opts, io)); });

  program
    .command('models')
    .description('list the model presets (lenet5, resnet8, mobilenet-tiny; text: bag, transformer-s, transformer-l) with parameter counts, input shapes and taps')
    .option('--input <HxWxC>', 'the input shape to size the image presets for (default 28x28x1, MNIST)')
    .option('--length <n>', 'tokens per sequence to size the text presets for (default 128)', intArg('--length', { min: 1, max: 8192 }))
    .option('--vocab <n>', 'the vocabulary size of the text presets (default 4096)', intArg('--vocab', { min: 1 }))
    .option('--classes <n>', 'the class count (default 10)', intArg('--classes', { min: 1 }))
    .option('--width <w>', 'width multiplier of channels and units (default 1)', numberArg('--width', { above: 0, max: 64 }))
    .addOption(jsonOption('list'))
    .action((opts: ModelsFlags) => { setExit(modelsCommand(opts, io)); });

  const data = program.command('data').description('look at a dataset before training on it, or write it as shards to stream from disk');
  addDataOptions(data
    .command('inspect')
    .description('counts, shapes, element types, class balance and value ranges of each split, and anything suspicious')
    .argument('<path>', `${DATA_HELP}, or text as .jsonl / a .csv with a 'text' column`), { withData: false })
    .addOption(jsonOption('object'))
    .action((path: string, opts: DataFlags & { json?: boolean }) => { setExit(dataInspectCommand(path, opts, io)); });

  addDataOptions(data
    .command('shard')
    .description('write a dataset as safetensors shards with an index, which train and distill stream from disk in a seeded order (for transfer sets larger than memory)')
    .argument('<path>', DATA_HELP), { withData: false })
    .requiredOption('--out <dir>', 'the new directory for index.json and the shards')
    .option('--shard-rows <n>', 'rows per shard (default 65536)', intArg('--shard-rows', { min: 1 }))
    .option('--shifts <k>', 'also write k copies of every training image, each shifted by a seeded offset (a transfer set enlarged by augmentation; default 0)', intArg('--shifts', { min: 0 }))
    .option('--shift-pixels <p>', 'largest shift of --shifts, in pixels (default 2)', intArg('--shift-pixels', { min: 1 }))
    .option('--seed <n>', 'seed of the shifts (default 0)', intArg('--seed', { min: 0 }))
    .addOption(jsonOption('object'))
    .action((path: string, opts: DataShardFlags) => { setExit(dataShardCommand(path, opts, io)); });

  const lm = program.command('lm').description('character-level language models: train a teacher, distill a student from its top-k outputs, bits per character on held-out text');
  for (const kind of ['train', 'distill'] as const) {
    const cmd = lm.command(kind).description(kind === 'train'
      ? 'train a language model alone (a teacher: lm-l, or a student to compare)'
      : 'distill a student language model from a teacher, token by token from its top-k next-character outputs');
    cmd.option('--data <name>', 'sotu (default), spam, or a .txt file (its last 10 % held out)')
      .option('--model <spec>', `lm-s or lm-l (options: lm-s:layers=3,dim=96,heads=4), or a JSON graph with "output": "tokens" (default ${kind === 'train' ? 'lm-l' : 'lm-s'})`)
      .option('--out <dir>', 'run directory (default runs/lm-KIND-YYYYMMDD-HHMMSS); run again with the same flags to resume from its checkpoint')
      .option('--epochs <n>', 'passes over the training text (default 3)', intArg('--epochs', { min: 1 }))
      .option('--batch <n>', 'windows per step (default 32)', intArg('--batch', { min: 1 }))
      .option('--lr <x>', 'AdamW learning rate, cosine schedule with warm-up (default 0.003)', numberArg('--lr', { above: 0 }))
      .option('--seed <n>', 'seed of the initial weights and the window order (default 1)', intArg('--seed', { min: 0 }))
      .option('--train-chars <n>', 'use the first n characters of the training text', intArg('--train-chars', { min: 1 }))
      .option('--test-chars <n>', 'measure on the first n characters of the held-out text', intArg('--test-chars', { min: 1 }))
      .option('--test-fraction <x>', 'a .txt file: the share held out at its end (default 0.1)', numberArg('--test-fraction', { above: 0, below: 1 }));
    if (kind === 'train') {
      cmd.option('--length <n>', 'context length in characters (default 128)', intArg('--length', { min: 2 }))
        .option('--vocab-size <n>', 'characters kept (the most frequent; the rest read as <unk>; default 256)', intArg('--vocab-size', { min: 2 }));
    } else {
      cmd.option('--teacher <model>', 'the teacher language model (.retort from retort lm train); the student reads its vocabulary and length')
        .option('--top-k <k>', "the teacher's k most likely next characters per position are cached and distilled (default 8)", intArg('--top-k', { min: 1 }))
        .option('--temperature <T>', 'distillation temperature (default 1)', numberArg('--temperature', { above: 0 }))
        .option('--alpha <a>', 'weight of the teacher term; 1 - a on the next-character cross-entropy (default 0.5)', numberArg('--alpha', { min: 0, max: 1 }))
        .option('--cache <dir>', "where the teacher's top-k outputs are cached (default OUT/teacher-topk); distilled runs of one teacher, text and k may share it");
    }
    cmd.addOption(jsonOption('events')).addOption(backendOption()).addOption(threadsOption())
      .action(async (opts: LmFlags) => { setExit(await lmRunCommand(kind, opts, io)); });
  }
  lm.command('eval')
    .description('bits per character of a language model on held-out text (read with the vocabulary saved in the model)')
    .argument('<model>', 'model file (.retort from retort lm, or its int8 file from retort lm quantize)')
    .option('--data <name>', 'sotu (default), spam, or a .txt file')
    .option('--test-chars <n>', 'measure on the first n characters of the held-out text', intArg('--test-chars', { min: 1 }))
    .option('--test-fraction <x>', 'a .txt file: the share held out at its end (default 0.1)', numberArg('--test-fraction', { above: 0, below: 1 }))
    .addOption(jsonOption('object')).addOption(backendOption()).addOption(threadsOption())
    .action(async (model: string, opts: LmFlags) => { setExit(await lmEvalCommand(model, opts, io)); });
  lm.command('quantize')
    .description('an int8 language model (the inference entry, lm eval and generate run it): int8 projections and character table, calibrated on windows of the training text')
    .argument('<model>', 'model file (.retort from retort lm)')
    .requiredOption('--out <file>', 'the int8 model file to write')
    .option('--data <name>', 'sotu (default), spam, or a .txt file: its training text gives the calibration windows')
    .option('--calibration <n>', 'windows of the training text to calibrate on, chosen by --seed (default 256)', intArg('--calibration', { min: 1 }))
    .option('--seed <n>', 'seed of the calibration windows (default 1)', intArg('--seed', { min: 0 }))
    .option('--train-chars <n>', 'use the first n characters of the training text', intArg('--train-chars', { min: 1 }))
    .option('--test-fraction <x>', 'a .txt file: the share held out at its end (default 0.1)', numberArg('--test-fraction', { above: 0, below: 1 }))
    .option('--force', 'replace --out if it exists')
    .addOption(backendOption()).addOption(threadsOption())
    .action(async (model: string, opts: LmFlags) => { setExit(await lmQuantizeCommand(model, opts, io)); });

  program
    .command('generate')
    .description('write text with a language model: sampled character by character with a temperature and top-k, seeded')
    .argument('<model>', 'model file (.retort from retort lm, or its int8 file from retort lm quantize)')
    .option('--prompt <text>', 'the text to continue')
    .option('--length <n>', 'characters to write (default 200)', intArg('--length', { min: 0 }))
    .option('--temperature <T>', 'sampling temperature (default 0.8)', numberArg('--temperature', { above: 0 }))
    .option('--top-k <k>', 'sample among the k most likely characters (default 0: all)', intArg('--top-k', { min: 0 }))
    .option('--seed <n>', 'seed of the sampling (default 1)', intArg('--seed', { min: 0 }))
    .addOption(jsonOption('object')).addOption(backendOption()).addOption(threadsOption())
    .action(async (model: string, opts: GenerateFlags) => { setExit(await generateCommand(model, opts, io)); });

  program
    .command('info')
    .description('what a file holds: a Retort model, checkpoint or int8 model, IDX, .npy, .safetensors, .onnx or a TF.js model.json')
    .argument('<file>', 'the file to describe')
    .addOption(jsonOption('object'))
    .action(async (file: string, opts: { json?: boolean }) => { setExit(await infoCommand(file, opts, io)); });

  program
    .command('backends')
    .description('list the compute backends this runtime supports and check each one runs')
    .addOption(jsonOption('object'))
    .action(async (opts: { json?: boolean }) => {
      const rows: { backend: BackendName; available: boolean; check: string }[] = [];
      for (const backend of ['simd', 'scalar', 'js', 'relaxed'] as const) {
        if (backend === 'simd' && !hasSimd()) {
          rows.push({ backend, available: false, check: 'engine lacks WebAssembly SIMD' });
          continue;
        }
        if (backend === 'relaxed' && !hasRelaxedSimd()) {
          rows.push({ backend, available: false, check: 'engine lacks relaxed SIMD' });
          continue;
        }
        const core = await loadCore({ backend });
        // 2x2 identity times [[1,2],[3,4]]: a smoke test that the kernels run
        const c = core.matmul(new Float32Array([1, 0, 0, 1]), new Float32Array([1, 2, 3, 4]), 2, 2, 2);
        const ok = c.join(',') === '1,2,3,4';
        rows.push({ backend, available: true, check: ok ? 'ok' : `wrong result ${c.join(',')}` });
      }
      const auto = (await loadCore({ backend: 'auto' })).backend;
      if (opts.json) io.out(JSON.stringify({ auto, backends: rows }));
      else {
        for (const r of rows) io.out(`${r.backend.padEnd(7)} ${r.available ? 'yes' : 'no '}  ${r.check}${r.backend === 'relaxed' ? ' (opt-in: fused multiply-adds, bits depend on the CPU)' : ''}`);
        io.out(`auto -> ${auto}`);
      }
      if (rows.some((r) => r.available && r.check !== 'ok')) setExit(EXIT.failure);
    });

  return program;
}

/** Runs the CLI; returns the exit code instead of exiting, so tests can call it. */
export async function run(argv: string[], io: Io): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram(io, (c) => { code = c; });
  program.hook('preAction', (_root, action) => {
    const t = (action.opts() as { threads?: number }).threads;
    setDefaultThreads(t ?? availableParallelism());
    // test hook (test/resume/threads.test.ts): a helper thread that fails its Nth job
    const failJob = Number(process.env.RETORT_TEST_HELPER_FAILS_ON_JOB);
    setHelperFailureForTests(Number.isInteger(failJob) && failJob > 0 ? failJob : undefined);
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (e) {
    // help and --version end with exit code 0; every other commander error is a usage error
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    const { message, code: exit } = describeError(e);
    io.err(`retort: ${message}`);
    if (process.env.RETORT_DEBUG === '1' && e instanceof Error && e.stack) io.err(e.stack);
    return exit;
  } finally {
    closeAllThreads(); // no helper thread outlives the command
  }
}
