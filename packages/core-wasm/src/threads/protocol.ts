// The thread pool's shared control block (./pool.ts, ./worker-loop.ts). Slot 0 holds the job
// every thread works on; slots 1.. belong to the helper threads, each on its own 512-byte
// stretch so that two threads never write one cache line; the parts' arguments follow.
//
//   Int32 [JOB_SEQ]        job number, written by the caller last; the helpers wait on it
//   Int32 [JOB_KERNEL]     index of the kernel to run (into the names sent at start), or EXIT
//   Int32 [JOB_PARTS]      how many parts the job has
//   Int32 [slot + NEXT]    the next part of the thread's own run of parts (ownParts; slot 0:
//                          the caller's): the owner takes its parts in order with Atomics.add,
//                          then takes the next parts of the other threads' runs the same way
//   Int32 [slot + DONE]    the job number the helper finished last; the caller waits on it
//   Int32 [slot + FAILED]  1 when a part of the helper's last job threw; its message is at MESSAGE
//   Int32 [slot + MSGLEN]  length of that message in UTF-16 units
//   Int32 [slot + PARTS_RUN] parts the helper has run (all jobs; a count for tests)
//   Uint16 [MESSAGE ...]   the message
//   Float64 [partArgs(i)]  part i's kernel arguments (pointers, sizes and scalars are all exact in f64)

export const SLOT_BYTES = 512;
export const JOB_SEQ = 0, JOB_KERNEL = 1, JOB_PARTS = 2;
export const DONE = 1, FAILED = 3, MSGLEN = 4, PARTS_RUN = 5, NEXT = 16;
/** Arguments per part. */
export const MAX_ARGS = 24;
/** Byte offset of a slot's error message, and its longest length in UTF-16 units. */
export const MESSAGE_BYTE = 128, MAX_MESSAGE = (SLOT_BYTES - MESSAGE_BYTE) / 2;
export const EXIT = -1;
/**
 * Parts per thread a job may have. Each thread owns a run of consecutive parts (ownParts) and
 * does those first, so consecutive kernels cut alike keep their data in the same core's cache;
 * a thread done with its own takes parts not yet started from the others' runs, so a faster
 * core (big.LITTLE phones, a busy or shared machine) takes more of the work. Smaller parts
 * balance better and cost a little more per part (./parallel.ts sizes them).
 */
export const PARTS_PER_THREAD = 4;

export const slotInts = (slot: number): number => (slot * SLOT_BYTES) >> 2;

/** Thread t's own run of the parts [start, end) of a job of `parts` parts. */
export function ownParts(t: number, parts: number, size: number): [number, number] {
  return [Math.floor((t * parts) / size), Math.floor(((t + 1) * parts) / size)];
}

/** Sets every thread's next-part counter to the start of its own run, for a job of `parts` parts. */
export function startParts(ctl: Int32Array, parts: number, size: number): void {
  for (let t = 0; t < size; t++) Atomics.store(ctl, slotInts(t) + NEXT, ownParts(t, parts, size)[0]);
}

/**
 * Takes the next part for thread `me`: its own first, then the others' in turn from me + 1.
 * Returns -1 when every part is taken. `ctl` is the control block.
 */
export function takePart(ctl: Int32Array, me: number, parts: number, size: number): number {
  for (let k = 0; k < size; k++) {
    const t = (me + k) % size;
    const end = ownParts(t, parts, size)[1];
    if (Atomics.load(ctl, slotInts(t) + NEXT) >= end) continue;
    const i = Atomics.add(ctl, slotInts(t) + NEXT, 1);
    if (i < end) return i;
  }
  return -1;
}

/** Bytes of the control block of a pool of `size` threads. */
export const controlBytes = (size: number): number => size * SLOT_BYTES + size * PARTS_PER_THREAD * MAX_ARGS * 8;
/** Float64 index of part i's arguments in a pool of `size` threads. */
export const partArgs = (size: number, i: number): number => ((size * SLOT_BYTES) >> 3) + i * MAX_ARGS;

/** What a helper thread gets at start (one structured-clone message). */
export interface HelperInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  /** Threads in the pool (the caller and its helpers). */
  size: number;
  /** This helper's slot (1-based: slot 0 holds the job). */
  slot: number;
  /** Its own scratch region in the shared memory (64-byte aligned). */
  scratch: number;
  /** Kernel names by index, as the caller numbers them. */
  kernels: string[];
  /** A test hook: the helper fails job number `failOnJob` (before taking a part of it; 0: never). */
  failOnJob?: number;
  /** A test hook: the helper sleeps this many ms before taking the parts of each job. */
  slowMs?: number;
}

