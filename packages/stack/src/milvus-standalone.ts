// The Milvus standalone server (PyPI `milvus` 2.3.5, the embedded build of the real server: rocksmq
// WAL, coordinators, embedded etcd, local storage) as a stack component. The wheel's own launcher
// (`milvus-server`) cannot run two instances side by side: its --etcd-port does not move the
// embedded etcd (2379/2380) and the metrics port stays 9091. So the stack writes the config itself
// from the wheel's template, with every port the server opens, and starts `milvus run standalone`.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EtlError, errorMessage } from '@p2m/core';
import type { ComponentSpec, StackContext } from './components.ts';
import { ensureMilvusStandalone, MILVUS_STANDALONE_VERSION, milvusStandaloneVersion } from './install.ts';
import { standalonePortLayout } from './options.ts';

export type StandalonePortLayout = ReturnType<typeof standalonePortLayout>;

/**
 * Its graceful stop can wait forever (a query node retrying a root coordinator that already
 * stopped: measured, still running after 12 minutes); with `common.gracefulStopTimeout` it quits
 * itself after these seconds, and the stack sends SIGKILL after STOP_GRACE_MS. Its WAL keeps every
 * acknowledged write either way.
 */
const GRACEFUL_STOP_SECONDS = 5;
export const STOP_GRACE_MS = 10_000;

/**
 * A restarted server waits for the sessions of the killed one to expire before it hands the
 * collections to its new query node: with Milvus's 30 s, a SIGKILLed server answered queries again
 * after ~35 s, with 10 s after ~14 s.
 */
const SESSION_TTL_SECONDS = 10;

/** Where one instance keeps its config, data and native logs. */
export interface StandaloneDirs {
  root: string;
  configs: string;
  data: string;
}

export function standaloneDirs(root: string): StandaloneDirs {
  return { root, configs: join(root, 'configs'), data: join(root, 'data') };
}

/** A YAML scalar: bare when it is plainly safe, else double-quoted (JSON strings are YAML). */
function yamlScalar(value: string | number | boolean): string {
  const text = String(value);
  return typeof value !== 'string' || /^[A-Za-z0-9_./:-]+$/.test(text) ? text : JSON.stringify(text);
}

const KEY_LINE = /^( *)([A-Za-z0-9_]+):(?: (.*))?$/;

/**
 * Sets `path` (dotted) in a block-style YAML text, keeping comments and layout: replaces the value
 * (and keeps its trailing comment), or adds the missing keys under the deepest existing parent.
 * Enough for Milvus's config files (two-space indentation, no anchors or flow mappings on the way).
 */
export function setYamlValue(text: string, path: string, value: string | number | boolean): string {
  const want = path.split('.');
  const lines = text.split('\n');
  const open: { key: string; indent: number }[] = [];
  let deepest = { depth: 0, line: -1, indent: -2 };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trimStart().startsWith('#')) continue;
    const m = KEY_LINE.exec(line);
    if (!m) continue;
    const indent = m[1]!.length;
    while (open.length > 0 && open[open.length - 1]!.indent >= indent) open.pop();
    open.push({ key: m[2]!, indent });
    const depth = open.length;
    if (depth > want.length || open.some((o, j) => o.key !== want[j])) continue;
    if (depth === want.length) {
      const rest = m[3] ?? '';
      const hash = rest.search(/(^|\s)#/);
      const comment = hash >= 0 ? ` ${rest.slice(hash).trim()}` : '';
      lines[i] = `${m[1]}${m[2]}: ${yamlScalar(value)}${comment}`;
      return lines.join('\n');
    }
    if (depth > deepest.depth) deepest = { depth, line: i, indent };
  }
  const added = want.slice(deepest.depth).map((key, j, keys) => {
    const pad = ' '.repeat(deepest.indent + 2 * (j + 1));
    return j === keys.length - 1 ? `${pad}${key}: ${yamlScalar(value)}` : `${pad}${key}:`;
  });
  lines.splice(deepest.line + 1, 0, ...added);
  return lines.join('\n');
}

/**
 * milvus.yaml from the wheel's template: its `{{ key(type): default }}` placeholders filled (a
 * placeholder the stack does not know fails: another version's template must be looked at), then
 * the settings the stack changes on top.
 */
export function renderStandaloneConfig(template: string, ports: StandalonePortLayout, dirs: StandaloneDirs, logLevel: string): string {
  const placeholders: Record<string, string | number | boolean> = {
    etcd_port: ports.etcd,
    etcd_log_level: logLevel,
    // Every log line goes to the component's log file (the stack collects stdout).
    etcd_log_path: 'stdout',
    etcd_data_dir: join(dirs.data, 'etcd'),
    local_storage_dir: dirs.data,
    rocksmq_data_dir: join(dirs.data, 'rocksmq'),
    root_coord_port: ports.rootCoord,
    proxy_port: ports.grpc,
    proxy_internal_port: ports.proxyInternal,
    query_coord_port: ports.queryCoord,
    query_node_port: ports.queryNode,
    // The index node to bind to when bindIndexNodeMode is on (it is off): this server's own.
    index_coord_port: ports.indexNode,
    index_node_port: ports.indexNode,
    data_coord_port: ports.dataCoord,
    data_node_port: ports.dataNode,
    // Empty: no log files of its own, stdout only.
    system_log_path: '',
    server_pem_path: 'server.pem',
    server_key_path: 'server.key',
    ca_pem_path: 'ca.pem',
    authorization_enabled: false,
    tls_mode: 0,
  };
  let text = template.replace(/\{\{\s*([a-z_]+)\s*(?:\([a-z]+\))?\s*(?::[^}]*)?\}\}/g, (token, key: string) => {
    if (!(key in placeholders)) {
      throw new EtlError('STACK', `the Milvus standalone config template has a setting the stack does not know: ${token}`, {
        hint: `unset P2M_MILVUS_STANDALONE_VERSION to use the tested ${MILVUS_STANDALONE_VERSION}, or teach packages/stack/src/milvus-standalone.ts this setting`,
      });
    }
    const value = placeholders[key]!;
    return value === '' ? '' : yamlScalar(value);
  });
  const settings: [string, string | number | boolean][] = [
    // The embedded etcd reads its listeners from this file; the config's etcd port alone does not move them.
    ['etcd.config.path', join(dirs.configs, 'etcd.yaml')],
    ['log.level', logLevel],
    ['common.gracefulStopTimeout', GRACEFUL_STOP_SECONDS],
    ['common.session.ttl', SESSION_TTL_SECONDS],
  ];
  // Roles find each other at the address they register: loopback, not the machine's first
  // interface (which may change, or be unreachable in a sandbox).
  for (const role of ['rootCoord', 'proxy', 'queryCoord', 'queryNode', 'indexNode', 'dataCoord', 'dataNode']) settings.push([`${role}.ip`, '127.0.0.1']);
  for (const [path, value] of settings) text = setYamlValue(text, path, value);
  return text;
}

/** The embedded etcd's own config: its client and peer listeners on loopback, one member. */
export function renderEtcdConfig(ports: StandalonePortLayout): string {
  const client = `http://127.0.0.1:${ports.etcd}`;
  const peer = `http://127.0.0.1:${ports.etcdPeer}`;
  return [
    '# Written by p2m stack on every start; edit the launcher, not this file.',
    'name: default',
    `listen-client-urls: ${client}`,
    `advertise-client-urls: ${client}`,
    `listen-peer-urls: ${peer}`,
    `initial-advertise-peer-urls: ${peer}`,
    `initial-cluster: default=${peer}`,
    '',
  ].join('\n');
}

/** glog (the C++ core): warnings and worse to stderr, i.e. to the component's log file. */
const GLOG_CONF = ['--logtostdout=false', '--logtostderr=true', '--alsologtostderr=false', '--minloglevel=1', '--stop_logging_if_full_disk=true', ''].join(
  '\n',
);

async function checkStandaloneHealth(ports: StandalonePortLayout): Promise<void> {
  // /healthz answers OK only once every role (coordinators, nodes, proxy) is healthy.
  let body: string;
  try {
    const res = await fetch(`http://127.0.0.1:${ports.metrics}/healthz`, { signal: AbortSignal.timeout(5_000) });
    body = await res.text();
    if (!res.ok) throw new Error(`answered ${res.status}: ${body.slice(0, 200)}`);
  } catch (err) {
    throw new EtlError('STACK', `the Milvus standalone server's /healthz on port ${ports.metrics}: ${errorMessage(err)}`, { retriable: true, cause: err });
  }
  if (!body.includes('OK')) throw new EtlError('STACK', `the Milvus standalone server is not healthy yet: ${body.slice(0, 200)}`, { retriable: true });
  const { checkMilvusHealth } = await import('@p2m/milvus-sink');
  await checkMilvusHealth(`127.0.0.1:${ports.grpc}`, undefined, 5_000);
}

/**
 * The standalone server as component `name`, its gRPC (the SDK's address) on `grpcPort`, every
 * other port from `ctx.opts.milvusStandalone`, its files under `<state>/milvus-standalone/`.
 */
export function milvusStandaloneSpec(ctx: StackContext, name: string, grpcPort: number): ComponentSpec {
  const ports = standalonePortLayout(grpcPort, ctx.opts.milvusStandalone);
  const { grpc, etcd, etcdPeer, metrics, ...internal } = ports;
  return {
    name,
    port: grpc,
    ports: [grpc, etcd, etcdPeer, metrics, ...Object.values(internal)],
    stage: 0,
    startTimeoutMs: 120_000,
    stopGraceMs: STOP_GRACE_MS,
    fingerprint: `milvus-standalone ${milvusStandaloneVersion()}`,
    async prepare(c) {
      const install = await ensureMilvusStandalone(c.opts.cacheDir, c.opts.log);
      const dirs = standaloneDirs(c.dir('milvus-standalone'));
      for (const dir of [dirs.configs, dirs.data]) mkdirSync(dir, { recursive: true });
      const logLevel = process.env.P2M_MILVUS_STANDALONE_LOG_LEVEL || 'warn';
      writeFileSync(join(dirs.configs, 'milvus.yaml'), renderStandaloneConfig(readFileSync(install.configTemplate, 'utf8'), ports, dirs, logLevel));
      writeFileSync(join(dirs.configs, 'etcd.yaml'), renderEtcdConfig(ports));
      writeFileSync(join(dirs.configs, 'glog.conf'), GLOG_CONF);
      return {
        cmd: join(install.binDir, 'milvus'),
        args: ['run', 'standalone'],
        cwd: dirs.root,
        env: {
          DEPLOY_MODE: 'STANDALONE',
          METRICS_PORT: String(metrics),
          MILVUSCONF: dirs.configs,
          LD_LIBRARY_PATH: [install.binDir, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':'),
        },
      };
    },
    health: () => checkStandaloneHealth(ports),
  };
}
