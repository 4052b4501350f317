// The character vocabulary of a language model: built from the training text, saved in the model
// file (meta.lm), so that eval and `retort generate` read and write exactly the ids training did.
//
// Why characters: bits per character, the measure of a language model on held-out text, is then
// the mean cross-entropy per token divided by ln 2, with no tokenizer in between whose segmentation
// would change what is counted; and the vocabulary is small (a few hundred symbols at most), so the
// output layer stays cheap for a student. Characters are Unicode code points (a surrogate pair is
// one character).
//
// Id 0 is <unk>: every code point the training text does not have, or that fell outside the
// `maxSize - 1` most frequent ones (ties: the lower code point first). Ids 1.. are the kept code
// points in code-point order.

export const UNK_ID = 0;
/** What <unk> prints as. */
export const UNK_CHAR = '\uFFFD';
export const DEFAULT_CHAR_VOCAB = 256;

export interface CharVocab {
  /** Kept code points, id i + 1 = chars[i]. */
  readonly chars: readonly string[];
  /** Vocabulary size: chars.length + 1 (<unk>). */
  readonly size: number;
  /** Ids of a text, one per code point. */
  encode(text: string): Int32Array;
  decode(ids: ArrayLike<number>): string;
}

export function charVocab(chars: readonly string[]): CharVocab {
  const index = new Map<string, number>();
  chars.forEach((c, i) => {
    if ([...c].length !== 1) throw new RangeError(`character vocabulary: entry ${i} (${JSON.stringify(c)}) is not one character`);
    if (index.has(c)) throw new RangeError(`character vocabulary: ${JSON.stringify(c)} is listed twice`);
    index.set(c, i + 1);
  });
  const size = chars.length + 1;
  return {
    chars, size,
    encode(text) {
      const cps = Array.from(text);
      const out = new Int32Array(cps.length);
      for (let i = 0; i < cps.length; i++) out[i] = index.get(cps[i]!) ?? UNK_ID;
      return out;
    },
    decode(ids) {
      let s = '';
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i]!;
        if (!(Number.isInteger(id) && id >= 0 && id < size)) throw new RangeError(`character vocabulary: id ${id} is outside [0, ${size})`);
        s += id === UNK_ID ? UNK_CHAR : chars[id - 1]!;
      }
      return s;
    },
  };
}

/** The vocabulary of a training text: its `maxSize - 1` most frequent code points, and <unk>. */
export function buildCharVocab(text: string, maxSize = DEFAULT_CHAR_VOCAB): CharVocab {
  if (!Number.isInteger(maxSize) || maxSize < 2) throw new RangeError(`character vocabulary: the size must be an integer >= 2, got ${maxSize}`);
  const counts = new Map<string, number>();
  for (const c of text) counts.set(c, (counts.get(c) ?? 0) + 1);
  const byCp = (a: string, b: string): number => a.codePointAt(0)! - b.codePointAt(0)!;
  const kept = [...counts.entries()].sort((a, b) => b[1] - a[1] || byCp(a[0], b[0])).slice(0, maxSize - 1).map(([c]) => c);
  return charVocab(kept.sort(byCp));
}

/** meta.lm of a model file: the vocabulary and the context length. */
export interface LmMeta { kind: 'chars'; chars: string[]; length: number }

export function lmMeta(vocab: CharVocab, length: number): { lm: LmMeta } {
  return { lm: { kind: 'chars', chars: [...vocab.chars], length } };
}

/** The vocabulary saved in a model file's meta, or null when the file is not a language model's. */
export function vocabOfMeta(meta: Record<string, unknown>, source: string): { vocab: CharVocab; length: number } | null {
  const lm = meta.lm as Partial<LmMeta> | undefined;
  if (!lm || typeof lm !== 'object') return null;
  if (lm.kind !== 'chars' || !Array.isArray(lm.chars) || !lm.chars.every((c) => typeof c === 'string') || !Number.isInteger(lm.length)) {
    throw new RangeError(`${source}: meta.lm is not a character vocabulary (kind "chars", chars, length)`);
  }
  return { vocab: charVocab(lm.chars), length: lm.length! };
}
