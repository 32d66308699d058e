import { describe, expect, it } from 'vitest';
import { generateSecretKey, openSecrets, sealSecrets } from './secrets.ts';

describe('sealed secrets', () => {
  it('round-trips and never contains the clear text', () => {
    const key = generateSecretKey();
    const sealed = sealSecrets({ apiKey: 'pcsk_super_secret', token: 'root:Milvus' }, key);
    expect(sealed).not.toContain('pcsk_super_secret');
    expect(Buffer.from(sealed.split('.')[3]!, 'base64').toString('latin1')).not.toContain('secret');
    expect(openSecrets(sealed, key)).toEqual({ apiKey: 'pcsk_super_secret', token: 'root:Milvus' });
  });

  it('refuses another key with a message that says what to do', () => {
    const sealed = sealSecrets({ apiKey: 'a' }, generateSecretKey());
    expect(() => openSecrets(sealed, generateSecretKey())).toThrow(/same P2M_SECRET_KEY|cannot be opened/);
  });
});
