import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import type { JobSpecInput } from '@p2m/core';
import { InMemoryJobService, defaultIndex } from './in-memory-job-service.ts';
import { ControllerMetrics } from './metrics.ts';
import { createControllerServer, type ControllerServer } from './server.ts';

/** The controller's HTTP server over an in-memory JobService, with its log lines captured (tests only). */
export interface Harness {
  app: ControllerServer;
  jobs: InMemoryJobService;
  metrics: ControllerMetrics;
  token: string;
  auth: { authorization: string };
  /** Every log line the server wrote, as written (JSON text). */
  logs: string[];
  /** A valid job spec whose secrets are long random strings, so a leak is unmistakable. */
  spec(collection?: string): JobSpecInput & { source: { apiKey: string }; target: { token: string } };
  close(): Promise<void>;
}

export function createHarness(options: { bodyLimit?: number } = {}): Harness {
  const token = `p2m-test-${randomBytes(12).toString('hex')}`;
  const logs: string[] = [];
  const logger = pino({ level: 'trace' }, { write: (line: string) => void logs.push(line) });
  const jobs = new InMemoryJobService({ indexes: [defaultIndex('docs-index'), defaultIndex('other-index', [{ name: 'a', recordCount: 5 }])] });
  const metrics = new ControllerMetrics({ defaultMetrics: false });
  const app = createControllerServer({ jobs, apiToken: token, metrics, logger, port: 0, bodyLimit: options.bodyLimit });
  let n = 0;
  return {
    app,
    jobs,
    metrics,
    token,
    auth: { authorization: `Bearer ${token}` },
    logs,
    spec(collection?: string) {
      n += 1;
      return {
        source: { apiKey: `pcsk_${randomBytes(16).toString('hex')}`, index: 'docs-index' },
        target: { address: '127.0.0.1:19530', token: `root:${randomBytes(16).toString('hex')}`, collection: collection ?? `docs_${n}` },
      };
    },
    close: () => app.close(),
  };
}
