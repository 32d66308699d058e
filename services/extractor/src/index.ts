export { pageToRecords, fetchChunks, DEFAULT_MAX_URL_CHARS, type PageRecords } from './task.ts';
// The rate budgets moved to @p2m/core (shared with the controller's paced source); re-exported for old imports.
export {
  RateBudget,
  callWithBudget,
  createSourceBudgets,
  systemClock,
  DEFAULT_SOURCE_RETRY,
  type BudgetClock,
  type RateBudgetOptions,
  type RateBudgetState,
  type SourceBudgets,
  type SourceRetryOptions,
} from '@p2m/core';
export {
  checkpointKey,
  initialCheckpoint,
  createMemoryCheckpointStore,
  type Checkpoint,
  type CheckpointStore,
  type MemoryCheckpointStore,
} from './checkpoints.ts';
export { runExtraction, type ExtractionOptions, type ExtractionResult, type NamespaceOutcome, type ExtractionOperation } from './runtime.ts';
export { ExtractorWorker, type ExtractorWorkerOptions } from './worker.ts';
