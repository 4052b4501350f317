// How the command fails: every error becomes one line `retort: <message>` and an exit
// code. 2: the command line or the --config file is wrong (flag, value, config field);
// 1: a data, model or run file is wrong or the run failed; 130: stopped by Ctrl-C.
import { DataFormatError, ModelFormatError, SpecError } from '@retort/distill';
import { RunDirError } from '@retort/distill/node';

export const EXIT = { ok: 0, failure: 1, usage: 2, interrupted: 130 } as const;

/** A mistake in the command line or config file (exit 2); `message` names the flag or field. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

interface ZodLike { issues: { path: PropertyKey[]; message: string }[] }

function isZodError(e: unknown): e is Error & ZodLike {
  return e instanceof Error && e.name === 'ZodError' && Array.isArray((e as unknown as ZodLike).issues);
}

/** The one line and the exit code for an error thrown anywhere below the command. */
export function describeError(e: unknown): { message: string; code: number } {
  if (e instanceof UsageError) return { message: e.message, code: EXIT.usage };
  if (e instanceof DataFormatError || e instanceof ModelFormatError || e instanceof RunDirError || e instanceof SpecError
      || e instanceof RangeError) {
    return { message: oneLine(e.message), code: EXIT.failure };
  }
  if (isZodError(e)) {
    const issue = e.issues[0];
    const path = issue ? issue.path.map((k) => (typeof k === 'number' ? `[${k}]` : `.${String(k)}`)).join('') : '';
    return { message: oneLine(issue ? `config${path}: ${issue.message}` : e.message), code: EXIT.failure };
  }
  const sys = e as NodeJS.ErrnoException;
  if (sys instanceof Error && typeof sys.code === 'string' && sys.code.startsWith('E')) {
    return { message: oneLine(sys.message), code: EXIT.failure };
  }
  const message = e instanceof Error ? e.message : String(e);
  return { message: `internal error: ${oneLine(message)} (RETORT_DEBUG=1 prints the stack)`, code: EXIT.failure };
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}
