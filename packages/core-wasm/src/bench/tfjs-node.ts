// TensorFlow.js set up for the benchmark under Node: the wasm backend single-threaded
// with SIMD (the fair counterpart of our one-thread SIMD build), and the cpu backend.
// tfjs is a devDependency of this package; only the Node runners and the tests load it.
// Exported as '@retort/core-wasm/bench/node' so that other packages' benchmarks (the
// distill training step) share this setup, and tfjs's types as `Tf`, without depending
// on tfjs themselves.

import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { tfjsContender } from './tfjs-contenders.js';
import type { Contender } from './types.js';

export type * as Tf from '@tensorflow/tfjs-core';

/** tfjs with its 'wasm' (one thread, SIMD) and 'cpu' backends registered and initialised. */
export interface TfjsNode {
  tf: typeof tf;
  /** Versions and the wasm backend's flags as it actually initialised. */
  environment: Record<string, string | number | boolean>;
  /** Problems worth a warning (SIMD off, more than one thread). */
  warnings: string[];
}

export interface TfjsSetup extends TfjsNode {
  /** The sgemm / loss contenders of this package's suite. */
  contenders: Contender[];
}

/** The sgemm / loss suite's tfjs contenders, on top of setupTfjsNode(). */
export async function setupTfjs(): Promise<TfjsSetup> {
  const node = await setupTfjsNode();
  const contenders = [
    tfjsContender(tf, { name: 'tfjs-wasm', backend: 'wasm' }),
    tfjsContender(tf, { name: 'tfjs-wasm-resident', backend: 'wasm', freshWeights: false, losses: false, conv: false, layers: false }),
    tfjsContender(tf, { name: 'tfjs-cpu', backend: 'cpu' }),
  ];
  return { ...node, contenders };
}

export async function setupTfjsNode(): Promise<TfjsNode> {
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

  const environment = {
    'tfjs-core': tf.version_core,
    'tfjs-wasm WASM_HAS_SIMD_SUPPORT': String(simd),
    'tfjs-wasm WASM_HAS_MULTITHREAD_SUPPORT': String(threaded),
    'tfjs-wasm threads': threads,
    'tfjs-wasm binary': simd === true ? (threaded === true ? 'tfjs-backend-wasm-threaded-simd.wasm' : 'tfjs-backend-wasm-simd.wasm') : 'tfjs-backend-wasm.wasm',
  };
  return { tf, environment, warnings };
}
