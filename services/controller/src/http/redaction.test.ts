import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { LOG_REDACT_PATHS, REDACTED, redactSecrets, scrubString, secretValues } from './redaction.ts';

describe('redaction', () => {
  it('drops secret keys at any depth and cuts secret values out of strings', () => {
    const secret = 'pcsk_0123456789abcdef';
    const out = redactSecrets(
      { source: { apiKey: secret, index: 'i' }, target: { token: 'root:Milvus1', nested: [{ password: 'x' }] }, message: `bad key ${secret}` },
      [secret],
    );
    expect(out).toEqual({ source: { index: 'i' }, target: { nested: [{}] }, message: `bad key ${REDACTED}` });
  });

  it('finds the secret values a body carries, ignoring ones too short to search for', () => {
    expect(secretValues({ source: { apiKey: 'pcsk_0123456789' }, target: { token: 'short' } })).toEqual(['pcsk_0123456789']);
    expect(scrubString('abc', ['a'])).toBe('abc');
  });

  it('keeps secrets out of log lines whatever object is logged', () => {
    const lines: string[] = [];
    const log = pino({}, { write: (l: string) => void lines.push(l) }).child({}, { redact: { paths: LOG_REDACT_PATHS, censor: REDACTED } });
    log.info({ req: { headers: { authorization: 'Bearer abcdefgh12345' } } }, 'req');
    log.info({ spec: { source: { apiKey: 'pcsk_secret_1' }, target: { token: 'milvus_secret_2' } } }, 'spec');
    log.info({ body: { anything: 'body_secret_3' } }, 'body');
    log.info({ apiKey: 'top_secret_4', a: { b: { c: { token: 'deep_secret_5' } } } }, 'deep');
    log.child({ jobId: 'j' }).info({ source: { apiKey: 'child_secret_6' } }, 'child');
    const all = lines.join('\n');
    for (const s of ['abcdefgh12345', 'pcsk_secret_1', 'milvus_secret_2', 'body_secret_3', 'top_secret_4', 'deep_secret_5', 'child_secret_6']) {
      expect(all).not.toContain(s);
    }
    expect(all).toContain(REDACTED);
  });
});
