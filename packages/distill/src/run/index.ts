// The orchestration of a run, shared by the Node commands (node/run.ts) and the web lab's worker.
export {
  executeRun, teacherNorm, runNorm,
  type RunInput, type RunHooks, type RunOutcome, type RunResult, type RunTeacher, type RunEvent, type LogitsPredictor,
} from './execute.js';
export { teacherSignal, checkTeachers, type SoftLabels, type SignalContext, type TeacherSignal } from './teacher-signal.js';
export {
  chooseTerms, featureTaps, tapName, checkTeacherFields, checkTeacherKinds, configTeachers, runMethod,
  type MethodOptions, type RunKind,
} from './terms.js';
export { autoTune, clearlyBetter, autoTuneCandidates, autoTuneEpochs, AUTO_ALPHAS, AUTO_TEMPERATURES, type AutoTuneCandidate, type AutoTuneResult } from './auto-tune.js';
export { runModelSpec, runViews, transferView, checkModelFitsData, labelsOf, scatterRows, type RunData, type RunViews } from './views.js';
