// @retort/distill: models, data, losses and trainers on top of @retort/core-wasm.
// This entry is platform-neutral (it runs in Node, browsers and workers); file I/O
// lives in '@retort/distill/node'.
export { canShareMemory, loadCore, type Core, type BackendName } from '@retort/core-wasm';

// data
export { DataFormatError } from './data/errors.js';
export { readIdx, writeIdx, type IdxArray, type IdxInput, type IdxType } from './data/idx.js';
export { readNpy, writeNpy, toFloat32, type NpyArray, type NpyInput, type NpyDType } from './data/npy.js';
export { readNpz, readSafetensorsDataset, datasetsFromNpz, NPZ_DATASET_KEYS, type NpzDatasetOptions } from './data/npz.js';
export {
  memoryLogitTable, tableRows, topKRows, expandTopK, parseTeacherOutputsIndex, TEACHER_OUTPUTS_FORMAT, TEACHER_OUTPUTS_INDEX,
  type LogitTable, type TeacherOutputsIndex,
} from './data/teacher-outputs.js';
export { decodeImage, resizeRgb, imageFolderDataset, isImageName, IMAGE_EXTENSIONS, MAX_IMAGE_PIXELS, type ImageEntry, type ImageFolderOptions, type NamedDataset, type RgbImage } from './data/image.js';
export { parseCsv, csvDataset, textDatasetFromCsv, textDatasetFromJsonl, DEFAULT_LABEL_COLUMN, DEFAULT_TEXT_COLUMN, type CsvTable, type TableDataset, type TableOptions, type TextDataset, type TextOptions } from './data/table.js';
export { dataFromFiles, readDataFiles, withTestSet, MNIST_FILE_NAMES, type DataFile, type DataFilesOptions, type DataSource, type LoadedData, type SourceLike, type TestSetOptions } from './data/sources.js';
export { summarizeData, summarizeSplit, summarizeText, IMBALANCE_RATIO, type DataSummary, type SplitSummary, type TextDataSummary, type TextSplitSummary } from './data/inspect.js';
export {
  makeDataset, datasetFromIdx, datasetFromNpy, fullView, splitValidation, slice, fingerprint, normalisedRows,
  splitTestSet, stratifiedTestRows, describeTestSplit, channelStats, channelCount, checkInputNorm, applyChannelNorm, describeNorm, normFromMeta, NO_NORM,
  type InputNorm, takeRows, DEFAULT_TEST_FRACTION, DEFAULT_SPLIT_SEED,
  type Dataset, type DatasetView, type DatasetOptions, type TestSplit,
} from './data/dataset.js';
export { BatchLoader, type Batch, type BatchLoaderOptions } from './data/batches.js';
export { Fnv1a64 } from './data/hash.js';

// models (one layer graph for every model), optimizers, schedules
export { createModel, Model, Mlp, isMlp, type Mode, type TapRef } from './model/index.js';
export {
  parseModelSpec, formatModelSpec, modelSpecSchema, paramCount, paramLayout, SpecError, resolveModelSpec, compileSpec, graphOf, asMlpSpec,
  type ModelSpec, type MlpSpec, type PresetSpec, type DenseLayout, type DataShape,
} from './model/spec.js';
export { compileGraph, shapeText, type CompiledGraph, type GraphNode, type TensorDecl, type Shape } from './model/graph.js';
export { layerSpecSchema, graphSpecSchema, LAYER_TYPES, type LayerSpec, type GraphSpec, type LayerType } from './model/layer-spec.js';
export { PRESET_NAMES, PRESET_INFO, TEXT_PRESETS, TEXT_PRESET_DEFAULTS, LM_PRESETS, isTextPreset, isLmPreset, presetGraph, type PresetName } from './model/presets.js';
export {
  createOptimizer, parseOptimizerConfig, optimizerConfigSchema,
  type Optimizer, type OptimizerConfig, type OptimizerState, type AdamWConfig, type SgdConfig,
} from './optim/optimizer.js';
export { lrSchedule, parseScheduleConfig, scheduleConfigSchema, type ScheduleConfig } from './optim/schedule.js';

// model file format (bytes in, bytes out)
export {
  encodeModelFile, decodeModelFile, ModelFormatError, NonFiniteWeightError, FORMAT_VERSION, modelTensors, paramsFromTensors, stateFromTensors, checkFiniteParams,
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
  quantizeModel, quantizeGraph, layerGraphOf, Int8Model, planInt8, int8Bytes, encodeQuantizedGraph, decodeQuantizedGraph, quantizedModelSize,
  quantizeMlp, QuantizedMlp,
  type QuantizeOptions, type QuantizedGraph, type QuantizedOp, type QuantizedSize, type CalibrationInfo, type DecodedInt8File,
  type Int8Plan, type PlannedOp,
} from './quant/index.js';
export { evaluateLogits, confusionLines, CONFUSION_MATRIX_MAX_CLASSES, type EvalReport, type EvalOptions } from './eval/metrics.js';
export { medianSeconds, timeMlpForward } from './eval/timing.js';
export { runConfigSchema, parseRunConfig, configFieldProblem, configHash, type RunConfig, type RunConfigInput } from './config.js';

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
export { HintRegressor, planHint } from './losses/hint.js';
export { AttentionTransfer, attentionGrid } from './losses/at.js';
export { Objective, validateObjective, resolveLayer, type ObjectiveSettings, type WeightedTeacher, type ObjectiveBatch } from './train/objective.js';
export { hintonObjective, jobObjective, type AuxState } from './train/trainer.js';
export { transferSubset } from './data/dataset.js';

// one run (spec, models, objective, views, teacher signal, training, report): the orchestration
// the Node commands and the web lab share
export {
  executeRun, teacherNorm, runNorm, autoTune, clearlyBetter, autoTuneCandidates, autoTuneEpochs, AUTO_ALPHAS, AUTO_TEMPERATURES, chooseTerms, featureTaps, tapName, checkTeacherFields, checkTeacherKinds, configTeachers, runMethod,
  runModelSpec, runViews, transferView, checkModelFitsData, labelsOf, scatterRows,
  type RunInput, type RunHooks, type RunOutcome, type RunResult, type RunTeacher, type RunEvent, type LogitsPredictor,
  type MethodOptions, type RunKind, type RunData, type RunViews, type SoftLabels, type AutoTuneCandidate, type AutoTuneResult,
} from './run/index.js';
export { loadTokenizer, tokenizerFromJson, tokenizerOfMeta, encodeTexts, textHead, PAD_ID, MODEL_KINDS, type TextTokenizer, type TokenizerJson, type EncodedTexts } from './text/tokenizer.js';
export { trainByteLevelBpe, BPE_MIN_VOCAB, CLS_TOKEN, type BpeOptions } from './text/bpe.js';
export { encodeTextData, checkTokenIds, DEFAULT_MAX_LENGTH, DEFAULT_VOCAB_SIZE, type TokenData, type TextEncodeOptions } from './text/data.js';
export { buildCharVocab, charVocab, lmMeta, vocabOfMeta, UNK_ID, UNK_CHAR, DEFAULT_CHAR_VOCAB, type CharVocab, type LmMeta } from './lm/vocab.js';
export { trainLm, bitsPerChar, windowLogits, windowCount, memoryTopKTable, lmShape, checkLmIds, scorerOf, scorerBitsPerChar, type LmScorer, type LmTrainOptions, type LmTrainState, type LmEpoch, type LmDistillSettings } from './lm/train.js';
export { generateIds, nextProbabilities, sample, type GenerateOptions } from './lm/generate.js';
