// Text data as models read it: each text becomes `maxLength` token ids (-1 for padding, see
// ./tokenizer.ts), stored as an f32 dataset of sample shape [maxLength] (ids are exact in f32
// below 2^24), so batching, shuffling, validation splits, teacher caches and every command
// treat a tokenised corpus as they treat any other array data.
//
// The tokenizer is the user's tokenizer.json when one is given, else a byte-level BPE trained on
// the TRAINING split only (./bpe.ts), so that no test text shapes the vocabulary, and on the part
// of each text a model reads (textHead in ./tokenizer.ts).
import { makeDataset, type Dataset, type TestSplit } from '../data/dataset.js';
import { DataFormatError } from '../data/errors.js';
import type { TextDataset } from '../data/table.js';
import { trainByteLevelBpe } from './bpe.js';
import { encodeTexts, specialTokenIds, textHead, type TextTokenizer } from './tokenizer.js';

/** Default maximum sequence length (tokens, special tokens included). */
export const DEFAULT_MAX_LENGTH = 128;
/** Default vocabulary of a tokenizer trained from the training split. */
export const DEFAULT_VOCAB_SIZE = 4096;

export interface TextEncodeOptions {
  /** A tokenizer to use as is; else one is trained on the training texts. */
  tokenizer?: TextTokenizer;
  /** Vocabulary of the trained tokenizer (default DEFAULT_VOCAB_SIZE). */
  vocabSize?: number;
  /** Tokens per sequence (default DEFAULT_MAX_LENGTH). */
  maxLength?: number;
}

/** A tokenised corpus: datasets of ids, the tokenizer that made them, and what truncation cost. */
export interface TokenData {
  train: Dataset;
  test: Dataset;
  split: TestSplit;
  classNames: string[] | null;
  tokenizer: TextTokenizer;
  maxLength: number;
  /** Texts cut at maxLength, per split. */
  truncated: { train: number; test: number };
}

/** An empty class (no training text) is refused: a model cannot learn it and its test rows would only count as errors. */
function checkClasses(train: TextDataset, test: TextDataset): number {
  const classes = Math.max(train.classes, test.classes);
  const counts = new Array<number>(classes).fill(0);
  for (const c of train.y) counts[c]!++;
  const empty = counts.findIndex((n) => n === 0);
  if (empty >= 0) {
    const names = train.classNames ?? test.classNames;
    throw new DataFormatError(train.name, `class ${names?.[empty] !== undefined ? `'${names[empty]}' (${empty})` : empty} has no training text`);
  }
  return classes;
}

/** Tokenises a corpus's two splits (see the file header). */
export function encodeTextData(train: TextDataset, test: TextDataset, split: TestSplit, opts: TextEncodeOptions = {}): TokenData {
  const classes = checkClasses(train, test);
  const maxLength = opts.maxLength ?? DEFAULT_MAX_LENGTH;
  // Trained on what the model reads of each training text (its head: see textHead).
  const tokenizer = opts.tokenizer ?? trainByteLevelBpe(train.texts.map((t) => textHead(t, maxLength).head),
    { vocabSize: opts.vocabSize ?? DEFAULT_VOCAB_SIZE, name: train.name });
  const specialIds = specialTokenIds(tokenizer);
  const one = (ds: TextDataset): { dataset: Dataset; truncated: number } => {
    const enc = encodeTexts(tokenizer, ds.texts, maxLength);
    const dataset: Dataset = { ...makeDataset(enc.ids, [ds.count, maxLength], ds.y, { xFile: ds.name, yFile: ds.name }, { name: ds.name, classes }),
      vocab: tokenizer.vocabSize, specialIds };
    return { dataset, truncated: enc.truncated };
  };
  const a = one(train), b = one(test);
  return {
    train: a.dataset, test: b.dataset, split, classNames: train.classNames ?? test.classNames, tokenizer, maxLength,
    truncated: { train: a.truncated, test: b.truncated },
  };
}

/**
 * Checks token-id samples against a model's vocabulary: every value an integer in [0, vocabSize)
 * or -1 (padding), and padding only after a row's tokens. The error names the dataset, row and position.
 */
export function checkTokenIds(ds: Dataset, vocabSize: number): void {
  const x = ds.x, L = ds.features;
  for (let r = 0; r < ds.count; r++) {
    let padded = false;
    for (let l = 0; l < L; l++) {
      const v = x[r * L + l]!;
      if (v === -1) { padded = true; continue; }
      if (!(Number.isInteger(v) && v >= 0 && v < vocabSize)) {
        throw new DataFormatError(ds.name, `row ${r}, position ${l}: token id ${v} is outside the vocabulary [0, ${vocabSize}) (-1 pads)`);
      }
      if (padded) throw new DataFormatError(ds.name, `row ${r}, position ${l}: a token after padding (-1 must follow a row's tokens)`);
    }
  }
}
