/** The ops console's errors: one class, the code (contracts' error catalogue) says which. */
import { type CatalogedErrorCode, ThreadlineError } from "../../../contracts/src/index.js";

/** The codes the console raises. Codes are stable: never reuse a retired one. */
export const ConsoleErrorCode = {
  ConfigInvalid: "CONSOLE_CONFIG_INVALID",
  AccountsInvalid: "CONSOLE_ACCOUNTS_INVALID",
  SignInFailed: "CONSOLE_SIGN_IN_FAILED",
  NoRole: "CONSOLE_NO_ROLE",
  Unauthenticated: "CONSOLE_UNAUTHENTICATED",
  Forbidden: "CONSOLE_FORBIDDEN",
  CsrfRejected: "CONSOLE_CSRF_REJECTED",
  RequestInvalid: "CONSOLE_REQUEST_INVALID",
  NotFound: "CONSOLE_NOT_FOUND",
  UpstreamFailed: "CONSOLE_UPSTREAM_FAILED",
  NotReady: "CONSOLE_NOT_READY",
  TooMany: "CONSOLE_TOO_MANY_REQUESTS",
} as const satisfies Record<string, CatalogedErrorCode>;
export type ConsoleErrorCode = (typeof ConsoleErrorCode)[keyof typeof ConsoleErrorCode];

export class ConsoleError extends ThreadlineError {
  constructor(
    override readonly code: ConsoleErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/** The HTTP status each code answers with. */
export const HTTP_STATUS: Readonly<Record<ConsoleErrorCode, number>> = {
  CONSOLE_CONFIG_INVALID: 500,
  CONSOLE_ACCOUNTS_INVALID: 500,
  CONSOLE_SIGN_IN_FAILED: 401,
  CONSOLE_NO_ROLE: 403,
  CONSOLE_UNAUTHENTICATED: 401,
  CONSOLE_FORBIDDEN: 403,
  CONSOLE_CSRF_REJECTED: 403,
  CONSOLE_REQUEST_INVALID: 400,
  CONSOLE_NOT_FOUND: 404,
  CONSOLE_UPSTREAM_FAILED: 502,
  CONSOLE_NOT_READY: 503,
  CONSOLE_TOO_MANY_REQUESTS: 429,
};
