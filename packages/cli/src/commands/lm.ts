// `retort lm train|distill|eval` and `retort generate`: character-level language models
// (packages/distill/src/node/lm.ts), trained alone, distilled token by token from a larger
// one's top-k outputs, measured in bits per character on held-out text, and sampled from.
import { resolve } from 'node:path';
import { loadCore, generateIds, vocabOfMeta } from '@retort/distill';
import { lmEval, lmJob, loadModel, readModelFile, type LmRunResult } from '@retort/distill/node';
import { basename } from 'node:path';
import { UsageError } from '../errors.js';
import type { Io } from '../program.js';

export interface LmFlags {
  data?: string;
  model?: string;
  out?: string;
  epochs?: number;
  batch?: number;
  lr?: number;
  seed?: number;
  length?: number;
  vocabSize?: number;
  trainChars?: number;
  testChars?: number;
  testFraction?: number;
  teacher?: string;
  topK?: number;
  temperature?: number;
  alpha?: number;
  cache?: string;
  json?: boolean;
  backend?: 'auto' | 'simd' | 'scalar' | 'js';
}

const stamp = (): string => new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);

export async function lmRunCommand(kind: 'train' | 'distill', flags: LmFlags, io: Io): Promise<number> {
  if (kind === 'distill' && !flags.teacher) throw new UsageError('retort lm distill needs --teacher MODEL (a language model trained with retort lm train)');
  if (kind === 'train' && flags.teacher) throw new UsageError('--teacher: retort lm train trains alone; use retort lm distill');
  const core = await loadCore({ backend: flags.backend ?? 'auto' });
  const out = flags.out ?? `runs/lm-${kind}-${stamp()}`;
  const r: LmRunResult = await lmJob({
    core, data: flags.data ?? 'sotu', model: flags.model ?? (kind === 'train' ? 'lm-l' : 'lm-s'), out,
    epochs: flags.epochs ?? 3, batch: flags.batch ?? 32, lr: flags.lr ?? 3e-3, seed: flags.seed ?? 1,
    ...(flags.length !== undefined ? { length: flags.length } : {}), ...(flags.vocabSize !== undefined ? { vocabSize: flags.vocabSize } : {}),
    ...(flags.trainChars !== undefined ? { trainChars: flags.trainChars } : {}), ...(flags.testChars !== undefined ? { testChars: flags.testChars } : {}),
    ...(flags.testFraction !== undefined ? { testFraction: flags.testFraction } : {}),
    ...(flags.teacher ? { teacher: flags.teacher } : {}), ...(flags.topK !== undefined ? { topK: flags.topK } : {}),
    ...(flags.temperature !== undefined ? { temperature: flags.temperature } : {}), ...(flags.alpha !== undefined ? { alpha: flags.alpha } : {}),
    ...(flags.cache !== undefined ? { cache: flags.cache } : {}),
    onInfo: (line) => { if (!flags.json) io.out(line); },
    onEpoch: (e) => {
      if (flags.json) io.out(JSON.stringify({ type: 'epoch', ...e }));
      else io.out(`epoch ${e.epoch}: train loss ${e.trainLoss.toFixed(4)} nats/char, held-out ${e.testBpc!.toFixed(4)} bits/char (${e.seconds.toFixed(1)} s)`);
    },
  });
  if (flags.json) io.out(JSON.stringify({ type: 'result', ...r }));
  else {
    io.out(`${r.spec}: ${r.params.toLocaleString('en-US')} parameters, vocabulary ${r.vocab}, length ${r.length}; ${r.trainChars} training characters`);
    if (r.teacher) io.out(`teacher ${basename(r.teacher.path)}: ${r.teacher.params.toLocaleString('en-US')} parameters, ${r.teacher.testBpc.toFixed(4)} bits/char held out (top-${r.teacher.topK}, T ${r.teacher.temperature}, alpha ${r.teacher.alpha})`);
    io.out(`held-out: ${r.testBpc.toFixed(4)} bits/char on ${r.testChars} characters`);
    io.out(`model: ${r.modelPath}`);
  }
  return 0;
}

export async function lmEvalCommand(model: string, flags: LmFlags, io: Io): Promise<number> {
  const core = await loadCore({ backend: flags.backend ?? 'auto' });
  const r = lmEval(core, model, flags.data ?? 'sotu', {
    ...(flags.testFraction !== undefined ? { testFraction: flags.testFraction } : {}), ...(flags.testChars !== undefined ? { testChars: flags.testChars } : {}),
  });
  if (flags.json) io.out(JSON.stringify(r));
  else io.out(`${basename(r.model)}: ${r.testBpc.toFixed(4)} bits/char on ${r.testChars} held-out characters of ${r.data} (${r.params.toLocaleString('en-US')} parameters)`);
  return 0;
}

export interface GenerateFlags { prompt?: string; length?: number; temperature?: number; topK?: number; seed?: number; json?: boolean; backend?: 'auto' | 'simd' | 'scalar' | 'js' }

export async function generateCommand(modelPath: string, flags: GenerateFlags, io: Io): Promise<number> {
  const path = resolve(modelPath);
  const file = readModelFile(path);
  const v = vocabOfMeta(file.meta, basename(path));
  if (!v) throw new RangeError(`${basename(path)}: not a language model's file (no meta.lm vocabulary); generate samples from models trained with retort lm`);
  const prompt = flags.prompt ?? '';
  if (prompt === '') throw new UsageError('--prompt: give the text to continue (at least one character)');
  const core = await loadCore({ backend: flags.backend ?? 'auto' });
  const model = loadModel(core, path);
  try {
    const ids = v.vocab.encode(prompt);
    const out = generateIds(core, model, ids, { length: flags.length ?? 200, temperature: flags.temperature ?? 0.8, topK: flags.topK ?? 0, seed: flags.seed ?? 1 });
    const text = v.vocab.decode(out);
    if (flags.json) io.out(JSON.stringify({ model: path, prompt, text }));
    else io.out(prompt + text);
    return 0;
  } finally {
    model.free();
  }
}
