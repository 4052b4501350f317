// Starting a helper thread in a browser: a module Worker (the page must be cross-origin
// isolated, COOP/COEP, for the shared memory to reach it).
import type { HelperInit } from './protocol.js';
import type { Helper } from './spawn-types.js';

export function spawnHelper(): Helper {
  const worker = new Worker(new URL('./worker.browser.js', import.meta.url), { type: 'module', name: 'retort-helper' });
  let failure: string | null = null;
  worker.addEventListener('error', (e) => { failure = e.message || 'a helper thread failed'; });
  return {
    start: (init: HelperInit) => new Promise<void>((resolve, reject) => {
      const onError = (e: ErrorEvent): void => reject(new Error(`a helper thread failed to start: ${e.message || 'its script did not load'}`));
      worker.addEventListener('error', onError, { once: true });
      worker.addEventListener('message', () => {
        worker.removeEventListener('error', onError);
        resolve();
      }, { once: true });
      worker.postMessage(init);
    }),
    failure: () => failure,
    terminate: () => worker.terminate(),
  };
}
