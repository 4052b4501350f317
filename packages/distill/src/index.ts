// @retort/distill: models, data, losses and trainers on top of @retort/core-wasm.
export { accuracy, type AccuracyResult } from './metrics.js';
export { loadCore, type Core, type BackendName } from '@retort/core-wasm';
