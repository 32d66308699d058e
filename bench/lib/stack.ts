import { resolve } from 'node:path';
import { stackDown, stackUp, type StackOptionsInput, type StackStatus } from '@p2m/stack';

/**
 * The benchmark's own stack: Kafka, the schema registry and Milvus Lite in `.p2m-bench/` on ports
 * of its own, so it never touches a user's stack (`.p2m/`, 9092…) or the tests' (`.p2m-test/`,
 * 19192…). The emulator runs in a child process of the bench (seeded in memory, latency injected).
 */
export const BENCH_STACK: StackOptionsInput = {
  stateDir: resolve(import.meta.dirname, '..', '..', '.p2m-bench'),
  ports: { kafka: 29092, kafkaController: 29093, registry: 28081, milvus: 29530, emulator: 25080, controller: 28080 },
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
