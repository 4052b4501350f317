// A helper thread in Node (worker_threads): ./worker-loop.ts after one start message.
import { parentPort } from 'node:worker_threads';
import { helperLoop } from './worker-loop.js';
import type { HelperInit } from './protocol.js';

parentPort!.once('message', (init: HelperInit) => helperLoop(init, () => parentPort!.postMessage('ready')));
