import { spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { sleep } from '@p2m/core';

/** What /proc says about a pid (Linux). Zombies count as not running. */
export interface ProcInfo {
  running: boolean;
  /** Start time in clock ticks since boot: with the pid, identifies one process across pid reuse. */
  startTime?: string;
}

function statFields(file: string): string[] | undefined {
  try {
    const stat = readFileSync(file, 'utf8');
    // The command name (field 2) may contain spaces and parens: split after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

const dead = (state: string | undefined): boolean => state === undefined || state === 'Z' || state === 'X';

export function procInfo(pid: number): ProcInfo {
  const fields = statFields(`/proc/${pid}/stat`);
  if (!fields) return { running: false };
  const startTime = fields[19];
  if (dead(fields[0])) {
    // A killed multi-threaded process (a JVM) shows its leader as a zombie while other threads
    // still exit and hold its sockets: it runs until every thread is gone.
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      // gone
    }
    if (!tasks.some((tid) => !dead(statFields(`/proc/${pid}/task/${tid}/stat`)?.[0]))) return { running: false };
  }
  return startTime === undefined ? { running: true } : { running: true, startTime };
}

/** The environment a process was started with (readable for our own processes). */
export function procEnviron(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

export const OWNER_ENV = 'P2M_STACK_COMPONENT';

/** The tag every component process carries in its environment, so pid reuse cannot fool us. */
export function ownerTag(stateDir: string, name: string): string {
  return `${name}@${stateDir}`;
}

/** True when `pid` is a running process that we started as component `name` of `stateDir`. */
export function isOurProcess(pid: number, stateDir: string, name: string, startTime?: string): boolean {
  const info = procInfo(pid);
  if (!info.running) return false;
  if (startTime !== undefined && info.startTime !== undefined && info.startTime !== startTime) return false;
  return procEnviron(pid).includes(`${OWNER_ENV}=${ownerTag(stateDir, name)}`);
}

export interface SpawnSpec {
  cmd: string;
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Starts a process that outlives us: its own process group, stdio to a log file, unref'd.
 * Resolves once the OS has started it (rejects on e.g. ENOENT).
 */
export function spawnDetached(spec: SpawnSpec, logFile: string): Promise<number> {
  const fd = openSync(logFile, 'a');
  return new Promise<number>((resolve, reject) => {
    const child = spawn(spec.cmd, spec.args, { cwd: spec.cwd, env: spec.env, detached: true, stdio: ['ignore', fd, fd] });
    child.once('error', reject);
    child.once('spawn', () => {
      child.unref();
      if (child.pid === undefined) reject(new Error(`${spec.cmd} did not start`));
      else resolve(child.pid);
    });
  }).finally(() => closeSync(fd));
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    // Components are group leaders (detached): signal the group so children go too.
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

export function sendSignal(pid: number, signal: NodeJS.Signals): void {
  signalGroup(pid, signal);
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process no longer runs. */
export async function terminate(pid: number, graceMs = 10_000): Promise<void> {
  signalGroup(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (procInfo(pid).running && Date.now() < deadline) await sleep(100);
  if (!procInfo(pid).running) return;
  signalGroup(pid, 'SIGKILL');
  const killDeadline = Date.now() + 5_000;
  while (procInfo(pid).running && Date.now() < killDeadline) await sleep(50);
}

/** The last lines of a log file, for error messages. */
export function tailFile(file: string, lines = 5): string {
  try {
    const text = readFileSync(file, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
