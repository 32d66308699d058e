import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EtlError, errorMessage, sleep } from '@p2m/core';
import type { ComponentSpec, RunningProcess, StackContext, StackEnv } from './components.ts';
import { COMPONENTS, logTail, MILVUS_STANDALONE, START_MARKER } from './components.ts';
import type { MilvusServer, MilvusStandalonePorts, StackOptions, StackOptionsInput, StackPorts } from './options.ts';
import { portEnvName, resolveStackOptions } from './options.ts';
import { isPortFree } from './ports.ts';
import { isOurProcess, OWNER_ENV, ownerTag, procInfo, sendSignal, spawnDetached, terminate } from './process.ts';

export type Health = 'healthy' | 'unhealthy' | 'stopped';

export interface ComponentStatus {
  name: string;
  port: number | null;
  pid: number | null;
  health: Health;
  /** Why it is not healthy. */
  error?: string;
  log: string;
}

export interface StackStatus {
  stateDir: string;
  healthy: boolean;
  components: ComponentStatus[];
  env: StackEnv;
}

interface ComponentRecord {
  name: string;
  port: number | null;
  /** Every port it was started with; a change means it must be restarted. */
  ports?: number[];
  /** The spec's fingerprint (versions) when started; a change means it must be restarted. */
  fingerprint?: string;
  pid: number;
  /** /proc start time of the pid, so a reused pid is never mistaken for ours. */
  startTime?: string;
  /** Size of the log before this run's start marker. */
  logOffset?: number;
  startedAt: string;
}

/** `<state>/stack.json`: what `up` started, so later commands find it again. */
interface StackFile {
  stateDir: string;
  ports: StackPorts;
  /** Absent in files of earlier versions: Lite, on the default standalone ports. */
  milvus?: MilvusServer;
  milvusStandalone?: MilvusStandalonePorts;
  loaders: number;
  components?: string[];
  processes: Record<string, ComponentRecord>;
}

/** How long a component has to exit after SIGTERM before it gets SIGKILL, unless its spec says. */
const DEFAULT_STOP_GRACE_MS = 15_000;

const stackFilePath = (stateDir: string): string => join(stateDir, 'stack.json');
const pidFile = (stateDir: string, name: string): string => join(stateDir, 'pids', `${name}.pid`);
const logFile = (stateDir: string, name: string): string => join(stateDir, 'logs', `${name}.log`);

function writeAtomic(file: string, text: string, mode = 0o644): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode });
  renameSync(tmp, file);
}

function readStackFile(stateDir: string): StackFile | undefined {
  try {
    return JSON.parse(readFileSync(stackFilePath(stateDir), 'utf8')) as StackFile;
  } catch {
    return undefined;
  }
}

function writeStackFile(file: StackFile): void {
  writeAtomic(stackFilePath(file.stateDir), `${JSON.stringify(file, null, 2)}\n`);
}

/** Reads `<state>/stack.env` (KEY=VALUE lines). */
export function readStackEnv(stateDir: string): Record<string, string> {
  const out: Record<string, string> = {};
  try {
    for (const line of readFileSync(join(stateDir, 'stack.env'), 'utf8').split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0 && !line.startsWith('#')) out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
    }
  } catch {
    // none yet
  }
  return out;
}

function stackEnvFor(opts: StackOptions): StackEnv {
  const kept = readStackEnv(opts.stateDir);
  const p = opts.ports;
  return {
    P2M_API_TOKEN: opts.apiToken ?? kept.P2M_API_TOKEN ?? randomBytes(24).toString('base64url'),
    P2M_SECRET_KEY: process.env.P2M_SECRET_KEY || kept.P2M_SECRET_KEY || randomBytes(32).toString('base64url'),
    P2M_KAFKA_BROKERS: `127.0.0.1:${p.kafka}`,
    P2M_REGISTRY_URL: `http://127.0.0.1:${p.registry}/apis/ccompat/v7`,
    P2M_MILVUS_ADDRESS: `127.0.0.1:${p.milvus}`,
    P2M_PINECONE_CONTROLLER_URL: `http://127.0.0.1:${p.emulator}`,
    P2M_PINECONE_API_KEY: process.env.P2M_PINECONE_API_KEY || kept.P2M_PINECONE_API_KEY || `pclocal-${randomBytes(8).toString('hex')}`,
    P2M_CONTROLLER_URL: `http://127.0.0.1:${p.controller}`,
  };
}

function writeStackEnv(stateDir: string, env: StackEnv): void {
  const lines = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  // Holds the API token: owner-only.
  writeAtomic(
    join(stateDir, 'stack.env'),
    `# Written by "p2m stack up". Load with: set -a; . ${join(stateDir, 'stack.env')}; set +a\n${lines.join('\n')}\n`,
    0o600,
  );
}

function makeContext(opts: StackOptions): StackContext {
  return { opts, env: stackEnvFor(opts), dir: (name) => join(opts.stateDir, name) };
}

/** Every component this checkout can run, optional ones too (to find one by name). */
function allSpecs(ctx: StackContext): ComponentSpec[] {
  return COMPONENTS.filter((d) => d.enabled()).flatMap((d) => d.specs(ctx));
}

/** The components of this stack: `components` when given, else every one that is not optional. */
function selectedSpecs(ctx: StackContext): ComponentSpec[] {
  const wanted = ctx.opts.components;
  const specs: ComponentSpec[] = [];
  for (const def of COMPONENTS) {
    if (!def.enabled()) continue;
    for (const spec of def.specs(ctx)) {
      if (wanted ? wanted.includes(def.name) || wanted.includes(spec.name) : !def.optional) specs.push(spec);
    }
  }
  if (wanted) {
    const known = new Set(COMPONENTS.flatMap((d) => [d.name, ...d.specs(ctx).map((s) => s.name)]));
    const unknown = wanted.filter((w) => !known.has(w));
    if (unknown.length > 0) throw new EtlError('STACK', `unknown stack component(s): ${unknown.join(', ')}`, { hint: `known: ${[...known].join(', ')}` });
  }
  refuseTwoStandaloneServers(ctx.opts, specs);
  return specs;
}

/** With the standalone server as the stack's Milvus, the extra one would need the same ports and folder. */
function refuseTwoStandaloneServers(opts: StackOptions, specs: ComponentSpec[]): void {
  if (opts.milvus !== 'standalone' || !specs.some((s) => s.name === MILVUS_STANDALONE)) return;
  throw new EtlError(
    'STACK',
    `the stack's Milvus is already the standalone server (milvus: standalone); ${MILVUS_STANDALONE} would start a second one on the same ports`,
    {
      hint: `use the "milvus" component (P2M_MILVUS_ADDRESS), or run the stack with Milvus Lite (--milvus lite) to have ${MILVUS_STANDALONE} beside it`,
    },
  );
}

/** The pid of component `name` if it runs and is ours (pid file + start time + environment tag). */
function livePid(stateDir: string, name: string, record?: ComponentRecord): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile(stateDir, name), 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return isOurProcess(pid, stateDir, name, record?.pid === pid ? record.startTime : undefined) ? pid : undefined;
}

function runningOf(pid: number, record: ComponentRecord | undefined): RunningProcess {
  return record?.pid === pid && record.logOffset !== undefined ? { pid, logOffset: record.logOffset } : { pid };
}

/** Options for commands that act on an existing stack: what `up` recorded, unless given. */
function optionsOfExisting(input: StackOptionsInput): { opts: StackOptions; file: StackFile | undefined } {
  const probe = resolveStackOptions({ ...input, ports: input.ports ?? {} });
  const file = readStackFile(probe.stateDir);
  if (!file) return { opts: probe, file };
  const opts = resolveStackOptions({
    ...input,
    stateDir: probe.stateDir,
    ports: { ...file.ports, ...input.ports },
    milvusStandalone: { ...file.milvusStandalone, ...input.milvusStandalone },
    milvus: input.milvus ?? file.milvus ?? 'lite',
    loaders: input.loaders ?? file.loaders,
    ...((input.components ?? file.components) ? { components: input.components ?? file.components } : {}),
  });
  return { opts, file };
}

/** One stack command at a time per state dir (a second `up` waits for the first). */
async function withLock<T>(opts: StackOptions, fn: () => Promise<T>): Promise<T> {
  const lock = join(opts.stateDir, 'stack.lock');
  let announced = false;
  for (;;) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(readFileSync(lock, 'utf8').trim() || '0');
      if (!holder || holder === process.pid || !procInfo(holder).running) {
        rmSync(lock, { force: true });
        continue;
      }
      if (!announced) opts.log(`p2m stack: waiting for another stack command (pid ${holder}) in ${opts.stateDir}`);
      announced = true;
      await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

async function waitHealthy(ctx: StackContext, spec: ComponentSpec, proc: RunningProcess, timeoutMs: number): Promise<void> {
  const pid = proc.pid;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    if (!procInfo(pid).running) {
      throw new EtlError('STACK', `${spec.name} exited while starting: ${logTail(ctx.opts.stateDir, spec.name).replace(/\s+/g, ' ').slice(-300)}`, {
        hint: `see ${logFile(ctx.opts.stateDir, spec.name)}`,
      });
    }
    try {
      await spec.health(ctx, proc);
      return;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) break;
    await sleep(500);
  }
  throw new EtlError('STACK', `${spec.name} did not become healthy within ${Math.round(timeoutMs / 1000)} s: ${errorMessage(last)}`, {
    hint: `see ${logFile(ctx.opts.stateDir, spec.name)}`,
    cause: last,
  });
}

async function assertPortsFree(spec: ComponentSpec, opts: StackOptions): Promise<void> {
  for (const port of spec.ports) {
    // A process that just died may hold its port for a moment longer.
    const deadline = Date.now() + 3_000;
    let free = await isPortFree(port);
    while (!free && Date.now() < deadline) {
      await sleep(200);
      free = await isPortFree(port);
    }
    if (free) continue;
    const envName = portEnvName(opts, port);
    throw new EtlError('STACK', `port ${port} for ${spec.name} is already in use by a process this stack did not start`, {
      hint: envName
        ? `stop that process, or pick another port, e.g. ${envName}=${port + 10_000 > 65_535 ? port - 1 : port + 10_000} npx p2m stack up`
        : 'stop that process or pick another port',
    });
  }
}

async function startSpec(ctx: StackContext, spec: ComponentSpec, file: StackFile): Promise<void> {
  const { stateDir, log } = ctx.opts;
  await assertPortsFree(spec, ctx.opts);
  const run = await spec.prepare(ctx);
  const env = { ...process.env, ...ctx.env, ...run.env, [OWNER_ENV]: ownerTag(stateDir, spec.name) };
  const logPath = logFile(stateDir, spec.name);
  const logOffset = existsSync(logPath) ? statSync(logPath).size : 0;
  writeFileSync(logPath, `\n${START_MARKER}${spec.name} at ${new Date().toISOString()}: ${run.cmd} ${run.args.join(' ')}\n`, { flag: 'a' });
  const started = Date.now();
  let pid: number;
  try {
    pid = await spawnDetached({ ...run, env }, logPath);
  } catch (err) {
    throw new EtlError('STACK', `could not start ${spec.name} (${run.cmd}): ${errorMessage(err)}`, { hint: `see ${logPath}`, cause: err });
  }
  writeFileSync(pidFile(stateDir, spec.name), `${pid}\n`);
  const record: ComponentRecord = { name: spec.name, port: spec.port ?? null, ports: spec.ports, pid, logOffset, startedAt: new Date().toISOString() };
  if (spec.fingerprint !== undefined) record.fingerprint = spec.fingerprint;
  const startTime = procInfo(pid).startTime;
  if (startTime !== undefined) record.startTime = startTime;
  file.processes[spec.name] = record;
  writeStackFile(file);
  log(`p2m stack: started ${spec.name} (pid ${pid}${spec.port ? `, port ${spec.port}` : ''}), waiting until healthy`);
  await waitHealthy(ctx, spec, { pid, logOffset }, spec.startTimeoutMs);
  log(`p2m stack: ${spec.name} healthy in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** Leaves a healthy component alone, revives a dead one, replaces one that stays unhealthy. */
async function ensureSpec(ctx: StackContext, spec: ComponentSpec, file: StackFile): Promise<void> {
  const stateDir = ctx.opts.stateDir;
  const record = file.processes[spec.name];
  const pid = livePid(stateDir, spec.name, record);
  if (pid !== undefined && record?.ports !== undefined && record.ports.join(',') !== spec.ports.join(',')) {
    ctx.opts.log(`p2m stack: ${spec.name} runs on port(s) ${record.ports.join(', ')}, wanted ${spec.ports.join(', ')}; restarting it`);
    await terminate(pid, spec.stopGraceMs ?? DEFAULT_STOP_GRACE_MS);
  } else if (pid !== undefined && spec.fingerprint !== undefined && record?.fingerprint !== undefined && record.fingerprint !== spec.fingerprint) {
    ctx.opts.log(`p2m stack: ${spec.name} runs ${record.fingerprint}, wanted ${spec.fingerprint}; restarting it`);
    await terminate(pid, spec.stopGraceMs ?? DEFAULT_STOP_GRACE_MS);
  } else if (pid !== undefined) {
    const proc = runningOf(pid, record);
    try {
      await spec.health(ctx, proc);
      return;
    } catch {
      // Maybe still starting (another command started it): give it the rest of its start time
      // (at least a few seconds), then replace it.
      const age = record ? Date.now() - Date.parse(record.startedAt) : 0;
      try {
        await waitHealthy(ctx, spec, proc, Math.max(5_000, spec.startTimeoutMs - age));
        return;
      } catch (err) {
        ctx.opts.log(`p2m stack: ${spec.name} (pid ${pid}) is unhealthy (${errorMessage(err)}); restarting it`);
        await terminate(pid, spec.stopGraceMs ?? DEFAULT_STOP_GRACE_MS);
      }
    }
  } else if (record) {
    ctx.opts.log(`p2m stack: ${spec.name} is not running; starting it again`);
  }
  await startSpec(ctx, spec, file);
}

function prepareStateDir(stateDir: string): void {
  for (const sub of ['logs', 'pids']) mkdirSync(join(stateDir, sub), { recursive: true });
}

function freshStackFile(opts: StackOptions, previous: StackFile | undefined): StackFile {
  const file: StackFile = {
    stateDir: opts.stateDir,
    ports: opts.ports,
    milvus: opts.milvus,
    milvusStandalone: opts.milvusStandalone,
    loaders: opts.loaders,
    processes: previous?.processes ?? {},
  };
  if (opts.components) file.components = opts.components;
  return file;
}

/**
 * Starts what is not running (idempotent), returns once every component is healthy, and writes
 * `<state>/stack.env`. Throws a one-line `EtlError('STACK')` when a component cannot start.
 */
export async function stackUp(input: StackOptionsInput = {}): Promise<StackStatus> {
  const opts = resolveStackOptions(withRecordedMilvus(input));
  prepareStateDir(opts.stateDir);
  return withLock(opts, async () => {
    const ctx = makeContext(opts);
    writeStackEnv(opts.stateDir, ctx.env);
    const specs = selectedSpecs(ctx);
    const file = freshStackFile(opts, readStackFile(opts.stateDir));
    // Loaders beyond the requested count (an earlier `up --loaders 4`) are stopped.
    if (!opts.components) {
      const keep = new Set(specs.map((s) => s.name));
      for (const name of listPidNames(opts.stateDir).filter((n) => /^loader-\d+$/.test(n) && !keep.has(n))) {
        const pid = await stopOne(opts.stateDir, name, file);
        if (pid !== undefined) opts.log(`p2m stack: stopped ${name} (pid ${pid}): more loaders than asked for`);
      }
    }
    writeStackFile(file);
    const stages = [...new Set(specs.map((s) => s.stage))].sort((a, b) => a - b);
    for (const stage of stages) {
      const results = await Promise.allSettled(specs.filter((s) => s.stage === stage).map((s) => ensureSpec(ctx, s, file)));
      writeStackFile(file);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    }
    return statusOf(ctx, specs, file);
  });
}

/**
 * The Milvus server a stack was brought up with stays its Milvus until asked otherwise: a plain
 * `up` that revives a crashed component must not swap a standalone server (and its data) for Lite.
 */
function withRecordedMilvus(input: StackOptionsInput): StackOptionsInput {
  if (input.milvus !== undefined || process.env.P2M_MILVUS_SERVER) return input;
  const recorded = readStackFile(resolveStackOptions({ ...input, milvus: 'lite' }).stateDir)?.milvus;
  return recorded ? { ...input, milvus: recorded } : input;
}

function listPidNames(stateDir: string): string[] {
  try {
    return readdirSync(join(stateDir, 'pids'))
      .filter((f) => f.endsWith('.pid'))
      .map((f) => f.slice(0, -4));
  } catch {
    return [];
  }
}

async function stopOne(stateDir: string, name: string, file: StackFile | undefined, graceMs?: number): Promise<number | undefined> {
  const pid = livePid(stateDir, name, file?.processes[name]);
  if (pid !== undefined) await terminate(pid, graceMs ?? DEFAULT_STOP_GRACE_MS);
  rmSync(pidFile(stateDir, name), { force: true });
  if (file) delete file.processes[name];
  return pid;
}

async function statusOf(ctx: StackContext, specs: ComponentSpec[], file: StackFile | undefined): Promise<StackStatus> {
  const stateDir = ctx.opts.stateDir;
  const components = await Promise.all(
    specs.map(async (spec): Promise<ComponentStatus> => {
      const pid = livePid(stateDir, spec.name, file?.processes[spec.name]);
      const base = { name: spec.name, port: spec.port ?? null, pid: pid ?? null, log: logFile(stateDir, spec.name) };
      if (pid === undefined) return { ...base, health: 'stopped' };
      try {
        await spec.health(ctx, runningOf(pid, file?.processes[spec.name]));
        return { ...base, health: 'healthy' };
      } catch (err) {
        return { ...base, health: 'unhealthy', error: errorMessage(err) };
      }
    }),
  );
  return { stateDir, healthy: components.every((c) => c.health === 'healthy'), components, env: ctx.env };
}

/** Every component of the stack with its port, pid and health (from real calls). */
export async function stackStatus(input: StackOptionsInput = {}): Promise<StackStatus> {
  const { opts, file } = optionsOfExisting(input);
  const ctx = makeContext(opts);
  return statusOf(ctx, selectedSpecs(ctx), file);
}

/**
 * Stops every process this stack started (SIGTERM, SIGKILL after a grace period): services
 * first, then the servers. Only pids recorded here and still tagged as ours are signalled.
 */
export async function stackDown(input: StackOptionsInput = {}): Promise<{ stopped: { name: string; pid: number }[] }> {
  const { opts, file } = optionsOfExisting(input);
  if (!existsSync(opts.stateDir)) return { stopped: [] };
  return withLock(opts, async () => {
    const names = listPidNames(opts.stateDir);
    const infra = new Set(['kafka', 'registry', 'milvus', MILVUS_STANDALONE, 'emulator']);
    const grace = new Map(allSpecs(makeContext(opts)).map((s) => [s.name, s.stopGraceMs]));
    // Workers first, then the controller, then the servers they all use.
    const stopped: { name: string; pid: number }[] = [];
    for (const group of [
      names.filter((n) => !infra.has(n) && n !== 'controller'),
      names.filter((n) => n === 'controller'),
      names.filter((n) => infra.has(n)),
    ]) {
      await Promise.all(
        group.map(async (name) => {
          const pid = await stopOne(opts.stateDir, name, file, grace.get(name));
          if (pid !== undefined) stopped.push({ name, pid });
        }),
      );
    }
    if (file) writeStackFile(file);
    for (const s of stopped) opts.log(`p2m stack: stopped ${s.name} (pid ${s.pid})`);
    return { stopped };
  });
}

/** Sends `signal` to one component (tests use SIGKILL to crash a server). Returns its pid. */
export async function killComponent(name: string, signal: NodeJS.Signals = 'SIGKILL', input: StackOptionsInput = {}): Promise<number> {
  const { opts, file } = optionsOfExisting(input);
  const pid = livePid(opts.stateDir, name, file?.processes[name]);
  if (pid === undefined) throw new EtlError('STACK', `${name} is not running in ${opts.stateDir}`, { hint: 'start it with "npx p2m stack up"' });
  sendSignal(pid, signal);
  if (signal === 'SIGKILL' || signal === 'SIGTERM') {
    const deadline = Date.now() + 20_000;
    while (procInfo(pid).running && Date.now() < deadline) await sleep(50);
  }
  return pid;
}

/** Starts one component if it is not running and waits until it is healthy. */
export async function startComponent(name: string, input: StackOptionsInput = {}): Promise<ComponentStatus> {
  const { opts, file: existing } = optionsOfExisting(input);
  prepareStateDir(opts.stateDir);
  return withLock(opts, async () => {
    const ctx = makeContext(opts);
    const all = allSpecs(ctx);
    const spec = all.find((s) => s.name === name);
    if (!spec) throw new EtlError('STACK', `unknown stack component: ${name}`, { hint: `known: ${all.map((s) => s.name).join(', ')}` });
    refuseTwoStandaloneServers(opts, [spec]);
    const file = existing ?? freshStackFile(opts, undefined);
    await ensureSpec(ctx, spec, file);
    writeStackFile(file);
    const [status] = (await statusOf(ctx, [spec], file)).components;
    return status!;
  });
}
