import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { EtlError } from '@p2m/core';
import { DEFAULT_PORTS, DEFAULT_STANDALONE_PORTS, portEnvName, resolveStackOptions } from './options.ts';
import { isOurProcess, OWNER_ENV, ownerTag, procInfo } from './process.ts';
import { readStackEnv } from './stack.ts';

describe('resolveStackOptions', () => {
  it('uses the contract defaults', () => {
    const opts = resolveStackOptions({}, {});
    expect(opts.ports).toEqual(DEFAULT_PORTS);
    expect(opts.ports).toMatchObject({ kafka: 9092, registry: 8081, milvus: 19530, emulator: 5080, controller: 8080 });
    expect(opts.stateDir).toBe(resolve('.p2m'));
    expect(opts.loaders).toBe(2);
    expect(opts.apiToken).toBeUndefined();
  });

  it('takes env over defaults and options over env', () => {
    const env = {
      P2M_KAFKA_PORT: '19092',
      P2M_MILVUS_PORT: '29530',
      P2M_STATE_DIR: '/tmp/x',
      P2M_LOADERS: '3',
      P2M_API_TOKEN: 'tok',
      P2M_CACHE_DIR: '/tmp/cache',
    };
    const opts = resolveStackOptions({ ports: { milvus: 1234 } }, env);
    expect(opts.ports.kafka).toBe(19092);
    expect(opts.ports.milvus).toBe(1234);
    expect(opts).toMatchObject({ stateDir: '/tmp/x', loaders: 3, apiToken: 'tok', cacheDir: '/tmp/cache' });
  });

  it('refuses a bad port with a hint', () => {
    expect(() => resolveStackOptions({}, { P2M_REGISTRY_PORT: 'eighty' })).toThrow(EtlError);
    try {
      resolveStackOptions({}, { P2M_REGISTRY_PORT: '70000' });
    } catch (err) {
      expect((err as EtlError).code).toBe('STACK');
      expect((err as EtlError).hint).toContain('P2M_REGISTRY_PORT');
    }
  });
});

describe('the Milvus server of the stack', () => {
  it('is Lite unless asked otherwise, by option or by P2M_MILVUS_SERVER', () => {
    expect(resolveStackOptions({}, {}).milvus).toBe('lite');
    expect(resolveStackOptions({}, { P2M_MILVUS_SERVER: 'standalone' }).milvus).toBe('standalone');
    expect(resolveStackOptions({ milvus: 'lite' }, { P2M_MILVUS_SERVER: 'standalone' }).milvus).toBe('lite');
    expect(() => resolveStackOptions({}, { P2M_MILVUS_SERVER: 'cluster' })).toThrow(/P2M_MILVUS_SERVER=cluster.*not a Milvus server/);
  });

  it('standalone ports: defaults, env, options; the internal block must fit below 65536', () => {
    expect(resolveStackOptions({}, {}).milvusStandalone).toEqual(DEFAULT_STANDALONE_PORTS);
    const env = { P2M_MILVUS_STANDALONE_PORT: '28530', P2M_MILVUS_STANDALONE_ETCD_PORT: '28579', P2M_MILVUS_STANDALONE_INTERNAL_PORT: '28541' };
    expect(resolveStackOptions({ milvusStandalone: { metricsPort: 28591 } }, env).milvusStandalone).toEqual({
      port: 28530,
      etcdPort: 28579,
      metricsPort: 28591,
      internalPort: 28541,
    });
    expect(() => resolveStackOptions({}, { P2M_MILVUS_STANDALONE_INTERNAL_PORT: '65530' })).toThrow(/P2M_MILVUS_STANDALONE_INTERNAL_PORT/);
    expect(() => resolveStackOptions({}, { P2M_MILVUS_STANDALONE_ETCD_PORT: '65535' })).toThrow(/P2M_MILVUS_STANDALONE_ETCD_PORT/);
  });

  it('a port in use is traced back to the variable that moves it', () => {
    const opts = resolveStackOptions({}, {});
    expect(portEnvName(opts, 19530)).toBe('P2M_MILVUS_PORT');
    expect(portEnvName(opts, DEFAULT_STANDALONE_PORTS.port)).toBe('P2M_MILVUS_STANDALONE_PORT');
    expect(portEnvName(opts, DEFAULT_STANDALONE_PORTS.etcdPort + 1)).toBe('P2M_MILVUS_STANDALONE_ETCD_PORT');
    expect(portEnvName(opts, DEFAULT_STANDALONE_PORTS.internalPort + 6)).toBe('P2M_MILVUS_STANDALONE_INTERNAL_PORT');
    expect(portEnvName(opts, DEFAULT_STANDALONE_PORTS.internalPort + 7)).toBeUndefined();
  });
});

describe('readStackEnv', () => {
  it('reads KEY=VALUE lines and skips comments', () => {
    const dir = mkdtempSync(join(tmpdir(), 'p2m-env-'));
    try {
      writeFileSync(join(dir, 'stack.env'), '# comment\nP2M_API_TOKEN=abc=def\nP2M_KAFKA_BROKERS=127.0.0.1:9092\n\n');
      expect(readStackEnv(dir)).toEqual({ P2M_API_TOKEN: 'abc=def', P2M_KAFKA_BROKERS: '127.0.0.1:9092' });
      expect(readStackEnv(join(dir, 'missing'))).toEqual({});
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('process identity', () => {
  it('recognises only processes tagged as ours, and not after they exit', async () => {
    const tag = ownerTag('/tmp/state', 'sleeper');
    const child = spawn('sleep', ['30'], { env: { ...process.env, [OWNER_ENV]: tag } });
    const other = spawn('sleep', ['30']);
    const spawned = Promise.all([new Promise((r) => child.once('spawn', r)), new Promise((r) => other.once('spawn', r))]);
    const exited = new Promise((r) => child.once('exit', r));
    try {
      await spawned;
      const start = procInfo(child.pid!).startTime;
      expect(procInfo(child.pid!).running).toBe(true);
      expect(isOurProcess(child.pid!, '/tmp/state', 'sleeper', start)).toBe(true);
      expect(isOurProcess(child.pid!, '/tmp/state', 'sleeper', 'not-its-start-time')).toBe(false);
      expect(isOurProcess(child.pid!, '/tmp/other-state', 'sleeper')).toBe(false);
      expect(isOurProcess(other.pid!, '/tmp/state', 'sleeper')).toBe(false);
    } finally {
      child.kill('SIGKILL');
      other.kill('SIGKILL');
    }
    await exited;
    expect(procInfo(child.pid!).running).toBe(false);
    expect(isOurProcess(child.pid!, '/tmp/state', 'sleeper')).toBe(false);
  });
});
