/** Kafka names are part of the contract (DESIGN.md): keep them here and nowhere else. */
export const JOBS_TOPIC = 'p2m.jobs';
export const CHECKPOINTS_TOPIC = 'p2m.checkpoints';

export const recordsTopic = (jobId: string): string => `p2m.job.${jobId}.records`;
export const dlqTopic = (jobId: string): string => `p2m.job.${jobId}.dlq`;
export const loaderGroup = (jobId: string): string => `p2m.loader.${jobId}`;

/** Subjects in the schema registry (TopicNameStrategy: `<topic>-value`). */
export const valueSubject = (topic: string): string => `${topic}-value`;
