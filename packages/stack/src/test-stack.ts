import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { EtlError, errorMessage, sleep } from '@p2m/core';
import { MILVUS_STANDALONE } from './components.ts';
import type { MilvusStandalonePorts, StackOptionsInput, StackPorts } from './options.ts';
import { killComponent, stackDown, stackUp, startComponent } from './stack.ts';

/** What integration tests get: where each server of the test stack listens. */
export interface TestStack {
  provider: 'native' | 'testcontainers';
  kafka: { brokers: string[] };
  registry: { url: string };
  milvus: { address: string };
  /** The Milvus standalone server (WAL-backed, dense vectors only), when the stack runs `milvus-standalone`. */
  milvusStandalone?: { address: string };
  emulator: { controllerHostUrl: string; apiKey: string };
  /** Present when the stack runs the controller service. */
  controller?: { url: string; apiToken: string };
  stateDir: string;
  /** testcontainers only: container id per component, so test workers can kill/start them. */
  containers?: Record<string, string>;
}

/**
 * The one interface integration tests ask for servers, whatever runs them. `start` fails loudly
 * when a server cannot start: tests must fail when a server is down, never skip.
 */
export interface TestStackProvider {
  readonly kind: TestStack['provider'];
  start(): Promise<TestStack>;
  stop(): Promise<void>;
  killComponent(name: string, signal?: NodeJS.Signals): Promise<void>;
  /** Starts a component again (after a kill) and waits until it is healthy. */
  startComponent(name: string): Promise<void>;
}

export interface TestStackConfig {
  stateDir: string;
  ports: StackPorts;
  components: string[];
  /** Ports of `milvus-standalone` (defaults: the stack's, see MilvusStandalonePorts). */
  milvusStandalone?: Partial<MilvusStandalonePorts>;
  loaders?: number;
  apiToken?: string;
  log?: (line: string) => void;
}

export class NativeTestStackProvider implements TestStackProvider {
  readonly kind = 'native' as const;
  readonly #config: TestStackConfig;

  constructor(config: TestStackConfig) {
    this.#config = config;
  }

  #input(): StackOptionsInput {
    const c = this.#config;
    // The suite's Milvus is Lite; the standalone server runs beside it as `milvus-standalone`.
    const input: StackOptionsInput = { stateDir: c.stateDir, ports: c.ports, components: c.components, milvus: 'lite' };
    if (c.milvusStandalone !== undefined) input.milvusStandalone = c.milvusStandalone;
    if (c.loaders !== undefined) input.loaders = c.loaders;
    if (c.apiToken !== undefined) input.apiToken = c.apiToken;
    if (c.log) input.log = c.log;
    return input;
  }

  async start(): Promise<TestStack> {
    const status = await stackUp(this.#input());
    const env = status.env;
    const stack: TestStack = {
      provider: 'native',
      kafka: { brokers: env.P2M_KAFKA_BROKERS.split(',') },
      registry: { url: env.P2M_REGISTRY_URL },
      milvus: { address: env.P2M_MILVUS_ADDRESS },
      emulator: { controllerHostUrl: env.P2M_PINECONE_CONTROLLER_URL, apiKey: env.P2M_PINECONE_API_KEY },
      stateDir: status.stateDir,
    };
    if (status.components.some((c) => c.name === 'controller')) stack.controller = { url: env.P2M_CONTROLLER_URL, apiToken: env.P2M_API_TOKEN };
    const standalone = status.components.find((c) => c.name === MILVUS_STANDALONE);
    if (standalone?.port) stack.milvusStandalone = { address: `127.0.0.1:${standalone.port}` };
    return stack;
  }

  async stop(): Promise<void> {
    await stackDown(this.#input());
  }

  async killComponent(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await killComponent(name, signal, { stateDir: this.#config.stateDir });
  }

  async startComponent(name: string): Promise<void> {
    const status = await startComponent(name, { stateDir: this.#config.stateDir, ...(this.#config.log ? { log: this.#config.log } : {}) });
    if (status.health !== 'healthy')
      throw new EtlError('STACK', `${name} is ${status.health} after start: ${status.error ?? ''}`, { hint: `see ${status.log}` });
  }
}

/** Test-side control of a stack that global setup started (works in any test worker). */
export function testStackControl(stack: TestStack): Pick<TestStackProvider, 'killComponent' | 'startComponent'> {
  if (stack.provider === 'testcontainers') return new TestcontainersStackProvider({ stateDir: stack.stateDir, ports: portsOf(stack), components: [] }, stack);
  return new NativeTestStackProvider({ stateDir: stack.stateDir, ports: portsOf(stack), components: [] });
}

function portsOf(stack: TestStack): StackPorts {
  const port = (url: string): number => Number(new URL(url.includes('://') ? url : `tcp://${url}`).port);
  return {
    kafka: port(stack.kafka.brokers[0] ?? ''),
    kafkaController: port(stack.kafka.brokers[0] ?? '') + 1,
    registry: port(stack.registry.url),
    milvus: port(stack.milvus.address),
    emulator: port(stack.emulator.controllerHostUrl),
    controller: stack.controller ? port(stack.controller.url) : 0,
  };
}

// ---------------------------------------------------------------------------------------------
// testcontainers: the same servers as Docker containers, on the same fixed host ports so a
// restarted container keeps its address. Used only when a Docker engine answers.

const IMAGES = {
  kafka: 'apache/kafka:3.9.1',
  registry: 'apicurio/apicurio-registry:3.0.9',
  milvus: 'milvusdb/milvus:v2.6.0',
};

const EMBED_ETCD = `listen-client-urls: http://0.0.0.0:2379
advertise-client-urls: http://0.0.0.0:2379
quota-backend-bytes: 4294967296
auto-compaction-mode: revision
auto-compaction-retention: '1000'
`;

/** True when a Docker engine answers `/_ping` (the client alone is not enough). */
export async function dockerEngineReachable(timeoutMs = 2_000): Promise<boolean> {
  const host = process.env.DOCKER_HOST;
  const socketPath = host?.startsWith('unix://') ? host.slice('unix://'.length) : host ? undefined : '/var/run/docker.sock';
  if (socketPath !== undefined && !existsSync(socketPath)) return false;
  const target =
    socketPath !== undefined
      ? { socketPath }
      : (() => {
          const url = new URL((host ?? '').replace(/^tcp:/, 'http:'));
          return { host: url.hostname, port: Number(url.port || 2375) };
        })();
  return new Promise((resolve) => {
    const req = request({ ...target, path: '/_ping', method: 'GET', timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

export class TestcontainersStackProvider implements TestStackProvider {
  readonly kind = 'testcontainers' as const;
  readonly #config: TestStackConfig;
  #stack: TestStack | undefined;
  /** The emulator and services are this repo's code: they run natively beside the containers. */
  readonly #native: NativeTestStackProvider;

  constructor(config: TestStackConfig, existing?: TestStack) {
    this.#config = config;
    this.#stack = existing;
    const nativeComponents = config.components.filter((c) => !(c in IMAGES));
    this.#native = new NativeTestStackProvider({ ...config, components: nativeComponents });
  }

  async start(): Promise<TestStack> {
    const { GenericContainer, Wait } = await import('testcontainers');
    const p = this.#config.ports;
    const wanted = (name: string): boolean => this.#config.components.includes(name);
    const containers: Record<string, string> = {};
    const starts: Promise<void>[] = [];
    if (wanted('kafka')) {
      starts.push(
        new GenericContainer(IMAGES.kafka)
          .withEnvironment({
            KAFKA_NODE_ID: '1',
            KAFKA_PROCESS_ROLES: 'broker,controller',
            KAFKA_LISTENERS: `PLAINTEXT://0.0.0.0:${p.kafka},CONTROLLER://0.0.0.0:9093`,
            KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${p.kafka}`,
            KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
            KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
            KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
            KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
            KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
            KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
            KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
            KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
          })
          .withExposedPorts({ container: p.kafka, host: p.kafka })
          .withWaitStrategy(Wait.forListeningPorts())
          .start()
          .then((c) => void (containers.kafka = c.getId())),
      );
    }
    if (wanted('registry')) {
      starts.push(
        new GenericContainer(IMAGES.registry)
          .withExposedPorts({ container: 8080, host: p.registry })
          .withWaitStrategy(Wait.forHttp('/apis/ccompat/v7/subjects', 8080))
          .withStartupTimeout(180_000)
          .start()
          .then((c) => void (containers.registry = c.getId())),
      );
    }
    if (wanted('milvus')) {
      starts.push(
        new GenericContainer(IMAGES.milvus)
          .withCommand(['milvus', 'run', 'standalone'])
          .withEnvironment({
            ETCD_USE_EMBED: 'true',
            ETCD_DATA_DIR: '/var/lib/milvus/etcd',
            ETCD_CONFIG_PATH: '/milvus/configs/embedEtcd.yaml',
            COMMON_STORAGETYPE: 'local',
          })
          .withCopyContentToContainer([{ content: EMBED_ETCD, target: '/milvus/configs/embedEtcd.yaml' }])
          .withExposedPorts({ container: 19530, host: p.milvus }, 9091)
          .withWaitStrategy(Wait.forHttp('/healthz', 9091))
          .withStartupTimeout(180_000)
          .start()
          .then((c) => void (containers.milvus = c.getId())),
      );
    }
    const results = await Promise.allSettled(starts);
    this.#stack = {
      provider: 'testcontainers',
      kafka: { brokers: [`127.0.0.1:${p.kafka}`] },
      registry: { url: `http://127.0.0.1:${p.registry}/apis/ccompat/v7` },
      milvus: { address: `127.0.0.1:${p.milvus}` },
      emulator: { controllerHostUrl: `http://127.0.0.1:${p.emulator}`, apiKey: '' },
      stateDir: this.#config.stateDir,
      containers,
    };
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await this.stop();
      throw new EtlError('STACK', `a test container did not start: ${errorMessage(failed.reason)}`, {
        cause: failed.reason,
        hint: 'check "docker info", or run the native stack with P2M_TEST_STACK=native',
      });
    }
    const native = await this.#native.start();
    this.#stack.emulator = native.emulator;
    if (native.controller) this.#stack.controller = native.controller;
    // No image of this 2.3.5 build: it runs natively beside the containers, like the emulator.
    if (native.milvusStandalone) this.#stack.milvusStandalone = native.milvusStandalone;
    return this.#stack;
  }

  async #client(): Promise<import('testcontainers').ContainerRuntimeClient> {
    const { getContainerRuntimeClient } = await import('testcontainers');
    return getContainerRuntimeClient();
  }

  async stop(): Promise<void> {
    await this.#native.stop();
    const client = await this.#client();
    for (const id of Object.values(this.#stack?.containers ?? {})) {
      const container = client.container.getById(id);
      await client.container.stop(container, { timeout: 10 }).catch(() => undefined);
      await client.container.remove(container, { removeVolumes: true }).catch(() => undefined);
    }
  }

  async killComponent(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const id = this.#stack?.containers?.[name];
    if (id === undefined) return this.#native.killComponent(name, signal);
    const client = await this.#client();
    await client.container.getById(id).kill({ signal });
  }

  async startComponent(name: string): Promise<void> {
    const id = this.#stack?.containers?.[name];
    if (id === undefined || !this.#stack) return this.#native.startComponent(name);
    const client = await this.#client();
    await client.container.start(client.container.getById(id)).catch((err: unknown) => {
      // Already running (e.g. only signalled with SIGSTOP/SIGCONT): fine.
      if (!/already started|is already running/i.test(errorMessage(err))) throw err;
    });
    await waitHealthyContainer(name, this.#stack);
  }
}

async function waitHealthyContainer(name: string, stack: TestStack, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (name === 'kafka') {
        const { checkKafkaHealth } = await import('@p2m/kafka');
        await checkKafkaHealth(stack.kafka.brokers, 10_000);
      } else if (name === 'milvus') {
        const { checkMilvusHealth } = await import('@p2m/milvus-sink');
        await checkMilvusHealth(stack.milvus.address, undefined, 5_000);
      } else {
        const res = await fetch(`${stack.registry.url}/subjects`, { signal: AbortSignal.timeout(5_000) });
        if (!res.ok) throw new Error(`registry answered ${res.status}`);
      }
      return;
    } catch (err) {
      last = err;
      await sleep(1_000);
    }
  }
  throw new EtlError('STACK', `${name} container did not become healthy: ${errorMessage(last)}`, { cause: last });
}

/**
 * Picks how the integration tests get servers: `P2M_TEST_STACK=native|testcontainers`, else
 * testcontainers when a Docker engine answers, else the native stack.
 */
export async function selectTestStackProvider(config: TestStackConfig, env: NodeJS.ProcessEnv = process.env): Promise<TestStackProvider> {
  const choice = env.P2M_TEST_STACK ?? 'auto';
  if (choice === 'native') return new NativeTestStackProvider(config);
  if (choice === 'testcontainers' || (choice === 'auto' && (await dockerEngineReachable()))) return new TestcontainersStackProvider(config);
  if (choice !== 'auto') throw new EtlError('STACK', `P2M_TEST_STACK=${choice} is not a known test stack`, { hint: 'use native, testcontainers or auto' });
  return new NativeTestStackProvider(config);
}
