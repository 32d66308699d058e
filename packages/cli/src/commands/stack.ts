import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';

function loaderCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 64) throw new InvalidArgumentError('expected an integer between 0 and 64');
  return n;
}

function milvusServer(value: string): 'lite' | 'standalone' {
  if (value !== 'lite' && value !== 'standalone') throw new InvalidArgumentError('expected lite or standalone');
  return value;
}

/**
 * KafkaJS 2.2.4 schedules a timer with a negative delay on Node 24, which prints a
 * TimeoutNegativeWarning per health check; it is harmless (Node uses 1 ms). Keep the output clean.
 */
function hideKafkaJsTimerWarning(): void {
  const printers = process.listeners('warning');
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    if (warning.name === 'TimeoutNegativeWarning') return;
    for (const print of printers) print(warning);
  });
}

/** `p2m stack up|down|status`: the local stack in the background (see DESIGN.md). */
export function register(program: Command): void {
  const stack = program.command('stack').description('Run the local stack (Kafka, schema registry, Milvus, emulator, services) in the background');

  stack
    .command('up')
    .description('start what is not running and wait until everything is healthy (idempotent)')
    .option('--loaders <n>', 'number of loader processes (default 2)', loaderCount)
    .option(
      '--milvus <server>',
      'the Milvus server: lite (default) or standalone (WAL-backed Milvus 2.3.5, dense vectors only); kept until changed',
      milvusServer,
    )
    .action(async (options: { loaders?: number; milvus?: 'lite' | 'standalone' }) => {
      hideKafkaJsTimerWarning();
      const { stackUp } = await import('@p2m/stack');
      const started = Date.now();
      const status = await stackUp({
        ...(options.loaders === undefined ? {} : { loaders: options.loaders }),
        ...(options.milvus === undefined ? {} : { milvus: options.milvus }),
      });
      for (const c of status.components)
        console.log(`${c.name.padEnd(12)} ${c.health.padEnd(9)} pid ${String(c.pid ?? '-').padEnd(8)} ${c.port ? `127.0.0.1:${c.port}` : ''}`);
      console.log(`stack up in ${((Date.now() - started) / 1000).toFixed(1)} s; environment in ${status.stateDir}/stack.env`);
    });

  stack
    .command('down')
    .description('stop every process the stack started')
    .action(async () => {
      const { stackDown } = await import('@p2m/stack');
      const { stopped } = await stackDown({ log: () => undefined });
      console.log(stopped.length === 0 ? 'nothing was running' : `stopped ${stopped.map((s) => `${s.name} (pid ${s.pid})`).join(', ')}`);
    });

  stack
    .command('status')
    .description('every component with its port, pid and health')
    .option('--json', 'machine-readable output')
    .action(async (options: { json?: boolean }) => {
      hideKafkaJsTimerWarning();
      const { stackStatus } = await import('@p2m/stack');
      const status = await stackStatus();
      if (options.json) {
        const components = status.components.map(({ name, port, pid, health, error }) => ({ name, port, pid, health, ...(error ? { error } : {}) }));
        console.log(JSON.stringify({ stateDir: status.stateDir, healthy: status.healthy, components }, null, 2));
      } else {
        for (const c of status.components) {
          console.log(
            `${c.name.padEnd(12)} ${c.health.padEnd(9)} pid ${String(c.pid ?? '-').padEnd(8)} ${c.port ? `127.0.0.1:${c.port}` : ''}${c.error ? `  (${c.error})` : ''}`,
          );
        }
      }
      if (!status.healthy) process.exitCode = 1;
    });
}
