// @retort/distill/node: everything that touches the file system.
export { readIdxFile, readNpyFile, writeIdxFile, writeNpyFile, loadIdxPair, loadNpyPair, loadDataDir, loadNpzFile, loadNpyDir, loadSafetensorsDataset, loadDataPath, loadImageFolder, loadTextPath, loadTestData, readTextFile, isTextDataPath, type DataLoadOptions } from './data/files.js';
export { MNIST_FILE_NAMES, type LoadedData } from './data/sources.js';
export { loadMnist, mnistDataDir } from './data/mnist.js';
export { writeFileAtomic } from './io/atomic.js';
export { saveModel, loadModel, readModelFile, modelTensors, paramsFromTensors } from './format/model-io.js';
export { saveCheckpoint, loadCheckpoint, type LoadedCheckpoint } from './node/checkpoint.js';
export { readTeacherLogits, cachedTeacherLogits, modelFingerprint } from './node/teacher-logits.js';
export { ShardedDataset, writeDatasetShards, datasetShardsIndexPath, DATASET_SHARDS_FORMAT, DEFAULT_SHUFFLE_BUFFER, type DatasetShardsIndex, type WriteShardsOptions } from './node/shard-data.js';
export {
  ShardedLogitTable, writeTeacherOutputs, cachedTeacherOutputs, allRows, isTeacherOutputsPath, teacherOutputsIndexPath,
  type CachedOutputs, type ShardedLogitTableOptions, type WriteTeacherOutputsOptions, type WriteTeacherOutputsResult,
} from './node/teacher-outputs.js';
export { createRunDir, RunDirError, RUN_FILES, appendJsonLine, truncateMetrics, writeJsonAtomic, writeTextAtomic } from './node/run-dir.js';
export { runJob, loadData, loadTestSet, isBundledData, modelTokenizer, sampleTrainRows, type DataConfig, type DataOptionsConfig, type JobKind, type RunEvent, type RunOptions, type RunReport } from './node/run.js';
export { renderReportMarkdown } from './node/report.js';
export { reproHintonMnist, renderSummary, HINTON_MNIST, type ReproSummary, type ReproRun, type ReproOptions } from './node/repro.js';
export { reproCnnMnist, renderCnnSummary, summarizeCnn, CNN_MNIST, CNN_TEACHER_SPEC, type CnnReproSummary, type CnnReproOptions, type CnnRun } from './node/repro-cnn.js';
export { compareJob, renderComparison, COMPARE_DEFAULTS, type CompareResult, type CompareRow, type CompareSettings, type CompareOptions } from './node/compare.js';
export { runOrResume, meanStd, ExperimentStopped } from './node/experiment.js';
export { bornAgainJob, renderBornAgain, type BornAgainOptions, type BornAgainResult, type BornAgainGeneration } from './node/born-again.js';
export {
  compareMethods, renderMethodComparison, temperatureSweep, renderSweep, METHOD_COMPARE_DEFAULTS, METHOD_COMPARE_QUICK, METHOD_COMPARE_TEXT_DEFAULTS, METHOD_COMPARE_TEXT_QUICK, methodCompareBase, COMPARED_METHODS, SWEEP_DEFAULTS,
  type MethodCompareResult, type MethodCompareSettings, type MethodCompareOptions, type MethodRow, type ComparedMethod, type SweepResult, type SweepSettings,
} from './node/methods-compare.js';
// safetensors and teacher logits on disk (no TensorFlow.js); the TF.js and ONNX file functions are
// in '@retort/distill/interop', so that this entry does not load tfjs or protobufjs
export { readSafetensorsFile, writeSafetensorsFile, readTeacherLogitsFile } from './interop/files-node.js';
export { loadAnyModel, modelFormatOf, type LoadedModel, type ModelFormat } from './node/any-model.js';
export { normalisedRows } from './data/dataset.js';
export { deploymentReport, renderDeploymentReport, type DeploymentReport, type DeployReportOptions, type ModelFigures } from './node/deploy-report.js';
export { loadTextCorpus, isTextCorpus, TEXT_CORPORA, type TextCorpus, type TextCorpusName } from './text/corpora.js';
export { loadTextData, isTextData, tokenizerOfMeta, textMeta, type LoadedTextData, type TextInfo, type TextDataConfig } from './text/load.js';
export { loadLmText, lmJob, lmEval, lmQuantize, openLm, lmModelSpec, DEFAULT_LM_LENGTH, type LmText, type LmRunOptions, type LmRunResult, type LmEvalResult, type OpenLm } from './node/lm.js';
