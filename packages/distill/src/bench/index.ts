// '@retort/distill/bench': the training-step benchmark, platform-neutral (no node:, no tfjs
// code: the tfjs namespace is injected), for Node's runner (cli.ts) and the web app's
// benchmark worker alike.
export {
  runStepBench, sanityCheck, makeStepProblem, FULL_STEP, QUICK_STEP, STEP_TARGET_SPEEDUP, STEP_TIMING,
  type StepMode, type StepProblem, type PreparedStep, type StepContender, type StepEntry, type SanityEntry,
  type StepBenchResult, type StepBenchOptions,
} from './step.js';
export { retortStepContender } from './contenders.js';
export { tfjsStepContender, type TfjsStepOptions } from './tfjs-step.js';
export { formatStepReport } from './report.js';
