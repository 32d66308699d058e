import type { Command } from 'commander';
import { ControllerConfigSchema, RuntimeConfigSchema, readConfig } from '@p2m/core';
import { effectiveEnv } from '../env.ts';
import { startRuntime, type Roles } from '../runtime.ts';

/**
 * `p2m service controller|extractor|loader`: one long-running process of one role, as the local
 * stack and docker-compose start them. SIGTERM/SIGINT stop taking work, finish or abandon the
 * in-flight batch safely (nothing uncommitted is acknowledged), commit what is done, exit 0.
 */
export function register(program: Command): void {
  program
    .command('service')
    .description('run one p2m service in the foreground (controller, extractor or loader)')
    .argument('<role>', 'controller | extractor | loader')
    .option('--loaders <n>', 'loader workers in this process (loader role)', '1')
    .action(async (role: string, opts: { loaders: string }) => {
      const env = effectiveEnv();
      let roles: Roles;
      let config;
      if (role === 'controller') {
        const c = readConfig(ControllerConfigSchema, env);
        config = c;
        roles = { controller: { http: { host: c.P2M_CONTROLLER_HOST, port: c.P2M_CONTROLLER_PORT, apiToken: c.P2M_API_TOKEN } } };
      } else if (role === 'extractor') {
        config = readConfig(RuntimeConfigSchema, env);
        roles = { extractor: true };
      } else if (role === 'loader') {
        config = readConfig(RuntimeConfigSchema, env);
        roles = { loaders: Math.max(1, Number.parseInt(opts.loaders, 10) || 1) };
      } else {
        throw new Error(`unknown service "${role}": use controller, extractor or loader`);
      }
      const runtime = await startRuntime(config, roles);
      runtime.logger.info({ role, url: runtime.url }, 'service started');
      await new Promise<void>((resolve) => {
        const shutdown = (signal: string): void => {
          runtime.logger.info({ signal }, 'stopping');
          const hard = setTimeout(() => process.exit(1), 10_000);
          hard.unref();
          void runtime.stop().then(() => resolve());
        };
        process.once('SIGTERM', () => shutdown('SIGTERM'));
        process.once('SIGINT', () => shutdown('SIGINT'));
      });
      process.exit(0);
    });
}
