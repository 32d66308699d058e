import { logLevel, type LogEntry, type logCreator } from 'kafkajs';
import type { Logger } from '@p2m/core';

/** Log levels of the adapter, mapped onto KafkaJS's numeric ones. */
export type KafkaLogLevel = 'silent' | 'error' | 'warn' | 'info' | 'debug';

export const KAFKAJS_LEVELS: Record<KafkaLogLevel, logLevel> = {
  silent: logLevel.NOTHING,
  error: logLevel.ERROR,
  warn: logLevel.WARN,
  info: logLevel.INFO,
  debug: logLevel.DEBUG,
};

/**
 * Answers of the group protocol that KafkaJS logs at ERROR on the connection although they are how
 * a group starts and rebalances: the consumer retries them itself and reports a real failure where
 * it happens (the texts are KafkaJS's for REBALANCE_IN_PROGRESS, GROUP_LOAD_IN_PROGRESS,
 * GROUP_COORDINATOR_NOT_AVAILABLE and NOT_COORDINATOR_FOR_GROUP).
 */
const GROUP_PROTOCOL_ANSWERS = new Set([
  'The group is rebalancing, so a rejoin is needed',
  "The coordinator is loading and hence can't process requests for this group",
  'The group coordinator is not available',
  'This is not the correct coordinator for this group',
]);

const IDEMPOTENT_RETRIES_WARNING = 'Limiting retries for the idempotent producer may invalidate EoS guarantees';

/** Sends KafkaJS's logs through pino as structured lines (component "kafkajs"), never to the console. */
export function pinoLogCreator(logger: Logger): logCreator {
  const kafkaLogger = logger.child({ component: 'kafkajs' });
  return () =>
    ({ namespace, level, log }: LogEntry) => {
      const { message, timestamp: _timestamp, logger: _logger, ...extra } = log as LogEntry['log'] & { logger?: string };
      const fields = { namespace, ...extra };
      // A CreateTopics answer naming any topic error is logged by KafkaJS's connection at ERROR,
      // even "already exists" — which is how p2m creates topics idempotently. The admin call itself
      // still rejects on a real failure and that is reported where it happens: this line is noise.
      if (namespace === 'Connection' && typeof extra['error'] === 'string' && GROUP_PROTOCOL_ANSWERS.has(extra['error'])) {
        kafkaLogger.info(fields, message);
        return;
      }
      if (namespace === 'Connection' && extra['error'] === 'Topic creation errors') {
        kafkaLogger.debug(fields, message);
        return;
      }
      // Logged on every producer start because KafkaLogProducer limits KafkaJS's retries (a send
      // must end, so a stop can happen). What the warning is about, reused sequence numbers after a
      // failed send, KafkaLogProducer rules out itself: one send at a time and a new producer id
      // after a failure (producer.ts; producer.test.ts shows it against a deduplicating broker).
      if (namespace === 'Producer' && message === IDEMPOTENT_RETRIES_WARNING) {
        kafkaLogger.debug(fields, message);
        return;
      }
      switch (level) {
        case logLevel.ERROR:
          kafkaLogger.error(fields, message);
          break;
        case logLevel.WARN:
          kafkaLogger.warn(fields, message);
          break;
        case logLevel.INFO:
          kafkaLogger.info(fields, message);
          break;
        default:
          kafkaLogger.debug(fields, message);
      }
    };
}
