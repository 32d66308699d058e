import { describe, expect, it } from 'vitest';
import { KafkaJSConnectionError, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError, KafkaJSRequestTimeoutError } from 'kafkajs';
import { EtlError } from '@p2m/core';
import { isKafkaRetriable, isRebalanceError, toEtlError } from './errors.ts';

const protocolError = (type: string, retriable: boolean): KafkaJSProtocolError => Object.assign(new KafkaJSProtocolError(type), { type, retriable });

describe('KafkaJS error mapping', () => {
  it('broker and network trouble is retriable', () => {
    const conn = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092');
    expect(isKafkaRetriable(conn)).toBe(true);
    expect(isKafkaRetriable(new KafkaJSRequestTimeoutError('Request Produce timed out'))).toBe(true);
    expect(isKafkaRetriable(new KafkaJSNumberOfRetriesExceeded(conn, { retryCount: 5, retryTime: 1000 }))).toBe(true);
    const mapped = toEtlError(conn, 'produce to t');
    expect(mapped).toBeInstanceOf(EtlError);
    expect(mapped).toMatchObject({ code: 'TRANSIENT', retriable: true });
    expect(mapped.message).toContain('produce to t');
  });

  it('looks through the nested retriers: NonRetriable(NumberOfRetriesExceeded(ConnectionError)) is retriable', () => {
    const conn = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED');
    const exceeded = new KafkaJSNumberOfRetriesExceeded(conn, { retryCount: 8, retryTime: 5000, cause: conn } as never);
    const outer = Object.assign(new KafkaJSNonRetriableError(exceeded), { cause: conn });
    expect(isKafkaRetriable(outer)).toBe(true);
    expect(toEtlError(outer, 'commit')).toMatchObject({ code: 'TRANSIENT', retriable: true });
  });

  it('refused requests are permanent', () => {
    const tooLarge = protocolError('MESSAGE_TOO_LARGE', false);
    expect(isKafkaRetriable(tooLarge)).toBe(false);
    expect(toEtlError(tooLarge, 'produce')).toMatchObject({ code: 'INTERNAL', retriable: false, details: { type: 'MESSAGE_TOO_LARGE' } });
    expect(isKafkaRetriable(new KafkaJSNonRetriableError(protocolError('TOPIC_AUTHORIZATION_FAILED', false)))).toBe(false);
    expect(isKafkaRetriable(new Error('boom'))).toBe(false);
  });

  it('retriable protocol errors stay retriable', () => {
    expect(isKafkaRetriable(protocolError('NOT_LEADER_FOR_PARTITION', true))).toBe(true);
    expect(isKafkaRetriable(protocolError('COORDINATOR_LOAD_IN_PROGRESS', false))).toBe(true);
  });

  it('keeps an EtlError as it is', () => {
    const e = new EtlError('RECORD_INVALID', 'bad', { retriable: false });
    expect(toEtlError(e, 'x')).toBe(e);
  });

  it('recognises rebalances and lost membership', () => {
    expect(isRebalanceError(protocolError('REBALANCE_IN_PROGRESS', false))).toBe(true);
    expect(isRebalanceError(protocolError('UNKNOWN_MEMBER_ID', false))).toBe(true);
    expect(isRebalanceError(new KafkaJSConnectionError('x'))).toBe(false);
  });
});
