// Language-model runs (Node): the text, the run directory, the teacher's top-k cache and the
// checkpoints around ../lm/train.ts.
//
// Text (loadLmText):
//   spam, sotu   the bundled corpora's training and test splits (../text/corpora.ts: the same
//                seeded splits the classifiers use), each split's documents in their fixed order
//                joined by a newline
//   FILE.txt     UTF-8 text; the last `testFraction` (default 0.1) of its characters, from the
//                start of a line, is held out (no line is cut in two)
// `trainChars` keeps the first N characters of the training text (a quick or a sized run), and
// `testChars` the first N of the held-out text.
//
// A run directory (`out`):
//   model.retort        the final model, meta.lm = the vocabulary and length (written last, atomically)
//   checkpoint.retort   after every epoch: parameters, AdamW state, epoch and step (atomic); a run
//                       started again with the same settings continues from it bit for bit
//   teacher-topk/       distill: the teacher's top-k logits of every training position, in the
//                       teacher-outputs format (../node/teacher-outputs.ts), reused by a later run
//                       with the same teacher, text and k (`cache` puts it elsewhere, to share it
//                       between runs; a directory written for another key is rewritten)
//   result.json         the settings, per-epoch losses and held-out bits per character
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { Core } from '@retort/core-wasm';
import { readTextFile, readWholeFile } from '../data/files.js';
import { isQuantizedModelFile } from '@retort/core-wasm/format';
import { permutation, STREAM, Xoshiro128 } from '../data/random.js';
import { Int8Model } from '../quant/int8-model.js';
import { quantizeModel } from '../quant/quantize.js';
import { Fnv1a64 } from '../data/hash.js';
import { loadModel, readModelFile, saveModel } from '../format/model-io.js';
import { Model } from '../model/model.js';
import { paramCount, parseModelSpec, type ModelSpec } from '../model/spec.js';
import { isLmPreset } from '../model/presets.js';
import { loadTextCorpus, isTextCorpus } from '../text/corpora.js';
import { bitsPerChar, lmShape, scorerBitsPerChar, scorerOf, trainLm, windowCount, windowLogits, type LmEpoch, type LmScorer, type LmTrainState } from '../lm/train.js';
import { buildCharVocab, DEFAULT_CHAR_VOCAB, lmMeta, vocabOfMeta, type CharVocab } from '../lm/vocab.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { writeJsonAtomic } from './run-dir.js';
import { cachedTeacherOutputs } from './teacher-outputs.js';
import { modelFingerprint } from './teacher-logits.js';
import type { TrainerState } from '../train/trainer.js';

export const DEFAULT_LM_LENGTH = 128;

export interface LmText { name: string; train: string; test: string; description: string }

/** The training and held-out text `data` names (see the header). */
export function loadLmText(data: string, opts: { testFraction?: number; trainChars?: number; testChars?: number } = {}): LmText {
  let t: LmText;
  if (isTextCorpus(data)) {
    const c = loadTextCorpus(data);
    t = { name: data, train: c.train.texts.join('\n'), test: c.test.texts.join('\n'), description: c.description };
  } else {
    const path = resolve(data);
    if (!/\.txt$/i.test(path)) throw new RangeError(`--data ${data}: a language model reads a bundled corpus (spam, sotu) or a .txt file`);
    const text = readTextFile(path);
    const f = opts.testFraction ?? 0.1;
    if (!(f > 0 && f < 1)) throw new RangeError(`--test-fraction must be in (0, 1), got ${f}`);
    let cut = Math.floor(text.length * (1 - f));
    const nl = text.lastIndexOf('\n', cut);
    if (nl > 0) cut = nl + 1;
    t = { name: basename(path), train: text.slice(0, cut), test: text.slice(cut), description: `${basename(path)}: ${text.length} characters; the last ${Math.round(f * 100)} % (from a line start) held out` };
  }
  for (const part of ['train', 'test'] as const) {
    const n = part === 'train' ? opts.trainChars : opts.testChars;
    if (n === undefined) continue;
    if (!(Number.isInteger(n) && n > 0)) throw new RangeError(`--${part}-chars must be a positive integer, got ${n}`);
    const cps = Array.from(t[part]);
    if (cps.length > n) t = { ...t, [part]: cps.slice(0, n).join(''), description: `${t.description}; ${part === 'train' ? 'training' : 'held-out'} text cut to its first ${n} characters` };
  }
  return t;
}

export interface LmRunOptions {
  core: Core;
  data: string;
  /** A preset (lm-s, lm-l, with options) or a graph with output "tokens"; the vocabulary and length are filled in. */
  model: string | object;
  out: string;
  epochs: number;
  batch: number;
  lr: number;
  seed: number;
  length?: number;
  vocabSize?: number;
  trainChars?: number;
  testChars?: number;
  testFraction?: number;
  /** Distill from this model file (a language model): its vocabulary and length are used. */
  teacher?: string;
  topK?: number;
  temperature?: number;
  alpha?: number;
  /** Where the teacher's top-k outputs are cached (default `out`/teacher-topk); runs with the same teacher, text and k may share one. */
  cache?: string;
  onStep?: (e: { epoch: number; batch: number; batches: number; step: number; loss: number }) => void;
  onEpoch?: (e: LmEpoch) => void;
  onInfo?: (line: string) => void;
}

export interface LmRunResult {
  out: string;
  modelPath: string;
  spec: string;
  params: number;
  vocab: number;
  length: number;
  trainChars: number;
  testChars: number;
  history: LmEpoch[];
  testBpc: number;
  teacher?: { path: string; params: number; testBpc: number; topK: number; temperature: number; alpha: number; cached: boolean };
  resumedFromEpoch: number;
}

/** The spec of `model` for a vocabulary and length. */
export function lmModelSpec(model: string | object, vocab: number, length: number): ModelSpec {
  if (typeof model === 'string') {
    const [name, rest] = model.split(':', 2) as [string, string | undefined];
    if (isLmPreset(name)) return parseModelSpec(`${name}:input=${length},classes=${vocab},vocab=${vocab}${rest ? `,${rest}` : ''}`, '--model');
  }
  const spec = parseModelSpec(model, '--model');
  if (spec.type !== 'graph' || spec.output !== 'tokens') {
    throw new RangeError(`--model: a language model is lm-s, lm-l (with options: lm-s:layers=3,dim=96) or a graph with "output": "tokens"`);
  }
  return spec.input ? spec : parseModelSpec({ ...spec, input: [length] }, '--model');
}

/** Trains (or distills) a language model into `out` (see the header); resumes from its checkpoint. */
export async function lmJob(o: LmRunOptions): Promise<LmRunResult> {
  const { core } = o;
  const out = resolve(o.out);
  let teacher: Model | null = null, tv: { vocab: CharVocab; length: number } | null = null;
  if (o.teacher) {
    const file = readModelFile(resolve(o.teacher));
    tv = vocabOfMeta(file.meta, basename(o.teacher));
    if (!tv) throw new RangeError(`--teacher ${o.teacher}: not a language model's file (no meta.lm vocabulary); train one with retort lm train`);
    teacher = loadModel(core, resolve(o.teacher));
    lmShape(teacher);
    if (o.length !== undefined && o.length !== tv.length) throw new RangeError(`--length ${o.length}: the teacher ${basename(o.teacher)} reads ${tv.length} characters; the student reads what its teacher does`);
  }
  try {
    const text = loadLmText(o.data, {
      ...(o.testFraction !== undefined ? { testFraction: o.testFraction } : {}), ...(o.trainChars !== undefined ? { trainChars: o.trainChars } : {}),
      ...(o.testChars !== undefined ? { testChars: o.testChars } : {}),
    });
    const vocab = tv?.vocab ?? buildCharVocab(text.train, o.vocabSize ?? DEFAULT_CHAR_VOCAB);
    const length = tv?.length ?? o.length ?? DEFAULT_LM_LENGTH;
    if (!(Number.isInteger(length) && length >= 2)) throw new RangeError(`--length must be an integer >= 2, got ${length}`);
    const trainIds = vocab.encode(text.train), testIds = vocab.encode(text.test);
    if (windowCount(trainIds, length) === 0) throw new RangeError(`--data ${o.data}: the training text has ${trainIds.length} characters, fewer than one window of ${length + 1}`);
    if (windowCount(testIds, length) === 0) throw new RangeError(`--data ${o.data}: the held-out text has ${testIds.length} characters, fewer than one window of ${length + 1}`);
    const spec = lmModelSpec(o.model, vocab.size, length);
    const model = new Model(core, spec);
    try {
      const { vocab: V } = lmShape(model);
      if (V !== vocab.size) throw new RangeError(`--model: the model's vocabulary is ${V} but the text's is ${vocab.size}`);
      const topK = o.topK ?? 8, temperature = o.temperature ?? 1, alpha = o.alpha ?? 0.5;
      const settings = {
        data: text.name, description: text.description, spec, epochs: o.epochs, batch: o.batch, lr: o.lr, seed: o.seed, length,
        chars: vocab.chars.join(''), trainChars: trainIds.length, testChars: testIds.length,
        ...(teacher ? { teacher: modelFingerprint(teacher), topK, temperature, alpha } : {}),
      };
      const configHash = new Fnv1a64().updateString(JSON.stringify(settings)).digest();
      const fresh = !existsSync(out);
      mkdirSync(out, { recursive: true });
      const ckpt = join(out, 'checkpoint.retort');
      try {
        let resume: LmTrainState | undefined;
        if (existsSync(ckpt)) {
          const c = loadCheckpoint(ckpt);
          if (c.configHash !== configHash) throw new RangeError(`--out ${o.out} holds the checkpoint of a run with other settings: give another --out, or delete ${ckpt}`);
          resume = { epoch: c.state.epoch, step: c.state.step, params: c.state.params, optimizer: c.state.optimizer, history: c.state.history as unknown as LmEpoch[] };
          o.onInfo?.(`resuming from ${ckpt} after epoch ${resume.epoch}`);
        } else {
          model.init(o.seed);
        }
        let distill, teacherInfo: LmRunResult['teacher'];
        if (teacher) {
          const W = windowCount(trainIds, length), shardRows = 256 * length;
          const cacheDir = o.cache !== undefined ? resolve(o.cache) : join(out, 'teacher-topk');
        const cache = cachedTeacherOutputs(cacheDir, { kind: 'lm', teacher: settings.teacher, text: settings.chars, trainChars: trainIds.length, length, data: text.name },
            W * length, V, (start, count) => windowLogits(core, teacher!, trainIds, start / length, count / length), { topK, shardRows });
          o.onInfo?.(cache.fromCache ? `teacher top-${topK} read from ${cacheDir}` : `teacher top-${topK} of ${W * length} positions written to ${cacheDir}`);
          distill = { table: cache.table, temperature, alpha };
          teacherInfo = { path: resolve(o.teacher!), params: teacher.paramCount, testBpc: bitsPerChar(core, teacher, testIds), topK, temperature, alpha, cached: cache.fromCache };
        }
        const history = trainLm(core, model, trainIds, {
          epochs: o.epochs, batch: o.batch, lr: o.lr, seed: o.seed, test: testIds,
          ...(distill ? { distill } : {}), ...(resume ? { resume } : {}), ...(o.onStep ? { onStep: o.onStep } : {}),
          onEpoch: (e, state) => {
            const s = state();
            const ts: TrainerState = { epoch: s.epoch, step: s.step, params: s.params, optimizer: s.optimizer, history: s.history as unknown as TrainerState['history'] };
            saveCheckpoint(ckpt, spec, ts, configHash);
            o.onEpoch?.(e);
          },
        });
        const testBpc = history[history.length - 1]!.testBpc!;
        const modelPath = join(out, 'model.retort');
        const result: LmRunResult = {
          out, modelPath, spec: typeof o.model === 'string' ? o.model : 'graph', params: model.paramCount, vocab: vocab.size, length,
          trainChars: trainIds.length, testChars: testIds.length, history, testBpc, ...(teacherInfo ? { teacher: teacherInfo } : {}),
          resumedFromEpoch: resume?.epoch ?? 0,
        };
        saveModel(modelPath, model, { ...lmMeta(vocab, length), data: text.name, testBpc });
        writeJsonAtomic(join(out, 'result.json'), { ...result, settings });
        return result;
      } catch (e) {
        // a directory this run created and left without a checkpoint holds nothing to keep
        if (fresh && !existsSync(ckpt)) rmSync(out, { recursive: true, force: true });
        throw e;
      }
    } finally {
      model.free();
    }
  } finally {
    teacher?.free();
  }
}


export interface LmEvalResult { model: string; params: number; data: string; testChars: number; testBpc: number; kind: 'float32' | 'int8' }

/** A language-model file opened for scoring and sampling: a float Model, or an int8 model as a scorer; free() releases it. */
export interface OpenLm { model: Model | LmScorer; vocab: CharVocab; length: number; params: number; kind: 'float32' | 'int8'; free(): void }

/** Opens a language model's file: a Retort model file (retort lm train/distill) or its int8 file (retort lm quantize). */
export function openLm(core: Core, path: string): OpenLm {
  const name = basename(path), full = resolve(path);
  const bytes = readWholeFile(full, name);
  const notLm = (): never => { throw new RangeError(`${name}: not a language model's file (no meta.lm vocabulary); train one with retort lm train or distill`); };
  if (isQuantizedModelFile(bytes)) {
    const q = Int8Model.decode(core, bytes, name);
    try {
      const v = vocabOfMeta(q.model.meta ?? {}, name) ?? notLm();
      const scorer = scorerOf(q);
      if (scorer.length !== v.length || scorer.vocab !== v.vocab.size) {
        throw new RangeError(`${name}: its meta.lm says ${v.vocab.size} characters in windows of ${v.length}, but the model reads ${scorer.length} and scores ${scorer.vocab}`);
      }
      return { model: scorer, vocab: v.vocab, length: v.length, params: paramCount(q.spec), kind: 'int8', free: () => q.free() };
    } catch (e) {
      q.free();
      throw e;
    }
  }
  const v = vocabOfMeta(readModelFile(full).meta, name) ?? notLm();
  const model = loadModel(core, full);
  return { model, vocab: v.vocab, length: v.length, params: model.paramCount, kind: 'float32', free: () => model.free() };
}

/** Held-out bits per character of a language-model file (float or int8) on `data` (read with the file's vocabulary). */
export function lmEval(core: Core, path: string, data: string, opts: { testFraction?: number; testChars?: number } = {}): LmEvalResult {
  const lm = openLm(core, path);
  try {
    const text = loadLmText(data, opts);
    const ids = lm.vocab.encode(text.test);
    const testBpc = lm.model instanceof Model ? bitsPerChar(core, lm.model, ids) : scorerBitsPerChar(core, lm.model, ids);
    return { model: resolve(path), params: lm.params, data: text.name, testChars: ids.length, testBpc, kind: lm.kind };
  } finally {
    lm.free();
  }
}

/**
 * An int8 language model from a float one: attention projections, feed-forward and output layers
 * int8, the character table int8 rows (../quant/plan.ts), activation scales calibrated on
 * `calibration` windows of the training text drawn by `seed` (never the held-out text).
 */
export function lmQuantize(core: Core, path: string, data: string, opts: { calibration?: number; seed?: number; trainChars?: number; testFraction?: number } = {}): Int8Model {
  const name = basename(path), full = resolve(path);
  const v = vocabOfMeta(readModelFile(full).meta, name);
  if (!v) throw new RangeError(`${name}: not a language model's file (no meta.lm vocabulary); train one with retort lm train or distill`);
  const text = loadLmText(data, opts);
  const ids = v.vocab.encode(text.train);
  const model = loadModel(core, full);
  try {
    const L = lmShape(model).length, W = windowCount(ids, L);
    if (W === 0) throw new RangeError(`--data ${data}: the training text has ${ids.length} characters, fewer than one window of ${L + 1}`);
    const count = Math.min(opts.calibration ?? 256, W);
    const chosen = permutation(W, new Xoshiro128(opts.seed ?? 1, STREAM.split)).slice(0, count).sort((a, b) => a - b);
    const x = new Float32Array(count * L);
    chosen.forEach((w, i) => { for (let l = 0; l < L; l++) x[i * L + l] = ids[w * L + l]!; });
    return quantizeModel(core, model, x, { meta: { source: name, ...lmMeta(v.vocab, L), calibrationRows: count } });
  } finally {
    model.free();
  }
}
