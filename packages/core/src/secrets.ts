import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { EtlError } from './errors.ts';

/**
 * Secrets (the Pinecone API key, the Milvus token) are kept only as long as a job needs them and
 * never written to Kafka in clear: job records carry them sealed with AES-256-GCM under a key from
 * the environment (`P2M_SECRET_KEY`).
 */
export interface JobSecrets {
  apiKey: string;
  token?: string | undefined;
}

function keyBytes(secretKey: string): Buffer {
  if (!secretKey)
    throw new EtlError('STACK', 'P2M_SECRET_KEY is not set', { hint: 'set P2M_SECRET_KEY (any long random string) for the controller and the services' });
  return createHash('sha256').update(secretKey).digest();
}

export function sealSecrets(secrets: JobSecrets, secretKey: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyBytes(secretKey), iv);
  const body = Buffer.concat([cipher.update(JSON.stringify(secrets), 'utf8'), cipher.final()]);
  return ['v1', iv.toString('base64'), cipher.getAuthTag().toString('base64'), body.toString('base64')].join('.');
}

export function openSecrets(sealed: string, secretKey: string): JobSecrets {
  const [version, iv, tag, body] = sealed.split('.');
  if (version !== 'v1' || !iv || !tag || !body) throw new EtlError('INTERNAL', 'sealed secrets are malformed');
  try {
    const decipher = createDecipheriv('aes-256-gcm', keyBytes(secretKey), Buffer.from(iv, 'base64'));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    const clear = Buffer.concat([decipher.update(Buffer.from(body, 'base64')), decipher.final()]).toString('utf8');
    return JSON.parse(clear) as JobSecrets;
  } catch (err) {
    throw new EtlError('STACK', 'the job secrets cannot be opened with this P2M_SECRET_KEY', {
      cause: err,
      hint: 'run every p2m service with the same P2M_SECRET_KEY that created the job',
    });
  }
}

export function generateSecretKey(): string {
  return randomBytes(32).toString('base64url');
}
