import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { logLevel } from 'kafkajs';
import { pino } from 'pino';
import { pinoLogCreator } from './logging.ts';

/** A KafkaJS log function writing through pino at debug level, and the JSON lines it wrote. */
function capture() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { lines, log: pinoLogCreator(pino({ level: 'debug' }, sink))(logLevel.DEBUG) };
}

describe('KafkaJS logs through pino', () => {
  it('writes structured lines at the matching level, without KafkaJS own timestamp', () => {
    const { lines, log } = capture();
    log({ namespace: 'Connection', level: logLevel.ERROR, label: 'ERROR', log: { timestamp: 'x', message: 'Connection error', broker: 'b:9092' } as never });
    log({ namespace: 'Runner', level: logLevel.INFO, label: 'INFO', log: { timestamp: 'x', message: 'started' } as never });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: 50, component: 'kafkajs', namespace: 'Connection', broker: 'b:9092', msg: 'Connection error' });
    expect(lines[0]).not.toHaveProperty('timestamp');
    expect(lines[1]).toMatchObject({ level: 30, msg: 'started' });
  });

  it('keeps the connection’s "Topic creation errors" (an existing topic) at debug, other connection errors at error', () => {
    const { lines, log } = capture();
    log({
      namespace: 'Connection',
      level: logLevel.ERROR,
      label: 'ERROR',
      log: { timestamp: 'x', message: 'Response CreateTopics(key: 19, version: 3)', error: 'Topic creation errors' } as never,
    });
    log({
      namespace: 'Connection',
      level: logLevel.ERROR,
      label: 'ERROR',
      log: { timestamp: 'x', message: 'Response Produce(key: 0, version: 7)', error: 'Not leader for partition' } as never,
    });
    expect(lines.map((l) => l['level'])).toEqual([20, 50]);
  });

  it('keeps the limited-retries warning of the idempotent producer at debug (KafkaLogProducer guards what it warns about), other producer warnings at warn', () => {
    const { lines, log } = capture();
    log({
      namespace: 'Producer',
      level: logLevel.WARN,
      label: 'WARN',
      log: { timestamp: 'x', message: 'Limiting retries for the idempotent producer may invalidate EoS guarantees' } as never,
    });
    log({ namespace: 'Producer', level: logLevel.WARN, label: 'WARN', log: { timestamp: 'x', message: 'something else' } as never });
    expect(lines.map((l) => l['level'])).toEqual([20, 40]);
  });

  it('keeps the group protocol\u2019s start-up answers (rebalancing, coordinator loading) at info, other error answers at error', () => {
    const { lines, log } = capture();
    for (const error of ['The group is rebalancing, so a rejoin is needed', "The coordinator is loading and hence can't process requests for this group"]) {
      log({
        namespace: 'Connection',
        level: logLevel.ERROR,
        label: 'ERROR',
        log: { timestamp: 'x', message: 'Response SyncGroup(key: 14, version: 3)', error } as never,
      });
    }
    log({
      namespace: 'Connection',
      level: logLevel.ERROR,
      label: 'ERROR',
      log: { timestamp: 'x', message: 'Response JoinGroup(key: 11, version: 5)', error: 'Not authorized to access group' } as never,
    });
    expect(lines.map((l) => l['level'])).toEqual([30, 30, 50]);
  });
});
