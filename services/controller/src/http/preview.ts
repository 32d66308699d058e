/**
 * The controller's HTTP side over the real job service on the fakes of every port, with simulated
 * jobs that make progress: for looking at the Jobs page, trying the CLI, or a browser test, with no
 * stack running.
 *
 *   npx node services/controller/src/http/preview.ts   (P2M_API_TOKEN, P2M_CONTROLLER_PORT optional)
 */
import { pino } from 'pino';
import { createControllerWorld, fakeIndex, ScriptedJobs } from '../testing/index.ts';
import { ControllerMetrics } from './metrics.ts';
import { createControllerServer } from './server.ts';

const token = process.env.P2M_API_TOKEN || 'preview-token-0123456789';
const port = Number(process.env.P2M_CONTROLLER_PORT ?? 8080);
const world = createControllerWorld({
  indexes: [fakeIndex('products', { '': 12_000, electronics: 8_000, garden: 5_000 }), fakeIndex('faq', { en: 900 })],
  drive: false,
});
const jobs = new ScriptedJobs(world, world.start());

const spec = (index: string, collection: string) => ({
  source: { apiKey: 'pcsk_preview_not_a_real_key', index },
  target: { address: '127.0.0.1:19530', collection },
});

const done = await jobs.create(spec('faq', 'faq_v1'));
jobs.addDlq(done.id, [
  { namespace: 'en', id: 'q-17', code: 'RECORD_INVALID', reason: 'vector has 7 dimensions, the index has 8', at: new Date().toISOString() },
  { namespace: 'en', id: 'q-<b>html</b>', code: 'RECORD_REJECTED', reason: 'id longer than maxIdLength (512)', at: new Date().toISOString() },
]);
jobs.update(done.id, { progress: { total: { sourceCount: 900, extracted: 900, loaded: 898, failed: 2 } } });
jobs.complete(done.id);

const running = await jobs.create(spec('products', 'products_v2'));

// Move the running job along: ~1,500 records a second, namespace by namespace.
const timer = setInterval(() => {
  void (async () => {
    const view = await jobs.get(running.id);
    if (view.status !== 'IN_PROGRESS') return;
    const namespaces = view.progress.namespaces.map((n) => {
      const extracted = Math.min(n.sourceCount, n.extracted + 600);
      const loaded = Math.min(extracted, n.loaded + 450);
      return { ...n, extracted, loaded, extractionDone: extracted === n.sourceCount };
    });
    const total = namespaces.reduce(
      (t, n) => ({
        sourceCount: t.sourceCount + n.sourceCount,
        extracted: t.extracted + n.extracted,
        loaded: t.loaded + n.loaded,
        failed: t.failed + n.failed,
      }),
      { sourceCount: 0, extracted: 0, loaded: 0, failed: 0 },
    );
    const left = total.sourceCount - total.loaded - total.failed;
    if (left === 0) {
      jobs.complete(running.id);
      return;
    }
    jobs.update(running.id, { progress: { namespaces, total, recordsPerSecond: 1350, etaSeconds: left / 1350, consumerLag: total.extracted - total.loaded } });
  })();
}, 1000);

const app = createControllerServer({ jobs, apiToken: token, port, metrics: new ControllerMetrics(), logger: pino({ level: 'info' }) });
const url = await app.start();
process.stderr.write(`Jobs page: ${url}/   token: ${token}\n`);
process.once('SIGTERM', () => {
  clearInterval(timer);
  void app
    .close()
    .then(() => world.stop())
    .then(() => process.exit(0));
});
process.once('SIGINT', () => {
  clearInterval(timer);
  void app
    .close()
    .then(() => world.stop())
    .then(() => process.exit(0));
});
