// The workspace of the convolution kernels: what a layer allocates once per plan and passes as
// (work, workElems) to conv2dForward, conv2dBackwardData and conv2dBackwardFilter.
//
// Contract (abi.ts conventions, plus): the caller owns `work` (f32, workElems elements, or 0);
// a kernel may use it as scratch during its call and keeps nothing in it between calls. The
// kernels give the same bits for the same arguments; were a path to use `work`, its chunking
// (images per call) could depend on workElems, so a layer fixes workElems once per plan (from
// this function) and passes the same value to every call.
//
// Today's kernels need no workspace at all (assembly/kernels/conv.ts, "How"): the implicit-GEMM
// gather engine and the pixel reduction read the image in place, and im2col + sgemm, which
// would use it, measured slower on every benchmark shape. They never read or write `work`, and
// their results are identical for every workElems: conv2dWorkElems is 0.

import { checkGeometry, type ConvGeometry } from './geometry.js';

/** Default cap on a layer's workspace, in f32 elements (4 MiB). */
export const CONV_WORK_BUDGET_ELEMS = 1 << 20;

/**
 * Workspace elements a convolution layer of geometry `g` should allocate for the three conv2d
 * kernels. A path that used `work` would take whole images' worth: at least one image (one
 * group), at most the whole batch, capped at `budgetElems` beyond the first image. The current
 * kernels have no such path, so this is 0 for every valid geometry (the arguments are still
 * checked, so a layer finds a bad geometry here, at plan time).
 */
export function conv2dWorkElems(g: ConvGeometry, budgetElems: number = CONV_WORK_BUDGET_ELEMS): number {
  checkGeometry('conv2dWorkElems', g);
  if (!(Number.isInteger(budgetElems) && budgetElems >= 0)) {
    throw new RangeError(`conv2dWorkElems: budgetElems must be a non-negative integer, got ${budgetElems}`);
  }
  return 0;
}
