// Starting a helper thread in Node: a worker_threads Worker, unref'd so that it never keeps a
// process alive (a command ends when its work ends; the pool also stops it on close()).
import { Worker } from 'node:worker_threads';
import type { HelperInit } from './protocol.js';
import type { Helper } from './spawn-types.js';

export function spawnHelper(): Helper {
  const worker = new Worker(new URL('./worker.node.js', import.meta.url), { name: 'retort-helper' } as ConstructorParameters<typeof Worker>[1]);
  worker.unref();
  let failure: string | null = null;
  worker.on('error', (e) => { failure = e.message; });
  worker.on('exit', (code) => { failure ??= `exited with code ${code}`; });
  return {
    start: (init: HelperInit) => new Promise<void>((resolve, reject) => {
      const onError = (e: Error): void => reject(new Error(`a helper thread failed to start: ${e.message}`));
      const onExit = (code: number): void => reject(new Error(`a helper thread exited while starting (code ${code})`));
      worker.once('error', onError);
      worker.once('exit', onExit);
      worker.once('message', () => {
        worker.off('error', onError);
        worker.off('exit', onExit);
        resolve();
      });
      worker.postMessage(init);
    }),
    failure: () => failure,
    terminate: () => { void worker.terminate(); },
  };
}
