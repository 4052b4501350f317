// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as in zlib and PNG. The one
// implementation lives in @retort/core-wasm/format (dependency-free, so the inference entry
// checks int8 model files with it too); re-exported here for the model-file code.
export { crc32 } from '@retort/core-wasm/format';
