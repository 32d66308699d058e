import { describe, expect, it } from 'vitest';
import { createControllerWorld, ScriptedJobs } from '../testing/index.ts';
import { ControllerMetrics } from './metrics.ts';

function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const inside = line.slice(name.length + 1, line.indexOf('}'));
    const have = inside.split(',');
    if (want.every((w) => have.includes(w)) && have.length === want.length) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('ControllerMetrics', () => {
  it('counts what the runtimes report, per job', async () => {
    const m = new ControllerMetrics({ defaultMetrics: false });
    m.recordExtracted('j1', 100, 4096);
    m.recordLoaded('j1', 60, 2048);
    m.recordLoaded('j1', 30);
    m.recordFailed('j1', 2);
    m.recordLoaded('j2', 5);
    m.observeBatch('j1', 0.2);
    m.observeBatch('j1', 3);
    m.recordRetry('j1', 'milvus.upsert');
    m.recordRateLimited('j1');
    m.setLag('j1', 42);
    const text = await m.metrics();
    expect(sample(text, 'p2m_records_extracted_total', { job: 'j1' })).toBe(100);
    expect(sample(text, 'p2m_records_loaded_total', { job: 'j1' })).toBe(90);
    expect(sample(text, 'p2m_records_loaded_total', { job: 'j2' })).toBe(5);
    expect(sample(text, 'p2m_records_failed_total', { job: 'j1' })).toBe(2);
    expect(sample(text, 'p2m_bytes_total', { job: 'j1', stage: 'extracted' })).toBe(4096);
    expect(sample(text, 'p2m_bytes_total', { job: 'j1', stage: 'loaded' })).toBe(2048);
    expect(sample(text, 'p2m_batch_duration_seconds_count', { job: 'j1' })).toBe(2);
    expect(sample(text, 'p2m_batch_duration_seconds_bucket', { job: 'j1', le: '0.25' })).toBe(1);
    expect(sample(text, 'p2m_retries_total', { job: 'j1', operation: 'milvus.upsert' })).toBe(1);
    expect(sample(text, 'p2m_rate_limited_total', { job: 'j1', system: 'pinecone' })).toBe(1);
    expect(sample(text, 'p2m_consumer_lag', { job: 'j1' })).toBe(42);
    expect(m.contentType).toContain('text/plain');
  });

  it('sets job gauges from job progress and drops jobs that are gone', async () => {
    const world = createControllerWorld({ drive: false });
    const jobs = new ScriptedJobs(world, world.start());
    const spec = (collection: string) => ({ source: { apiKey: 'k', index: 'docs-index' }, target: { address: 'a', collection } });
    const a = await jobs.create(spec('a'));
    const b = await jobs.create(spec('b'));
    await jobs.cancel(b.id);
    jobs.update(a.id, {
      progress: {
        total: { sourceCount: 1000, extracted: 500, loaded: 400, failed: 3 },
        recordsPerSecond: 120.5,
        etaSeconds: 5,
        consumerLag: 97,
        updatedAt: '2026-01-01T00:01:30.000Z',
        offsetsAt: '2026-01-01T00:00:50.000Z',
      },
    });
    const m = new ControllerMetrics({ defaultMetrics: false });
    m.syncFromJobs(await jobs.list());
    let text = await m.metrics();
    expect(sample(text, 'p2m_job_records', { job: a.id, stage: 'source' })).toBe(1000);
    expect(sample(text, 'p2m_job_records', { job: a.id, stage: 'loaded' })).toBe(400);
    expect(sample(text, 'p2m_job_records', { job: a.id, stage: 'failed' })).toBe(3);
    expect(sample(text, 'p2m_job_records_per_second', { job: a.id })).toBe(120.5);
    expect(sample(text, 'p2m_job_eta_seconds', { job: a.id })).toBe(5);
    expect(sample(text, 'p2m_job_eta_seconds', { job: b.id })).toBeUndefined();
    expect(sample(text, 'p2m_consumer_lag', { job: a.id })).toBe(97);
    // Kafka silent for 40 s: the lag above is that old, which an alert can see.
    expect(sample(text, 'p2m_job_offsets_age_seconds', { job: a.id })).toBe(40);
    expect(sample(text, 'p2m_job_offsets_age_seconds', { job: b.id })).toBe(0);
    expect(sample(text, 'p2m_job_status', { job: a.id, status: 'IN_PROGRESS' })).toBe(1);
    expect(sample(text, 'p2m_job_status', { job: a.id, status: 'PENDING' })).toBe(0);
    expect(sample(text, 'p2m_jobs', { status: 'IN_PROGRESS' })).toBe(1);
    expect(sample(text, 'p2m_jobs', { status: 'CANCELLING' })).toBe(1);
    expect(sample(text, 'p2m_jobs', { status: 'PENDING' })).toBe(0);

    m.syncFromJobs((await jobs.list()).filter((j) => j.id === b.id));
    text = await m.metrics();
    expect(text).not.toContain(`job="${a.id}"`);
    expect(sample(text, 'p2m_job_records', { job: b.id, stage: 'source' })).toBe(1000);
    await world.stop();
  });

  it('exports process metrics unless asked not to, one registry per instance', async () => {
    const withDefaults = new ControllerMetrics();
    expect(await withDefaults.metrics()).toContain('p2m_process_cpu_seconds_total');
    const plain = new ControllerMetrics({ defaultMetrics: false });
    expect(await plain.metrics()).not.toContain('process_cpu');
  });
});
