// The local stack launcher against real servers: a stack of its own in a temp dir on free ports
// (Kafka, registry, Milvus only, to keep it light), beside the shared test stack.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtlError } from '@p2m/core';
import type { StackOptionsInput, StackPorts } from '@p2m/stack';
import { freePort, killComponent, procInfo, stackDown, stackStatus, stackUp } from '@p2m/stack';
import { checkKafkaHealth } from '@p2m/kafka';
import { checkMilvusHealth } from '@p2m/milvus-sink';
import { getTestStack, killComponent as killTestComponent, startComponent as startTestComponent } from './stack.ts';

const COMPONENTS = ['kafka', 'registry', 'milvus'];
const lines: string[] = [];
const log = (line: string): void => void lines.push(line);

async function freePorts(): Promise<StackPorts> {
  const ports: number[] = [];
  while (ports.length < 6) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  const [kafka, kafkaController, registry, milvus, emulator, controller] = ports as [number, number, number, number, number, number];
  return { kafka, kafkaController, registry, milvus, emulator, controller };
}

describe('p2m stack (native launcher)', () => {
  let stateDir: string;
  let input: StackOptionsInput;
  let firstPids: Record<string, number | null> = {};

  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'p2m-stack-test-'));
    input = { stateDir, ports: await freePorts(), components: COMPONENTS, log };
  });

  afterAll(async () => {
    await stackDown({ stateDir, log }).catch(() => undefined);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('the shared test stack is up for every integration test', () => {
    const stack = getTestStack();
    expect(stack.kafka.brokers.length).toBeGreaterThan(0);
    expect(stack.registry.url).toMatch(/\/apis\/ccompat\/v7$/);
    expect(stack.milvus.address).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('up starts Kafka, the registry and Milvus, and status shows them healthy', async () => {
    const up = await stackUp(input);
    expect(up.healthy).toBe(true);
    const status = await stackStatus({ stateDir });
    expect(status.components.map((c) => c.name).sort()).toEqual([...COMPONENTS].sort());
    for (const c of status.components) {
      expect(c.health, `${c.name}: ${c.error ?? ''}`).toBe('healthy');
      expect(c.pid).toBeGreaterThan(0);
      expect(c.port).toBeGreaterThan(0);
    }
    firstPids = Object.fromEntries(status.components.map((c) => [c.name, c.pid]));
    expect(status.env.P2M_KAFKA_BROKERS).toBe(`127.0.0.1:${input.ports!.kafka}`);
    expect(status.env.P2M_API_TOKEN.length).toBeGreaterThan(16);
  });

  it('a second up returns quickly and starts nothing new; the token is kept', async () => {
    const before = await stackStatus({ stateDir });
    const started = Date.now();
    const up = await stackUp(input);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(Object.fromEntries(up.components.map((c) => [c.name, c.pid]))).toEqual(firstPids);
    expect(up.env.P2M_API_TOKEN).toBe(before.env.P2M_API_TOKEN);
  });

  it('up revives a crashed server', async () => {
    const killed = await killComponent('milvus', 'SIGKILL', { stateDir });
    expect(procInfo(killed).running).toBe(false);
    expect((await stackStatus({ stateDir })).components.find((c) => c.name === 'milvus')?.health).toBe('stopped');
    const up = await stackUp(input);
    const milvus = up.components.find((c) => c.name === 'milvus');
    expect(milvus?.health).toBe('healthy');
    expect(milvus?.pid).not.toBe(killed);
    expect(up.components.find((c) => c.name === 'kafka')?.pid).toBe(firstPids.kafka);
    firstPids.milvus = milvus?.pid ?? null;
  });

  it('down stops every process it started and leaves none alive', async () => {
    const pids = (await stackStatus({ stateDir })).components.map((c) => c.pid).filter((p): p is number => p !== null);
    expect(pids).toHaveLength(COMPONENTS.length);
    const { stopped } = await stackDown({ stateDir, log });
    expect(stopped.map((s) => s.pid).sort()).toEqual([...pids].sort());
    for (const pid of pids) expect(procInfo(pid).running, `pid ${pid}`).toBe(false);
    const after = await stackStatus({ stateDir });
    expect(after.components.every((c) => c.health === 'stopped')).toBe(true);
  });
});

// Milvus only: it restarts in a second or two, so a test run sharing the stack barely notices
// (Kafka's restart, ~10 s, is exercised by the pipeline's own crash tests).
describe('the shared test stack can crash and restart a server', () => {
  it.each(['milvus'])('%s: SIGKILL, then start again and it answers', async (name) => {
    const stack = getTestStack();
    const check = (): Promise<void> =>
      name === 'kafka' ? checkKafkaHealth(stack.kafka.brokers, 10_000) : checkMilvusHealth(stack.milvus.address, undefined, 5_000);
    await check();
    await killTestComponent(name, 'SIGKILL');
    await expect(check()).rejects.toThrow();
    await startTestComponent(name);
    await check();
  });
});

describe('p2m stack errors are one line with what to do', () => {
  let stateDir: string;
  let blocker: Server | undefined;

  beforeAll(() => {
    stateDir = mkdtempSync(join(tmpdir(), 'p2m-stack-errors-'));
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => (blocker ? blocker.close(() => resolve()) : resolve()));
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('refuses a port that something else holds', async () => {
    blocker = createServer();
    await new Promise<void>((resolve) => blocker!.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as { port: number }).port;
    const ports = { ...(await freePorts()), milvus: taken };
    const err = await stackUp({ stateDir, ports, components: ['milvus'], log }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EtlError);
    const e = err as EtlError;
    expect(e.code).toBe('STACK');
    expect(e.message).toContain(`port ${taken}`);
    expect(e.message).not.toContain('\n');
    expect(e.hint).toContain('P2M_MILVUS_PORT');
  });

  it('says what to install when a tool is missing', async () => {
    const path = process.env.PATH;
    const cacheDir = mkdtempSync(join(tmpdir(), 'p2m-empty-cache-'));
    process.env.PATH = '/nonexistent';
    try {
      const err = await stackUp({ stateDir, cacheDir, ports: await freePorts(), components: ['kafka'], log }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EtlError);
      expect((err as EtlError).message).toMatch(/"(java|mvn)" was not found on PATH/);
      expect((err as EtlError).hint).toMatch(/install/i);
    } finally {
      process.env.PATH = path;
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });
});
