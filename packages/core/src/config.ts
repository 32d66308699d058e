import { z } from 'zod';
import { SpecError } from './errors.ts';
import { DEFAULT_DEADLINE_MS } from './retry.ts';
import { zodIssues } from './spec.ts';

/**
 * Service configuration from the environment: one zod schema, defaults in the schema (DESIGN.md's
 * default ports), types by inference. Every service reads the same names.
 */
export const RuntimeConfigSchema = z.object({
  P2M_KAFKA_BROKERS: z
    .string()
    .default('127.0.0.1:9092')
    .transform((s) =>
      s
        .split(',')
        .map((b) => b.trim())
        .filter(Boolean),
    ),
  P2M_REGISTRY_URL: z.url().default('http://127.0.0.1:8081/apis/ccompat/v7'),
  P2M_SECRET_KEY: z.string().min(16, 'P2M_SECRET_KEY must be at least 16 characters (any long random string, the same for every service)'),
  P2M_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Milvus may stay unreachable this long before a job is failed (resume finishes it). */
  P2M_SINK_DEADLINE_MS: z.coerce.number().int().positive().default(DEFAULT_DEADLINE_MS),
  /** Kafka may stay unreachable this long before the controller fails its active jobs (resume finishes them). */
  P2M_KAFKA_DEADLINE_MS: z.coerce.number().int().positive().default(DEFAULT_DEADLINE_MS),
});

export const ControllerConfigSchema = RuntimeConfigSchema.extend({
  P2M_API_TOKEN: z.string().min(16, 'P2M_API_TOKEN must be at least 16 characters'),
  P2M_CONTROLLER_HOST: z.string().default('127.0.0.1'),
  P2M_CONTROLLER_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
});

export type RuntimeConfig = z.output<typeof RuntimeConfigSchema>;
export type ControllerConfig = z.output<typeof ControllerConfigSchema>;

export function readConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.output<S> {
  const result = schema.safeParse(env);
  if (!result.success) throw new SpecError(zodIssues(result.error), 'set the environment variables named above (see the README configuration table)');
  return result.data;
}
