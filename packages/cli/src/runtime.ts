import {
  createLogger,
  DEFAULT_SOURCE_RETRY,
  errorMessage,
  pacedSource,
  SourceBudgetRegistry,
  type LogRecord,
  type Logger,
  type RuntimeConfig,
  type SourceRateLimits,
} from '@p2m/core';
import { avroStateCodec } from '@p2m/codec';
import { createKafka, createRegistryCodec, type KafkaClient, type RegistryCodec } from '@p2m/kafka';
import { createMilvusSink, createSinkPool } from '@p2m/milvus-sink';
import { createPineconeSource } from '@p2m/pinecone-source';
import { ControllerJobService, ControllerMetrics, createControllerServer, type ControllerServer } from '@p2m/controller';
import { ExtractorWorker } from '@p2m/extractor';
import { LoaderWorker } from '@p2m/loader';

/**
 * The composition root: the one place that wires real adapters (Kafka, the schema registry,
 * Pinecone, Milvus) into the controller, extractor and loader runtimes. The separate services and
 * the embedded `p2m migrate` run exactly this code with different roles switched on.
 */
export interface Roles {
  controller?: { http?: { host: string; port: number; apiToken: string } | undefined } | undefined;
  extractor?: boolean;
  loaders?: number;
}

export interface Runtime {
  jobs: ControllerJobService | null;
  server: ControllerServer | null;
  url: string | null;
  metrics: ControllerMetrics;
  logger: Logger;
  stop(): Promise<void>;
}

/** The canonical reader subject: any registered writer schema is resolved through it. */
const READER_TOPIC = 'p2m.records';

export class RecordCodecs {
  private readonly url: string;
  private readonly byTopic = new Map<string, Promise<RegistryCodec<LogRecord>>>();
  constructor(url: string) {
    this.url = url;
  }
  forTopic(topic: string): Promise<RegistryCodec<LogRecord>> {
    let codec = this.byTopic.get(topic);
    if (!codec) {
      codec = createRegistryCodec<LogRecord>({ url: this.url, topic });
      this.byTopic.set(topic, codec);
      codec.catch(() => this.byTopic.delete(topic));
    }
    return codec;
  }
  readonly decode = async (value: Buffer): Promise<LogRecord> => (await this.forTopic(READER_TOPIC)).decode(value);
}

export async function startRuntime(config: RuntimeConfig, roles: Roles, options: { logger?: Logger; metrics?: ControllerMetrics } = {}): Promise<Runtime> {
  const logger = options.logger ?? createLogger('p2m', { level: config.P2M_LOG_LEVEL });
  const metrics = options.metrics ?? new ControllerMetrics();
  const kafka: KafkaClient = createKafka({ brokers: config.P2M_KAFKA_BROKERS, clientId: 'p2m', logger });
  const codecs = new RecordCodecs(config.P2M_REGISTRY_URL);
  // Every Pinecone call of this process is paced by one budget per index (planning, extraction,
  // verification's sample). Calls give up after 30 s without an answer unless the caller sets its
  // own policy (the extractor does: 5 minutes); a 429 never ends a call while the index answers.
  const sourceBudgets = new SourceBudgetRegistry();
  const sourceFactory = (s: { apiKey: string; index: string; controllerHostUrl?: string | undefined; rateLimits?: SourceRateLimits | undefined }) =>
    pacedSource(createPineconeSource({ apiKey: s.apiKey, index: s.index, controllerHostUrl: s.controllerHostUrl }), sourceBudgets.budgetsFor(s, s.rateLimits), {
      retry: { ...DEFAULT_SOURCE_RETRY, deadlineMs: 30_000 },
      system: `Pinecone (index "${s.index}")`,
    });
  // A loader's sink is its own for the job's life; the controller's many short-lived ones (plan,
  // set-up, each verification attempt) share a connection per target.
  const sinkFactory = (t: { address: string; token?: string | undefined }) => createMilvusSink({ address: t.address, token: t.token });
  const controllerSinks = createSinkPool();

  // Stopped in this order, the components of one phase together: the HTTP API first, then the
  // workers (each leaves its consumer group; nothing waits for another), then the controller and
  // the board they read, last the client's shared admin.
  const stops = { http: [] as (() => Promise<void>)[], workers: [] as (() => Promise<void>)[], controller: [] as (() => Promise<void>)[] };
  let jobs: ControllerJobService | null = null;
  let server: ControllerServer | null = null;
  let url: string | null = null;

  try {
    jobs = new ControllerJobService({
      log: kafka,
      sourceFactory,
      sinkFactory: (t) => controllerSinks.sink({ address: t.address, token: t.token }),
      decode: codecs.decode,
      prepareTopic: async (topic) => void (await codecs.forTopic(topic)),
      secretKey: config.P2M_SECRET_KEY,
      stateCodec: avroStateCodec,
      logger: logger.child({ component: 'controller' }),
      kafkaDeadlineMs: config.P2M_KAFKA_DEADLINE_MS,
      sinkDeadlineMs: config.P2M_SINK_DEADLINE_MS,
      kafkaBrokers: config.P2M_KAFKA_BROKERS.join(','),
      onStatus: (job) => logger.info({ jobId: job.id, status: job.status }, 'job status'),
    });
    if (roles.controller) {
      await jobs.start();
    } else {
      // Workers only need the board (job records and checkpoints), not the driving loop.
      await jobs.ensureStateTopics();
      await jobs.board.start();
    }
    const controllerJobs = jobs;
    stops.controller.push(async () => {
      await (roles.controller ? controllerJobs.stop() : controllerJobs.board.stop());
      await controllerSinks.close();
    });

    if (roles.controller?.http) {
      const http = roles.controller.http;
      server = createControllerServer({
        jobs: controllerJobs,
        apiToken: http.apiToken,
        metrics,
        logger: logger.child({ component: 'http' }),
        host: http.host,
        port: http.port,
      });
      url = await server.start();
      const s = server;
      stops.http.push(() => s.close());
      const sync = setInterval(() => {
        void controllerJobs
          .list()
          .then((all) => metrics.syncFromJobs(all))
          .catch(() => undefined);
      }, 2000);
      stops.http.push(async () => clearInterval(sync));
    }

    if (roles.extractor) {
      const extractor = new ExtractorWorker({
        log: kafka,
        board: controllerJobs.board,
        sourceFactory,
        encodeFor: async (topic) => {
          const codec = await codecs.forTopic(topic);
          return (record) => codec.encode(record);
        },
        secretKey: config.P2M_SECRET_KEY,
        logger: logger.child({ component: 'extractor' }),
        onExtracted: (jobId, n) => metrics.recordExtracted(jobId, n),
        onRetry: (jobId, info) => {
          metrics.recordRetry(jobId, info.operation);
          if ((info.error as { code?: string }).code === 'RATE_LIMITED') metrics.recordRateLimited(jobId, 'pinecone');
        },
      });
      extractor.start();
      stops.workers.push(() => extractor.stop());
    }

    for (let i = 0; i < (roles.loaders ?? 0); i++) {
      const loader = new LoaderWorker({
        log: kafka,
        board: controllerJobs.board,
        sinkFactory,
        decode: codecs.decode,
        secretKey: config.P2M_SECRET_KEY,
        logger: logger.child({ component: 'loader' }),
        sinkDeadlineMs: config.P2M_SINK_DEADLINE_MS,
        onBatch: (jobId, info) => {
          metrics.recordLoaded(jobId, info.loaded, info.bytes);
          if (info.failed) metrics.recordFailed(jobId, info.failed);
          metrics.observeBatch(jobId, info.seconds);
        },
        onRetry: (jobId) => metrics.recordRetry(jobId, 'milvus.upsert'),
      });
      loader.start();
      stops.workers.push(() => loader.stop());
    }
  } catch (err) {
    for (const phase of Object.values(stops)) await Promise.all(phase.map((stop) => stop().catch(() => undefined)));
    await kafka.close().catch(() => undefined);
    throw err;
  }

  return {
    jobs,
    server,
    url,
    metrics,
    logger,
    async stop() {
      const started = Date.now();
      const took: Record<string, number> = {};
      for (const [name, phase] of Object.entries(stops)) {
        const at = Date.now();
        await Promise.all(phase.map((stop) => stop().catch((err: unknown) => logger.warn({ err: errorMessage(err) }, 'stopping a component failed'))));
        took[name] = Date.now() - at;
      }
      await kafka.close().catch(() => undefined);
      logger.info({ ms: Date.now() - started, phases: took }, 'stopped');
    },
  };
}
