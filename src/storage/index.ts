export type { StorageDriver, StoredObject, WriteCondition } from './types.js';
export { KEY_PATTERN } from './types.js';
export { openStore, type OpenStoreOptions } from './open.js';
export { createMemoryStore } from './memory.js';
export { createFileStore, type FileStoreOptions } from './fs.js';
export { withFaults, mulberry32, type FaultOptions, type FaultStats, type FaultyStore } from './faulty.js';
