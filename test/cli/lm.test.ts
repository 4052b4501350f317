// `retort lm train|distill|eval` and `retort generate` end to end on a text file the toolkit was
// not developed on: a teacher and a student trained alone and distilled, held-out bits per
// character, seeded sampling, int8 (eval and generate from the int8 file), a SIGKILLed run resumed bit for bit, and bad input refused with
// one line and nothing left behind.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOneLineError, jsonLines, retort, retortAsync, tempDir } from './helpers.js';

const tmp = tempDir('lm');
const d = (...p: string[]): string => join(tmp.dir, ...p);
afterAll(() => tmp.cleanup());

/** A text from a small grammar: sentences of words with regular spelling, so a model can learn it. */
function corpus(sentences: number): string {
  const subjects = ['the cat', 'a dog', 'my friend', 'the old man', 'her sister'], verbs = ['sees', 'likes', 'finds', 'paints', 'follows'];
  const objects = ['a red ball', 'the green door', 'some warm bread', 'the blue sea', 'a small bird'];
  let s = 0x2545f491;
  const next = (n: number): number => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return (s >>> 8) % n; };
  const lines: string[] = [];
  for (let i = 0; i < sentences; i++) lines.push(`${subjects[next(5)]} ${verbs[next(5)]} ${objects[next(5)]}.`);
  return `${lines.join('\n')}\n`;
}

const TEXT = d('story.txt');
const COMMON = ['--data', TEXT, '--epochs', '2', '--batch', '16', '--lr', '0.005', '--json'];
let teacherBpc = 0;

beforeAll(() => {
  writeFileSync(TEXT, corpus(900));
  const r = retort(['lm', 'train', ...COMMON, '--model', 'lm-s:layers=2,dim=32,heads=2', '--length', '32', '--out', d('teacher')], { timeout: 120_000 });
  expect(r.status, r.stderr).toBe(0);
  const res = jsonLines(r.stdout).find((l) => l.type === 'result')!;
  teacherBpc = res.testBpc as number;
}, 150_000);

describe('retort lm', () => {
  it('trains a model that learns the text: held-out bits per character well below a uniform guess', () => {
    const res = JSON.parse(readFileSync(d('teacher', 'result.json'), 'utf8')) as { vocab: number; testBpc: number; history: { testBpc: number }[] };
    expect(res.history).toHaveLength(2);
    expect(res.testBpc).toBeLessThan(Math.log2(res.vocab) / 2);
    expect(existsSync(d('teacher', 'checkpoint.retort'))).toBe(true);
    const ev = retort(['lm', 'eval', d('teacher', 'model.retort'), '--data', TEXT, '--json']);
    expect(ev.status, ev.stderr).toBe(0);
    expect((JSON.parse(ev.stdout) as { testBpc: number }).testBpc).toBeCloseTo(teacherBpc, 10);
  });

  it('distills a smaller student through a top-k cache, which a rerun reads instead of running the teacher', () => {
    const args = ['lm', 'distill', ...COMMON, '--teacher', d('teacher', 'model.retort'), '--model', 'lm-s:layers=1,dim=16,heads=2', '--top-k', '4', '--temperature', '2'];
    const r = retort([...args, '--out', d('student')], { timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const res = jsonLines(r.stdout).find((l) => l.type === 'result') as { testBpc: number; params: number; teacher: { params: number; testBpc: number; cached: boolean } };
    expect(res.teacher.params).toBeGreaterThan(res.params);
    expect(res.teacher.testBpc).toBeCloseTo(teacherBpc, 10);
    expect(res.teacher.cached).toBe(false);
    const idx = JSON.parse(readFileSync(d('student', 'teacher-topk', 'index.json'), 'utf8')) as { kind: string; k: number; complete: boolean };
    expect(idx).toMatchObject({ kind: 'topk', k: 4, complete: true });
    expect(res.testBpc).toBeLessThan(4);
    // the same command again: it resumes after the last epoch and reads the cache instead of running the teacher
    const model = readFileSync(d('student', 'model.retort'));
    const again = retort([...args, '--out', d('student')], { timeout: 120_000 });
    expect(again.status, again.stderr).toBe(0);
    const res2 = jsonLines(again.stdout).find((l) => l.type === 'result') as { resumedFromEpoch: number; teacher: { cached: boolean } };
    expect(res2).toMatchObject({ resumedFromEpoch: 2, teacher: { cached: true } });
    expect(readFileSync(d('student', 'model.retort')).equals(model)).toBe(true);
    // other settings in that directory: refused, the checkpoint kept; a broken checkpoint is named
    expectOneLineError(retort([...args.map((a) => (a === '2' ? '3' : a)), '--out', d('student')]), ['checkpoint of a run with other settings'], 1);
    writeFileSync(d('student', 'checkpoint.retort'), '');
    expectOneLineError(retort([...args, '--out', d('student')]), ['checkpoint.retort'], 1);
  });

  it('generates the same text for the same seed, another for another seed', () => {
    const gen = (seed: string): string => {
      const r = retort(['generate', d('teacher', 'model.retort'), '--prompt', 'the cat ', '--length', '60', '--seed', seed, '--top-k', '5']);
      expect(r.status, r.stderr).toBe(0);
      return r.stdout.trimEnd();
    };
    const a = gen('3');
    expect(a.startsWith('the cat ')).toBe(true);
    expect([...a].length).toBe(8 + 60);
    expect(gen('3')).toBe(a);
    expect(gen('4')).not.toBe(a);
  });

  it('a run killed with SIGKILL after an epoch resumes to the same bits as the run left alone', async () => {
    const args = ['lm', 'train', '--data', TEXT, '--model', 'lm-s:layers=1,dim=16,heads=2', '--length', '24', '--epochs', '3', '--batch', '16', '--json'];
    const whole = retort([...args, '--out', d('whole')], { timeout: 120_000 });
    expect(whole.status, whole.stderr).toBe(0);
    let killed = false;
    const first = await retortAsync([...args, '--out', d('killed')], (line, child) => {
      if (!killed && line.includes('"type":"epoch"') && line.includes('"epoch":1')) { killed = true; child.kill('SIGKILL'); }
    });
    expect(killed).toBe(true);
    expect(first.status).not.toBe(0);
    expect(existsSync(d('killed', 'model.retort'))).toBe(false);
    const rest = retort([...args, '--out', d('killed')], { timeout: 120_000 });
    expect(rest.status, rest.stderr).toBe(0);
    expect(jsonLines(rest.stdout).find((l) => l.type === 'result')!.resumedFromEpoch).toBeGreaterThanOrEqual(1);
    expect(readFileSync(d('killed', 'model.retort')).equals(readFileSync(d('whole', 'model.retort')))).toBe(true);
  }, 200_000);
});

describe('retort lm: bad input', () => {
  it('refuses a teacher that is not a language model, a corrupt teacher, a text too short and a .csv, leaving no run directory', () => {
    writeFileSync(d('short.txt'), 'too short\n');
    writeFileSync(d('corrupt.retort'), 'RTRT not really a model');
    writeFileSync(d('table.csv'), 'text,label\nhello,1\n');
    const cases: [string[], (string | RegExp)[]][] = [
      [['lm', 'train', '--data', d('short.txt'), '--out', d('bad1')], ['the training text has', 'fewer than one window of 129']],
      [['lm', 'train', '--data', d('table.csv'), '--out', d('bad2')], ['table.csv', 'a .txt file']],
      [['lm', 'distill', '--data', TEXT, '--teacher', d('corrupt.retort'), '--out', d('bad3')], ['corrupt.retort']],
    ];
    for (const [args, patterns] of cases) {
      const r = retort(args);
      expectOneLineError(r, patterns, 1);
    }
    for (const dir of ['bad1', 'bad2', 'bad3']) expect(existsSync(d(dir))).toBe(false);
    expectOneLineError(retort(['lm', 'distill', '--data', TEXT, '--out', d('bad4')]), ['--teacher'], 2);
    expectOneLineError(retort(['lm', 'train', '--data', TEXT, '--temperature', '2']), ['--temperature'], 2);
    expectOneLineError(retort(['generate', d('teacher', 'model.retort'), '--prompt', 'a', '--temperature', '-1']), ['--temperature'], 2);
    expectOneLineError(retort(['generate', d('teacher', 'model.retort')]), ['--prompt'], 2);
  });

  it('quantizes the language model to int8: lm eval reads the int8 file within a few hundredths of a bit, generate writes from it, seeded', () => {
    const q = retort(['lm', 'quantize', d('teacher', 'model.retort'), '--data', TEXT, '--calibration', '64', '--out', d('teacher.int8')]);
    expect(q.status, q.stderr).toBe(0);
    expect(q.stdout).toMatch(/quantized model\.retort to int8: .*teacher\.int8 \(\d+ bytes; float32 \d+ bytes, [\d.]+x smaller\); activation scales from 64 windows of the training text/);
    const ev = retort(['lm', 'eval', d('teacher.int8'), '--data', TEXT, '--json']);
    expect(ev.status, ev.stderr).toBe(0);
    const r = JSON.parse(ev.stdout) as { testBpc: number; kind: string };
    expect(r.kind).toBe('int8');
    expect(Math.abs(r.testBpc - teacherBpc)).toBeLessThan(0.05);
    expect(r.testBpc).not.toBe(teacherBpc); // it is quantized
    const gen = (): string => {
      const g = retort(['generate', d('teacher.int8'), '--prompt', 'the cat ', '--length', '40', '--seed', '3', '--top-k', '5']);
      expect(g.status, g.stderr).toBe(0);
      return g.stdout.replace(/\n$/, ''); // the text may end in a space or a newline of its own
    };
    const a = gen();
    expect([...a].length).toBe(8 + 40);
    expect(gen()).toBe(a);
    // an existing --out is kept; a model that is not a language model is named
    expectOneLineError(retort(['lm', 'quantize', d('teacher', 'model.retort'), '--data', TEXT, '--out', d('teacher.int8')]), ['already exists']);
  });

  it('refuses to generate from a model that is not a language model, and to train a classifier with an lm preset', () => {
    const cls = retort(['train', '--model', 'mlp:784-8-10', '--train-size', '300', '--validation', '100', '--test-size', '100', '--epochs', '1', '--out', d('cls')]);
    expect(cls.status, cls.stderr).toBe(0);
    expectOneLineError(retort(['generate', d('cls', 'model.retort'), '--prompt', 'x']), ['model.retort', 'not a language model']);
    expectOneLineError(retort(['lm', 'distill', '--data', TEXT, '--teacher', d('cls', 'model.retort'), '--out', d('bad5')]), ['not a language model']);
    expect(existsSync(d('bad5'))).toBe(false);
    expectOneLineError(retort(['train', '--data', 'spam', '--model', 'lm-s', '--out', d('bad6')]), ['lm-s is a language model', 'retort lm']);
    expectOneLineError(retort(['lm', 'quantize', d('cls', 'model.retort'), '--data', TEXT, '--out', d('cls.int8')]), ['model.retort', 'not a language model']);
    expect(existsSync(d('cls.int8'))).toBe(false);
  });
});
