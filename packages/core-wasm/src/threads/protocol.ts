// The thread pool's shared control block (./pool.ts, ./worker-loop.ts): one slot per helper
// thread, each on its own 512-byte stretch so that two threads never write one cache line.
//
//   Int32 [slot + SEQ]     job number, written by the caller; the helper waits on it
//   Int32 [slot + DONE]    the job number the helper finished last; the caller waits on it
//   Int32 [slot + KERNEL]  index of the kernel to run (into the names sent at start), or EXIT
//   Int32 [slot + FAILED]  1 when the last job threw; its message is at MESSAGE
//   Int32 [slot + MSGLEN]  length of that message in UTF-16 units
//   Float64 [ARGS ...]     the kernel's arguments (pointers, sizes and scalars are all exact in f64)
//   Uint16 [MESSAGE ...]   the message

export const SLOT_BYTES = 512;
export const SEQ = 0, DONE = 1, KERNEL = 2, FAILED = 3, MSGLEN = 4;
/** Byte offset of a slot's arguments, and how many fit. */
export const ARGS_BYTE = 64, MAX_ARGS = 24;
/** Byte offset of a slot's error message, and its longest length in UTF-16 units. */
export const MESSAGE_BYTE = ARGS_BYTE + MAX_ARGS * 8, MAX_MESSAGE = (SLOT_BYTES - MESSAGE_BYTE) / 2;
export const EXIT = -1;

/** What a helper thread gets at start (one structured-clone message). */
export interface HelperInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  /** This helper's slot (1-based: slot 0 is the caller's, unused). */
  slot: number;
  /** Its own scratch region in the shared memory (64-byte aligned). */
  scratch: number;
  /** Kernel names by index, as the caller numbers them. */
  kernels: string[];
  /** A test hook: the helper throws on this job number instead of running it (0: never). */
  failOnJob?: number;
}

export const slotInts = (slot: number): number => (slot * SLOT_BYTES) >> 2;
