// A helper thread's life (./pool.ts): instantiate the module over the shared memory, take its
// own scratch, say it is ready, then run the jobs the caller posts in its slot until told to
// exit. The loop blocks the thread (Atomics.wait is allowed in workers); a job that throws is
// reported through the slot, never left hanging.
import { ARGS_BYTE, DONE, EXIT, FAILED, KERNEL, MAX_ARGS, MAX_MESSAGE, MESSAGE_BYTE, MSGLEN, SEQ, SLOT_BYTES, slotInts, type HelperInit } from './protocol.js';

/**
 * How long (ms) a helper polls for its next job before sleeping on it: a training step's
 * kernel calls come back to back, and waking a sleeping thread costs tens of microseconds.
 */
const SPIN_MS = 0.05;

export function helperLoop(init: HelperInit, ready: () => void): void {
  const instance = new WebAssembly.Instance(init.module, { env: { memory: init.memory } });
  const exports = instance.exports as Record<string, (...a: number[]) => number | void>;
  exports.setScratch!(init.scratch);
  const fns = init.kernels.map((name) => exports[name]!);
  const ctl = new Int32Array(init.control);
  const base = slotInts(init.slot);
  const args = new Float64Array(init.control, init.slot * SLOT_BYTES + ARGS_BYTE, MAX_ARGS);
  const message = new Uint16Array(init.control, init.slot * SLOT_BYTES + MESSAGE_BYTE, MAX_MESSAGE);
  // one argument array per kernel, filled in place (no allocation per job)
  const argLists = init.kernels.map((name) => new Array<number>(exports[name]!.length).fill(0));
  let last = Atomics.load(ctl, base + SEQ);
  ready();
  for (;;) {
    let seq = Atomics.load(ctl, base + SEQ);
    if (seq === last) {
      const until = performance.now() + SPIN_MS;
      do {
        for (let spin = 0; seq === last && spin < 256; spin++) seq = Atomics.load(ctl, base + SEQ);
      } while (seq === last && performance.now() < until);
    }
    if (seq === last) {
      Atomics.wait(ctl, base + SEQ, last);
      continue;
    }
    last = seq;
    const k = Atomics.load(ctl, base + KERNEL);
    if (k === EXIT) break;
    try {
      if (init.failOnJob === seq) throw new Error('injected failure (a test hook)');
      const fn = fns[k], list = argLists[k];
      if (!fn || !list) throw new Error(`no kernel number ${k}`);
      for (let i = 0; i < list.length; i++) list[i] = args[i]!;
      fn.apply(undefined, list);
      ctl[base + FAILED] = 0;
    } catch (e) {
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
