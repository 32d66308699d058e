import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { logRecordCodec, type AvroCodec } from '@p2m/codec';
import { EtlError, errorMessage, retry, valueSubject, type LogRecord } from '@p2m/core';

/**
 * Schema-registry adapter: Confluent wire format (magic byte 0, 4-byte big-endian schema id, Avro
 * body) for one topic's values, subject `<topic>-value` (TopicNameStrategy).
 *
 * `@kafkajs/confluent-schema-registry` registers schemas and looks them up by id (it caches them);
 * the framing and the Avro encoding are done here with the `@p2m/codec` codec, into one buffer,
 * synchronously: the library's `encode` is async per message, encodes through avsc's 1 KB buffer
 * twice for a 3 KB record, then copies again to prepend the header (bench/codec.ts measures it).
 * A message written with another schema id is decoded with Avro resolution to this codec's schema.
 */

export type Compatibility = `${COMPATIBILITY}`;

export interface RegistryCodecOptions<T> {
  /** Base URL of the Confluent-compatible API; Apicurio 3: `http://host:port/apis/ccompat/v7`. */
  url: string;
  topic: string;
  /** Default: the records-topic codec (`schemas/log-record.avsc`). */
  codec?: AvroCodec<T>;
  /** Set on the subject before registering. Default BACKWARD: a new reader reads every older record. */
  compatibility?: Compatibility;
  auth?: { username: string; password: string };
}

export interface RegistryCodec<T> {
  readonly subject: string;
  /** Id of this codec's schema in the registry. */
  readonly schemaId: number;
  encode(value: T): Buffer;
  /** Decodes any version registered under any subject; unknown ids are fetched once and cached. */
  decode(message: Buffer): Promise<T>;
  /** Decodes a batch, fetching each unknown schema id once; keeps the order. */
  decodeMany(messages: Buffer[]): Promise<T[]>;
}

const MAGIC_BYTE = 0;
const HEADER_BYTES = 5;

interface HttpError {
  status?: number;
  message?: string;
}

/** Registry failures: unreachable or 5xx is retriable; a refused schema or unknown id is not. */
export function registryError(err: unknown, action: string): EtlError {
  if (err instanceof EtlError) return err;
  const status = typeof err === 'object' && err !== null ? (err as HttpError).status : undefined;
  const retriable = status === undefined || status >= 500 || status === 408 || status === 429;
  if (status === 409) {
    return new EtlError('INTERNAL', `schema registry: ${action}: the schema is not compatible with the versions registered before: ${errorMessage(err)}`, {
      retriable: false,
      cause: err,
      hint: 'evolve schemas/*.avsc compatibly (add fields with defaults; never change or remove a field a reader needs)',
    });
  }
  return new EtlError(retriable ? 'TRANSIENT' : 'INTERNAL', `schema registry: ${action} failed: ${errorMessage(err)}`, {
    retriable,
    cause: err,
    details: { status },
  });
}

/** How often a subject's compatibility is re-read and set again while other processes race to set it. */
const COMPATIBILITY_RETRY = { retries: 5, initialDelayMs: 100, maxDelayMs: 2_000 };

/**
 * Sets a subject's compatibility level; idempotent and safe from several processes at once. Every
 * p2m process registers the shared reader subject and each job's subject when it starts, so on a
 * fresh registry several of them set the same level at the same moment. Apicurio answers the
 * losers of that race 409 "A rule named 'COMPATIBILITY' already exists": the rule is there, so
 * the level is read back and compared; only a different level is set again (the rule now exists,
 * so that is an update). A conflict that outlasts the retries stays retriable: it must never
 * become a permanent failure of the job being set up.
 */
export async function setCompatibility(url: string, subject: string, level: Compatibility, auth?: RegistryCodecOptions<unknown>['auth']): Promise<void> {
  const base = `${url.replace(/\/$/, '')}/config/${encodeURIComponent(subject)}`;
  const headers: Record<string, string> = { 'Content-Type': 'application/vnd.schemaregistry.v1+json' };
  if (auth) headers.Authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  const action = `set compatibility of ${subject} to ${level}`;
  const call = async (init: RequestInit): Promise<Response> => {
    try {
      return await fetch(base, { ...init, headers });
    } catch (err) {
      throw registryError(err, action);
    }
  };
  await retry(async () => {
    const put = await call({ method: 'PUT', body: JSON.stringify({ compatibility: level }) });
    if (put.ok) {
      await put.arrayBuffer().catch(() => undefined);
      return;
    }
    const refusal = await refusalOf(put);
    if (put.status !== 409) throw registryError(refusal, action);
    const current = await call({ method: 'GET' });
    const found = current.ok ? compatibilityLevelOf(await current.json().catch(() => null)) : null;
    if (found === level) return;
    throw new EtlError(
      'TRANSIENT',
      `schema registry: ${action}: another process changed the subject's compatibility at the same time (now ${found ?? 'unknown'}); setting it again`,
      {
        retriable: true,
        cause: refusal,
        details: { status: put.status },
      },
    );
  }, COMPATIBILITY_RETRY);
}

/** A refused answer as `{ status, message }`: the registry's own message when its body is JSON. */
async function refusalOf(res: Response): Promise<HttpError> {
  const text = await res.text().catch(() => '');
  let message = text || res.statusText;
  try {
    const body = JSON.parse(text) as { message?: unknown };
    if (typeof body.message === 'string' && body.message !== '') message = body.message;
  } catch {
    // not JSON: the text as it came
  }
  return { status: res.status, message };
}

function compatibilityLevelOf(body: unknown): string | null {
  if (typeof body !== 'object' || body === null) return null;
  const level = (body as { compatibilityLevel?: unknown; compatibility?: unknown }).compatibilityLevel ?? (body as { compatibility?: unknown }).compatibility;
  return typeof level === 'string' ? level : null;
}

/** Registers the codec's schema under `<topic>-value` (idempotent) and returns a ready codec. */
export async function createRegistryCodec<T = LogRecord>(options: RegistryCodecOptions<T>): Promise<RegistryCodec<T>> {
  const codec = (options.codec ?? logRecordCodec) as AvroCodec<T>;
  const subject = valueSubject(options.topic);
  const compatibility = options.compatibility ?? 'BACKWARD';
  const registry = new SchemaRegistry({ host: options.url, clientId: 'p2m', ...(options.auth ? { auth: options.auth } : {}) });

  await setCompatibility(options.url, subject, compatibility, options.auth);
  let schemaId: number;
  try {
    ({ id: schemaId } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(codec.schema) },
      { subject, compatibility: COMPATIBILITY[compatibility] },
    ));
  } catch (err) {
    throw registryError(err, `register the schema of ${subject}`);
  }

  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt8(MAGIC_BYTE, 0);
  header.writeInt32BE(schemaId, 1);

  const readers = new Map<number, (buf: Buffer, offset?: number) => T>([[schemaId, (buf, offset) => codec.decode(buf, offset)]]);
  const loading = new Map<number, Promise<void>>();

  const load = (id: number): Promise<void> => {
    let pending = loading.get(id);
    if (!pending) {
      pending = (async () => {
        let writerSchema: unknown;
        try {
          const writer = (await registry.getSchema(id)) as { schema?: () => unknown };
          writerSchema = typeof writer.schema === 'function' ? writer.schema() : writer;
        } catch (err) {
          const e = registryError(err, `fetch schema id ${id}`);
          // An id the registry does not know makes the message undecodable, not the registry down.
          if ((err as HttpError).status === 404) throw new EtlError('RECORD_INVALID', e.message, { retriable: false, cause: err });
          throw e;
        }
        readers.set(id, codec.readerFor(writerSchema as never));
      })().finally(() => loading.delete(id));
      loading.set(id, pending);
    }
    return pending;
  };

  const schemaIdOf = (message: Buffer): number => {
    if (message.length < HEADER_BYTES || message[0] !== MAGIC_BYTE) {
      throw new EtlError('RECORD_INVALID', `not a schema-registry framed Avro message (magic byte ${String(message[0])}, ${message.length} bytes)`, {
        retriable: false,
      });
    }
    return message.readInt32BE(1);
  };

  const decodeKnown = (message: Buffer): T => {
    const read = readers.get(schemaIdOf(message));
    if (!read) throw new EtlError('INTERNAL', 'schema not loaded', { retriable: false });
    return read(message, HEADER_BYTES);
  };

  return {
    subject,
    schemaId,
    encode: (value) => codec.encode(value, header),
    async decode(message) {
      const id = schemaIdOf(message);
      if (!readers.has(id)) await load(id);
      return decodeKnown(message);
    },
    async decodeMany(messages) {
      const unknown = new Set<number>();
      for (const m of messages) {
        const id = schemaIdOf(m);
        if (!readers.has(id)) unknown.add(id);
      }
      await Promise.all([...unknown].map(load));
      return messages.map(decodeKnown);
    },
  };
}
