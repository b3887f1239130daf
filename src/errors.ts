/** Stable codes for the failures healthgate expects; code branches on these, never on message text. */
export type ErrorCode = 'HG_HEAD_TIMEOUT' | 'HG_HEAD_TOO_LARGE' | 'HG_BAD_REQUEST' | 'HG_BACKEND_UNREACHABLE' | 'HG_USAGE';

/** Base class: every expected failure carries a stable `code`. */
export class HealthgateError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** A bad command line or environment: the CLI prints `healthgate: <message>` and exits 2. */
export class UsageError extends HealthgateError {
  constructor(message: string) {
    super('HG_USAGE', message);
  }
}

/** One address tried for the backend, and why it failed (`ECONNREFUSED`, `ETIMEDOUT`, …). */
export interface ConnectAttempt {
  /** `host:port`, IPv6 in brackets. */
  readonly address: string;
  readonly code: string;
}

/** The backend refused, or did not accept within the connect timeout; `attempts` says what was tried. */
export class BackendUnreachableError extends HealthgateError {
  constructor(
    message: string,
    readonly timedOut: boolean,
    readonly attempts: readonly ConnectAttempt[] = [],
  ) {
    super('HG_BACKEND_UNREACHABLE', message);
  }
}

/** Errors answered to a client before a route is chosen: their HTTP status and metric label. */
export const ANSWERED_ERRORS = {
  HG_HEAD_TIMEOUT: { status: 408, metricKind: 'header_timeout' },
  HG_HEAD_TOO_LARGE: { status: 431, metricKind: 'header_too_large' },
  HG_BAD_REQUEST: { status: 400, metricKind: 'bad_request' },
  HG_BACKEND_UNREACHABLE: { status: 503, metricKind: 'backend_unreachable' },
} as const;

/** A code of an error that healthgate answers with an HTTP status. */
export type AnsweredErrorCode = keyof typeof ANSWERED_ERRORS;

/** True when `err` is a Node system error with the given errno code (ECONNRESET, EMFILE, …). */
export function hasErrnoCode(err: unknown, ...codes: string[]): boolean {
  return (
    typeof err === 'object' &&
    err !== null &&
    typeof (err as { code?: unknown }).code === 'string' &&
    codes.includes((err as { code: string }).code)
  );
}
