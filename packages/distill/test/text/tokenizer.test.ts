import { describe, expect, it } from 'vitest';
import { Tokenizer } from '@huggingface/tokenizers';
import { encodeTexts, loadTokenizer, PAD_ID, textHead, tokenizerFromJson } from '../../src/text/tokenizer.js';
import { BPE_MIN_VOCAB, CLS_TOKEN, trainByteLevelBpe } from '../../src/text/bpe.js';
import { DataFormatError } from '../../src/data/errors.js';

const CORPUS = [
  'The teacher knows which wrong classes are similar.',
  'The student learns from the teacher and from the labels.',
  'Distillation moves what the teacher knows into the student: the thing that matters.',
  'Überraschung! Café, naïve, 東京 and emoji 🙂 are bytes too.',
  'the the the teacher teacher student student students',
];

/** A small WordPiece tokenizer.json in BERT's layout (BertNormalizer, BertPreTokenizer, [CLS] A [SEP]). */
function wordPieceJson(): Record<string, unknown> {
  const tokens = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'the', 'teacher', 'student', 'learn', '##s', 'from', '.', 'label'];
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: ['[PAD]', '[UNK]', '[CLS]', '[SEP]'].map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: { type: 'BertProcessing', sep: ['[SEP]', 3], cls: ['[CLS]', 2] },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100,
      vocab: Object.fromEntries(tokens.map((t, i) => [t, i])) },
  };
}

describe('loadTokenizer (tokenizer.json through @huggingface/tokenizers)', () => {
  it('runs a WordPiece file with its [CLS] ... [SEP] template, and pads and truncates around it', () => {
    const tok = loadTokenizer(JSON.stringify(wordPieceJson()), 'bert/tokenizer.json');
    expect(tok.kind).toBe('WordPiece');
    expect(tok.vocabSize).toBe(12);
    expect(tok.prefix).toEqual([2]);
    expect(tok.suffix).toEqual([3]);
    // 'learns' -> learn ##s; 'labels' -> label ##s; unknown word -> [UNK]
    expect(tok.ids('The student learns from labels. Zebra')).toEqual([4, 6, 7, 8, 9, 11, 8, 10, 1]);
    const enc = encodeTexts(tok, ['The student learns from labels. Zebra', 'teacher'], 6);
    expect(Array.from(enc.ids)).toEqual([2, 4, 6, 7, 8, 3, /* */ 2, 5, 3, PAD_ID, PAD_ID, PAD_ID]);
    expect(enc.truncated).toBe(1);
  });

  it('reads a template post-processor and a file without optional parts', () => {
    const j = wordPieceJson();
    j.post_processor = {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [], special_tokens: { '[CLS]': { id: '[CLS]', ids: [2], tokens: ['[CLS]'] }, '[SEP]': { id: '[SEP]', ids: [3], tokens: ['[SEP]'] } },
    };
    delete j.decoder;
    const tok = tokenizerFromJson(j, 'x.json');
    expect([tok.prefix, tok.suffix]).toEqual([[2], [3]]);
  });

  it('refuses, naming the file: not JSON, no model, an unknown model type, a template naming an undefined token', () => {
    const bad: [string, RegExp][] = [
      ['{"model": ', /broken\.json: not a tokenizer\.json/],
      ['[1, 2]', /broken\.json: not a tokenizer\.json: the file must hold a JSON object/],
      ['{"added_tokens": []}', /broken\.json: not a tokenizer\.json: no 'model' object/],
      [JSON.stringify({ ...wordPieceJson(), model: { type: 'Nope', vocab: { a: 0 } } }), /broken\.json: not a tokenizer Retort can run: model type "Nope"/],
      [JSON.stringify({ ...wordPieceJson(), added_tokens: [], model: { type: 'WordPiece', vocab: {} } }), /broken\.json: not a tokenizer Retort can run: its vocabulary is empty/],
      [JSON.stringify({ ...wordPieceJson(), post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>' } }], special_tokens: {} } }),
        /broken\.json: post-processor names special token "<s>"/],
    ];
    for (const [text, re] of bad) {
      const f = (): unknown => loadTokenizer(text, 'broken.json');
      expect(f).toThrow(DataFormatError);
      expect(f).toThrow(re);
    }
  });

  it('refuses a token without an id (no unk_token), naming the file and the token', () => {
    const j = wordPieceJson();
    (j.model as Record<string, unknown>).unk_token = '[NOPE]';
    const tok = tokenizerFromJson(j, 'nounk.json');
    expect(tok.ids('the teacher')).toEqual([4, 5]);
    expect(() => tok.ids('the zebra')).toThrow(/nounk\.json: the text "the zebra" has a token with no id/);
  });

  it('reads only the head of a long text, with the ids and truncation count of the whole', () => {
    const tok = trainByteLevelBpe(CORPUS, { vocabSize: 300 });
    const long = `${CORPUS.join(' ')} `.repeat(60); // far beyond 8 tokens * 16 chars
    expect(textHead(long, 8).cut).toBe(true);
    expect(textHead(long, 8).head.length).toBeLessThan(200);
    const enc = encodeTexts(tok, [long, 'short'], 8);
    expect(Array.from(enc.ids.subarray(0, 8))).toEqual([0, ...tok.ids(long).slice(0, 7)]);
    expect(enc.truncated).toBe(1);
    // a head made of one unbroken run: no white space to cut at, the whole text is read
    const run = 'x'.repeat(500);
    expect(textHead(run, 8)).toEqual({ head: run, cut: false });
  });

  it('refuses a maximum length that leaves no room for text', () => {
    const tok = loadTokenizer(JSON.stringify(wordPieceJson()), 'bert.json');
    expect(() => encodeTexts(tok, ['the'], 2)).toThrow(/maximum length 2 leaves no room for text after bert\.json's 2 special token/);
  });
});

describe('trainByteLevelBpe', () => {
  it('learns merges from counts: frequent words become single tokens, every text decodes back exactly', () => {
    const tok = trainByteLevelBpe(CORPUS, { vocabSize: 320, name: 'the test corpus' });
    expect(tok.kind).toBe('BPE');
    expect(tok.vocabSize).toBeGreaterThan(BPE_MIN_VOCAB);
    expect(tok.vocabSize).toBeLessThanOrEqual(320);
    expect(tok.prefix).toEqual([0]);
    expect(tok.token(0)).toBe(CLS_TOKEN);
    // ' teacher' occurs 5 times, ' the' 6 times: each is one token
    expect(tok.ids(' teacher').length).toBe(1);
    expect(tok.ids(' the').length).toBe(1);
    // never seen, any script: still encodes (bytes), and decodes to itself
    for (const text of [...CORPUS, 'Zürich ✓ never-seen words, ΑΒΓ 42'] ) {
      const ids = tok.ids(text);
      expect(ids.every((i) => i > 0 && i < tok.vocabSize)).toBe(true);
      expect(tok.decode(ids)).toBe(text);
    }
    // fewer tokens than bytes on the training texts
    const bytes = CORPUS.reduce((s, t) => s + new TextEncoder().encode(t).length, 0);
    const tokens = CORPUS.reduce((s, t) => s + tok.ids(t).length, 0);
    expect(tokens).toBeLessThan(bytes * 0.7);
  });

  it('is a function of the texts alone (same merges twice), and its file runs in the library as saved', () => {
    const a = trainByteLevelBpe(CORPUS, { vocabSize: 300 });
    const b = trainByteLevelBpe(CORPUS, { vocabSize: 300 });
    expect(JSON.stringify(a.json)).toBe(JSON.stringify(b.json));
    const again = loadTokenizer(JSON.stringify(a.json), 'saved.json');
    const lib = new Tokenizer(JSON.parse(JSON.stringify(a.json)), {});
    for (const t of CORPUS) {
      expect(again.ids(t)).toEqual(a.ids(t));
      expect(lib.encode(t).ids).toEqual([0, ...a.ids(t)]); // the library applies the <cls> template itself
    }
  });

  it('encodes by its merges in rank order (the library agrees with BPE applied by the definition)', () => {
    const texts = ['aaaa aaaa aaaa aaa aaaaa', ...CORPUS];
    const tok = trainByteLevelBpe(texts, { vocabSize: 300 });
    const model = tok.json.model as { vocab: Record<string, number>; merges: [string, string][] };
    const rank = new Map(model.merges.map(([a, b], i) => [`${a} ${b}`, i]));
    const splitter = new Tokenizer(JSON.parse(JSON.stringify(tok.json)), {}).pre_tokenizer!;
    // Reference: merge the adjacent pair of lowest rank, all its occurrences left to right, until none has a rank.
    const reference = (word: string): number[] => {
      let syms = [...word];
      for (;;) {
        let best = -1;
        for (let i = 0; i + 1 < syms.length; i++) {
          const r = rank.get(`${syms[i]} ${syms[i + 1]}`);
          if (r !== undefined && (best < 0 || r < best)) best = r;
        }
        if (best < 0) break;
        const [a, b] = model.merges[best]!;
        const out: string[] = [];
        for (let i = 0; i < syms.length; i++) {
          if (i + 1 < syms.length && syms[i] === a && syms[i + 1] === b) { out.push(a + b); i++; } else out.push(syms[i]!);
        }
        syms = out;
      }
      return syms.map((s) => model.vocab[s]!);
    };
    let merged = 0;
    for (const text of [...texts, 'aaaaaaa teachers']) {
      const want = splitter.pre_tokenize(text).flatMap(reference);
      expect(tok.ids(text)).toEqual(want);
      merged += want.length;
    }
    expect(merged).toBeLessThan(texts.join(' ').length); // merges did happen
  });

  it('stops at minFrequency and refuses bad sizes', () => {
    const tok = trainByteLevelBpe(['ab cd'], { vocabSize: 1000 });
    expect(tok.vocabSize).toBe(BPE_MIN_VOCAB); // no pair occurs twice
    expect(() => trainByteLevelBpe(CORPUS, { vocabSize: 100 })).toThrow(/vocabulary size must be an integer in \[257/);
    expect(() => trainByteLevelBpe(CORPUS, { vocabSize: 300, minFrequency: 0 })).toThrow(/minimum pair frequency/);
  });
});
