// Errors of the HTTP client, rebuilt from the server's application/problem+json body: an
// EventStoreError with the server's `code`, plus the HTTP status and the problem's extra members.
// No Node-only imports (runs in browsers).

import { ErrorCode, type ErrorCodeValue, EventStoreError } from '../errors.js';

/** An error answered by the server (or a network failure, `status` 0). Match on `code`. */
export class EventStoreHttpError extends EventStoreError {
  /** HTTP status; 0 when no response arrived (`ES_ERR_NETWORK`). */
  readonly status: number;
  /** The problem body (type, title, status, detail, code and extras such as `currentVersion`). */
  readonly problem: Readonly<Record<string, unknown>>;

  constructor(
    code: ErrorCodeValue,
    message: string,
    status: number,
    problem: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(code, message, { ...options, details: detailsOf(problem) });
    this.status = status;
    this.problem = problem;
  }

  override get name(): string {
    return 'EventStoreHttpError';
  }
}

const PROBLEM_MEMBERS = new Set(['type', 'title', 'status', 'detail', 'code']);

/** The members of a problem beyond the standard ones (`currentVersion`, `expectedSeq`, …). */
function detailsOf(problem: Record<string, unknown>): Record<string, unknown> {
  const details: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(problem)) if (!PROBLEM_MEMBERS.has(key)) details[key] = value;
  return details;
}

/** Rebuilds the error of a non-2xx response. */
export async function errorFromResponse(res: Response): Promise<EventStoreHttpError> {
  let problem: Record<string, unknown> = {};
  try {
    const text = await res.text();
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null) problem = parsed as Record<string, unknown>;
  } catch {
    // Not a problem body (a proxy's error page, or a node parser error): keep the status.
  }
  const code =
    typeof problem.code === 'string' && problem.code.startsWith('ES_ERR_')
      ? (problem.code as ErrorCodeValue)
      : res.status >= 500
        ? ErrorCode.INTERNAL
        : ErrorCode.BAD_REQUEST;
  const detail = typeof problem.detail === 'string' ? problem.detail : `HTTP ${res.status} ${res.statusText}`;
  return new EventStoreHttpError(code, detail, res.status, problem);
}

/** A failure without a response: the request may or may not have reached the server. */
export function networkError(err: unknown): EventStoreHttpError {
  return new EventStoreHttpError(
    ErrorCode.NETWORK,
    `request failed before a response: ${(err as Error)?.message ?? String(err)}`,
    0,
    {},
    { cause: err },
  );
}
