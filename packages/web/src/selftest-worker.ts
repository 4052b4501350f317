// The self-test's module Worker (exposed with comlink): seededRun, the module Node's test
// imports too, timed here. No other code between the page and the run.
import { expose } from 'comlink';
import { seededRun, type SeededRunOptions, type SeededRunResult } from './seeded-run.js';

export const selftestApi = {
  seededRun,
  /** seededRun plus its wall time in this worker. */
  async timedRun(options: SeededRunOptions): Promise<SeededRunResult & { ms: number }> {
    const t0 = performance.now();
    const r = await seededRun(options);
    return { ...r, ms: performance.now() - t0 };
  },
};

export type SelftestApi = typeof selftestApi;

expose(selftestApi);
