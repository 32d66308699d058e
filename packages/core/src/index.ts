export * from './errors.ts';
export * from './retry.ts';
export * from './topics.ts';
