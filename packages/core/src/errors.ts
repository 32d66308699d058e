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

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
