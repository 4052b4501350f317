// A whole run from a config (Node): data, models, teacher signal, training with
// checkpoints, the final model, test metrics and the report, all in one run directory.
// `retort train` and `retort distill` are thin clients of runJob; runJob itself reads the config,
// the data and the teacher files and keeps the run directory, and leaves the run to executeRun
// (../run/execute.ts), the orchestration the web lab uses too.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { loadCore, type BackendName, type Core } from '@retort/core-wasm';
import { configHash, parseRunConfig, type RunConfig } from '../config.js';
import { fingerprint, fullView, pairTrainTest, slice, splitValidation, type Dataset, type DatasetView, type InputNorm, type TestSplit } from '../data/dataset.js';
import { loadDataPath, loadTestData, type DataLoadOptions } from '../data/files.js';
import type { LoadedData } from '../data/sources.js';
import { loadMnist } from '../data/mnist.js';
import { NonFiniteWeightError } from '../format/model-file.js';
import { saveModel } from '../format/model-io.js';
import { Model } from '../model/index.js';
import { executeRun, runNorm, teacherNorm, type RunEvent, type RunResult, type RunTeacher } from '../run/execute.js';
import { checkTeacherFields, configTeachers, type RunKind } from '../run/terms.js';
import { isStreamedTrain, runModelSpec, type StreamedTrain } from '../run/views.js';
import { datasetShardsIndexPath, ShardedDataset } from './shard-data.js';
import { modelFingerprint } from './teacher-logits.js';
import { predictLogits } from '../train/predict.js';
import type { StepTeacher } from '../train/objective.js';
import { normalisedRows } from '../data/dataset.js';
import type { TrainerState } from '../train/trainer.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { renderReportMarkdown } from './report.js';
import { appendJsonLine, createRunDir, RUN_FILES, RunDirError, truncateMetrics, writeJsonAtomic, writeTextAtomic } from './run-dir.js';
import { cachedTeacherLogits } from './teacher-logits.js';
import { allRows, cachedTeacherOutputs, isTeacherOutputsPath, ShardedLogitTable, type CachedOutputs } from './teacher-outputs.js';
import type { LogitTable } from '../data/teacher-outputs.js';
import { Fnv1a64 } from '../data/hash.js';
import { readTeacherLogitsFile } from '../interop/files-node.js';
import type { LogitsPredictor } from '../run/teacher-signal.js';
import type { OnnxTeacher as OnnxTeacherType } from '../interop/onnx-teacher.js';
import { readWholeFile } from '../data/files.js';
import { loadAnyModel, modelFormatOf } from './any-model.js';
import { DataFormatError } from '../data/errors.js';
import { isTextData, loadTextData, textMeta, tokenizerOfMeta, type LoadedTextData, type TextInfo } from '../text/load.js';
import { isTextCorpus } from '../text/corpora.js';
import type { TextTokenizer } from '../text/tokenizer.js';
import { decodeModelFile } from '../format/model-file.js';

/** 'mnist' and the text corpora: data named, not a path. */
export function isBundledData(data: string): boolean {
  return data === 'mnist' || isTextCorpus(data);
}

export type JobKind = RunKind;
export type { RunEvent };

export interface RunOptions {
  /** The run directory (new, or the one to resume). */
  out: string;
  force?: boolean;
  /** Continue the run in `out` from its last checkpoint. */
  resume?: boolean;
  backend?: 'auto' | BackendName;
  core?: Core;
  onEvent?: (e: RunEvent) => void;
  shouldStop?: () => boolean;
}

/**
 * executeRun's report, the run directory it was written to, how the test set came about and the
 * class names the labels index (null: the labels are class numbers).
 */
export type RunReport = { kind: JobKind; runDir: string; testSplit: TestSplit; classNames: string[] | null } & Omit<RunResult, 'kind'>;

interface SavedConfig { kind: JobKind; hash: string; config: RunConfig }

/** The config fields beside `data` that say how the data is read and its test set found. */
export type DataOptionsConfig = Partial<Pick<RunConfig, 'testData' | 'testFraction' | 'splitSeed' | 'labelColumn' | 'imageSize' | 'textColumn' | 'tokenizer' | 'maxLength' | 'vocabSize'>>;

/** The config fields that say which data a run reads and how its test set is found. */
export type DataConfig = Pick<RunConfig, 'data'> & DataOptionsConfig;

/**
 * Loads the data a config names (the bundled MNIST or any form loadDataPath reads) with its test
 * set: its own, `testData`, or a seeded split that the result records.
 */
export function loadData(config: DataConfig, tokenizer?: { tokenizer: TextTokenizer; maxLength: number } | null): LoadedData | LoadedTextData {
  if (isTextData(config.data)) return loadTextData(config, tokenizer);
  const shards = !isBundledData(config.data) ? datasetShardsIndexPath(resolve(config.data)) : null;
  if (shards) {
    throw new DataFormatError(shards, 'a dataset in shards is streamed by train and distill, not read into memory; eval, report, quantize and compare take its test set (or give another form of the data)');
  }
  const opts: DataLoadOptions = {
    ...(config.testData !== undefined ? { testData: resolve(config.testData) } : {}),
    ...(config.testFraction !== undefined ? { testFraction: config.testFraction } : {}),
    ...(config.splitSeed !== undefined ? { splitSeed: config.splitSeed } : {}),
    ...(config.labelColumn !== undefined ? { labelColumn: config.labelColumn } : {}),
    ...(config.imageSize !== undefined ? { imageSize: config.imageSize } : {}),
  };
  if (config.data !== 'mnist') return loadDataPath(resolve(config.data), opts);
  const mnist = loadMnist();
  if (opts.testData === undefined) return { ...mnist, split: { kind: 'given' }, classNames: null };
  const test = loadTestData(opts.testData, opts, { train: mnist.train, classNames: null });
  return { ...pairTrainTest(mnist.train, test, opts.testData), split: { kind: 'file', path: opts.testData }, classNames: null };
}

/** Whether the config's data is a dataset in shards (streamed by train and distill). */
export function isShardedData(config: Pick<DataConfig, 'data'>): boolean {
  return !isBundledData(config.data) && datasetShardsIndexPath(resolve(config.data)) !== null;
}

/**
 * The tokenizer of the run's first Retort teacher file that has one (saved with a model trained on
 * text), so that a student distilled from it reads the same token ids; null when none has one.
 */
function teacherTokenizer(config: RunConfig): { tokenizer: TextTokenizer; maxLength: number } | null {
  if (config.tokenizer !== undefined) return null;
  for (const t of configTeachers(config)) {
    const found = t.model ? modelTokenizer(t.model) : null;
    if (found) return found;
  }
  return null;
}

/**
 * The tokenizer a Retort model file was trained with (saved in its meta by a run on text), so
 * that eval, report and a student read text as the model did; null for any other file.
 */
export function modelTokenizer(file: string): { tokenizer: TextTokenizer; maxLength: number } | null {
  const path = resolve(file);
  if (modelFormatOf(path) !== 'retort') return null;
  return tokenizerOfMeta(decodeModelFile(readWholeFile(path), basename(file)).meta, basename(file));
}

/** Settings that have no meaning for token ids are refused rather than applied to them. */
function checkTextConfig(config: RunConfig): void {
  const bad = config.jitter > 0 ? 'jitter (a shift of image pixels)' : config.mixup ? 'mixup (a blend of inputs: token ids do not blend)'
    : config.normalize !== undefined ? 'normalize (token ids are not scaled)'
    : (config.mean !== 0 || config.std !== 1) ? 'mean/std (token ids are not scaled)' : null;
  if (bad) throw new DataFormatError(config.data, `text data: ${bad} does not apply to token ids`);
}

/**
 * The test set of the data a config names, and its class names: a dataset in shards gives its test
 * shards (or testData), read into memory without its training rows; any other form is loadData's.
 */
export function loadTestSet(config: DataConfig, tokenizer?: { tokenizer: TextTokenizer; maxLength: number } | null): { test: Dataset; classNames: string[] | null } {
  const shards = !isBundledData(config.data) ? datasetShardsIndexPath(resolve(config.data)) : null;
  if (!shards) {
    const { test, classNames } = loadData(config, tokenizer);
    return { test, classNames };
  }
  const data = streamedData(ShardedDataset.open(shards), config);
  return { test: data.test, classNames: data.classNames };
}

/**
 * `count` training rows chosen by `seed`, in memory (calibration of an int8 model): rows of a
 * dataset in shards are read without the rest; any other form is loaded and split (text with
 * `tokenizer`, the model's own).
 */
export function sampleTrainRows(config: DataConfig, count: number, seed: number, tokenizer?: { tokenizer: TextTokenizer; maxLength: number } | null): DatasetView {
  const shards = !isBundledData(config.data) ? datasetShardsIndexPath(resolve(config.data)) : null;
  if (shards) {
    const store = ShardedDataset.open(shards);
    return store.holdOut(Math.min(count, store.rows - 1), seed).validation;
  }
  // text: tokenised as the model was trained (its file's tokenizer)
  const { train } = loadData(config, tokenizer);
  return splitValidation(train, Math.min(count, train.count - 1), seed).validation;
}

export async function runJob(kind: JobKind, input: unknown, opts: RunOptions): Promise<RunReport> {
  const out = resolve(opts.out);
  const emit = opts.onEvent ?? (() => {});
  let config: RunConfig;
  let resumeState: TrainerState | undefined;
  if (opts.resume) {
    const saved = readSavedConfig(out);
    if (saved.kind !== kind) throw new RunDirError(`${out} holds a '${saved.kind}' run; resume it with 'retort ${saved.kind} --resume'`);
    config = saved.config;
    const ckPath = join(out, RUN_FILES.checkpoint);
    if (existsSync(ckPath)) {
      const ck = loadCheckpoint(ckPath);
      if (ck.configHash !== saved.hash) throw new RunDirError(`${ckPath} was written by a different configuration than ${RUN_FILES.config}`);
      resumeState = ck.state;
      truncateMetrics(join(out, RUN_FILES.metrics), ck.state.epoch);
      emit({ type: 'phase', message: `resuming ${out} after epoch ${ck.state.epoch}` });
    } else {
      truncateMetrics(join(out, RUN_FILES.metrics), 0);
      emit({ type: 'phase', message: `resuming ${out}: no checkpoint yet, starting from epoch 1` });
    }
  } else {
    config = parseRunConfig(input);
    checkTeacherFields(kind, config);
  }
  const hash = configHash(config);
  // A new run's directory is created only once its data, models and teacher files have been
  // read and checked, right before the first file is written into it: bad input leaves nothing.
  let dirReady = opts.resume === true;
  let createdHere = false;
  let trainingStarted = false;
  const prepareRunDir = (): void => {
    if (dirReady) return;
    createRunDir(out, { force: opts.force });
    createdHere = true;
    writeJsonAtomic(join(out, RUN_FILES.config), { kind, hash, config } satisfies SavedConfig);
    dirReady = true;
  };

  const core = opts.core ?? await loadCore({ backend: opts.backend ?? 'auto' });
  emit({ type: 'phase', message: `loading data (${config.data})` });
  // a dataset in shards is streamed (node/shard-data.ts); anything else is read into memory
  const shardsIndex = !isBundledData(config.data) ? datasetShardsIndexPath(resolve(config.data)) : null;
  const store = shardsIndex ? ShardedDataset.open(shardsIndex) : null;
  const data: RunInputData | LoadedTextData = store ? streamedData(store, config) : loadData(config, teacherTokenizer(config));
  const text: TextInfo | null = 'text' in data ? (data as LoadedTextData).text : null;
  if (text) checkTextConfig(config);
  runModelSpec(config, data); // a bad model spec is named before any teacher file is read
  const teacherModels: Model[] = [];
  // teachers that only give logits (TF.js run by TensorFlow.js, ONNX run by onnxruntime)
  const predictors: { dispose(): void }[] = [];
  let student: Model | undefined;
  try {
    const specs = configTeachers(config);
    const norm = runNorm(config, data.train);
    const tNorm = teacherNorm(config, norm);
    const teachers: RunTeacher[] = [];
    const predictorCaches = new Map<number, PredictorCache>();
    for (const t of specs) {
      if (!t.model) {
        const path = resolve(t.logits!);
        teachers.push({ kind: 'logits', source: t.logits!, name: basename(t.logits!), weight: t.weight,
          read: (count, classes) => (isTeacherOutputsPath(path) ? openTeacherOutputs(path, count, classes) : readTeacherLogitsFile(path, count, classes)) });
        continue;
      }
      const common = { source: t.model, name: basename(t.model), weight: t.weight };
      const loaded = await loadTeacher(core, t.model, config, norm, data, emit, teacherModels, predictors, teacherTensorNames(config, teachers.length));
      if (loaded.kind === 'model') teachers.push({ ...common, kind: 'model', model: loaded.model, release: loaded.release });
      else {
        predictorCaches.set(teachers.length, loaded.cache);
        teachers.push({ ...common, kind: 'predictor', predictor: loaded.predictor, ...(loaded.step ? { step: loaded.step } : {}) });
      }
    }
    const cacheName = (k: number): string => (k === 0 ? RUN_FILES.teacherOutputs : `${RUN_FILES.teacherOutputs}-${k}`);
    const outputs = config.topK !== undefined ? { topK: config.topK } : {};
    // full logits are read into memory once (fast to gather); top-k rows, and any of a streamed set, are read as batches need them
    const soft = (c: CachedOutputs): Float32Array | LogitTable => (config.topK !== undefined || store ? c.table : allRows(c.table));
    const outcome = await executeRun({ core, kind, config, data, teachers, inputNorm: norm, ...(resumeState ? { resume: resumeState } : {}) }, {
      onEvent: emit,
      ...(opts.shouldStop ? { shouldStop: opts.shouldStop } : {}),
      // the soft labels over the whole training set, cached in the run directory (a stale cache is recomputed)
      softLabels: (t, k) => {
        prepareRunDir();
        if (store) {
          if (t.kind === 'predictor') throw new RangeError(`teacher ${t.name}: a model run by its own runtime (TF.js, onnxruntime) cannot follow a training set streamed from shards; write its outputs as teacher-output shards and give them as --teacher-logits`);
          emit({ type: 'phase', message: `computing teacher soft labels over the ${store.rows} streamed rows (cached in the run directory)` });
          const key = { model: modelFingerprint(t.model), data: store.fingerprint(), mean: tNorm.mean, std: tNorm.std, shape: [store.rows, t.model.classes] };
          return soft(cachedTeacherOutputs(join(out, cacheName(k)), key, store.rows, t.model.classes,
            (start, count) => predictLogits(core, t.model, fullView(store.readRange(start, count)), tNorm), { ...outputs, shardRows: 65536 }));
        }
        if (t.kind === 'predictor') {
          emit({ type: 'phase', message: `computing soft labels of teacher ${t.name} (cached in the run directory)` });
          return soft(predictorCaches.get(k)!(fullView(memoryTrain(data)), join(out, cacheName(k)), outputs));
        }
        emit({ type: 'phase', message: `computing teacher soft labels${specs.length > 1 ? ` (teacher ${k + 1} of ${specs.length})` : ''} (cached in the run directory)` });
        return soft(cachedTeacherLogits(core, t.model, fullView(memoryTrain(data)), join(out, cacheName(k)), tNorm, outputs));
      },
      beforeTraining: () => { prepareRunDir(); trainingStarted = true; },
      checkpoint: (state, model) => {
        saveCheckpoint(join(out, RUN_FILES.checkpoint), model.spec, state, hash);
        const last = state.history[state.history.length - 1];
        if (last) appendJsonLine(join(out, RUN_FILES.metrics), { type: 'epoch', ...last });
      },
    });
    student = outcome.student;
    const { kind: _kind, ...rest } = outcome.report;
    const report: RunReport = { kind, runDir: out, testSplit: data.split, classNames: data.classNames, ...rest };
    if (!report.stopped) {
      const test = report.test;
      saveModel(join(out, RUN_FILES.model), student, { kind, configHash: hash, mean: report.inputNorm.mean, std: report.inputNorm.std, testErrors: test.errors, testAccuracy: test.accuracy,
        ...(data.classNames ? { classNames: data.classNames } : {}), testSplit: data.split, ...(text ? textMeta(text) : {}) });
      writeJsonAtomic(join(out, RUN_FILES.report), report);
      writeTextAtomic(join(out, RUN_FILES.reportMarkdown), renderReportMarkdown(report));
    }
    return report;
  } catch (e) {
    // a run that failed while its teacher signal was being prepared leaves nothing behind
    if (createdHere && !trainingStarted) rmSync(out, { recursive: true, force: true });
    throw e;
  } finally {
    student?.free();
    for (const m of teacherModels) m.free();
    for (const t of predictors) t.dispose();
  }
}

/**
 * A teacher model file as the run uses it: a Retort model (a Retort file, an ONNX or TF.js model
 * Retort can represent), or else a TF.js model run by TensorFlow.js itself, which only gives logits.
 */
async function loadTeacher(core: Core, file: string, config: RunConfig, studentNorm: InputNorm, data: RunInputData, emit: (e: RunEvent) => void,
                           models: Model[], predictors: { dispose(): void }[], tensorNames: string[] = []): Promise<LoadedTeacher> {
  const path = resolve(file);
  emit({ type: 'phase', message: `loading teacher ${file}` });
  const ti = config.teacherInput;
  const tfjsOnly = ti?.shape !== undefined || ti?.scale !== undefined;
  let m: Model | null = null;
  if (modelFormatOf(path) === 'tfjs') {
    // a TF.js model Retort can represent becomes a Retort model (fast, and usable inside the step);
    // any other architecture is run by TensorFlow.js for its soft labels
    if (!tfjsOnly) {
      try { m = (await loadAnyModel(core, path)).model; } catch (e) { if (!(e instanceof DataFormatError)) throw e; }
    }
    if (!m) {
      const { loadTfjsTeacher, cachedTfjsTeacherLogits } = await import('../interop/node.js'); // tfjs only for such a teacher
      const teacher = await loadTfjsTeacher(path, { input: { ...(ti ?? { mean: studentNorm.mean, std: studentNorm.std }) } });
      predictors.push(teacher);
      return { kind: 'predictor', predictor: teacher, cache: (view, dir, store) => cachedTfjsTeacherLogits(teacher, view, dir, store) };
    }
  } else if (modelFormatOf(path) === 'onnx') {
    // an ONNX graph Retort can represent becomes a Retort model; any other runs in onnxruntime-web
    // for its logits (interop/onnx-teacher.ts), its input prepared as teacherInput declares
    const ortOnly = ti?.scale !== undefined || ti?.layout !== undefined;
    if (ti?.shape !== undefined) throw new RangeError(`config.teacherInput.shape applies to TF.js teachers; an ONNX teacher's input shape is read from its graph (give layout nchw or nhwc)`);
    let importError: unknown = null;
    if (!ortOnly) {
      // a graph Retort cannot represent goes to onnxruntime; one with NaN/Inf weights is a bad file either way
      try { m = (await loadAnyModel(core, path)).model; } catch (e) { if (!(e instanceof DataFormatError) || e instanceof NonFiniteWeightError) throw e; importError = e; }
      // loss terms that name tensors of the graph the imported model has no taps for: onnxruntime fetches them
      const missing = m ? tensorNames.filter((n) => !m!.hasTap(n)) : [];
      if (m && missing.length) {
        m.free();
        m = null;
        importError = new DataFormatError(basename(file), `the loss terms read its tensors ${missing.map((n) => `'${n}'`).join(', ')}, which onnxruntime fetches`);
      }
    }
    if (!m) {
      const { OnnxTeacher } = await import('../interop/onnx-teacher.js'); // onnxruntime-web only for such a teacher
      let teacher: OnnxTeacherType;
      const bytes = readWholeFile(path);
      const input = {
        ...(ti?.scale !== undefined ? { scale: ti.scale } : {}), ...(ti?.layout ? { layout: ti.layout } : {}),
        mean: ti?.mean ?? studentNorm.mean, std: ti?.std ?? studentNorm.std,
      };
      try {
        teacher = await OnnxTeacher.load(bytes, basename(file), data.train.sampleShape, data.train.classes, input, tensorNames);
      } catch (e) {
        // a file onnxruntime cannot load either: the importer's error says more
        if (importError && e instanceof DataFormatError) throw importError;
        throw e;
      }
      predictors.push(teacher);
      emit({ type: 'phase', message: `running teacher ${file} in onnxruntime-web (${importError ? (importError as Error).message.replace(/^[^:]*: /, '') : 'teacherInput asks for it'}), ${teacher.layout === 'flat' ? 'rows' : teacher.layout.toUpperCase()} input` });
      if (isStreamedTrain(data.train)) {
        teacher.dispose();
        throw new RangeError(`teacher ${basename(file)}: a model run by onnxruntime cannot follow a training set streamed from shards; write its outputs as teacher-output shards (see the README) and give them as --teacher-logits`);
      }
      await teacher.prepare([data.train, data.test]);
      // inside the step (feature terms on its tensors, jitter, mixup) it takes the student's batches,
      // which is only right when its input preparation is the student's
      const sameInput = ti?.scale === undefined && JSON.stringify(input.mean) === JSON.stringify(studentNorm.mean) && JSON.stringify(input.std) === JSON.stringify(studentNorm.std);
      const step = sameInput && (tensorNames.length > 0 || config.jitter > 0 || config.mixup)
        ? await teacher.stepTeacher(normalisedRows({ dataset: data.train, indices: Int32Array.of(0) }, studentNorm)) : undefined;
      const onnx = new Fnv1a64().update(bytes).digest();
      const t = teacher;
      return {
        kind: 'predictor', predictor: teacher, ...(step ? { step } : {}),
        cache: (view, dir, store) => cachedTeacherOutputs(dir, { onnx, input, layout: t.layout, data: fingerprint(view), shape: [view.indices.length, t.classes] },
          view.indices.length, t.classes, (start, count) => t.logits(slice(view, count, start)), store),
      };
    }
  } else {
    if (tfjsOnly) throw new RangeError(`config.teacherInput: scale and shape apply to TF.js teachers; ${basename(file)} is a Retort model (give mean and std)`);
    m = (await loadAnyModel(core, path)).model;
  }
  models.push(m);
  const model = m;
  // its soft labels are all the run needs of it: its memory goes back to the student
  return { kind: 'model', model, release: () => { model.free(); models.splice(models.indexOf(model), 1); } };
}

/** A predictor's soft labels over a view, cached in a teacher-outputs directory (under the fingerprint of model, input preparation and data). */
type PredictorCache = (view: DatasetView, dir: string, store: { topK?: number }) => CachedOutputs;

/** A run's data as runJob holds it: in memory (LoadedData), or a training set streamed from shards with its test set in memory. */
type RunInputData = Omit<LoadedData, 'train'> & { train: Dataset | StreamedTrain };

function memoryTrain(data: RunInputData): Dataset {
  if (isStreamedTrain(data.train)) throw new RangeError('internal: the training set is streamed');
  return data.train;
}

/** A dataset-shards directory as a run's data: its train shards streamed, its test shards (or testData) in memory. */
function streamedData(store: ShardedDataset, config: DataConfig & { shuffleBuffer?: number }): RunInputData {
  for (const [field, given] of [['labelColumn', config.labelColumn], ['imageSize', config.imageSize], ['testFraction', config.testFraction]] as const) {
    if (given !== undefined) throw new RangeError(`config.${field}: does not apply to a dataset in shards (${store.indexPath})`);
  }
  let test = store.testSet();
  let split: TestSplit = { kind: 'given' };
  if (config.testData !== undefined) {
    const path = resolve(config.testData);
    const like: Dataset = store.emptyDataset(0, 'train');
    test = loadTestData(path, {}, { train: { ...like, count: 1 }, classNames: store.index.classNames ?? null });
    split = { kind: 'file', path };
  }
  if (!test) throw new DataFormatError(store.indexPath, 'lists no test shards: give a test set with --test-data (a seeded split of a streamed set is not made)');
  if (test.sampleShape.join('x') !== store.sampleShape.join('x')) throw new DataFormatError(config.testData ?? store.indexPath, `test samples are ${test.sampleShape.join('x')}, train samples are ${store.sampleShape.join('x')}`);
  const train: StreamedTrain = {
    kind: 'shards', name: store.name, sampleShape: store.sampleShape, features: store.features, classes: Math.max(store.classes, test.classes), rows: store.rows,
    split: (validationCount, seed) => {
      const { validation, mask } = store.holdOut(validationCount, seed);
      return { train: store.stream(mask, config.shuffleBuffer), validation };
    },
    channelStats: () => store.channelStats(null),
  };
  return { train, test: { ...test, classes: train.classes }, split, classNames: store.index.classNames ?? null };
}

type LoadedTeacher =
  | { kind: 'model'; model: Model; release: () => void }
  | { kind: 'predictor'; predictor: LogitsPredictor; cache: PredictorCache; step?: StepTeacher };

/** The tensor names the config's loss terms read of teacher k (layers named by string, not 'logits'). */
function teacherTensorNames(config: RunConfig, k: number): string[] {
  const names = new Set<string>();
  for (const t of config.losses ?? []) {
    if ((t.type === 'hint' || t.type === 'at' || t.type === 'rkd') && t.teacher === k && typeof t.teacherLayer === 'string' && t.teacherLayer !== 'logits') names.add(t.teacherLayer);
  }
  return [...names];
}

/** A teacher-outputs directory given as a teacher's logits: it must cover the training set's rows and the student's classes. */
function openTeacherOutputs(path: string, count: number, classes: number): LogitTable {
  const table = ShardedLogitTable.open(path);
  if (table.rows !== count) throw new DataFormatError(table.indexPath, `the teacher outputs cover ${table.rows} rows but the training set has ${count}`);
  if (table.classes !== classes) throw new DataFormatError(table.indexPath, `the teacher outputs have ${table.classes} classes but the student has ${classes}`);
  return table;
}

function readSavedConfig(out: string): SavedConfig {
  const path = join(out, RUN_FILES.config);
  if (!existsSync(path)) throw new RunDirError(`${out} is not a run directory (no ${RUN_FILES.config}); nothing to resume`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new RunDirError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  const rec = raw as Partial<SavedConfig>;
  if ((rec.kind !== 'train' && rec.kind !== 'distill') || typeof rec.hash !== 'string') {
    throw new RunDirError(`${path}: not a Retort run config`);
  }
  const config = parseRunConfig(rec.config, `${RUN_FILES.config}: config`);
  if (configHash(config) !== rec.hash) throw new RunDirError(`${path}: its config does not match its hash (edited by hand?)`);
  return { kind: rec.kind, hash: rec.hash, config };
}

export type { DatasetView };
