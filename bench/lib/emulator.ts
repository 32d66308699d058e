import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { DatasetKind, DatasetShape } from './dataset.ts';

/** Handle on the emulator child process (see emulator-child.ts). */
export class BenchEmulator {
  readonly child: ChildProcess;
  readonly controllerHostUrl: string;
  readonly apiKey: string;

  private constructor(child: ChildProcess, url: string, apiKey: string) {
    this.child = child;
    this.controllerHostUrl = url;
    this.apiKey = apiKey;
  }

  get pid(): number {
    return this.child.pid!;
  }

  static async start(): Promise<BenchEmulator> {
    const child = fork(join(import.meta.dirname, 'emulator-child.ts'), [], {
      execArgv: ['--expose-gc', '--max-old-space-size=16384'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const ready = await next<{ controllerHostUrl: string; apiKey: string }>(child, 'ready');
    return new BenchEmulator(child, ready.controllerHostUrl, ready.apiKey);
  }

  async load(index: string, kind: DatasetKind, count: number, shape?: DatasetShape): Promise<{ host: string; records: number }> {
    this.child.send({ cmd: 'load', index, kind, count, shape });
    return next(this.child, 'loaded');
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.send({ cmd: 'stop' });
    await exited;
  }
}

function next<T>(child: ChildProcess, cmd: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: { cmd: string; message?: string }): void => {
      if (m.cmd === cmd) {
        cleanup();
        resolve(m as T);
      } else if (m.cmd === 'error') {
        cleanup();
        reject(new Error(`emulator: ${m.message}`));
      }
    };
    const onExit = (code: number | null): void => {
      cleanup();
      reject(new Error(`the emulator exited (${code})`));
    };
    const cleanup = (): void => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}
