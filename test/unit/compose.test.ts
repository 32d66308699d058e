// docker-compose.yml is part of the public contract: same service names and ports as the
// native stack (DESIGN.md default ports), published on 127.0.0.1 only.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEFAULT_PORTS, REPO_ROOT } from '@p2m/stack';

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  ports?: string[];
  environment?: Record<string, string>;
  deploy?: { replicas?: number };
}

const compose = parse(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, ComposeService> };
const services = compose.services;

/** DESIGN.md "Default ports (127.0.0.1)". */
const CONTRACT = { kafka: 9092, 'schema-registry': 8081, milvus: 19530, emulator: 5080, controller: 8080 } as const;

function published(service: ComposeService): { host: string; hostPort: number; containerPort: number }[] {
  return (service.ports ?? []).map((spec) => {
    const m = /^(?:([\d.]+):)?(\d+):(\d+)$/.exec(String(spec));
    if (!m) throw new Error(`unexpected port mapping ${spec}`);
    return { host: m[1] ?? '0.0.0.0', hostPort: Number(m[2]), containerPort: Number(m[3]) };
  });
}

describe('docker-compose.yml', () => {
  it('has every service of the stack', () => {
    expect(Object.keys(services).sort()).toEqual(
      ['controller', 'emulator', 'etcd', 'extractor', 'kafka', 'loader', 'milvus', 'minio', 'schema-registry'].sort(),
    );
  });

  it('publishes the contract ports on 127.0.0.1, and nothing else', () => {
    for (const [name, port] of Object.entries(CONTRACT)) {
      const ports = published(services[name]!);
      expect(
        ports.map((p) => p.hostPort),
        name,
      ).toEqual([port]);
      expect(ports[0]!.host, name).toBe('127.0.0.1');
    }
    for (const name of ['etcd', 'minio', 'extractor', 'loader']) expect(services[name]!.ports ?? [], name).toEqual([]);
  });

  it('agrees with the native stack defaults', () => {
    expect(DEFAULT_PORTS).toMatchObject({
      kafka: CONTRACT.kafka,
      registry: CONTRACT['schema-registry'],
      milvus: CONTRACT.milvus,
      emulator: CONTRACT.emulator,
      controller: CONTRACT.controller,
    });
  });

  it('runs Kafka 3.x in KRaft mode (KafkaJS needs protocol versions Kafka 4 removed)', () => {
    const kafka = services.kafka!;
    expect(kafka.image).toMatch(/^apache\/kafka:3\./);
    expect(kafka.environment?.KAFKA_PROCESS_ROLES).toBe('broker,controller');
    expect(kafka.environment?.KAFKA_ADVERTISED_LISTENERS).toContain('127.0.0.1:9092');
  });

  it('runs Milvus 2.6 standalone with etcd and MinIO', () => {
    const milvus = services.milvus!;
    expect(milvus.image).toMatch(/^milvusdb\/milvus:v2\.6\./);
    expect(milvus.environment).toMatchObject({ ETCD_ENDPOINTS: 'etcd:2379', MINIO_ADDRESS: 'minio:9000' });
  });

  it('builds the emulator and the services from this repository', () => {
    const commands: Record<string, string[]> = {
      emulator: ['emulator'],
      controller: ['service', 'controller'],
      extractor: ['service', 'extractor'],
      loader: ['service', 'loader'],
    };
    for (const [name, prefix] of Object.entries(commands)) {
      const service = services[name]!;
      expect(service.build, name).toBe('.');
      expect((service.command as string[]).slice(0, prefix.length), name).toEqual(prefix);
    }
    expect(services.loader!.deploy?.replicas).toBe(2);
    expect(services.controller!.environment).toMatchObject({
      P2M_KAFKA_BROKERS: 'kafka:19092',
      P2M_MILVUS_ADDRESS: 'milvus:19530',
      P2M_CONTROLLER_PORT: '8080',
    });
    expect(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8')).toMatch(/^FROM node:24/m);
  });
});
