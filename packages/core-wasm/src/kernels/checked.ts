// The validated wrappers (`core.ops`), derived from the descriptors (./list.ts): each checks
// its scalars, then the buffers a derive() reads, then derived values, then every buffer's
// extent against the live allocation it points into, and only then calls the raw kernel.

import type { Ptr } from '../abi.js';
import type { Tensor, DType, MemoryViews } from '../tensor.js';
import { checkScalar, type BufferArg, type KernelDescriptor } from './describe.js';
import { KERNELS, KERNEL_NAMES, type KernelName, type RawKernels } from './list.js';

/** What the wrappers need from a Core. */
export interface Resolver {
  readonly views: MemoryViews;
  resolve(op: string, name: string, ref: Tensor | number, elems: number, dtype: DType): Ptr;
}

type Refs<A extends unknown[]> = { [I in keyof A]: A[I] extends number ? Tensor | number : A[I] };
export type CheckedKernels = {
  readonly [K in KernelName]: RawKernels[K] extends (...args: infer A) => infer R ? (...args: Refs<A>) => R : never
};

export function checkedKernels(core: Resolver, raw: RawKernels): CheckedKernels {
  const out: Record<string, unknown> = {};
  for (const name of KERNEL_NAMES) {
    const d = KERNELS[name] as KernelDescriptor;
    const fn = raw[name] as (...a: number[]) => number | void;
    out[name] = (...args: (Tensor | number | null)[]) => fn(...checkArgs(core, name, d, args));
  }
  return out as CheckedKernels;
}

function checkArgs(core: Resolver, op: string, d: KernelDescriptor, args: readonly (Tensor | number | null)[]): number[] {
  if (args.length !== d.args.length) throw new RangeError(`${op}: takes ${d.args.length} arguments, got ${args.length}`);
  const sizes: Record<string, number> = {};
  d.args.forEach((a, i) => {
    if (a.kind === 'buffer') return;
    const err = checkScalar(a.kind, args[i]);
    if (err) throw new RangeError(`${op}: ${a.name} ${err}`);
    sizes[a.name] = args[i] as number;
  });
  const ptrs: Record<string, number> = {};
  const resolveBuffer = (a: BufferArg, i: number, s: Record<string, number>): number => {
    const ref = args[i];
    if (a.optional && (ref === 0 || ref === null)) return 0;
    if (ref === null || ref === undefined) throw new RangeError(`${op}: ${a.name} is missing`);
    const elems = a.extent(s);
    if (!Number.isInteger(elems) || elems < 0) throw new RangeError(`${op}: ${a.name} would span ${elems} elements`);
    return core.resolve(op, a.name, ref, elems, a.dtype);
  };
  if (d.derive) {
    for (const name of d.reads ?? []) {
      const i = d.args.findIndex((a) => a.name === name);
      ptrs[name] = resolveBuffer(d.args[i] as BufferArg, i, sizes);
    }
    Object.assign(sizes, d.derive(sizes, core.views, ptrs));
  }
  return d.args.map((a, i) => {
    if (a.kind !== 'buffer') return args[i] as number;
    return ptrs[a.name] ?? resolveBuffer(a, i, sizes);
  });
}
