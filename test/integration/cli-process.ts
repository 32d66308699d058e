// `p2m <command>` as a person runs it (`node bin/p2m.js …`, the process `npx p2m` starts), with its
// stdout and stderr kept line by line and timed, for tests of what the terminal shows and of when
// the command ends.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT, SERVICE_NODE_ARGS } from '@p2m/stack';

export interface TerminalLine {
  stream: 'stdout' | 'stderr';
  text: string;
  /** ms since the command started */
  at: number;
}

export interface CliRun {
  readonly pid: number;
  readonly lines: TerminalLine[];
  /** Resolves with the first line `match` accepts, already seen or still to come. */
  waitForLine(match: (line: TerminalLine) => boolean, timeoutMs?: number): Promise<TerminalLine>;
  /** Settles when the process exited: its code (or signal) and when (ms since start). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  kill(signal?: NodeJS.Signals): void;
  /** Everything the terminal got, in order. */
  text(): string;
}

/** Runs `p2m ...args`; `env` is the whole environment (nothing of the test process leaks in unasked). */
export function runCli(args: string[], env: Record<string, string>): CliRun {
  const started = Date.now();
  const child = spawn(process.execPath, [...SERVICE_NODE_ARGS, join(REPO_ROOT, 'bin', 'p2m.js'), ...args], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not start p2m ${args.join(' ')}`);
  const lines: TerminalLine[] = [];
  const waiters = new Set<{ match: (l: TerminalLine) => boolean; resolve: (l: TerminalLine) => void }>();
  const collect = (stream: 'stdout' | 'stderr') => {
    let pending = '';
    return (chunk: Buffer): void => {
      pending += chunk.toString('utf8');
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line: TerminalLine = { stream, text: pending.slice(0, nl), at: Date.now() - started };
        pending = pending.slice(nl + 1);
        lines.push(line);
        for (const w of waiters) {
          if (w.match(line)) {
            waiters.delete(w);
            w.resolve(line);
          }
        }
      }
    };
  };
  child.stdout.on('data', collect('stdout'));
  child.stderr.on('data', collect('stderr'));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() - started }));
  });
  const text = (): string => lines.map((l) => l.text).join('\n');
  return {
    pid: child.pid,
    lines,
    exited,
    text,
    kill: (signal = 'SIGKILL') => void child.kill(signal),
    waitForLine(match, timeoutMs = 120_000) {
      const seen = lines.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter = { match, resolve: (l: TerminalLine) => (clearTimeout(timer), resolve(l)) };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`p2m ${args.join(' ')}: no such line within ${timeoutMs} ms; the terminal so far:\n${text().slice(-4000)}`));
        }, timeoutMs);
        waiters.add(waiter);
        void exited.then(() => {
          if (!waiters.has(waiter)) return;
          waiters.delete(waiter);
          clearTimeout(timer);
          reject(new Error(`p2m ${args.join(' ')} exited before such a line; the terminal:\n${text().slice(-4000)}`));
        });
      });
    },
  };
}

/** A line that is a JSON object: a log line that reached the terminal. */
export function isJsonLine(text: string): boolean {
  const t = text.trim();
  if (!t.startsWith('{')) return false;
  try {
    return typeof JSON.parse(t) === 'object';
  } catch {
    return false;
  }
}

/** Node's own warnings as it prints them: `(node:1234) SomeWarning: …`. */
export const NODE_WARNING = /\(node:\d+\) \w*Warning|Warning:/;
