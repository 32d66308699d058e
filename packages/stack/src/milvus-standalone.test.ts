import { describe, expect, it } from 'vitest';
import { EtlError } from '@p2m/core';
import { renderEtcdConfig, renderStandaloneConfig, setYamlValue, standaloneDirs } from './milvus-standalone.ts';
import { DEFAULT_STANDALONE_PORTS, STANDALONE_INTERNAL_PORTS, standalonePortLayout } from './options.ts';

// Excerpts of the milvus 2.3.5 wheel's data/config.yaml.template, placeholders as they are there.
const TEMPLATE = `# Related configuration of etcd
etcd:
  endpoints: localhost:{{ etcd_port(int): 2379 }}
  log:
    level: {{ etcd_log_level: info }} # Only supports debug, info
    path: {{ etcd_log_path: stdout }}
  use:
    embed: true # Whether to enable embedded Etcd (an in-process EtcdServer).
  data:
    dir: {{ etcd_data_dir }}
localStorage:
  path: {{ local_storage_dir }} # please adjust in embedded Milvus: /tmp/milvus/data/
rocksmq:
  path: {{ rocksmq_data_dir }}
rootCoord:
  ip: # if not specify address, will use the first unicastable address as local ip
  port: {{ root_coord_port(int): 53100 }}
proxy:
  http:
    enabled: true # Whether to enable the http server
  ip: # if not specify address, will use the first unicastable address as local ip
  port: {{ proxy_port(int): 19530 }}
  internalPort: {{ proxy_internal_port(int): 19529 }}
queryCoord:
  ip:
  port: {{ query_coord_port(int): 19531 }}
queryNode:
  ip:
  port: {{ query_node_port(int): 21123 }}
indexCoord:
  bindIndexNodeMode:
    enable: false
    address: localhost:{{ index_coord_port(int): 22930 }}
indexNode:
  ip:
  port: {{ index_node_port(int): 21121 }}
dataCoord:
  ip:
  port: {{ data_coord_port(int): 13333 }}
dataNode:
  ip:
  port: {{ data_node_port(int): 21124 }}
log:
  level: info # Only supports debug, info, warn, error, panic, or fatal. Default 'info'.
  file:
    rootPath: {{ system_log_path }} # root dir path to put logs
tls:
  serverPemPath: {{ server_pem_path: server.pem }}
  serverKeyPath: {{ server_key_path: server.key }}
  caPemPath:  {{ ca_pem_path: ca.pem }}
common:
  gracefulStopTimeout: 1800 # seconds. it will force quit the server
  security:
    authorizationEnabled: {{ authorization_enabled(bool): false }}
    tlsMode: {{ tls_mode(int): 0 }}
  session:
    ttl: 30 # ttl value when session granting a lease to register service
    retryTimes: 30
`;

/** The value of a dotted key in the rendered text, read back by a walk independent of setYamlValue. */
function valueAt(text: string, path: string): string | undefined {
  const open: string[] = [];
  const indents: number[] = [];
  for (const line of text.split('\n')) {
    const m = /^( *)([A-Za-z0-9_]+):\s*(.*?)\s*(#.*)?$/.exec(line);
    if (!m || line.trim().startsWith('#')) continue;
    while (indents.length > 0 && indents[indents.length - 1]! >= m[1]!.length) {
      indents.pop();
      open.pop();
    }
    indents.push(m[1]!.length);
    open.push(m[2]!);
    if (open.join('.') === path) return m[3]!;
  }
  return undefined;
}

describe('setYamlValue', () => {
  it('replaces a nested value and keeps its comment and the rest of the text', () => {
    const out = setYamlValue(TEMPLATE, 'common.session.ttl', 10);
    expect(out).toContain('    ttl: 10 # ttl value when session granting a lease to register service');
    expect(out.split('\n').length).toBe(TEMPLATE.split('\n').length);
    expect(valueAt(out, 'common.session.retryTimes')).toBe('30');
  });

  it('finds a key by its whole path, not by its last name', () => {
    const out = setYamlValue(TEMPLATE, 'log.level', 'warn');
    expect(valueAt(out, 'log.level')).toBe('warn');
    // etcd.log.level is another key.
    expect(valueAt(out, 'etcd.log.level')).toBe('{{ etcd_log_level: info }}');
  });

  it('fills an empty value that only has a comment', () => {
    const out = setYamlValue(TEMPLATE, 'rootCoord.ip', '127.0.0.1');
    expect(out).toContain('  ip: 127.0.0.1 # if not specify address');
    expect(valueAt(out, 'proxy.ip')).toBe('');
  });

  it('adds missing keys under the deepest parent that exists', () => {
    const out = setYamlValue(TEMPLATE, 'etcd.config.path', '/data/etcd.yaml');
    expect(valueAt(out, 'etcd.config.path')).toBe('/data/etcd.yaml');
    expect(out).toContain('etcd:\n  config:\n    path: /data/etcd.yaml\n  endpoints:');
    const top = setYamlValue('a:\n  b: 1\n', 'c.d', 'x');
    expect(top).toBe('c:\n  d: x\na:\n  b: 1\n');
    expect(valueAt(top, 'c.d')).toBe('x');
    expect(valueAt(top, 'a.b')).toBe('1');
  });

  it('quotes a value that YAML would read otherwise', () => {
    const out = setYamlValue(TEMPLATE, 'rocksmq.path', '/state dir/#rocks: mq');
    expect(out).toContain('rocksmq:\n  path: "/state dir/#rocks: mq"\n');
    expect(
      JSON.parse(
        out
          .split('\n')
          .find((l) => l.startsWith('  path: "'))!
          .slice('  path: '.length),
      ),
    ).toBe('/state dir/#rocks: mq');
  });
});

describe('renderStandaloneConfig', () => {
  const layout = standalonePortLayout(28530, { port: 28530, etcdPort: 28579, metricsPort: 28591, internalPort: 28541 });
  const dirs = standaloneDirs('/state/milvus-standalone');
  const config = renderStandaloneConfig(TEMPLATE, layout, dirs, 'warn');

  it('fills every placeholder', () => {
    expect(config).not.toContain('{{');
    expect(valueAt(config, 'proxy.port')).toBe('28530');
    expect(valueAt(config, 'etcd.endpoints')).toBe('localhost:28579');
    expect(valueAt(config, 'etcd.data.dir')).toBe('/state/milvus-standalone/data/etcd');
    expect(valueAt(config, 'rocksmq.path')).toBe('/state/milvus-standalone/data/rocksmq');
    expect(valueAt(config, 'localStorage.path')).toBe('/state/milvus-standalone/data');
    expect(valueAt(config, 'log.file.rootPath')).toBe('');
    expect(valueAt(config, 'common.security.authorizationEnabled')).toBe('false');
  });

  it('moves every internal port off its fixed default, each to its own port', () => {
    const internal = ['rootCoord.port', 'proxy.internalPort', 'queryCoord.port', 'queryNode.port', 'indexNode.port', 'dataCoord.port', 'dataNode.port'].map(
      (k) => Number(valueAt(config, k)),
    );
    expect(new Set(internal).size).toBe(STANDALONE_INTERNAL_PORTS);
    for (const p of internal) {
      expect(p).toBeGreaterThanOrEqual(28541);
      expect(p).toBeLessThan(28541 + STANDALONE_INTERNAL_PORTS);
    }
    expect(valueAt(config, 'indexCoord.bindIndexNodeMode.address')).toBe(`localhost:${valueAt(config, 'indexNode.port')}`);
  });

  it('points the embedded etcd at its own config, and sets the stop, session and address settings', () => {
    expect(valueAt(config, 'etcd.config.path')).toBe('/state/milvus-standalone/configs/etcd.yaml');
    expect(valueAt(config, 'log.level')).toBe('warn');
    expect(valueAt(config, 'common.gracefulStopTimeout')).toBe('5');
    expect(valueAt(config, 'common.session.ttl')).toBe('10');
    for (const role of ['rootCoord', 'proxy', 'queryCoord', 'queryNode', 'indexNode', 'dataCoord', 'dataNode'])
      expect(valueAt(config, `${role}.ip`), role).toBe('127.0.0.1');
  });

  it('refuses a template with a placeholder it does not know', () => {
    expect(() => renderStandaloneConfig(`${TEMPLATE}natsmq:\n  port: {{ nats_port(int): 4222 }}\n`, layout, dirs, 'warn')).toThrow(EtlError);
    expect(() => renderStandaloneConfig(`x: {{ nats_port(int): 4222 }}\n`, layout, dirs, 'warn')).toThrow(/nats_port/);
  });
});

describe('standalone ports', () => {
  it('are all different, for the default set and for a moved one', () => {
    for (const layout of [
      standalonePortLayout(19530, DEFAULT_STANDALONE_PORTS),
      standalonePortLayout(28530, { port: 28530, etcdPort: 28579, metricsPort: 28591, internalPort: 28541 }),
    ]) {
      const ports = Object.values(layout);
      expect(new Set(ports).size).toBe(ports.length);
      expect(ports.length).toBe(4 + STANDALONE_INTERNAL_PORTS);
    }
  });

  it('the etcd config listens on the client and peer ports, on loopback', () => {
    const etcd = renderEtcdConfig(standalonePortLayout(28530, { port: 28530, etcdPort: 28579, metricsPort: 28591, internalPort: 28541 }));
    expect(etcd).toContain('listen-client-urls: http://127.0.0.1:28579');
    expect(etcd).toContain('advertise-client-urls: http://127.0.0.1:28579');
    expect(etcd).toContain('listen-peer-urls: http://127.0.0.1:28580');
    expect(etcd).toContain('initial-cluster: default=http://127.0.0.1:28580');
  });
});
