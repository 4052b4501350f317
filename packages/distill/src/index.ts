// @retort/distill: models, data, losses and trainers on top of @retort/core-wasm.
// This entry is platform-neutral (it runs in Node, browsers and workers); file I/O
// lives in '@retort/distill/node'.
export { loadCore, type Core, type BackendName } from '@retort/core-wasm';

// data
export { DataFormatError } from './data/errors.js';
export { readIdx, writeIdx, type IdxArray, type IdxInput, type IdxType } from './data/idx.js';
export { readNpy, writeNpy, toFloat32, type NpyArray, type NpyInput, type NpyDType } from './data/npy.js';
export {
  makeDataset, datasetFromIdx, datasetFromNpy, fullView, splitValidation, slice, fingerprint, normalisedRows,
  type Dataset, type DatasetView, type DatasetOptions,
} from './data/dataset.js';
export { BatchLoader, type Batch, type BatchLoaderOptions } from './data/batches.js';
export { Fnv1a64 } from './data/hash.js';

// models, optimizers, schedules
export { Mlp, type Mode } from './model/mlp.js';
export {
  parseModelSpec, formatModelSpec, modelSpecSchema, paramCount, paramLayout, SpecError,
  type ModelSpec, type DenseLayout,
} from './model/spec.js';
export {
  createOptimizer, parseOptimizerConfig, optimizerConfigSchema,
  type Optimizer, type OptimizerConfig, type OptimizerState, type AdamWConfig, type SgdConfig,
} from './optim/optimizer.js';
export { lrSchedule, parseScheduleConfig, scheduleConfigSchema, type ScheduleConfig } from './optim/schedule.js';

// model file format (bytes in, bytes out)
export {
  encodeModelFile, decodeModelFile, ModelFormatError, FORMAT_VERSION, modelTensors, paramsFromTensors, checkFiniteParams,
  type ModelFileContents, type DecodedModelFile, type NamedTensor,
} from './format/model-file.js';

// training, distillation, evaluation
export {
  train, evaluateView, dropoutSeed,
  type TrainJob, type TrainSettings, type TrainResult, type TrainEvent, type TrainerState, type EpochMetrics,
  type DistillSettings, type TeacherSource,
} from './train/trainer.js';
export { predictLogits, type PredictOptions } from './train/predict.js';

// post-training int8 quantization and the int8 model file
export {
  quantizeMlp, QuantizedMlp, encodeQuantizedModel, decodeQuantizedModel, quantizedModelSize,
  type QuantizeOptions, type QuantizedModel, type QuantizedLayer, type QuantizedSize, type CalibrationInfo,
  type DecodedQuantizedMlpFile,
} from './quant/index.js';
export { evaluateLogits, type EvalReport, type EvalOptions } from './eval/metrics.js';
export { medianSeconds, timeMlpForward } from './eval/timing.js';
export { runConfigSchema, parseRunConfig, configHash, type RunConfig, type RunConfigInput } from './config.js';

// the distillation family: loss terms, methods, teacher ensembles, schedules
export {
  lossTermSchema, lossListSchema, parseLossTerms, describeLosses, TEACHER_TERMS, FEATURE_TERMS, LABEL_TERMS,
  type LossTermConfig, type LossTermInput, type LossTermType, type LayerRef,
} from './losses/config.js';
export { METHODS, METHOD_NAMES, SINGLE_RUN_METHODS, methodLosses, isSingleRunMethod, type MethodInfo, type MethodName, type MethodContext } from './losses/methods.js';
export { valueAt, scheduledValueSchema, type ScheduledValue, type ScheduleContext } from './losses/scheduled.js';
export { combineTeachers, virtualTeacherLogits, virtualTeacherProbabilities, type CombineMode } from './losses/targets.js';
export { dkdLoss, dkdParts, type DkdOptions } from './losses/dkd.js';
export { RkdLoss, type RkdWeights } from './losses/rkd.js';
export { HintRegressor } from './losses/hint.js';
export { Objective, validateObjective, type ObjectiveSettings, type WeightedTeacher, type ObjectiveBatch } from './train/objective.js';
export { hintonObjective, jobObjective, type AuxState } from './train/trainer.js';
export { transferSubset } from './data/dataset.js';
