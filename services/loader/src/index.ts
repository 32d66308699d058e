export * from './task.ts';
export * from './runtime.ts';
export * from './worker.ts';
