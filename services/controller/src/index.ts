export * from './http/index.ts';
export { ControllerJobService, type ControllerJobServiceOptions, type SinkFactory, type SourceFactory } from './jobs/service.ts';
export { verifyJob, compareRecords } from './jobs/verify.ts';
export { computeProgress, RateWindow } from './jobs/progress.ts';
export { decide, type Action, type ControllerLimits, type Observations, type VerificationOutcome } from './jobs/decide.ts';
