import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * `p2m stack up` writes `.p2m/stack.env` (KEY=VALUE lines). Commands run against the local stack
 * read it for whatever the environment does not set itself: the environment always wins.
 */
export function stackEnvPath(stateDir = process.env.P2M_STATE_DIR ?? '.p2m'): string {
  return join(stateDir, 'stack.env');
}

export function readStackEnv(path = stackEnvPath()): Record<string, string> {
  if (!existsSync(path)) return {};
  const out: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^\s*([A-Z0-9_]+)\s*=\s*(.*)\s*$/.exec(line);
    if (m) out[m[1]!] = m[2]!.replace(/^"(.*)"$/, '$1');
  }
  return out;
}

/** The environment with the stack's values filled in where unset. */
export function effectiveEnv(path?: string): NodeJS.ProcessEnv {
  return { ...readStackEnv(path), ...process.env };
}
