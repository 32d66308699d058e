/**
 * One error family for the whole pipeline (after KafkaJS's `errors.js`): a stable `code`, whether a
 * retry can help (`retriable`), the `cause`, and for user-facing errors a `hint` that says what to do.
 * Runtimes decide policy from `retriable`: transient errors retry with backoff, never go to the DLQ;
 * permanent record errors go to the DLQ; permanent job errors fail the job.
 */
export type ErrorCode =
  | 'SPEC_INVALID'
  | 'SOURCE_UNAUTHORIZED'
  | 'SOURCE_INDEX_NOT_FOUND'
  | 'SOURCE_POD_INDEX'
  | 'SOURCE_UNSUPPORTED'
  | 'TARGET_COLLECTION_EXISTS'
  | 'TARGET_UNSUPPORTED'
  | 'TARGET_UNAVAILABLE'
  | 'LOG_UNAVAILABLE'
  | 'RATE_LIMITED'
  | 'TRANSIENT'
  | 'RECORD_INVALID'
  | 'RECORD_REJECTED'
  | 'JOB_NOT_FOUND'
  | 'JOB_STATE'
  | 'STACK'
  | 'CANCELLED'
  | 'INTERNAL';

export interface EtlErrorOptions {
  retriable?: boolean;
  cause?: unknown;
  hint?: string;
  /** Path of the offending field, e.g. `target.fields.id`. */
  field?: string;
  details?: Record<string, unknown>;
}

export class EtlError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly hint: string | undefined;
  readonly field: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: EtlErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EtlError';
    this.code = code;
    this.retriable = options.retriable ?? (code === 'RATE_LIMITED' || code === 'TRANSIENT' || code === 'TARGET_UNAVAILABLE' || code === 'LOG_UNAVAILABLE');
    this.hint = options.hint;
    this.field = options.field;
    this.details = options.details;
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, hint: this.hint, field: this.field, retriable: this.retriable };
  }
}

/** A spec problem, reported field by field (the HTTP API answers 400 with these). */
export interface FieldIssue {
  path: string;
  message: string;
}

export class SpecError extends EtlError {
  readonly issues: FieldIssue[];
  constructor(issues: FieldIssue[], hint?: string) {
    super('SPEC_INVALID', issues.map((i) => `${i.path}: ${i.message}`).join('; '), { retriable: false, hint, field: issues[0]?.path });
    this.name = 'SpecError';
    this.issues = issues;
  }
}

export function isRetriable(err: unknown): boolean {
  return err instanceof EtlError ? err.retriable : false;
}

/**
 * Words for any thrown or rejected value, never "[object Object]": client libraries reject with
 * plain objects (HTTP answers `{ status, message }`, gRPC statuses `{ code, reason }`, error
 * bodies `{ error: { message } }`), so the text is looked for where they keep it, and a value
 * with none is shown as JSON.
 */
export function errorMessage(err: unknown): string {
  return describeThrown(err, 0);
}

const MAX_JSON_CHARS = 500;

function describeThrown(err: unknown, depth: number): string {
  if (err instanceof Error) return err.message || err.name;
  if (typeof err === 'string') return err;
  if (err === null || err === undefined) return `no error detail (${String(err)})`;
  if (typeof err !== 'object') return String(err as number | boolean | bigint | symbol);
  const o = err as Record<string, unknown>;
  const status = o['status'] ?? o['statusCode'] ?? o['code'] ?? o['error_code'];
  const statusPrefix = typeof status === 'number' || (typeof status === 'string' && status !== '') ? `${String(status)}: ` : '';
  for (const key of ['message', 'reason', 'detail', 'error_description']) {
    const text = o[key];
    if (typeof text === 'string' && text !== '') return `${statusPrefix}${text}`;
  }
  // `{ error: "..." }` or `{ error: { message } }` (Pinecone, Zilliz and registry answers)
  if (o['error'] !== undefined && o['error'] !== null && depth < 3) return `${statusPrefix}${describeThrown(o['error'], depth + 1)}`;
  return `${statusPrefix}${jsonOf(err)}`;
}

function jsonOf(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? Object.prototype.toString.call(value);
  } catch {
    // A cycle, or a getter that throws: name what it is rather than fail while reporting a failure.
    const name = (value as { constructor?: { name?: string } }).constructor?.name ?? 'object';
    return `${name} without a message`;
  }
  return text.length > MAX_JSON_CHARS ? `${text.slice(0, MAX_JSON_CHARS)}…` : text;
}
