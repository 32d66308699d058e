import { describe, expect, it } from 'vitest';
import { kafkaClusterId } from './components.ts';

describe('kafkaClusterId', () => {
  it("never starts with '-' (kafka-storage would read it as an option)", () => {
    const draws = [Buffer.alloc(16, 0xf8), Buffer.alloc(16, 0x00)];
    expect(Buffer.alloc(16, 0xf8).toString('base64url').startsWith('-')).toBe(true);
    let calls = 0;
    const id = kafkaClusterId(() => draws[calls++]!);
    expect(calls).toBe(2);
    expect(id).toBe(Buffer.alloc(16, 0x00).toString('base64url'));
    for (let i = 0; i < 2000; i++) expect(kafkaClusterId().startsWith('-')).toBe(false);
  });

  it('is 22 base64url characters, as Kafka expects of a cluster id', () => {
    expect(kafkaClusterId()).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
  });
});
