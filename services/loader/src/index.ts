export * from './task.ts';
export * from './runtime.ts';
