import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stackDown, stackUp, type StackOptionsInput, type StackStatus } from '@p2m/stack';

/**
 * Ports given as `kafka=N,kafkaController=N,registry=N,milvus=N` (the `--ports` option of the
 * benches, or `P2M_BENCH_PORTS`): on a shared machine another bench or test stack may hold the
 * defaults.
 */
export function parsePorts(text: string | undefined): Record<string, number> {
  const ports: Record<string, number> = {};
  for (const pair of (text ?? '').split(',').filter(Boolean)) {
    const [name = '', value = ''] = pair.split('=');
    const port = Number(value);
    if (!name || !Number.isInteger(port) || port < 1 || port > 65_535) {
      throw new Error(`bench ports: "${pair}" is not name=port (e.g. kafka=27292,kafkaController=27293,registry=27281,milvus=27730)`);
    }
    ports[name] = port;
  }
  return ports;
}

/**
 * The benchmark's own stack: Kafka, the schema registry and Milvus Lite in `.p2m-bench/` on ports
 * of its own, so it never touches a user's stack (`.p2m/`, 9092…) or the tests' (`.p2m-test/`,
 * 19192…). The emulator runs in a child process of the bench (seeded in memory, latency injected).
 */
export const BENCH_STACK: StackOptionsInput = {
  stateDir: resolve(import.meta.dirname, '..', '..', '.p2m-bench'),
  ports: {
    kafka: 29092,
    kafkaController: 29093,
    registry: 28081,
    milvus: 29530,
    emulator: 25080,
    controller: 28080,
    ...parsePorts(process.env['P2M_BENCH_PORTS']),
  },
  components: ['kafka', 'registry', 'milvus'],
  loaders: 0,
  log: (line) => process.stderr.write(`${line}\n`),
};

export async function benchStackUp(): Promise<StackStatus> {
  return stackUp(BENCH_STACK);
}

export async function benchStackDown(): Promise<void> {
  await stackDown(BENCH_STACK);
}

/** The pid a stack in `stateDir` recorded for its component `name` (kafka, registry, milvus). */
export function stackPid(stateDir: string, name: string): number {
  return Number(readFileSync(join(stateDir, 'pids', `${name}.pid`), 'utf8').trim());
}
