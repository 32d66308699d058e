import type { Command } from 'commander';
import { seedIndex } from '@p2m/emulator';
import { stackUp } from '@p2m/stack';
import { effectiveEnv } from '../env.ts';
import { num } from '../follow.ts';
import { openCliLog, quietGrpcConsole } from '../log-file.ts';
import { endedLine, runEmbeddedMigration } from './migrate.ts';

/**
 * `p2m demo`: the whole product in one command on a fresh machine. Starts the local stack if
 * needed (first run downloads Kafka, the registry and Milvus Lite into the cache), seeds the
 * Pinecone emulator with a hybrid index that carries the edge cases, migrates it with a live
 * progress bar and prints the verification report.
 */
export function register(program: Command): void {
  program
    .command('demo')
    .description('start the local stack, seed a sample Pinecone index in the emulator, migrate it, verify it')
    .option('--count <n>', 'records in the sample index', '20000')
    .option('--dim <d>', 'dense dimension', '128')
    .option('--namespaces <k>', 'namespaces (the first is the default namespace)', '3')
    .option('--loaders <n>', 'loader workers', '2')
    .option('--index <name>', 'sample index name', 'p2m-demo')
    .option('--verbose', 'show the log lines on the terminal too (they always go to a file under .p2m/logs/)')
    .action(async (opts: { count: string; dim: string; namespaces: string; loaders: string; index: string; verbose?: boolean }) => {
      const out = (line: string): void => void process.stderr.write(`${line}\n`);
      quietGrpcConsole(Boolean(opts.verbose));
      const log = openCliLog('demo', { verbose: Boolean(opts.verbose) });
      out(`p2m demo: logs go to ${log.path}${opts.verbose ? '' : ' (--verbose shows them here too)'}`);
      out('p2m demo: starting the local stack (first run downloads Kafka, Apicurio Registry and Milvus Lite; later runs reuse the cache)…');
      await stackUp({ components: ['kafka', 'registry', 'milvus', 'emulator'] });
      const env = effectiveEnv();
      const pineconeUrl = env.P2M_PINECONE_CONTROLLER_URL ?? 'http://127.0.0.1:5080';
      const apiKey = env.P2M_PINECONE_API_KEY ?? 'pclocal';
      const count = Number(opts.count);
      out(`p2m demo: seeding index "${opts.index}" with ${count} hybrid records in ${opts.namespaces} namespaces…`);
      const seeded = await seedIndex({
        index: opts.index,
        url: pineconeUrl,
        apiKey,
        count,
        dim: Number(opts.dim),
        namespaces: Number(opts.namespaces),
        // The shapes real indexes have: about 1 record in 5 without sparse values (a hybrid index
        // allows it per record), and metadata of every type with odd keys, beside the edge cases.
        sparse: 'partial',
        metadata: 'mixed',
        metric: 'dotproduct',
        seed: 7,
      });
      const collection = `p2m_demo_${new Date()
        .toISOString()
        .replace(/[^0-9]/g, '')
        .slice(0, 14)}`;
      out(`p2m demo: migrating "${seeded.index}" → Milvus collection "${collection}"`);
      const view = await runEmbeddedMigration(
        {
          source: { apiKey, index: opts.index, controllerHostUrl: pineconeUrl },
          target: { address: env.P2M_MILVUS_ADDRESS ?? '127.0.0.1:19530', collection, description: 'p2m demo migration' },
        },
        { loaders: Math.max(1, Number(opts.loaders) || 2), progress: true, summary: true, logger: log.logger, env },
      );
      if (view.status !== 'SUCCESSFUL') {
        out(endedLine(view));
        process.exitCode = 1;
        return;
      }
      out(
        `p2m demo: done — collection "${collection}" holds ${num(view.report?.namespaces.reduce((s, n) => s + n.targetCount, 0) ?? 0)} records, verified against the source.`,
      );
    });
}
