// `retort lm train|distill|eval` and `retort generate`: character-level language models
// (packages/distill/src/node/lm.ts), trained alone, distilled token by token from a larger
// one's top-k outputs, measured in bits per character on held-out text, and sampled from.
import type { BackendName } from '@retort/core-wasm';
import { existsSync, mkdirSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { loadCore, generateIds } from '@retort/distill';
import { lmEval, lmJob, lmQuantize, openLm, writeFileAtomic, type LmRunResult } from '@retort/distill/node';
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
  calibration?: number;
  force?: boolean;
  json?: boolean;
  backend?: 'auto' | BackendName;
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
  else io.out(`${basename(r.model)}${r.kind === 'int8' ? ' (int8)' : ''}: ${r.testBpc.toFixed(4)} bits/char on ${r.testChars} held-out characters of ${r.data} (${r.params.toLocaleString('en-US')} parameters)`);
  return 0;
}

export async function lmQuantizeCommand(model: string, flags: LmFlags, io: Io): Promise<number> {
  if (!flags.out) throw new UsageError('--out: required (the int8 model file to write)');
  const out = resolve(flags.out);
  if (existsSync(out) && !flags.force) throw new UsageError(`--out ${out}: already exists; pass --force to replace it`);
  const core = await loadCore({ backend: flags.backend ?? 'auto' });
  const q = lmQuantize(core, model, flags.data ?? 'sotu', {
    ...(flags.calibration !== undefined ? { calibration: flags.calibration } : {}), ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
    ...(flags.trainChars !== undefined ? { trainChars: flags.trainChars } : {}), ...(flags.testFraction !== undefined ? { testFraction: flags.testFraction } : {}),
  });
  try {
    mkdirSync(dirname(out), { recursive: true });
    writeFileAtomic(out, q.encode());
    const s = q.size, rows = q.model.meta?.calibrationRows;
    io.out(`quantized ${basename(model)} to int8: ${out} (${s.total} bytes; float32 ${s.float32} bytes, ${s.ratio.toFixed(2)}x smaller); ` +
      `activation scales from ${rows} windows of the training text`);
    return 0;
  } finally {
    q.free();
  }
}

export interface GenerateFlags { prompt?: string; length?: number; temperature?: number; topK?: number; seed?: number; json?: boolean; backend?: 'auto' | BackendName }

export async function generateCommand(modelPath: string, flags: GenerateFlags, io: Io): Promise<number> {
  const path = resolve(modelPath);
  const prompt = flags.prompt ?? '';
  if (prompt === '') throw new UsageError('--prompt: give the text to continue (at least one character)');
  const core = await loadCore({ backend: flags.backend ?? 'auto' });
  const lm = openLm(core, path); // a Retort model file or its int8 file
  try {
    const ids = lm.vocab.encode(prompt);
    const out = generateIds(core, lm.model, ids, { length: flags.length ?? 200, temperature: flags.temperature ?? 0.8, topK: flags.topK ?? 0, seed: flags.seed ?? 1 });
    const text = lm.vocab.decode(out);
    if (flags.json) io.out(JSON.stringify({ model: path, prompt, text }));
    else io.out(prompt + text);
    return 0;
  } finally {
    lm.free();
  }
}
