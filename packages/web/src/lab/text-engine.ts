// The lab's text tab, worker side: a teacher and a student text model (.retort files that carry
// their tokenizer, meta.text, or their character vocabulary, meta.lm) loaded into the worker's
// core; a sentence read by both (class probabilities and every attention head's map over the
// sentence's tokens), and a language model's writing (seeded sampling, ../../../distill/src/lm/generate.ts).
// The same functions as Node's (tokenizerOfMeta, encodeTexts, generateIds): the same ids, the same
// probabilities and, for a seed, the same text as `retort generate`.
import {
  checkFiniteParams, createModel, decodeModelFile, encodeTexts, generateIds, nextProbabilities, paramsFromTensors, stateFromTensors,
  tokenizerOfMeta, vocabOfMeta, type CharVocab, type Core, type Model, type TextTokenizer,
} from '@retort/distill';

export type TextRole = 'teacher' | 'student';

interface Loaded {
  file: string;
  model: Model;
  kind: 'classifier' | 'lm';
  tokenizer?: { tokenizer: TextTokenizer; maxLength: number };
  lm?: { vocab: CharVocab; length: number };
  classNames: string[] | null;
}

export interface TextModelInfo {
  role: TextRole;
  file: string;
  kind: 'classifier' | 'lm';
  params: number;
  /** Classifier: its classes; language model: its vocabulary size. */
  classes: number;
  classNames: string[] | null;
  /** The taps whose attention maps the tab draws (attn1, attn2, ...). */
  attention: string[];
  length: number;
}

export interface TextReading {
  role: TextRole;
  /** The tokens the model read (strings, special tokens included). */
  tokens: string[];
  /** Classifier: class probabilities; language model: the next character's probabilities after the text. */
  probabilities: number[];
  /** Language model: the characters of `probabilities`' entries. */
  labels: string[] | null;
  /** Per attention tap: H maps of n x n (row i: how token i spreads its attention over the tokens). */
  maps: { tap: string; heads: number; n: number; values: number[][] }[];
}

const models = new Map<TextRole, Loaded>();

export function freeTextModels(): void {
  for (const m of models.values()) m.model.free();
  models.clear();
}

/** Loads a text model file into `role`; throws a message naming the file when it is not one. */
export function loadTextModel(core: Core, role: TextRole, file: { name: string; bytes: Uint8Array }): TextModelInfo {
  const decoded = decodeModelFile(file.bytes, file.name);
  const tok = tokenizerOfMeta(decoded.meta, file.name);
  const lm = vocabOfMeta(decoded.meta, file.name);
  if (!tok && !lm) throw new RangeError(`${file.name} is not a text model: it carries no tokenizer or character vocabulary (train one with retort train --data spam|sotu|FILE.jsonl, or retort lm train)`);
  const model = createModel(core, decoded.spec);
  try {
    paramsFromTensors(decoded.spec, decoded.tensors, file.name, model.params.view());
    if (model.state) stateFromTensors(decoded.spec, decoded.tensors, file.name, model.state.view());
    checkFiniteParams(model, file.name);
  } catch (e) {
    model.free();
    throw e;
  }
  models.get(role)?.model.free();
  const classNames = Array.isArray(decoded.meta.classNames) ? (decoded.meta.classNames as unknown[]).map(String) : null;
  const loaded: Loaded = { file: file.name, model, kind: lm ? 'lm' : 'classifier', ...(tok ? { tokenizer: tok } : {}), ...(lm ? { lm } : {}), classNames };
  models.set(role, loaded);
  return info(role, loaded);
}

function info(role: TextRole, m: Loaded): TextModelInfo {
  return {
    role, file: m.file, kind: m.kind, params: m.model.paramCount,
    classes: m.kind === 'lm' ? m.model.graph.outputShape[1]! : m.model.classes, classNames: m.classNames,
    attention: m.model.tapNames.filter((t) => /^attn\d+$/.test(t) && m.model.attentionAt(t) !== null),
    length: m.model.inputShape[0]!,
  };
}

/** What each loaded model makes of `text`. */
export function readText(core: Core, text: string): TextReading[] {
  const out: TextReading[] = [];
  for (const [role, m] of models) {
    const L = m.model.inputShape[0]!;
    let ids: Float32Array, tokens: string[];
    if (m.lm) {
      const all = m.lm.vocab.encode(text);
      if (all.length === 0) throw new RangeError('type some text first');
      const kept = all.subarray(Math.max(0, all.length - L));
      ids = new Float32Array(L).fill(-1);
      ids.set(kept);
      tokens = [...m.lm.vocab.decode(kept)];
    } else {
      const enc = encodeTexts(m.tokenizer!.tokenizer, [text], L);
      ids = enc.ids;
      tokens = Array.from(ids).filter((v) => v >= 0).map((v) => m.tokenizer!.tokenizer.token(v) ?? `#${v}`);
    }
    const n = tokens.length;
    if (m.model.batchSize < 1) m.model.plan(1);
    const x = core.alloc(m.model.batchSize * L);
    let probabilities: number[], labels: string[] | null = null;
    try {
      x.view().set(ids);
      const z = m.model.forward(x, 1, 'eval').view();
      if (m.lm) {
        const V = m.model.graph.outputShape[1]!;
        probabilities = Array.from(nextProbabilities(core, m.model, Array.from(ids.subarray(0, n))));
        labels = Array.from({ length: V }, (_, j) => m.lm!.vocab.decode([j]));
        void z; // nextProbabilities ran its own forward; the maps below are of that forward, the same context
      } else {
        const C = m.model.classes;
        const row = Array.from(z.subarray(0, C));
        const max = Math.max(...row), e = row.map((v) => Math.exp(v - max)), s = e.reduce((a, b) => a + b, 0);
        probabilities = e.map((v) => v / s);
      }
      const maps = info(role, m).attention.map((tap) => {
        const a = m.model.attentionAt(tap)!, H = a.heads, LL = a.L;
        const P = a.probs!.view();
        const values = Array.from({ length: H }, (_, h) => Array.from(P.subarray(h * LL * LL, h * LL * LL + n * n)));
        return { tap, heads: H, n, values };
      });
      out.push({ role, tokens, probabilities, labels, maps });
    } finally {
      core.free(x);
    }
  }
  if (out.length === 0) throw new RangeError('load a teacher or a student text model first');
  return out;
}

/** Each loaded language model continues `prompt` (seeded: the same text as `retort generate` with these settings). */
export function writeText(core: Core, prompt: string, o: { length: number; temperature: number; topK: number; seed: number }): { role: TextRole; text: string }[] {
  const out: { role: TextRole; text: string }[] = [];
  for (const [role, m] of models) {
    if (!m.lm) continue;
    const ids = m.lm.vocab.encode(prompt);
    if (ids.length === 0) throw new RangeError('give a prompt of at least one character');
    out.push({ role, text: m.lm.vocab.decode(generateIds(core, m.model, ids, o)) });
  }
  if (out.length === 0) throw new RangeError('load a language model (retort lm train / distill) to write');
  return out;
}
