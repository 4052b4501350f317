// The model spec: one small JSON description shared by the CLI, the web app and saved
// files. Today one family, the MLP of dense + ReLU (+ dropout) layers:
//
//   { "type": "mlp", "sizes": [784, 1200, 1200, 10],
//     "dropout": { "input": 0.2, "hidden": 0.5 }, "maxNorm": 3.5 }
//
// sizes[0] is the input width, sizes[last] the number of classes; every size in between is
// a hidden ReLU layer. dropout.input drops input features, dropout.hidden the output of every
// hidden layer (train mode only, inverted dropout). maxNorm caps the L2 norm of each unit's
// incoming weight vector after every optimizer step (Hinton et al. 2012/2015).
//
// Short form (for --model): `mlp:784-1200-1200-10[,dropout=IN/HID|HID][,maxnorm=X]`, e.g.
//   mlp:784-800-800-10
//   mlp:784-1200-1200-10,dropout=0.2/0.5,maxnorm=3.5
// `dropout=0.5` (one number) sets the hidden rate only.

import { z } from 'zod';

/** Largest width of one layer; far beyond anything trainable here, it bounds allocations. */
export const MAX_LAYER_SIZE = 1 << 20;
/** Largest parameter count a spec may describe (2^27 f32 = 512 MiB per flat buffer). */
export const MAX_PARAMS = 1 << 27;

const POSITIVE_INT = 'must be a positive integer';
const RATE = 'must be a number in [0, 1)';

const size = z.number({ error: POSITIVE_INT }).int({ error: POSITIVE_INT }).positive({ error: POSITIVE_INT })
  .max(MAX_LAYER_SIZE, { error: `must be at most ${MAX_LAYER_SIZE}` });
const rate = z.number({ error: RATE }).min(0, { error: RATE }).lt(1, { error: RATE });

export const modelSpecSchema = z.strictObject({
  type: z.literal('mlp', { error: 'must be "mlp"' }),
  sizes: z.array(size, { error: 'must be an array of layer sizes' })
    .min(2, { error: 'needs at least 2 entries (input and output sizes)' }),
  dropout: z.strictObject({ input: rate.optional(), hidden: rate.optional() }, { error: 'must be an object { input?, hidden? }' }).optional(),
  maxNorm: z.number({ error: 'must be a finite number > 0' }).positive({ error: 'must be a finite number > 0' })
    .optional(),
}, { error: 'must be an object' }).superRefine((spec, ctx) => {
  const n = paramCountOfSizes(spec.sizes);
  if (n > MAX_PARAMS) ctx.addIssue({ code: 'custom', path: ['sizes'], message: `give ${n} parameters, more than the ${MAX_PARAMS} supported` });
});

export type ModelSpec = z.infer<typeof modelSpecSchema>;

/** A bad spec (or config): `message` is one line naming the field, e.g. "model.sizes[2]: must be a positive integer". */
export class SpecError extends Error {
  override readonly name = 'SpecError';
  constructor(readonly field: string, readonly problem: string) {
    super(`${field}: ${problem}`);
  }
}

/** "model.sizes[2]" from a zod issue path. */
export function fieldPath(root: string, path: readonly PropertyKey[]): string {
  let s = root;
  for (const key of path) s += typeof key === 'number' ? `[${key}]` : `.${String(key)}`;
  return s;
}

/** The first issue of a ZodError as a SpecError naming the field (unknown keys named too). */
export function specErrorFrom(error: z.ZodError, root: string): SpecError {
  const issue = error.issues[0];
  if (!issue) return new SpecError(root, 'invalid');
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => `'${k}'`).join(', ');
    return new SpecError(fieldPath(root, issue.path), `unknown field${issue.keys.length > 1 ? 's' : ''} ${keys}`);
  }
  return new SpecError(fieldPath(root, issue.path), issue.message);
}

/** Validates with `schema`, throwing a one-line SpecError rooted at `root` on failure. */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown, root: string): z.infer<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw specErrorFrom(result.error, root);
  return result.data;
}

/**
 * A validated ModelSpec from JSON text, an object, or the short form `mlp:784-800-800-10[,…]`.
 * Throws SpecError ("model.sizes[2]: must be a positive integer").
 */
export function parseModelSpec(input: string | object, root = 'model'): ModelSpec {
  if (typeof input === 'string') {
    const text = input.trim();
    if (text.startsWith('{')) {
      let json: unknown;
      try { json = JSON.parse(text); } catch (e) {
        throw new SpecError(root, `invalid JSON (${(e as Error).message})`);
      }
      return parseWith(modelSpecSchema, json, root);
    }
    if (/^mlp:/i.test(text)) return parseWith(modelSpecSchema, parseShortForm(text, root), root);
    throw new SpecError(root, `expected a JSON spec or a short form such as mlp:784-800-800-10, got '${text.slice(0, 60)}'`);
  }
  if (input === null || typeof input !== 'object') throw new SpecError(root, 'must be an object');
  return parseWith(modelSpecSchema, input, root);
}

function parseShortForm(text: string, root: string): Record<string, unknown> {
  const [head = '', ...options] = text.slice(4).split(',');
  const number = (s: string): number => (/^\s*[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?\s*$/i.test(s) ? Number(s) : NaN);
  const spec: Record<string, unknown> = { type: 'mlp', sizes: head.split('-').map(number) };
  for (const option of options) {
    const eq = option.indexOf('=');
    const key = (eq < 0 ? option : option.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? '' : option.slice(eq + 1).trim();
    if (key === 'dropout') {
      const parts = value.split('/');
      if (parts.length === 1) spec.dropout = { hidden: number(parts[0]!) };
      else if (parts.length === 2) spec.dropout = { input: number(parts[0]!), hidden: number(parts[1]!) };
      else throw new SpecError(`${root}.dropout`, `expected dropout=HIDDEN or dropout=INPUT/HIDDEN, got '${value}'`);
    } else if (key === 'maxnorm') {
      spec.maxNorm = number(value);
    } else {
      throw new SpecError(root, `unknown option '${key}' in the short form (expected dropout= or maxnorm=)`);
    }
  }
  return spec;
}

/** The short form of a spec: "mlp:784-1200-1200-10,dropout=0.2/0.5,maxnorm=3.5". */
export function formatModelSpec(spec: ModelSpec): string {
  let s = `mlp:${spec.sizes.join('-')}`;
  const d = spec.dropout;
  if (d && ((d.input ?? 0) > 0 || (d.hidden ?? 0) > 0)) s += `,dropout=${d.input ?? 0}/${d.hidden ?? 0}`;
  if (spec.maxNorm !== undefined) s += `,maxnorm=${spec.maxNorm}`;
  return s;
}

// ---- parameter layout ---------------------------------------------------------------------------

/** One dense layer's place in the flat parameter buffer; offsets and sizes in f32 elements. */
export interface DenseLayout {
  readonly inputs: number;
  readonly outputs: number;
  /** W is (inputs, outputs) row-major: column j holds the weights into unit j. */
  readonly weightOffset: number;
  /** b is (outputs), right after W. */
  readonly biasOffset: number;
}

/** The one layout of params, grads and optimizer state: layer by layer, W then b. */
export function paramLayout(spec: ModelSpec): DenseLayout[] {
  const layers: DenseLayout[] = [];
  let offset = 0;
  for (let i = 0; i + 1 < spec.sizes.length; i++) {
    const inputs = spec.sizes[i]!, outputs = spec.sizes[i + 1]!;
    layers.push({ inputs, outputs, weightOffset: offset, biasOffset: offset + inputs * outputs });
    offset += inputs * outputs + outputs;
  }
  return layers;
}

function paramCountOfSizes(sizes: readonly number[]): number {
  let n = 0;
  for (let i = 0; i + 1 < sizes.length; i++) n += sizes[i]! * sizes[i + 1]! + sizes[i + 1]!;
  return n;
}

/** Number of f32 parameters the spec describes. */
export function paramCount(spec: ModelSpec): number { return paramCountOfSizes(spec.sizes); }
