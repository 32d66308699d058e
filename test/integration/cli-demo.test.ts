// What `npx p2m demo` shows a person: progress, the outcome and the verification report in words,
// never a JSON log line (KafkaJS's start-up chatter at level 50 used to reach the terminal) nor a
// Node warning (KafkaJS's TimeoutNegativeWarning). The demo runs against the test stack: it starts
// "the local stack if needed", and with the test stack's state directory and ports everything it
// needs is already running (issue 14).
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '@p2m/stack';
import { isJsonLine, NODE_WARNING, runCli } from './cli-process.ts';
import { getTestStack } from './stack.ts';

const port = (address: string): string => new URL(address.includes('://') ? address : `tcp://${address}`).port;

describe('p2m demo in a terminal', () => {
  it('holds progress, results and the report in words: no JSON line, no Node warning', { timeout: 300_000 }, async () => {
    const stack = getTestStack();
    expect(stack.provider, 'the demo starts the native stack; with the testcontainers stack it would start a second one').toBe('native');
    const kafkaPort = port(stack.kafka.brokers[0]!);
    const run = runCli(['demo', '--count', '300', '--dim', '8', '--index', 'cli-demo'], {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      P2M_STATE_DIR: stack.stateDir,
      P2M_KAFKA_PORT: kafkaPort,
      P2M_KAFKA_CONTROLLER_PORT: String(Number(kafkaPort) + 1),
      P2M_REGISTRY_PORT: port(stack.registry.url),
      P2M_MILVUS_PORT: port(stack.milvus.address),
      P2M_EMULATOR_PORT: port(stack.emulator.controllerHostUrl),
    });
    const exit = await run.exited;
    const terminal = run.text();
    expect(exit.code, terminal).toBe(0);
    expect(
      run.lines.filter((l) => isJsonLine(l.text)),
      terminal,
    ).toEqual([]);
    expect(
      run.lines.filter((l) => NODE_WARNING.test(l.text)),
      terminal,
    ).toEqual([]);
    expect(terminal).toMatch(/^p2m demo: logs go to \S+/m);
    expect(terminal).toMatch(/^Job \S+ SUCCESSFUL after/m);
    expect(terminal).toContain('Verification PASSED');
    expect(terminal).toMatch(/^p2m demo: done — collection "p2m_demo_\d+" holds [\d,]+ records, verified against the source\.$/m);
    // The sample has a record Milvus cannot store: its reason is on the terminal, in words.
    expect(terminal).toMatch(/^Dead-letter queue: 1 record\b/m);

    const logFile = resolve(REPO_ROOT, /^p2m demo: logs go to (\S+)/m.exec(terminal)![1]!);
    expect(existsSync(logFile)).toBe(true);
    const logged = readFileSync(logFile, 'utf8').trim().split('\n');
    expect(logged.every(isJsonLine)).toBe(true);
    expect(logged.some((l) => l.includes('"component":"kafkajs"') || l.includes('"component":"kafka"'))).toBe(true);
  });
});
