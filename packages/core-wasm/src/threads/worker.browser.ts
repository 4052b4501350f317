// A helper thread in a browser (a module Worker): ./worker-loop.ts after one start message.
import { helperLoop } from './worker-loop.js';
import type { HelperInit } from './protocol.js';

const scope = globalThis as unknown as { onmessage: ((e: MessageEvent<HelperInit>) => void) | null; postMessage(m: unknown): void };
scope.onmessage = (e) => {
  scope.onmessage = null;
  helperLoop(e.data, () => scope.postMessage('ready'));
};
