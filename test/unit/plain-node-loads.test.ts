// Vitest transforms modules and so forgives imports that Node's own ESM loader refuses (a named
// import of a CommonJS export cjs-module-lexer cannot see, such as kafkajs's ConfigResourceTypes).
// Every service runs under plain `node`, so load the whole command tree that way: `p2m --help`
// imports every command module, and with them the services and packages.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('the code loads under plain node, outside vitest', () => {
  it('p2m --help imports every command module and lists them', () => {
    const run = spawnSync(process.execPath, ['packages/cli/src/main.ts', '--help'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(run.stderr).not.toMatch(/SyntaxError|does not provide an export/);
    expect(run.status, run.stderr).toBe(0);
    for (const command of ['stack', 'emulator', 'migrate', 'demo', 'jobs', 'service']) expect(run.stdout).toContain(command);
  });

  it('every package and service index imports without error', () => {
    const entries = [
      'services/controller',
      'services/loader',
      'services/extractor',
      'packages/core',
      'packages/codec',
      'packages/kafka',
      'packages/milvus-sink',
      'packages/pinecone-source',
      'packages/emulator',
      'packages/stack',
    ];
    const urls = entries.map((entry) => new URL(`../../${entry}/src/index.ts`, import.meta.url).href);
    const script = `for (const url of ${JSON.stringify(urls)}) await import(url); process.exit(0);`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(run.stderr).not.toMatch(/SyntaxError|does not provide an export/);
    expect(run.status, run.stderr).toBe(0);
  });
});
