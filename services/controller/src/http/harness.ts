import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import type { JobSpecInput } from '@p2m/core';
import { ScriptedJobs } from '../testing/scripted-jobs.ts';
import { createControllerWorld, fakeIndex, type ControllerWorld } from '../testing/world.ts';
import { ControllerMetrics } from './metrics.ts';
import { createControllerServer, type ControllerServer } from './server.ts';

/**
 * The controller's HTTP server over the real job service, itself over the fakes of every port,
 * with its log lines (server and service) captured (tests only).
 */
export interface Harness {
  app: ControllerServer;
  jobs: ScriptedJobs;
  world: ControllerWorld;
  metrics: ControllerMetrics;
  token: string;
  auth: { authorization: string };
  /** Every log line the server and the service wrote, as written (JSON text). */
  logs: string[];
  /** A valid job spec whose secrets are long random strings, so a leak is unmistakable. */
  spec(collection?: string): JobSpecInput & { source: { apiKey: string }; target: { token: string } };
  close(): Promise<void>;
}

export function createHarness(options: { bodyLimit?: number } = {}): Harness {
  const token = `p2m-test-${randomBytes(12).toString('hex')}`;
  const logs: string[] = [];
  const logger = pino({ level: 'trace' }, { write: (line: string) => void logs.push(line) });
  // The lifecycle is the test's to move (ScriptedJobs plays the rest of the cluster): no driver.
  const world = createControllerWorld({
    indexes: [fakeIndex('docs-index'), fakeIndex('other-index', { a: 5 })],
    drive: false,
    logger: logger.child({ component: 'controller' }),
  });
  const jobs = new ScriptedJobs(world, world.start());
  const metrics = new ControllerMetrics({ defaultMetrics: false });
  const app = createControllerServer({ jobs, apiToken: token, metrics, logger, port: 0, bodyLimit: options.bodyLimit });
  let n = 0;
  return {
    app,
    jobs,
    world,
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
    close: async () => {
      await app.close();
      await world.stop();
    },
  };
}
