// Errors thrown by the library: `EventStoreError` with a stable `code` (subclasses add members, never
// codes), `ErrorCode`, and the `ensure*` guards that check options at construction and arguments per
// call. Callers match on `code` (`hasErrorCode`), never on the message; `docs/errors.md` lists every
// code and class, and a test keeps it in sync with this file.

/** Every error code the library can throw. The values are stable; messages may change. */
export const ErrorCode = {
  /** An argument or option has the wrong type or is out of range. */
  INVALID_ARG: 'ES_ERR_INVALID_ARG',
  /** A query used `from`/`to` on a store created with `enableWindowTracking: false`. */
  WINDOW_TRACKING_DISABLED: 'ES_ERR_WINDOW_TRACKING_DISABLED',
  /** A time-based query or `purge` was called on a store without a `timestampSelector`. */
  TIMESTAMP_SELECTOR_REQUIRED: 'ES_ERR_TIMESTAMP_SELECTOR_REQUIRED',
  /** The `timestampSelector` returned something that is not a finite epoch-millisecond time. */
  INVALID_TIMESTAMP: 'ES_ERR_INVALID_TIMESTAMP',
  /** The `window.value` selector returned something that is not a finite number. */
  INVALID_VALUE: 'ES_ERR_INVALID_VALUE',
  /** A user callback (`onEventDiscarded`, `onCapacityReached`) threw; the append itself completed. */
  CALLBACK_FAILED: 'ES_ERR_CALLBACK_FAILED',
  /** The call is not allowed in the object's current state (e.g. restore after appends). */
  INVALID_STATE: 'ES_ERR_INVALID_STATE',
  /** A snapshot or journal file is not valid (bad magic, checksum, length or contents). */
  SNAPSHOT_CORRUPT: 'ES_ERR_SNAPSHOT_CORRUPT',
  /** A snapshot was written with another schema version, codec, or partition count. */
  SNAPSHOT_SCHEMA_MISMATCH: 'ES_ERR_SNAPSHOT_SCHEMA_MISMATCH',
  /** Saving a snapshot would overwrite an existing file (never done silently). */
  SNAPSHOT_EXISTS: 'ES_ERR_SNAPSHOT_EXISTS',
  /** Every snapshot of a partition is corrupt and `allowEmptyRestore` is off. */
  RESTORE_FAILED: 'ES_ERR_RESTORE_FAILED',
  /** The journal could not write or fsync; the appends it covers are not acknowledged. */
  JOURNAL_FAILED: 'ES_ERR_JOURNAL_FAILED',
  /** The key dictionary of a `ColumnarEventStore` has no room for a new key (ids or bytes). */
  KEY_DICTIONARY_FULL: 'ES_ERR_KEY_DICTIONARY_FULL',
  /** HTTP: a malformed request (query parameter, header, empty body, batch larger than the stream). */
  BAD_REQUEST: 'ES_ERR_BAD_REQUEST',
  /** HTTP: the request body is not valid JSON or NDJSON. */
  INVALID_JSON: 'ES_ERR_INVALID_JSON',
  /** HTTP: a JSON value nests arrays and objects deeper than `maxJsonDepth`. */
  JSON_TOO_DEEP: 'ES_ERR_JSON_TOO_DEEP',
  /** HTTP: a JSON number a 64-bit float cannot hold exactly (`1e400`, a 23-digit integer). */
  UNREPRESENTABLE_NUMBER: 'ES_ERR_UNREPRESENTABLE_NUMBER',
  /** HTTP: a stream name breaks the naming rules (letters, digits, `._-~/`, 1-200 chars, no empty or dot segments). */
  INVALID_STREAM_NAME: 'ES_ERR_INVALID_STREAM_NAME',
  /** HTTP: the server requires `Authorization: Bearer <token>` and it is missing or wrong. */
  UNAUTHORIZED: 'ES_ERR_UNAUTHORIZED',
  /** HTTP: no route matches the path. */
  NOT_FOUND: 'ES_ERR_NOT_FOUND',
  /** HTTP: the stream does not exist (never appended to, or deleted). */
  STREAM_NOT_FOUND: 'ES_ERR_STREAM_NOT_FOUND',
  /** HTTP: the route exists but not for this method. */
  METHOD_NOT_ALLOWED: 'ES_ERR_METHOD_NOT_ALLOWED',
  /** HTTP: `Expected-Version` does not match the stream's last offset. */
  WRONG_EXPECTED_VERSION: 'ES_ERR_WRONG_EXPECTED_VERSION',
  /** HTTP: an idempotent producer used an epoch older than the newest one the stream has seen. */
  PRODUCER_FENCED: 'ES_ERR_PRODUCER_FENCED',
  /** HTTP: a producer sequence skips ahead (a gap) or is older than the dedupe window. */
  PRODUCER_SEQUENCE: 'ES_ERR_PRODUCER_SEQUENCE',
  /** HTTP: a producer sequence was already used with a different body. */
  IDEMPOTENCY_CONFLICT: 'ES_ERR_IDEMPOTENCY_CONFLICT',
  /** HTTP: a create (`PUT`) names a stream that exists with another configuration. */
  STREAM_EXISTS: 'ES_ERR_STREAM_EXISTS',
  /** HTTP: an append's content type differs from the stream's (or a JSON route meets a byte stream). */
  CONTENT_TYPE_MISMATCH: 'ES_ERR_CONTENT_TYPE_MISMATCH',
  /** HTTP: the stream is closed (`Stream-Closed`): it takes no more appends. */
  STREAM_CLOSED: 'ES_ERR_STREAM_CLOSED',
  /** HTTP: a `Stream-Seq` is not greater (as a string) than the stream's last one. */
  STREAM_SEQ_CONFLICT: 'ES_ERR_STREAM_SEQ_CONFLICT',
  /** HTTP: the stream was deleted but its data is kept for the forks that read it. */
  STREAM_GONE: 'ES_ERR_STREAM_GONE',
  /** HTTP: a fork names a source that was deleted (its data is kept only for its existing forks). */
  FORK_SOURCE_GONE: 'ES_ERR_FORK_SOURCE_GONE',
  /** HTTP: a producer's new epoch did not begin at `Producer-Seq` 0. */
  PRODUCER_EPOCH_START: 'ES_ERR_PRODUCER_EPOCH_START',
  /** HTTP: the requested offset was evicted by the stream's fixed capacity. */
  OFFSET_EVICTED: 'ES_ERR_OFFSET_EVICTED',
  /** HTTP: the request body is larger than the server's limit. */
  PAYLOAD_TOO_LARGE: 'ES_ERR_PAYLOAD_TOO_LARGE',
  /** HTTP: the request body has a content type the route does not accept. */
  UNSUPPORTED_MEDIA_TYPE: 'ES_ERR_UNSUPPORTED_MEDIA_TYPE',
  /** HTTP: a server limit (streams, live subscribers) is reached. */
  LIMIT_EXCEEDED: 'ES_ERR_LIMIT_EXCEEDED',
  /** HTTP: the events held by all streams would exceed the server's memory budget (`memoryBudgetBytes`). */
  INSUFFICIENT_STORAGE: 'ES_ERR_INSUFFICIENT_STORAGE',
  /**
   * HTTP: a change was applied but the journal failed to write it: it may still be kept (the journal
   * retries) or be lost in a crash. Retry with the same producer sequence, or read to find out.
   */
  OUTCOME_UNKNOWN: 'ES_ERR_OUTCOME_UNKNOWN',
  /** HTTP: the server is shutting down and takes no new requests. */
  SHUTTING_DOWN: 'ES_ERR_SHUTTING_DOWN',
  /** HTTP: fail-closed mode: snapshots have been failing for longer than `failClosedAfterMs`; appends wait. */
  SNAPSHOTS_FAILING: 'ES_ERR_SNAPSHOTS_FAILING',
  /**
   * HTTP, cluster mode: the node is cut off from the cluster's log (no connection to NATS, or the log
   * does not answer), so it takes no changes; nothing of the refused request was written.
   */
  LOG_UNAVAILABLE: 'ES_ERR_LOG_UNAVAILABLE',
  /** Server: `listen()` could not bind its port (in use, no permission, or not a local address). */
  LISTEN_FAILED: 'ES_ERR_LISTEN_FAILED',
  /** HTTP: an unexpected server failure (logged by the server). */
  INTERNAL: 'ES_ERR_INTERNAL',
  /** Client: the server could not be reached, or the connection broke before a response. */
  NETWORK: 'ES_ERR_NETWORK',
} as const;

/** One of the values of {@link ErrorCode}. */
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * The error class of the library; match on `code`. Every class reports its own `name`, a literal
 * (a subclass overrides the getter: `constructor.name` would not survive minification).
 */
export class EventStoreError extends Error {
  /** Stable machine-readable code, one of {@link ErrorCode}. */
  readonly code: ErrorCodeValue;
  /**
   * Facts of the case a program can act on, e.g. `{ currentVersion: 41 }` for a wrong expected
   * version (the server sends them as members of its problem answer). @default {}
   */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    code: ErrorCodeValue,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options?.details ?? {};
  }

  override get name(): string {
    return 'EventStoreError';
  }
}

/** Whether `err` is an {@link EventStoreError} with `code`: how the library matches the errors it catches. */
export function hasErrorCode(err: unknown, code: ErrorCodeValue): err is EventStoreError {
  return err instanceof EventStoreError && err.code === code;
}

/** Shorthand for an `ES_ERR_INVALID_ARG` error (`cause`: the error that made the argument invalid). */
export function invalidArg(message: string, options?: { cause?: unknown }): EventStoreError {
  return new EventStoreError(ErrorCode.INVALID_ARG, message, options);
}

/** Renders a received value for an error message: short, never throwing. */
export function describe(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date)
    return `Date(${Number.isNaN(value.getTime()) ? 'Invalid' : value.toISOString()})`;
  return `an ${typeof value}`;
}

/** `value` must be an integer in `[min, max]`. */
export function ensureInteger(
  name: string,
  value: unknown,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    throw invalidArg(`\`${name}\` must be an integer ${range}, received ${describe(value)}`);
  }
  return value;
}

/** `value` must be a finite number greater than zero. */
export function ensurePositiveNumber(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw invalidArg(`\`${name}\` must be a finite number > 0, received ${describe(value)}`);
  }
  return value;
}

/** `value` must be a finite number, zero or greater. */
export function ensureNonNegativeNumber(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw invalidArg(`\`${name}\` must be a finite number >= 0, received ${describe(value)}`);
  }
  return value;
}

/** `value` must be a function. */
export function ensureFunction<F>(name: string, value: unknown): F {
  if (typeof value !== 'function') {
    throw invalidArg(`\`${name}\` must be a function, received ${describe(value)}`);
  }
  return value as F;
}

/** `value` must be a boolean; `undefined` gives `fallback` when one is passed (an option's default). */
export function ensureBoolean(name: string, value: unknown, fallback?: boolean): boolean {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'boolean') {
    throw invalidArg(`\`${name}\` must be a boolean, received ${describe(value)}`);
  }
  return value;
}

/** `value` must be one of `allowed`. */
export function ensureOneOf<V extends string>(name: string, value: unknown, allowed: readonly V[]): V {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    const list = allowed.map((a) => `'${a}'`).join(' or ');
    throw invalidArg(`\`${name}\` must be ${list}, received ${describe(value)}`);
  }
  return value as V;
}

/** The journal's sync policies, as `JournalSyncPolicy` (snapshots/types.ts) spells them. */
const SYNC_POLICIES = ['always', 'everysec', 'no'] as const;

/**
 * `value` must be a journal sync policy: 'always', 'everysec' or 'no'; `undefined` gives `fallback`
 * when one is passed (an option's default). The one check of every option that names a policy.
 */
export function ensureSyncPolicy(
  name: string,
  value: unknown,
  fallback?: (typeof SYNC_POLICIES)[number],
): (typeof SYNC_POLICIES)[number] {
  if (value === undefined && fallback !== undefined) return fallback;
  return ensureOneOf(name, value, SYNC_POLICIES);
}

/**
 * `value` must be a time: a finite epoch-millisecond number or a valid `Date`. Returns milliseconds.
 */
export function ensureTime(name: string, value: unknown): number {
  const ms = value instanceof Date ? value.getTime() : value;
  if (typeof ms !== 'number' || !Number.isFinite(ms)) {
    throw invalidArg(
      `\`${name}\` must be a finite epoch-millisecond number or a valid Date, received ${describe(value)}`,
    );
  }
  return ms;
}
