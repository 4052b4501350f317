// The thread pool: the calling thread plus size - 1 helper threads, each with its own instance
// of the threaded module over ONE shared memory (so a kernel's parts need no copies) and its
// own scratch. A parallel kernel call (./parallel.ts) splits the work into parts whose outputs
// do not overlap (up to PARTS_PER_THREAD per thread), posts them as one job, and every thread,
// the caller included, runs its own run of parts and then takes parts the others have not
// started (./protocol.ts): a core that runs faster takes more parts. The caller returns when
// every helper has said it is done: a synchronous call, like the single-threaded kernel it
// replaces. Which thread runs a part does not change its bits (./parallel.ts: each output is
// computed by one part, as in one call).
//
// Waiting: Atomics.wait where the thread may block (Node's main thread, any worker); a spin on
// Atomics.load on a browser page's main thread, where blocking is not allowed. A helper that
// reports a failure, or dies, or does not answer within STALL_MS, fails the call with one
// error naming the thread; the pool is closed after that (its helpers' state is unknown).
import { spawnHelper } from '#thread-spawn';
import { DONE, EXIT, FAILED, JOB_KERNEL, JOB_PARTS, JOB_SEQ, PARTS_RUN, startParts, takePart, MAX_ARGS, MAX_MESSAGE, MESSAGE_BYTE, MSGLEN, PARTS_PER_THREAD, SLOT_BYTES, controlBytes, partArgs, slotInts, type HelperInit } from './protocol.js';
import type { Helper } from './spawn-types.js';

/** How long a part may run before its helper is declared lost. */
const STALL_MS = 120_000;

let blockingAllowed: boolean | undefined;
function canBlock(): boolean {
  if (blockingAllowed === undefined) {
    try {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
      blockingAllowed = true;
    } catch {
      blockingAllowed = false;
    }
  }
  return blockingAllowed;
}

export interface PoolOptions {
  /** Test hook: helper 1 throws instead of running its job number `failOnJob`. */
  failOnJob?: number;
  /** Test hook: helper 1 sleeps this many ms before taking the parts of each job. */
  slowMs?: number;
}

export class ThreadPool {
  private readonly ctl: Int32Array;
  private readonly f64: Float64Array;
  private seq = 0;
  private closed = false;
  /** Kernel calls that ran as parts on several threads (a count for tests and reports). */
  parallelCalls = 0;
  /** Parts this (the calling) thread has run. */
  private localParts = 0;
  /** While above 0 every kernel runs on the calling thread alone (Core.oneThread). */
  suspended = 0;

  private constructor(readonly size: number, private readonly helpers: Helper[], private readonly control: SharedArrayBuffer) {
    this.ctl = new Int32Array(control);
    this.f64 = new Float64Array(control);
  }

  /** Parts each thread has run so far (index 0: the calling thread; read between calls). */
  partsRun(): number[] {
    return Array.from({ length: this.size }, (_, s) => (s === 0 ? this.localParts : Atomics.load(this.ctl, slotInts(s) + PARTS_RUN)));
  }

  /** The most parts one call may be cut into. */
  get maxParts(): number { return this.size * PARTS_PER_THREAD; }

  /**
   * Starts size - 1 helpers. `scratch(i)` gives helper i its scratch offset in `memory`;
   * `kernels` are the names the calls number kernels by.
   */
  static async start(size: number, module: WebAssembly.Module, memory: WebAssembly.Memory, scratch: (i: number) => number,
                     kernels: readonly string[], options: PoolOptions = {}): Promise<ThreadPool> {
    if (!Number.isInteger(size) || size < 2) throw new RangeError(`thread pool: size must be an integer >= 2, got ${size}`);
    const control = new SharedArrayBuffer(controlBytes(size));
    const helpers: Helper[] = [];
    try {
      for (let s = 1; s < size; s++) helpers.push(spawnHelper());
      await Promise.all(helpers.map((h, i) => {
        const init: HelperInit = { module, memory, control, size, slot: i + 1, scratch: scratch(i), kernels: [...kernels] };
        if (options.failOnJob && i === 0) init.failOnJob = options.failOnJob;
        if (options.slowMs && i === 0) init.slowMs = options.slowMs;
        return h.start(init);
      }));
    } catch (e) {
      for (const h of helpers) h.terminate();
      throw e;
    }
    return new ThreadPool(size, helpers, control);
  }

  /**
   * Runs kernel `k` once per part: each thread its own run of parts, then parts left in the
   * others' runs (this thread through `local`). Returns when every part is done; throws if
   * one failed.
   */
  run(k: number, parts: readonly (readonly number[])[], local: (args: readonly number[]) => void): void {
    if (this.closed) throw new Error('thread pool: used after close()');
    if (parts.length > this.maxParts) throw new RangeError(`thread pool: ${parts.length} parts, at most ${this.maxParts}`);
    const seq = ++this.seq;
    const ctl = this.ctl, f64 = this.f64;
    this.parallelCalls++;
    parts.forEach((a, i) => {
      if (a.length > MAX_ARGS) throw new RangeError(`thread pool: ${a.length} arguments, at most ${MAX_ARGS}`);
      const at = partArgs(this.size, i);
      for (let j = 0; j < a.length; j++) f64[at + j] = a[j]!;
    });
    ctl[JOB_KERNEL] = k;
    ctl[JOB_PARTS] = parts.length;
    startParts(ctl, parts.length, this.size);
    Atomics.store(ctl, JOB_SEQ, seq);
    Atomics.notify(ctl, JOB_SEQ);
    let localError: unknown = null;
    try {
      for (let i = takePart(ctl, 0, parts.length, this.size); i >= 0; i = takePart(ctl, 0, parts.length, this.size)) {
        local(parts[i]!);
        this.localParts++;
      }
    } catch (e) {
      localError = e; // the helpers take the parts left
    }
    let failure: string | null = null;
    for (let s = 1; s < this.size; s++) {
      this.waitFor(s, seq);
      if (ctl[slotInts(s) + FAILED] && failure === null) failure = `helper thread ${s}: ${this.message(s)}`;
    }
    if (localError) throw localError;
    if (failure !== null) {
      this.close();
      throw new Error(failure);
    }
  }

  private waitFor(s: number, seq: number): void {
    const ctl = this.ctl, at = slotInts(s) + DONE;
    // the parts are about equal: poll a short while before sleeping (a wake-up costs more)
    for (let spin = 0; spin < 20_000; spin++) if (Atomics.load(ctl, at) === seq) return;
    const start = Date.now();
    const block = canBlock();
    for (;;) {
      const done = Atomics.load(ctl, at);
      if (done === seq) return;
      const dead = this.helpers[s - 1]!.failure();
      if (dead !== null || Date.now() - start > STALL_MS) {
        this.close();
        throw new Error(`helper thread ${s} ${dead !== null ? `died (${dead})` : `did not finish its part within ${STALL_MS / 1000} s`}`);
      }
      if (block) Atomics.wait(ctl, at, done, 1000);
    }
  }

  private message(s: number): string {
    const len = Math.min(this.ctl[slotInts(s) + MSGLEN]!, MAX_MESSAGE);
    const units = new Uint16Array(this.control, s * SLOT_BYTES + MESSAGE_BYTE, len);
    return String.fromCharCode(...units);
  }

  /** Stops every helper (idempotent). The memory stays usable by the calling thread. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const ctl = this.ctl;
    ctl[JOB_KERNEL] = EXIT;
    Atomics.store(ctl, JOB_SEQ, ++this.seq);
    Atomics.notify(ctl, JOB_SEQ);
    for (const h of this.helpers) h.terminate();
  }

  get isClosed(): boolean { return this.closed; }
}
