import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** CPU seconds (user + system) a process has used so far, from /proc (USER_HZ = 100); 0 once it is gone. */
export function cpuSeconds(pid: number | undefined | null): number {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** Wall-clock seconds `fn` took. */
export async function secondsOf(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

/** Reads /proc/<pid>/status once: a field in MB (0 when the field or the process is gone). */
function statusMb(pid: number): (key: string) => number {
  let status = '';
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    // gone: every field reads 0
  }
  return (key) => Math.round(Number(/(\d+)/.exec(status.split('\n').find((l) => l.startsWith(key)) ?? '0')?.[1] ?? 0) / 1024);
}

/** Resident and peak resident memory (VmRSS, VmHWM) in MB. */
export function memoryMb(pid: number): { rss: number; peak: number } {
  const mb = statusMb(pid);
  return { rss: mb('VmRSS:'), peak: mb('VmHWM:') };
}

/** Resident memory in MB, whole and by kind: anonymous (heap, buffers), file-backed (the mapped Node binary), shared. */
export function rssByKindMb(pid: number): { rss: number; anon: number; file: number; shmem: number } {
  const mb = statusMb(pid);
  return { rss: mb('VmRSS:'), anon: mb('RssAnon:'), file: mb('RssFile:'), shmem: mb('RssShmem:') };
}

/** CPU seconds of a set of processes between `start()` and `stop()`. */
export class CpuMeter {
  private readonly pids: Record<string, number>;
  private readonly before: Record<string, number> = {};
  constructor(pids: Record<string, number | undefined>) {
    this.pids = Object.fromEntries(Object.entries(pids).filter((e): e is [string, number] => typeof e[1] === 'number'));
  }
  start(): this {
    for (const [name, pid] of Object.entries(this.pids)) this.before[name] = cpuSeconds(pid);
    return this;
  }
  stop(): Record<string, number> {
    return Object.fromEntries(Object.entries(this.pids).map(([name, pid]) => [name, round2(cpuSeconds(pid) - (this.before[name] ?? 0))]));
  }
}

export const round2 = (x: number): number => Math.round(x * 100) / 100;

/** Busy CPU seconds of the whole machine so far (every core, from /proc/stat), and the load average. */
export function machineCpu(): { busySeconds: number; load1: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number) as number[];
    const load1 = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
    return { busySeconds: ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / 100, load1 };
  } catch {
    return { busySeconds: 0, load1: 0 };
  }
}
