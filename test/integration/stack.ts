// What integration tests use to reach the test stack that global-setup.ts started.
import { inject } from 'vitest';
import type { TestStack } from '@p2m/stack';
import { testStackControl } from '@p2m/stack';

export type { TestStack } from '@p2m/stack';

declare module 'vitest' {
  export interface ProvidedContext {
    p2mStack: TestStack;
  }
}

/** Addresses of the test stack's servers (Kafka, registry, Milvus, emulator, state dir). */
export function getTestStack(): TestStack {
  const stack = inject('p2mStack');
  if (!stack) throw new Error('no test stack: run integration tests with "npx vitest run --project integration" so global-setup.ts starts it');
  return stack;
}

/** The Milvus standalone server of the test stack (`milvus-standalone`, beside Lite): its gRPC address. */
export function milvusStandaloneAddress(): string {
  const address = getTestStack().milvusStandalone?.address;
  if (!address) throw new Error('the test stack runs no Milvus standalone server: keep "milvus-standalone" in P2M_TEST_STACK_COMPONENTS');
  return address;
}

/** Crashes (SIGKILL by default) or signals one server of the test stack (e.g. `milvus`, `milvus-standalone`). */
export async function killComponent(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  await testStackControl(getTestStack()).killComponent(name, signal);
}

/** Starts a server of the test stack again and waits until it is healthy. */
export async function startComponent(name: string): Promise<void> {
  await testStackControl(getTestStack()).startComponent(name);
}
