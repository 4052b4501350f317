// A helper thread's life (./pool.ts): instantiate the module over the shared memory, take its
// own scratch, say it is ready, then, for every job the caller posts, take parts of it (its own
// run first, ./protocol.ts) until none is left, and say so; until told to exit. The loop blocks
// the thread (Atomics.wait is allowed in workers); a part that throws is reported through the
// slot, never left hanging.
import { DONE, EXIT, FAILED, JOB_KERNEL, JOB_PARTS, JOB_SEQ, MAX_MESSAGE, MESSAGE_BYTE, MSGLEN, PARTS_RUN, SLOT_BYTES, partArgs, slotInts, takePart, type HelperInit } from './protocol.js';

/**
 * How long (ms) a helper polls for its next job before sleeping on it. A training step's
 * parallel calls come close together, but not back to back: a one-thread kernel between two
 * of them (a bias gradient over the batch) takes 0.1-0.3 ms, and waking a sleeping thread
 * costs tens of microseconds, in which the caller takes the sleeper's parts and the data it
 * would have kept in its core's cache moves (./protocol.ts). 0.25 ms measured a few % faster
 * LeNet and MLP steps on 2 threads than 0.05 ms; longer gained nothing more.
 */
const SPIN_MS = 0.25;

export function helperLoop(init: HelperInit, ready: () => void): void {
  const instance = new WebAssembly.Instance(init.module, { env: { memory: init.memory } });
  const exports = instance.exports as Record<string, (...a: number[]) => number | void>;
  exports.setScratch!(init.scratch);
  const fns = init.kernels.map((name) => exports[name]!);
  const ctl = new Int32Array(init.control);
  const f64 = new Float64Array(init.control);
  const base = slotInts(init.slot);
  const message = new Uint16Array(init.control, init.slot * SLOT_BYTES + MESSAGE_BYTE, MAX_MESSAGE);
  // one argument array per kernel, filled in place (no allocation per part)
  const argLists = init.kernels.map((name) => new Array<number>(exports[name]!.length).fill(0));
  let last = Atomics.load(ctl, JOB_SEQ);
  ready();
  for (;;) {
    let seq = Atomics.load(ctl, JOB_SEQ);
    if (seq === last) {
      const until = performance.now() + SPIN_MS;
      do {
        for (let spin = 0; seq === last && spin < 256; spin++) seq = Atomics.load(ctl, JOB_SEQ);
      } while (seq === last && performance.now() < until);
    }
    if (seq === last) {
      Atomics.wait(ctl, JOB_SEQ, last);
      continue;
    }
    // The caller posts job seq + 1 only after every helper has said DONE for seq, so the job
    // read here stays in place until this helper says DONE.
    last = seq;
    const k = ctl[JOB_KERNEL]!;
    if (k === EXIT) break;
    ctl[base + FAILED] = 0;
    try {
      if (init.failOnJob === seq) throw new Error('injected failure (a test hook)');
      const fn = fns[k], list = argLists[k];
      if (!fn || !list) throw new Error(`no kernel number ${k}`);
      const parts = ctl[JOB_PARTS]!;
      if (init.slowMs) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, init.slowMs);
      for (let i = takePart(ctl, init.slot, parts, init.size); i >= 0; i = takePart(ctl, init.slot, parts, init.size)) {
        const at = partArgs(init.size, i);
        for (let j = 0; j < list.length; j++) list[j] = f64[at + j]!;
        fn.apply(undefined, list);
        ctl[base + PARTS_RUN] = ctl[base + PARTS_RUN]! + 1;
      }
    } catch (e) {
      // stop taking parts: the others take the rest, and the caller fails the call
      const text = `${init.kernels[k] ?? 'kernel'}: ${(e as Error)?.message ?? String(e)}`.slice(0, MAX_MESSAGE);
      for (let i = 0; i < text.length; i++) message[i] = text.charCodeAt(i);
      ctl[base + MSGLEN] = text.length;
      ctl[base + FAILED] = 1;
    }
    Atomics.store(ctl, base + DONE, seq);
    Atomics.notify(ctl, base + DONE);
  }
  Atomics.store(ctl, base + DONE, last);
  Atomics.notify(ctl, base + DONE);
}
