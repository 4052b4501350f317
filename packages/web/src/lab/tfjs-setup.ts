// TensorFlow.js for TF.js teachers, loaded only when a visitor picks one (this module is
// imported dynamically by the lab engine). Offline: the wasm backend's binaries are imported
// as `?url`, so Vite emits them as assets of this app, and setWasmPaths points tfjs at them.
// One thread: the page is cross-origin isolated, so tfjs would otherwise pick its threaded
// build, which starts workers of its own.
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import plainWasm from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import simdWasm from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import threadedSimdWasm from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';

const absolute = (url: string): string => new URL(url, import.meta.url).href;

let ready: Promise<void> | null = null;

/** tfjs with its wasm backend active; once per worker. */
export function tfjsReady(): Promise<void> {
  ready ??= (async () => {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    setWasmPaths({
      'tfjs-backend-wasm.wasm': absolute(plainWasm),
      'tfjs-backend-wasm-simd.wasm': absolute(simdWasm),
      'tfjs-backend-wasm-threaded-simd.wasm': absolute(threadedSimdWasm),
    });
    if (!(await tf.setBackend('wasm'))) throw new Error('TensorFlow.js: the wasm backend could not be initialised');
    await tf.ready();
  })();
  ready.catch(() => { ready = null; });
  return ready;
}
