// Argument checks for the typed API. Every failure is a RangeError whose message
// starts with the operation and names the argument at fault, so a caller sees one
// clear line instead of silently corrupted memory.

const MAX_SIZE = 0x7fffffff;

export function checkSize(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_SIZE) {
    throw new RangeError(`${op}: ${name} must be a non-negative integer, got ${String(v)}`);
  }
  return v;
}

export function checkFinite(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new RangeError(`${op}: ${name} must be a finite number, got ${String(v)}`);
  }
  return v;
}

export function checkTemperature(op: string, T: unknown): number {
  if (typeof T !== 'number' || !Number.isFinite(T) || T <= 0) {
    throw new RangeError(`${op}: temperature must be a finite number > 0, got ${String(T)}`);
  }
  return T;
}

export function checkUnit(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) {
    throw new RangeError(`${op}: ${name} must be in [0, 1], got ${String(v)}`);
  }
  return v;
}

export function checkRange(op: string, name: string, v: unknown, lo: number, hi: number, hiOpen = false): number {
  const ok = typeof v === 'number' && v >= lo && (hiOpen ? v < hi : v <= hi);
  if (!ok) {
    throw new RangeError(`${op}: ${name} must be in [${lo}, ${hi}${hiOpen ? ')' : ']'}, got ${String(v)}`);
  }
  return v as number;
}

export function checkPositive(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new RangeError(`${op}: ${name} must be a finite number > 0, got ${String(v)}`);
  }
  return v;
}

/** Exact length check for the convenience forms that take plain arrays. */
export function checkLength(op: string, name: string, arr: ArrayLike<number> | undefined, expected: number, what: string): void {
  if (arr === undefined || arr === null || typeof arr.length !== 'number') {
    throw new RangeError(`${op}: ${name} is missing`);
  }
  if (arr.length !== expected) {
    throw new RangeError(`${op}: ${name} has ${arr.length} elements but ${what} = ${expected}`);
  }
}

/** Number of elements a strided row-major matrix of rows x cols with leading dimension ld spans. */
export function stridedExtent(rows: number, cols: number, ld: number): number {
  if (rows === 0 || cols === 0) return 0;
  return (rows - 1) * ld + cols;
}
