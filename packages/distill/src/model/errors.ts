// Spec and config errors: one line naming the field ("model.layers[3].kernel: …").
import type { z } from 'zod';

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
  // an unknown key (a typo: "kernels") explains the missing field next to it: report it first
  const issue = error.issues.find((i) => i.code === 'unrecognized_keys') ?? deepestIssue(error.issues);
  if (!issue) return new SpecError(root, 'invalid');
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => `'${k}'`).join(', ');
    return new SpecError(fieldPath(root, issue.path), `unknown field${issue.keys.length > 1 ? 's' : ''} ${keys}`);
  }
  return new SpecError(fieldPath(root, issue.path), issue.message);
}

/**
 * The issue to report: a union that failed on every branch reports the branch that got
 * furthest (the one matching the value's `type`), not "must be one of …" about the whole value.
 */
function deepestIssue(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue | undefined {
  const first = issues[0];
  if (first?.code === 'invalid_union' && 'errors' in first && first.errors.length > 0) {
    let best: z.core.$ZodIssue | undefined;
    for (const branch of first.errors) {
      const cand = deepestIssue(branch);
      if (cand && (!best || cand.path.length > best.path.length)) best = cand;
    }
    if (best && best.path.length > 0) return { ...best, path: [...first.path, ...best.path] };
  }
  return first;
}

/** Validates with `schema`, throwing a one-line SpecError rooted at `root` on failure. */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown, root: string): z.infer<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw specErrorFrom(result.error, root);
  return result.data;
}
