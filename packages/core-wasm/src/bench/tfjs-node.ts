// TensorFlow.js set up for the benchmark under Node: the wasm backend single-threaded
// with SIMD (the fair counterpart of our one-thread SIMD build), and the cpu backend.
// tfjs is a devDependency of this package; only the Node runner and the tests load it.

import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { tfjsContender } from './tfjs-contenders.js';
import type { Contender } from './types.js';

export interface TfjsSetup {
  tf: typeof tf;
  contenders: Contender[];
  /** Versions and the wasm backend's flags as it actually initialised. */
  environment: Record<string, string | number | boolean>;
  /** Problems worth a warning (SIMD off, more than one thread). */
  warnings: string[];
}

export async function setupTfjs(): Promise<TfjsSetup> {
  const require = createRequire(import.meta.url);
  const wasmDir = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + sep;
  setWasmPaths(wasmDir);
  // Force one thread before the backend initialises: the flag is read once, at init.
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  if (!(await tf.setBackend('wasm'))) throw new Error(`tfjs wasm backend failed to initialise from ${wasmDir}`);
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const threaded = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
  const threads = getThreadsCount();
  if (!(await tf.setBackend('cpu'))) throw new Error('tfjs cpu backend failed to initialise');

  const warnings: string[] = [];
  if (simd !== true) warnings.push('tfjs-wasm is running WITHOUT SIMD: its figures are not the fair baseline');
  if (threaded !== false || threads !== 1) warnings.push(`tfjs-wasm is not single-threaded (threads: ${threads})`);

  const contenders = [
    tfjsContender(tf, { name: 'tfjs-wasm', backend: 'wasm' }),
    tfjsContender(tf, { name: 'tfjs-wasm-resident', backend: 'wasm', freshWeights: false, losses: false }),
    tfjsContender(tf, { name: 'tfjs-cpu', backend: 'cpu' }),
  ];
  const environment = {
    'tfjs-core': tf.version_core,
    'tfjs-wasm WASM_HAS_SIMD_SUPPORT': String(simd),
    'tfjs-wasm WASM_HAS_MULTITHREAD_SUPPORT': String(threaded),
    'tfjs-wasm threads': threads,
    'tfjs-wasm binary': simd === true ? (threaded === true ? 'tfjs-backend-wasm-threaded-simd.wasm' : 'tfjs-backend-wasm-simd.wasm') : 'tfjs-backend-wasm.wasm',
  };
  return { tf, contenders, environment, warnings };
}
