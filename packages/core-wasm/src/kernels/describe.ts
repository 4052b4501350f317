// The vocabulary of kernel descriptors (./list.ts): what each argument of a raw kernel is,
// so that one list yields the raw-kernel type, the name lists, the js backend and the
// validated wrappers (`core.ops`). A descriptor is
//
//   { js, args, doc, derive? }
//
//   js      the plain-TS implementation (the js backend): (heap, ...args) in ABI order
//   args    one entry per raw argument, same order: its name and what it must be
//   doc     what the kernel computes (the ABI conventions are in ../abi.ts)
//   derive  optional: values computed from the checked scalar arguments and small structs in
//           memory (a convolution's geometry) that buffer extents are expressed in
//
// A buffer's extent is a function of the scalar arguments (and derived values), evaluated
// after the scalars were checked; the wrapper then checks that many elements lie inside one
// live allocation. So a wrong size is a RangeError naming the kernel and the argument.

import type { HeapViews } from '../backends/js/memory.js';
import type { DType, MemoryViews } from '../tensor.js';

/** Scalar arguments (and derived values) by name. */
export type Sizes = Readonly<Record<string, number>>;

export type ScalarKind =
  /** a non-negative integer (a count, size or stride) */
  | 'size'
  /** any 32-bit integer */
  | 'int'
  /** 0 or 1 */
  | 'flag'
  /** any number (NaN and infinities included: fill values, seeds' halves) */
  | 'number'
  /** a finite number */
  | 'finite'
  /** a finite number > 0 */
  | 'positive'
  /** a number in [0, 1] */
  | 'unit'
  /** a number in [0, 1) (a dropout rate, a momentum) */
  | 'rate';

export interface BufferArg {
  readonly name: string;
  readonly kind: 'buffer';
  readonly dtype: DType;
  /** Elements the kernel reads or writes from this pointer, given the scalars. */
  readonly extent: (s: Sizes) => number;
  /** 0 is allowed and means "none" (an optional bias, a null gradient). */
  readonly optional: boolean;
}

export interface ScalarArg {
  readonly name: string;
  readonly kind: ScalarKind;
}

export type KernelArg = BufferArg | ScalarArg;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type JsKernel = (heap: HeapViews, ...args: any[]) => number | void;

export interface KernelDescriptor<F extends JsKernel = JsKernel> {
  readonly js: F;
  readonly args: readonly KernelArg[];
  readonly doc: string;
  /**
   * Derived values for buffer extents (and further checks: throw a RangeError naming the
   * argument). Called with the checked scalars and the memory views after every buffer that
   * `reads` names was found live for its own extent.
   */
  readonly derive?: (s: Sizes, views: MemoryViews, ptrs: Readonly<Record<string, number>>) => Record<string, number>;
  /** Buffers whose contents derive() reads (validated before it runs). */
  readonly reads?: readonly string[];
}

/** The raw signature of a js implementation: the same arguments without the heap. */
export type RawOf<F> = F extends (heap: HeapViews, ...args: infer A) => infer R ? (...args: A) => R : never;

// ---- argument builders -----------------------------------------------------------------------

const buffer = (dtype: DType) => (name: string, extent: (s: Sizes) => number, optional = false): BufferArg =>
  ({ name, kind: 'buffer', dtype, extent, optional });

export const f32 = buffer('f32');
export const i32 = buffer('i32');
export const u32 = buffer('u32');
export const u8 = buffer('u8');
export const i8 = buffer('i8');

const scalar = (kind: ScalarKind) => (name: string): ScalarArg => ({ name, kind });
export const size = scalar('size');
export const int = scalar('int');
export const flag = scalar('flag');
export const number = scalar('number');
export const finite = scalar('finite');
export const positive = scalar('positive');
export const unit = scalar('unit');
export const rate = scalar('rate');

/** A kernel descriptor; `js` fixes the raw signature. */
export function kernel<F extends JsKernel>(js: F, doc: string, args: readonly KernelArg[],
                                           more: Pick<KernelDescriptor, 'derive' | 'reads'> = {}): KernelDescriptor<F> {
  if (js.length !== args.length + 1) {
    throw new Error(`kernel descriptor: the js implementation ${js.name} takes ${js.length - 1} arguments after the heap but ${args.length} are described`);
  }
  return { js, doc, args, ...more };
}

/** Checks one scalar; returns an error message or null. */
export function checkScalar(kind: ScalarKind, v: unknown): string | null {
  if (typeof v !== 'number') return `must be a number, got ${String(v)}`;
  switch (kind) {
    case 'size': return Number.isInteger(v) && v >= 0 && v <= 0x7fffffff ? null : `must be a non-negative integer, got ${v}`;
    case 'int': return Number.isInteger(v) && v >= -0x80000000 && v <= 0x7fffffff ? null : `must be a 32-bit integer, got ${v}`;
    case 'flag': return v === 0 || v === 1 ? null : `must be 0 or 1, got ${v}`;
    case 'number': return null;
    case 'finite': return Number.isFinite(v) ? null : `must be a finite number, got ${v}`;
    case 'positive': return Number.isFinite(v) && v > 0 ? null : `must be a finite number > 0, got ${v}`;
    case 'unit': return v >= 0 && v <= 1 ? null : `must be in [0, 1], got ${v}`;
    case 'rate': return v >= 0 && v < 1 ? null : `must be in [0, 1), got ${v}`;
  }
}
