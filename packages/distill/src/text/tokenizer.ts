// Tokenizers for text models: Hugging Face `tokenizer.json` files (WordPiece, BPE, Unigram),
// read and run by @huggingface/tokenizers (pure JS: the same ids in Node and in browsers), and a
// byte-level BPE tokenizer trained here from a training split when a corpus comes without one
// (./bpe.ts writes it as a tokenizer.json that the same library then runs).
//
// A model sees a sequence as `maxLength` token ids with -1 for padding: the embedding layer
// reads -1 as "no token" (a zero row, masked out of attention and pooling), so the padding mask
// travels with the ids and needs no padding token in the vocabulary (GPT-2's has none).
// Truncation keeps the head of the text and the tokenizer's own special tokens (the [CLS] ...
// [SEP] of a BERT template, the <cls> of ours): encodeForModel places them around the kept ids.
import { Tokenizer } from '@huggingface/tokenizers';
import { DataFormatError } from '../data/errors.js';

/** The padding id in a model's input (the embedding layer reads it as "no token"). */
export const PAD_ID = -1;

/** A tokenizer as text models use it. */
export interface TextTokenizer {
  /** The tokenizer.json object: saved beside a model so that eval, export and the lab tokenise as training did. */
  readonly json: TokenizerJson;
  /** Where it came from (a file path, or 'trained on NAME'), for messages. */
  readonly source: string;
  /** The model type of the file: 'BPE', 'WordPiece', 'Unigram', ... */
  readonly kind: string;
  /** 1 + the largest token id (vocabulary and added tokens). */
  readonly vocabSize: number;
  /** Special token ids placed before and after a sequence's own ids (its post-processor's template). */
  readonly prefix: readonly number[];
  readonly suffix: readonly number[];
  /** The text's token ids without special tokens. */
  ids(text: string): number[];
  /** Text of ids (special tokens skipped); -1 (padding) is dropped. */
  decode(ids: ArrayLike<number>): string;
  /** The token string of an id, or undefined. */
  token(id: number): string | undefined;
}

/** The fields of a tokenizer.json this module reads (the library reads the rest). */
export interface TokenizerJson {
  version?: string;
  added_tokens: { id: number; content: string; special?: boolean }[];
  normalizer: unknown;
  pre_tokenizer: unknown;
  post_processor: PostProcessorJson | null;
  decoder: unknown;
  model: { type?: string; vocab?: Record<string, number> | [string, number][]; [k: string]: unknown };
  [k: string]: unknown;
}

type PostProcessorJson =
  | { type: 'TemplateProcessing'; single: TemplatePiece[]; special_tokens?: Record<string, { id: string; ids: number[] }> }
  | { type: 'BertProcessing' | 'RobertaProcessing'; cls: [string, number]; sep: [string, number] }
  | { type: 'Sequence'; processors: PostProcessorJson[] }
  | { type: string; [k: string]: unknown };
type TemplatePiece = { SpecialToken?: { id: string }; Sequence?: { id: string } };

/** Reads a tokenizer.json (its text). Every failure is one DataFormatError naming `file`. */
export function loadTokenizer(text: string, file: string): TextTokenizer {
  let json: unknown;
  try {
    json = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    throw new DataFormatError(file, `not a tokenizer.json: ${e instanceof Error ? e.message : String(e)}`);
  }
  return tokenizerFromJson(json, file);
}

/** A tokenizer from a parsed tokenizer.json object; `source` names it in errors. */
export function tokenizerFromJson(json: unknown, source: string): TextTokenizer {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new DataFormatError(source, 'not a tokenizer.json: the file must hold a JSON object');
  const j = json as TokenizerJson;
  const model = j.model as TokenizerJson['model'] | undefined;
  if (!model || typeof model !== 'object') throw new DataFormatError(source, "not a tokenizer.json: no 'model' object");
  // The library wants every top-level part present (null where absent); older files omit some.
  const full: TokenizerJson = {
    ...j, added_tokens: Array.isArray(j.added_tokens) ? j.added_tokens : [], normalizer: j.normalizer ?? null,
    pre_tokenizer: j.pre_tokenizer ?? null, post_processor: j.post_processor ?? null, decoder: j.decoder ?? null,
  };
  let lib: Tokenizer;
  try {
    lib = new Tokenizer(full, {});
  } catch (e) {
    throw new DataFormatError(source, `not a tokenizer Retort can run: ${e instanceof Error ? e.message : String(e)}`);
  }
  const kind = typeof model.type === 'string' ? model.type : inferKind(model);
  // The library runs any other type as a "legacy" model that maps every token to undefined.
  if (!MODEL_KINDS.includes(kind)) throw new DataFormatError(source, `not a tokenizer Retort can run: model type ${JSON.stringify(model.type ?? kind)} (Retort runs ${MODEL_KINDS.join(', ')})`);
  let vocabSize = 0;
  const vocab = model.vocab;
  if (Array.isArray(vocab)) vocabSize = vocab.length; // Unigram: [[piece, score], ...], ids are positions
  else if (vocab && typeof vocab === 'object') for (const id of Object.values(vocab)) vocabSize = Math.max(vocabSize, id + 1);
  for (const t of full.added_tokens) vocabSize = Math.max(vocabSize, t.id + 1);
  if (!(vocabSize > 0) || !Number.isSafeInteger(vocabSize)) throw new DataFormatError(source, `not a tokenizer Retort can run: its vocabulary is empty or has ids that are not integers`);
  const { prefix, suffix } = template(full, source);
  for (const id of [...prefix, ...suffix]) {
    if (!(Number.isInteger(id) && id >= 0 && id < vocabSize)) throw new DataFormatError(source, `special token id ${id} of the post-processor is outside the vocabulary [0, ${vocabSize})`);
  }
  return {
    json: full, source, kind, vocabSize, prefix, suffix,
    ids: (text) => {
      const enc = lib.encode(text, { add_special_tokens: false });
      enc.ids.forEach((id: number, i: number) => {
        if (!(Number.isInteger(id) && id >= 0 && id < vocabSize)) {
          throw new DataFormatError(source, `the text ${JSON.stringify(text.slice(0, 40))} has a token with no id (${JSON.stringify(enc.tokens[i])}): the vocabulary lacks it and has no unk_token`);
        }
      });
      return enc.ids;
    },
    decode: (ids) => lib.decode(Array.from(ids).filter((i) => i >= 0), { skip_special_tokens: true }),
    token: (id) => lib.id_to_token(id),
  };
}

/** The tokenizer models @huggingface/tokenizers implements. */
export const MODEL_KINDS: readonly string[] = ['BPE', 'WordPiece', 'Unigram'];

function inferKind(model: TokenizerJson['model']): string {
  if (Array.isArray(model.vocab)) return 'Unigram';
  if ('merges' in model) return 'BPE';
  if ('continuing_subword_prefix' in model) return 'WordPiece';
  return 'unknown';
}

/** The special ids a post-processor puts before and after a single sequence. */
function template(j: TokenizerJson, source: string): { prefix: number[]; suffix: number[] } {
  const pp = j.post_processor;
  if (!pp) return { prefix: [], suffix: [] };
  const fromOne = (p: PostProcessorJson): { prefix: number[]; suffix: number[] } | null => {
    if (p.type === 'BertProcessing' || p.type === 'RobertaProcessing') {
      const { cls, sep } = p as { cls: [string, number]; sep: [string, number] };
      return { prefix: [cls[1]], suffix: [sep[1]] };
    }
    if (p.type === 'TemplateProcessing') {
      const t = p as Extract<PostProcessorJson, { type: 'TemplateProcessing' }>;
      const prefix: number[] = [], suffix: number[] = [];
      let seen = false;
      for (const piece of t.single ?? []) {
        if (piece.Sequence) { seen = true; continue; }
        const name = piece.SpecialToken?.id;
        const ids = name !== undefined ? t.special_tokens?.[name]?.ids : undefined;
        if (!ids) throw new DataFormatError(source, `post-processor names special token ${JSON.stringify(name)}, which its special_tokens do not define`);
        (seen ? suffix : prefix).push(...ids);
      }
      return { prefix, suffix };
    }
    return null;
  };
  if (pp.type === 'Sequence') {
    for (const p of (pp as { processors: PostProcessorJson[] }).processors ?? []) {
      const r = fromOne(p);
      if (r) return r;
    }
    return { prefix: [], suffix: [] };
  }
  return fromOne(pp) ?? { prefix: [], suffix: [] };
}

/** The ids of a tokenizer's special tokens: its template's (prefix, suffix) and its added special tokens, ascending. */
export function specialTokenIds(tok: TextTokenizer): number[] {
  const ids = new Set<number>([...tok.prefix, ...tok.suffix]);
  for (const t of tok.json.added_tokens) if (t.special) ids.add(t.id);
  return [...ids].sort((a, b) => a - b);
}

/** Token ids of texts as a model reads them: [count, maxLength], f32 (exact below 2^24). */
export interface EncodedTexts {
  ids: Float32Array;
  maxLength: number;
  /** Texts cut at maxLength. */
  truncated: number;
}

/** Characters per token of a text's head that encodeTexts tokenises before it looks further. */
export const HEAD_CHARS_PER_TOKEN = 16;

/**
 * The head of a text that a model of `maxLength` tokens can read: the text cut before the first
 * white space after maxLength * HEAD_CHARS_PER_TOKEN characters (the whole text when it is
 * shorter or has no such white space). Pre-tokenizers split at white space, so the head's tokens
 * are the text's first tokens; a long e-mail is then not tokenised to its end for 128 tokens.
 */
export function textHead(text: string, maxLength: number): { head: string; cut: boolean } {
  const budget = maxLength * HEAD_CHARS_PER_TOKEN;
  if (text.length <= budget) return { head: text, cut: false };
  const m = /\s/.exec(text.slice(budget));
  if (!m) return { head: text, cut: false };
  return { head: text.slice(0, budget + m.index), cut: true };
}

/**
 * Encodes texts for a model: the tokenizer's prefix, the text's ids cut to fit, its suffix, then
 * -1 up to maxLength. Throws when maxLength cannot hold the special tokens and one text id.
 */
export function encodeTexts(tok: TextTokenizer, texts: readonly string[], maxLength: number): EncodedTexts {
  const specials = tok.prefix.length + tok.suffix.length;
  if (!(Number.isInteger(maxLength) && maxLength > specials)) {
    throw new RangeError(`maximum length ${maxLength} leaves no room for text after ${tok.source}'s ${specials} special token(s)`);
  }
  if (tok.vocabSize > 1 << 24) throw new RangeError(`${tok.source}: a vocabulary of ${tok.vocabSize} ids does not fit f32 inputs (at most 2^24)`);
  const ids = new Float32Array(texts.length * maxLength).fill(PAD_ID);
  let truncated = 0;
  const room = maxLength - specials;
  texts.forEach((text, r) => {
    const { head, cut } = textHead(text, maxLength);
    let own = tok.ids(head);
    if (cut && own.length < room) own = tok.ids(text); // a head of very long tokens: read on
    if (own.length > room || (cut && own.length >= room)) truncated++;
    let o = r * maxLength;
    for (const id of tok.prefix) ids[o++] = id;
    for (let i = 0; i < Math.min(room, own.length); i++) ids[o++] = own[i]!;
    for (const id of tok.suffix) ids[o++] = id;
  });
  return { ids, maxLength, truncated };
}

/** A tokenizer saved in a model file's meta (`meta.text`, as runs save it), or null. */
export function tokenizerOfMeta(meta: Record<string, unknown>, source: string): { tokenizer: TextTokenizer; maxLength: number } | null {
  const text = meta.text as { tokenizer?: unknown; maxLength?: unknown } | undefined;
  if (!text || typeof text !== 'object' || text.tokenizer === undefined) return null;
  const maxLength = typeof text.maxLength === 'number' ? text.maxLength : NaN;
  return { tokenizer: tokenizerFromJson(text.tokenizer, `${source} (its tokenizer)`), maxLength };
}
