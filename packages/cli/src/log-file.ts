import { createWriteStream, mkdirSync } from 'node:fs';
import { join, relative, isAbsolute } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '@p2m/core';

/**
 * Where the logs of a command a person runs (`p2m migrate`, `p2m demo`) go: a file under
 * `<state dir>/logs/`, so the terminal holds progress, results and errors in words, not the JSON
 * lines of KafkaJS, the registry client and the runtimes. `--verbose` copies the log lines to
 * stderr as well. Services (`p2m service …`) keep logging JSON to stdout, where their supervisor
 * collects it.
 *
 * Node's own warnings are process-wide and print to stderr by default; here they go to the log
 * file (and stay on the terminal with `--verbose`). gRPC's internal logger (used by the Milvus
 * client) prints to stderr too and is read from the environment when it loads, so
 * `quietGrpcConsole` must run before the Milvus adapter is imported.
 */
export interface CliLog {
  readonly logger: Logger;
  /** The log file, relative to the working directory when it is inside it. */
  readonly path: string;
  /** Flushes and closes the file. */
  close(): Promise<void>;
}

export interface CliLogOptions {
  verbose: boolean;
  env?: NodeJS.ProcessEnv;
  /** For tests: the terminal stream `--verbose` copies to. Default process.stderr. */
  terminal?: NodeJS.WritableStream;
  now?: Date;
}

export function openCliLog(command: string, options: CliLogOptions): CliLog {
  const env = options.env ?? process.env;
  const dir = join(env.P2M_STATE_DIR || '.p2m', 'logs');
  mkdirSync(dir, { recursive: true });
  const stamp = (options.now ?? new Date()).toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const file = join(dir, `${command}-${stamp}-${process.pid}.log`);
  const out = createWriteStream(file, { flags: 'a' });
  const terminal = options.verbose ? (options.terminal ?? process.stderr) : null;
  const lines = new Writable({
    write(chunk: Buffer, _encoding, done) {
      terminal?.write(chunk);
      out.write(chunk, done);
    },
  });
  const logger = createLogger('p2m', { level: env.P2M_LOG_LEVEL || 'info' }, lines);

  const onWarning = (warning: Error): void => logger.warn({ warning: warning.name, detail: warning.message }, 'Node.js warning');
  const printers = options.verbose ? [] : process.listeners('warning');
  for (const print of printers) process.off('warning', print);
  process.on('warning', onWarning);

  const rel = relative(process.cwd(), file);
  return (current = {
    logger,
    path: rel.startsWith('..') || isAbsolute(rel) ? file : rel,
    close: () =>
      new Promise<void>((resolve) => {
        process.off('warning', onWarning);
        for (const print of printers) process.on('warning', print);
        lines.end(() => out.end(() => resolve()));
      }),
  });
}

/** The log of the command this process runs, once it opened one. */
let current: CliLog | null = null;

export function activeCliLog(): CliLog | null {
  return current;
}

/**
 * The end of a command that ran an embedded runtime (main.ts calls it once the command returned
 * or threw). Everything it started is stopped by then, so the process would end by itself; if
 * something still holds the event loop (a library's socket or timer), it is named in the log and
 * the process exits anyway: a finished command never hangs.
 */
export async function finishCliCommand(log: CliLog, exitCode: number): Promise<never> {
  const holding = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap' && r !== 'PipeWrap');
  if (holding.length > 0) log.logger.info({ holding }, 'handles still open at exit');
  await log.close();
  process.exit(exitCode);
}

/** gRPC's own console logging off (it reads GRPC_VERBOSITY once, when it loads), unless asked for. */
export function quietGrpcConsole(verbose: boolean, env: NodeJS.ProcessEnv = process.env): void {
  if (!verbose && env.GRPC_VERBOSITY === undefined && env.GRPC_NODE_VERBOSITY === undefined) env.GRPC_VERBOSITY = 'NONE';
}
