import { EtlError, errorMessage } from '@p2m/core';

/**
 * KafkaJS errors → `EtlError`. Broker and network trouble is retriable (`TRANSIENT`): a runtime
 * retries it with backoff. Everything else (bad request, authorization, a message too large) is
 * permanent (`INTERNAL`): retrying cannot help.
 */

/** KafkaJS error classes that mean "the cluster is not reachable or not ready right now". */
const RETRIABLE_NAMES = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSBrokerNotFound',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSLockTimeout',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTopicMetadataNotLoaded',
  'KafkaJSStaleTopicMetadataAssignment',
  'KafkaJSGroupCoordinatorNotFound',
]);

/** Protocol errors that KafkaJS marks non-retriable but that pass once a restarted broker is back. */
const RETRIABLE_TYPES = new Set(['REQUEST_TIMED_OUT', 'NETWORK_EXCEPTION', 'COORDINATOR_LOAD_IN_PROGRESS', 'COORDINATOR_NOT_AVAILABLE', 'NOT_COORDINATOR']);

interface KafkaJSErrorLike {
  name?: string;
  type?: string;
  retriable?: boolean;
  message?: string;
  errors?: unknown[];
  cause?: unknown;
}

/**
 * KafkaJS nests its retriers: an inner one that runs out of attempts on a connection error throws
 * `KafkaJSNumberOfRetriesExceeded`, which the outer one wraps in a `KafkaJSNonRetriableError`. So the
 * whole cause chain decides (as KafkaJS's own consumer does when it chooses to restart).
 */
export function isKafkaRetriable(err: unknown): boolean {
  if (err instanceof EtlError) return err.retriable;
  let e = (err ?? {}) as KafkaJSErrorLike;
  for (let depth = 0; depth < 10; depth++) {
    if (e.name !== undefined && RETRIABLE_NAMES.has(e.name)) return true;
    if (e.type !== undefined && RETRIABLE_TYPES.has(e.type)) return true;
    if (e.name === 'KafkaJSAggregateError' && Array.isArray(e.errors) && e.errors.length > 0) return e.errors.every(isKafkaRetriable);
    if (e.cause === undefined || e.cause === null || e.cause === e) return e.retriable === true;
    e = e.cause as KafkaJSErrorLike;
  }
  return false;
}

/** Wrap a KafkaJS failure of `action` ("produce to p2m.jobs", ...) as an EtlError. */
export function toEtlError(err: unknown, action: string): EtlError {
  if (err instanceof EtlError) return err;
  const e = (err ?? {}) as KafkaJSErrorLike;
  const retriable = isKafkaRetriable(err);
  return new EtlError(retriable ? 'TRANSIENT' : 'INTERNAL', `Kafka: ${action} failed: ${errorMessage(err)}`, {
    retriable,
    cause: err,
    details: { kafkaError: e.name, type: e.type },
    hint: retriable ? 'the broker is unreachable or restarting; the operation is safe to retry' : undefined,
  });
}

/** The protocol error type (UNKNOWN_TOPIC_OR_PARTITION, ...) anywhere in the cause chain. */
export function kafkaErrorTypes(err: unknown): string[] {
  const types: string[] = [];
  let e = err as KafkaJSErrorLike | undefined;
  for (let depth = 0; depth < 10 && e !== undefined && e !== null; depth++) {
    if (e.type !== undefined) types.push(e.type);
    if (e.cause === e) break;
    e = e.cause as KafkaJSErrorLike | undefined;
  }
  return types;
}

/** The errors a group member sees when it lost its membership or the group is rebalancing. */
export function isRebalanceError(err: unknown): boolean {
  const e = (err ?? {}) as KafkaJSErrorLike;
  const type = e.type ?? (e.cause as KafkaJSErrorLike | undefined)?.type;
  return type === 'REBALANCE_IN_PROGRESS' || type === 'NOT_COORDINATOR_FOR_GROUP' || type === 'ILLEGAL_GENERATION' || type === 'UNKNOWN_MEMBER_ID';
}
