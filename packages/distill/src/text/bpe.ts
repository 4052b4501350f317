// A byte-level BPE tokenizer trained from a training split, for corpora that come without a
// tokenizer. Why this kind: its alphabet is the 256 bytes, so any text of any script encodes
// without an unknown token and decodes back to the same text (generation needs both); its
// merges are learned from counts alone, deterministically; and it is GPT-2's and RoBERTa's
// scheme, so the tokenizer.json it writes runs in @huggingface/tokenizers (./tokenizer.ts) and in
// Python's `tokenizers` alike. WordPiece and Unigram need a likelihood-driven trainer for no gain
// at these vocabulary sizes.
//
// Training (Sennrich et al. 2016): split the texts into words with the library's own ByteLevel
// pre-tokenizer (the split that encoding will use), count the words, then repeatedly merge the
// most frequent adjacent pair of symbols into a new symbol until the vocabulary has `vocabSize`
// entries or no pair occurs `minFrequency` times. Ties go to the pair of smaller symbol ids, so
// the merges are a function of the texts alone. Pair counts are kept incrementally: a merge
// rewrites only the words that hold the pair.
import { Tokenizer } from '@huggingface/tokenizers';
import { tokenizerFromJson, type TextTokenizer, type TokenizerJson } from './tokenizer.js';

export const CLS_TOKEN = '<cls>';
/** The smallest vocabulary: <cls> and the 256 bytes. */
export const BPE_MIN_VOCAB = 257;

export interface BpeOptions {
  /** Vocabulary size including <cls> and the 256 byte symbols. */
  vocabSize: number;
  /** A pair merges only when it occurs at least this often (default 2). */
  minFrequency?: number;
  /** Names the corpus in the tokenizer's source. */
  name?: string;
}

/** GPT-2's map from bytes to printable characters (the ByteLevel pre-tokenizer's alphabet). */
function byteChars(): string[] {
  const printable: number[] = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  const chars = new Array<string>(256);
  for (const b of printable) chars[b] = String.fromCharCode(b);
  let extra = 0;
  for (let b = 0; b < 256; b++) if (chars[b] === undefined) chars[b] = String.fromCharCode(256 + extra++);
  return chars;
}

const PRE_TOKENIZER = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };

function tokenizerJson(vocab: Record<string, number>, merges: [string, string][]): TokenizerJson {
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [{ id: 0, content: CLS_TOKEN, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true } as TokenizerJson['added_tokens'][number]],
    normalizer: null,
    pre_tokenizer: PRE_TOKENIZER,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: CLS_TOKEN, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: CLS_TOKEN, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { [CLS_TOKEN]: { id: CLS_TOKEN, ids: [0], tokens: [CLS_TOKEN] } },
    } as TokenizerJson['post_processor'],
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges,
    },
  };
}

/** Max-heap of (count, a, b) entries; stale entries are skipped when popped. */
class PairHeap {
  private c: number[] = [];
  private a: number[] = [];
  private b: number[] = [];
  get size(): number { return this.c.length; }
  private before(i: number, j: number): boolean {
    const ci = this.c[i]!, cj = this.c[j]!;
    if (ci !== cj) return ci > cj;
    const ai = this.a[i]!, aj = this.a[j]!;
    return ai !== aj ? ai < aj : this.b[i]! < this.b[j]!;
  }
  private swap(i: number, j: number): void {
    for (const arr of [this.c, this.a, this.b]) { const t = arr[i]!; arr[i] = arr[j]!; arr[j] = t; }
  }
  push(count: number, a: number, b: number): void {
    this.c.push(count); this.a.push(a); this.b.push(b);
    let i = this.c.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(i, p)) break;
      this.swap(i, p); i = p;
    }
  }
  pop(): [number, number, number] {
    const top: [number, number, number] = [this.c[0]!, this.a[0]!, this.b[0]!];
    const last = this.c.length - 1;
    this.swap(0, last);
    this.c.pop(); this.a.pop(); this.b.pop();
    let i = 0;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < this.c.length && this.before(l, m)) m = l;
      if (r < this.c.length && this.before(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m); i = m;
    }
    return top;
  }
}

const KEY = 2 ** 21; // symbol ids stay below 2^21 (vocabSize is capped below)

/** Trains a byte-level BPE tokenizer on texts (the training split only). */
export function trainByteLevelBpe(texts: Iterable<string>, opts: BpeOptions): TextTokenizer {
  const { vocabSize } = opts;
  const minFrequency = opts.minFrequency ?? 2;
  if (!(Number.isInteger(vocabSize) && vocabSize >= BPE_MIN_VOCAB && vocabSize < KEY)) {
    throw new RangeError(`vocabulary size must be an integer in [${BPE_MIN_VOCAB}, ${KEY}), got ${vocabSize}`);
  }
  if (!(Number.isInteger(minFrequency) && minFrequency >= 1)) throw new RangeError(`minimum pair frequency must be a positive integer, got ${minFrequency}`);
  const chars = byteChars();
  const vocab: Record<string, number> = { [CLS_TOKEN]: 0 };
  const strings: string[] = [CLS_TOKEN];
  chars.forEach((ch, b) => { vocab[ch] = b + 1; strings.push(ch); });
  const splitter = new Tokenizer(tokenizerJson({ ...vocab }, []), {}).pre_tokenizer!;

  // Words and their counts, in first-seen order (deterministic).
  const wordCount = new Map<string, number>();
  for (const text of texts) {
    for (const w of splitter.pre_tokenize(text)) wordCount.set(w, (wordCount.get(w) ?? 0) + 1);
  }
  const words: Int32Array[] = [];
  const counts: number[] = [];
  for (const [w, c] of wordCount) {
    const syms = new Int32Array(w.length);
    for (let i = 0; i < w.length; i++) {
      const id = vocab[w[i]!];
      if (id === undefined) throw new Error(`trainByteLevelBpe: the pre-tokenizer produced ${JSON.stringify(w[i])}, outside the byte alphabet`);
      syms[i] = id;
    }
    words.push(syms); counts.push(c);
  }

  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const addPairs = (wi: number, sign: number, touched: Set<number>): void => {
    const s = words[wi]!, c = counts[wi]! * sign;
    for (let i = 0; i + 1 < s.length; i++) {
      const key = s[i]! * KEY + s[i + 1]!;
      pairCount.set(key, (pairCount.get(key) ?? 0) + c);
      touched.add(key);
      if (sign > 0) {
        let set = pairWords.get(key);
        if (!set) pairWords.set(key, (set = new Set()));
        set.add(wi);
      }
    }
  };
  const heap = new PairHeap();
  const initial = new Set<number>();
  for (let wi = 0; wi < words.length; wi++) addPairs(wi, 1, initial);
  for (const key of initial) heap.push(pairCount.get(key)!, Math.floor(key / KEY), key % KEY);

  const merges: [string, string][] = [];
  while (strings.length < vocabSize && heap.size > 0) {
    const [count, a, b] = heap.pop();
    const key = a * KEY + b;
    if (pairCount.get(key) !== count) continue; // stale entry
    if (count < minFrequency) break;
    const merged = strings[a]! + strings[b]!;
    let id = vocab[merged];
    if (id === undefined) { id = strings.length; vocab[merged] = id; strings.push(merged); }
    merges.push([strings[a]!, strings[b]!]);
    const touched = new Set<number>();
    for (const wi of pairWords.get(key)!) {
      const s = words[wi]!;
      let has = false;
      for (let i = 0; i + 1 < s.length; i++) if (s[i] === a && s[i + 1] === b) { has = true; break; }
      if (!has) continue;
      addPairs(wi, -1, touched);
      const out: number[] = [];
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === a && s[i + 1] === b) { out.push(id); i++; } else out.push(s[i]!);
      }
      words[wi] = Int32Array.from(out);
      addPairs(wi, 1, touched);
    }
    pairWords.delete(key);
    pairCount.delete(key);
    touched.delete(key);
    for (const k of touched) {
      const c = pairCount.get(k)!;
      if (c > 0) heap.push(c, Math.floor(k / KEY), k % KEY);
      else pairCount.delete(k);
    }
  }
  return tokenizerFromJson(tokenizerJson(vocab, merges), `the byte-level BPE tokenizer trained on ${opts.name ?? 'the training texts'}`);
}
