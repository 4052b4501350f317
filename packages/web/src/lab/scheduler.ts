// How the lab's runs yield and pause. The trainer's step loop yields to the event loop about every
// 50 ms through its `yieldTo` hook; the lab passes this scheduler's turn (`yieldTurn`). A
// MessageChannel turn instead of setTimeout(0) avoids the browsers' 4 ms clamp on nested timers,
// and while the lab is paused the callbacks are held: the loop waits at its next yield, and the
// worker keeps answering messages (drawings, feature maps, exports).

export const scheduler = (() => {
  const queue: (() => void)[] = [];
  const held: (() => void)[] = [];
  let paused = false;
  let channel: MessageChannel | null = null;
  const flush = (): void => {
    const run = queue.splice(0, queue.length);
    for (const cb of run) { if (paused) held.push(cb); else cb(); }
  };
  return {
    setImmediate(cb: () => void): void {
      if (!channel) { channel = new MessageChannel(); channel.port1.onmessage = flush; }
      queue.push(cb);
      if (queue.length === 1) channel.port2.postMessage(0);
    },
    get paused(): boolean { return paused; },
    pause(): void { paused = true; },
    resume(): void {
      paused = false;
      for (const cb of held.splice(0, held.length)) cb();
    },
    /** Resolves now, or when the lab is resumed (for the points between models). */
    async gate(): Promise<void> {
      while (paused) await new Promise<void>((r) => held.push(r));
    },
  };
})();

/** One scheduler turn: the trainer's yield (held while paused). */
export const yieldTurn = (): Promise<void> => new Promise<void>((r) => scheduler.setImmediate(r));
