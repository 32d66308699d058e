import { createLogger, errorMessage, generateSecretKey, readConfig, RuntimeConfigSchema, type LogClient } from '@p2m/core';
import { createKafka } from '@p2m/kafka';
import { readStackEnv } from '@p2m/stack';
import { startRuntime } from '@p2m/cli';
import { BenchEmulator } from './emulator.ts';
import { cancelAndSettle } from './jobs.ts';
import { runningServices, type PipelineSetup } from './pipeline-bench.ts';
import { BENCH_STACK, benchStackDown, benchStackUp, stackPid } from './stack.ts';

export interface Bench {
  address: string;
  /** Stack pids by name (kafka, registry, milvus). */
  pids: { kafka: number; registry: number; milvus: number };
  emulator: BenchEmulator;
  kafka: LogClient;
  /** What a pipeline run needs, without the index. */
  base: PipelineSetup;
  close(keepStack: boolean): Promise<void>;
}

function stackPids(): Bench['pids'] {
  const pid = (name: string): number => stackPid(BENCH_STACK.stateDir!, name);
  return { kafka: pid('kafka'), registry: pid('registry'), milvus: pid('milvus') };
}

/**
 * The bench stack up, the emulator child started, jobs an interrupted earlier run left active
 * cancelled (the run's services would pick them up), and SIGINT/SIGTERM wired so that no service
 * process or emulator outlives the bench.
 */
export async function startBench(opts: { writer: string; jobOptions?: Record<string, unknown> | undefined }): Promise<Bench> {
  await benchStackUp();
  const stackEnv = readStackEnv(BENCH_STACK.stateDir!);
  const address = stackEnv['P2M_MILVUS_ADDRESS']!;
  const pids = stackPids();
  const emulator = await BenchEmulator.start();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const child of runningServices) child.kill('SIGKILL');
      emulator.child.kill('SIGKILL');
      process.exit(130);
    });
  }
  const env: Record<string, string> = {
    P2M_KAFKA_BROKERS: stackEnv['P2M_KAFKA_BROKERS']!,
    P2M_REGISTRY_URL: stackEnv['P2M_REGISTRY_URL']!,
    P2M_SECRET_KEY: generateSecretKey(),
    P2M_SINK_DEADLINE_MS: '120000',
    // The loaders' Milvus write path: gRPC column-wise (default) or the SDK (the "before" figure).
    P2M_MILVUS_WRITER: opts.writer,
  };
  const kafka = createKafka({ brokers: env['P2M_KAFKA_BROKERS']!.split(','), clientId: 'p2m-bench', logger: createLogger('bench', { level: 'error' }) });
  const controller = () => startRuntime(readConfig(RuntimeConfigSchema, { ...env, P2M_LOG_LEVEL: 'error' }), { controller: {} });
  const board = await controller();
  // Jobs an interrupted run left active (this run's services would pick them up), ended for good.
  const stuck = await cancelAndSettle(board);
  if (stuck.length > 0) process.stderr.write(`[bench] jobs still not ended 30 s after their cancel: ${stuck.join(', ')}\n`);
  await board.stop();
  const base: PipelineSetup = {
    controller,
    log: kafka,
    env,
    controllerHostUrl: emulator.controllerHostUrl,
    apiKey: emulator.apiKey,
    index: '',
    address,
    pids: { ...pids, emulator: emulator.pid },
    ...(opts.jobOptions ? { options: opts.jobOptions } : {}),
  };
  return {
    address,
    pids,
    emulator,
    kafka,
    base,
    async close(keepStack) {
      await kafka.close().catch(() => undefined);
      await emulator.stop().catch(() => undefined);
      if (!keepStack) await benchStackDown().catch((err: unknown) => process.stderr.write(`stopping the bench stack failed: ${errorMessage(err)}\n`));
    },
  };
}
