/** The worker: claims jobs from a queue and runs a handler on each. */
export { createWorker } from './worker.js';
export type { CloseOptions, Handler, Worker, WorkerEvents, WorkerJob, WorkerOptions, WorkerState } from './types.js';
