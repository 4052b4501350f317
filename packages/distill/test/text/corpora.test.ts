import { describe, expect, it } from 'vitest';
import { loadTextCorpus, messageText, passages, SOTU_ERAS } from '../../src/text/corpora.js';
import { checkTokenIds, encodeTextData } from '../../src/text/data.js';
import { PAD_ID } from '../../src/text/tokenizer.js';
import type { TextDataset } from '../../src/data/table.js';

describe('bundled text corpora', () => {
  it('spam: 6,046 messages, ham/spam, a stratified 20 % test split, headers dropped but the Subject kept', () => {
    const c = loadTextCorpus('spam');
    expect(c.train.count + c.test.count).toBe(6046);
    expect(c.train.classNames).toEqual(['ham', 'spam']);
    const spam = (d: TextDataset): number => d.y.reduce((s, v) => s + v, 0);
    expect(spam(c.train) + spam(c.test)).toBe(1896);
    expect(c.test.count).toBe(Math.round(4150 * 0.2) + Math.round(1896 * 0.2));
    expect(spam(c.test)).toBe(Math.round(1896 * 0.2));
    for (const t of c.train.texts.slice(0, 50)) {
      expect(t.startsWith('Subject: ')).toBe(true);
      expect(t).not.toMatch(/^Received: /m);
      expect(t).not.toMatch(/^Return-Path: /m);
    }
    // the same split every time
    const again = loadTextCorpus('spam');
    expect(again.test.texts.slice(0, 20)).toEqual(c.test.texts.slice(0, 20));
  });

  it('sotu: six eras, whole speeches held out (no test passage appears in training)', () => {
    const c = loadTextCorpus('sotu');
    expect(c.train.classes).toBe(SOTU_ERAS);
    expect(c.train.classNames![0]).toBe('1790-1829');
    const per = (d: TextDataset): number[] => { const n = new Array<number>(SOTU_ERAS).fill(0); for (const v of d.y) n[v]!++; return n; };
    expect(per(c.train).every((n) => n > 500)).toBe(true);
    expect(per(c.test).every((n) => n > 50)).toBe(true);
    const train = new Set(c.train.texts);
    const shared = c.test.texts.filter((t) => train.has(t)).length;
    expect(shared).toBeLessThan(c.test.count * 0.001); // only stock phrases could repeat word for word
    expect(c.train.texts.every((t) => { const n = t.split(' ').length; return n >= 32 && n <= 64; })).toBe(true);
  });

  it('messageText: a folded Subject header is unfolded; a message without headers keeps its body', () => {
    expect(messageText('From: a@b\r\nSubject: Cheap\r\n  pills now\r\nTo: c@d\r\n\r\nBuy!\r\n')).toBe('Subject: Cheap pills now\n\nBuy!\n');
    expect(messageText('X: 1\n\nno subject here')).toBe('Subject: \n\nno subject here');
  });

  it('passages: fixed word counts, a short tail kept only from half a passage', () => {
    const words = Array.from({ length: 10 }, (_, i) => `w${i}`).join('  \n');
    expect(passages(words, 4)).toEqual(['w0 w1 w2 w3', 'w4 w5 w6 w7', 'w8 w9']);
    expect(passages('a b c d e', 4)).toEqual(['a b c d']);
  });
});

describe('encodeTextData', () => {
  const ds = (name: string, texts: string[], y: number[]): TextDataset => ({ name, count: texts.length, texts, y: Int32Array.from(y), classes: 3, classNames: ['a', 'b', 'c'] });
  const train = ds('toy/train', ['good movie', 'bad movie, very bad', 'a long text '.repeat(50), 'fine'], [0, 1, 2, 0]);
  const test = ds('toy/test', ['good', 'unseen words ü'], [0, 1]);

  it('trains its tokenizer on the training split, pads with -1, truncates to maxLength', () => {
    const d = encodeTextData(train, test, { kind: 'given' }, { maxLength: 16, vocabSize: 300 });
    expect(d.train.sampleShape).toEqual([16]);
    expect(d.train.x).toBeInstanceOf(Float32Array);
    expect(d.test.count).toBe(2);
    expect(d.truncated).toEqual({ train: 1, test: 0 });
    expect(d.train.x[0]).toBe(0); // <cls>
    expect(d.train.x[15]).toBe(PAD_ID);
    expect(Array.from(d.train.x.subarray(32, 48)).every((v) => v !== PAD_ID)).toBe(true); // the long text fills its row
    expect(d.tokenizer.decode(d.test.x.subarray(16, 32))).toBe('unseen words ü');
    checkTokenIds(d.train, d.tokenizer.vocabSize);
    expect(() => checkTokenIds(d.train, 5)).toThrow(/toy\/train: row 0, position 1: token id \d+ is outside the vocabulary \[0, 5\)/);
  });

  it('refuses a class with no training text, naming it', () => {
    const noC = ds('toy/train', ['x y', 'y z'], [0, 1]);
    expect(() => encodeTextData(noC, test, { kind: 'given' })).toThrow(/toy\/train: class 'c' \(2\) has no training text/);
  });
});
