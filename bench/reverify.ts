/**
 * Verification again, over a job that `npm run bench:verify -- ... --keep-stack --keep-job` left:
 * `npm run bench:reverify -- --job ID [--milvus lite|standalone] [--stack-dir DIR] [--runs N]`.
 *
 * Runs the controller's own `verifyJob` in this process (with the services' Node flags) against the
 * bench stack, N times (3 by default), and prints one JSON line per run: each phase's seconds and
 * this process's CPU. The collection is already flushed, indexed and loaded, so those phases are
 * short and the run measures reconciliation; the source sample is left out (the emulator that
 * served the job is gone). It is how a change to reconciliation is measured side by side without a
 * new load and index build: run it on the code before and after, alternating, in one sitting.
 *
 * `server_cpu_seconds` is what the stack's Milvus and Kafka processes spent during the run: set
 * beside `cpu_seconds` and the reconcile phase's wall time, it says who bounds reconciliation.
 */
import { avroStateCodec } from '@p2m/codec';
import { createLogger, JobBoard } from '@p2m/core';
import { verifyJob } from '@p2m/controller';
import { createKafka } from '@p2m/kafka';
import { createMilvusSink } from '@p2m/milvus-sink';
import { readStackEnv } from '@p2m/stack';
import { resolve } from 'node:path';
import { RecordCodecs } from '@p2m/cli';
import { CpuMeter } from './lib/proc.ts';
import { BENCH_STACK, stackPid } from './lib/stack.ts';

const argv = process.argv.slice(2);
const opt = (name: string): string | undefined => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : undefined);
const JOB = opt('job');
const RUNS = Number(opt('runs') ?? 3);
const MILVUS = opt('milvus') ?? 'lite';
if (!JOB) throw new Error('bench:reverify: --job ID is required (a job kept by bench:verify --keep-stack --keep-job)');
if (MILVUS !== 'lite' && MILVUS !== 'standalone') throw new Error(`--milvus must be lite or standalone, got ${MILVUS}`);
const stateDir = opt('stack-dir') ? resolve(opt('stack-dir')!) : MILVUS === 'lite' ? BENCH_STACK.stateDir! : `${BENCH_STACK.stateDir!}-standalone`;
const stackEnv = readStackEnv(stateDir);

const logger = createLogger('bench-reverify', { level: 'error' });
const kafka = createKafka({ brokers: stackEnv['P2M_KAFKA_BROKERS']!.split(','), clientId: 'p2m-bench-reverify', logger });
const board = new JobBoard(kafka, avroStateCodec);
await board.start();
const record = board.jobs.get(JOB);
if (!record) throw new Error(`bench:reverify: job ${JOB} is not on the board of the stack in ${stateDir}`);
const codecs = new RecordCodecs(stackEnv['P2M_REGISTRY_URL']!);
try {
  for (let run = 1; run <= RUNS; run++) {
    const sink = createMilvusSink({ address: stackEnv['P2M_MILVUS_ADDRESS']! });
    const servers = new CpuMeter({ milvus: stackPid(stateDir, 'milvus'), kafka: stackPid(stateDir, 'kafka') }).start();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    try {
      const report = await verifyJob({
        record,
        log: kafka,
        sink,
        source: null,
        decode: codecs.decode,
        sampleSize: 0,
        checkpoints: board.checkpoints.get(record.topicJobId),
      });
      const cpu = process.cpuUsage(cpu0);
      const line = {
        bench: 'reverify',
        job: JOB,
        collection: record.plan.collection,
        run,
        passed: report.passed,
        seconds: Math.round(performance.now() - t0) / 1000,
        cpu_seconds: Math.round((cpu.user + cpu.system) / 1e4) / 100,
        server_cpu_seconds: servers.stop(),
        phases_seconds: Object.fromEntries((report.phases ?? []).map((p) => [p.phase, p.seconds])),
        peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
      };
      process.stdout.write(`${JSON.stringify(line)}\n`);
    } finally {
      await sink.close();
    }
  }
} finally {
  await board.stop();
  await kafka.close();
}
