// TensorFlow.js for the benchmark worker, offline: the wasm backend's three binaries are
// imported as `?url`, so Vite emits them as hashed assets of this app and setWasmPaths points
// tfjs at them (no CDN, nothing fetched from another origin). The browser counterpart of
// core-wasm's setupTfjsNode: the wasm backend single-threaded with SIMD, the fair peer of
// our one-thread SIMD build. The page is cross-origin isolated (SharedArrayBuffer works),
// so tfjs would pick its threaded build: WASM_HAS_MULTITHREAD_SUPPORT is forced off first.
// tfjs-core alone registers no gradient rules; register_all_gradients adds tfjs's own, which
// the training-step contender's optimizer.minimize needs.

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { getThreadsCount, setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import plainWasm from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import simdWasm from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import threadedSimdWasm from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';

export interface TfjsBrowser {
  tf: typeof tf;
  /** Versions, the wasm backend's flags as it actually initialised, and where its binaries came from. */
  environment: Record<string, string | number | boolean>;
  /** Problems worth a warning (SIMD off, more than one thread). */
  warnings: string[];
}

/** The app-relative URL of an emitted asset, absolute against the page (workers live in assets/). */
const absolute = (url: string): string => new URL(url, import.meta.url).href;

let setup: Promise<TfjsBrowser> | null = null;

/**
 * tfjs with its 'wasm' backend (SIMD; one thread, or `threads` with its threaded build, for the
 * threads-against-threads comparison of bench-threads-worker.ts) registered and initialised;
 * once per worker (the backend reads its thread count once).
 */
export function setupTfjsBrowser(threads = 1): Promise<TfjsBrowser> {
  setup ??= init(threads);
  setup.catch(() => { setup = null; });
  return setup;
}

async function init(wanted: number): Promise<TfjsBrowser> {
  const paths = {
    'tfjs-backend-wasm.wasm': absolute(plainWasm),
    'tfjs-backend-wasm-simd.wasm': absolute(simdWasm),
    'tfjs-backend-wasm-threaded-simd.wasm': absolute(threadedSimdWasm),
  };
  setWasmPaths(paths);
  // read once, when the backend initialises
  if (wanted > 1) setThreadsCount(wanted);
  else tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  if (!(await tf.setBackend('wasm'))) throw new Error(`tfjs wasm backend failed to initialise from ${paths['tfjs-backend-wasm-simd.wasm']}`);
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const threaded = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
  const threads = getThreadsCount();
  const binary = simd !== true ? 'tfjs-backend-wasm.wasm' : threaded === true ? 'tfjs-backend-wasm-threaded-simd.wasm' : 'tfjs-backend-wasm-simd.wasm';
  const warnings: string[] = [];
  if (simd !== true) warnings.push('tfjs-wasm is running WITHOUT SIMD: its figures are not the fair baseline');
  if (wanted === 1 && (threaded !== false || threads !== 1)) warnings.push(`tfjs-wasm is not single-threaded (threads: ${threads})`);
  if (wanted > 1 && (threaded !== true || threads !== wanted)) warnings.push(`tfjs-wasm runs on ${threads} thread(s), not the ${wanted} asked for (threaded build: ${String(threaded)})`);
  return {
    tf,
    environment: {
      'tfjs-core': tf.version_core,
      'tfjs-wasm WASM_HAS_SIMD_SUPPORT': String(simd),
      'tfjs-wasm WASM_HAS_MULTITHREAD_SUPPORT': String(threaded),
      'tfjs-wasm threads': threads,
      'tfjs-wasm binary': `${binary}, served by this app (${new URL(paths[binary]).pathname.split('/').pop()})`,
      'tfjs gradient rules': "tfjs's own (tfjs-core's register_all_gradients)",
    },
    warnings,
  };
}
