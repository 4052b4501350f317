#!/usr/bin/env node
// The `retort` command as npm links it. This file exists before the build, so `npm ci` in a
// clone links it into node_modules/.bin (npm skips a bin whose target is missing, and
// dist/bin.js is built output); it runs the built CLI.
import { existsSync } from 'node:fs';

const target = new URL('../dist/bin.js', import.meta.url);
if (!existsSync(target)) {
  process.stderr.write('retort: the CLI is not built yet: run `npm run build` (the repository root) first\n');
  process.exit(1);
}
await import(target.href);
