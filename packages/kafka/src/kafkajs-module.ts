import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Module } = require('node:module') as { Module: new (id: string) => NodeJS.Module };

/**
 * Puts `exports` in the CommonJS cache as KafkaJS's module `file` (a path inside the kafkajs
 * package), so that KafkaJS's own `require` of it gets p2m's code: how the CRC-32C (crc32c.ts) and
 * the record decoder (record-decoder.ts) take their places. It has to run before `loadedBy`, the
 * KafkaJS module that requires `file`, is loaded; after that it changes nothing and says whether
 * the replacement is the one in use.
 */
export function replaceKafkajsModule(file: string, exports: unknown, loadedBy: string): boolean {
  const path = require.resolve(file);
  if (require.cache[require.resolve(loadedBy)]) return require.cache[path]?.exports === exports;
  const mod = new Module(path);
  mod.filename = path;
  mod.loaded = true;
  mod.exports = exports;
  require.cache[path] = mod;
  return true;
}
