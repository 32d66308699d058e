import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire, Module } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/**
 * The name of the function KafkaJS's module `file` exports in a plain node process that imports
 * @p2m/kafka and then loads KafkaJS, as the services do: whether a replacement took its place.
 */
export function kafkajsModuleInUse(file: string): { status: number | null; stderr: string; name: string } {
  const script = [
    `await import(${JSON.stringify(new URL('./index.ts', import.meta.url).href)});`,
    `const { createRequire } = await import('node:module');`,
    `const require = createRequire(${JSON.stringify(import.meta.url)});`,
    `require('kafkajs');`,
    `process.stdout.write(require(${JSON.stringify(file)}).name);`,
  ].join('\n');
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { status: run.status, stderr: run.stderr, name: run.stdout };
}

/**
 * KafkaJS's own module `file`, compiled anew from its file: the module cache may hold p2m's in its
 * place (the tests compare the two).
 */
export function kafkajsOriginal<T>(file: string): T {
  const require = createRequire(import.meta.url);
  const path = require.resolve(file);
  const mod = new Module(path) as Module & { _compile(code: string, file: string): void; paths: string[] };
  mod.filename = path;
  mod.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(dirname(path));
  mod._compile(readFileSync(path, 'utf8'), path);
  return mod.exports as T;
}
