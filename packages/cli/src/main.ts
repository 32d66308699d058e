// Entry point of the `p2m` command. Each command lives in its own module under ./commands and is
// loaded only when used, so `p2m emulator` does not pay for the Kafka or Milvus clients.
import { Command } from 'commander';
import { errorMessage } from '@p2m/core';
import { formatCliError } from './errors.ts';
import { activeCliLog, finishCliCommand } from './log-file.ts';

const program = new Command('p2m').description('Migrate a Pinecone serverless index into Milvus / Zilliz Cloud through Kafka').showHelpAfterError();

const modules: Record<string, () => Promise<{ register(program: Command): void }>> = {
  stack: () => import('./commands/stack.ts'),
  emulator: () => import('./commands/emulator.ts'),
  migrate: () => import('./commands/migrate.ts'),
  demo: () => import('./commands/demo.ts'),
  jobs: () => import('./commands/jobs.ts'),
  service: () => import('./commands/service.ts'),
};

const name = process.argv[2];
const wanted = name && name in modules ? [name] : Object.keys(modules);
for (const key of wanted) {
  try {
    const mod = await modules[key]!();
    mod.register(program);
  } catch (err) {
    // A command module that is not there yet must not break the others.
    if ((err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND' || name === key) throw err;
  }
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  activeCliLog()?.logger.error({ err: errorMessage(err) }, 'command failed');
  console.error(formatCliError(err));
  process.exitCode = process.exitCode && process.exitCode !== 0 ? process.exitCode : 1;
}

// A command that ran an embedded runtime (migrate, demo) closes its log and exits here, whatever
// a library may have left open.
const log = activeCliLog();
if (log) await finishCliCommand(log, typeof process.exitCode === 'number' ? process.exitCode : Number(process.exitCode ?? 0) || 0);
