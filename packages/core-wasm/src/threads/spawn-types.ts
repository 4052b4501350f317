// What the pool needs of a helper thread, in Node and in browsers (./spawn.node.ts, ./spawn.browser.ts).
import type { HelperInit } from './protocol.js';

export interface Helper {
  /** Sends the start message; resolves when the helper's loop runs. */
  start(init: HelperInit): Promise<void>;
  /** Why the thread died, once an error or exit event was seen; else null. */
  failure(): string | null;
  terminate(): void;
}
