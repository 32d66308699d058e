export * from './errors.ts';
export * from './retry.ts';
export * from './topics.ts';
export * from './record.ts';
export * from './ports.ts';
export * from './spec.ts';
export * from './plan.ts';
export * from './job.ts';
