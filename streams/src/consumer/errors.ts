/**
 * The consumer's errors: its own failures (illegal state, setup, shutdown abort) and the two a handler
 * throws to say what a failure means (`PermanentError`: dead-letter now; `RetryableError`: try again,
 * optionally after a given delay).
 */
import { type CatalogedErrorCode, type ErrorCode, ThreadlineError } from "../../../contracts/src/index.js";
import type { ConsumerState } from "./types.js";

/** Error codes of the consumer; also the `Threadline-Dlq-Code` of dead letters it makes itself. */
export const ConsumerErrorCode = {
  IllegalState: "CONSUMER_ILLEGAL_STATE",
  Setup: "CONSUMER_SETUP",
  ShutdownAbort: "CONSUMER_SHUTDOWN_ABORT",
  /** Dead-letter reason: a handler threw a non-retryable error without a code of its own. */
  HandlerPermanent: "HANDLER_PERMANENT",
  /** Dead-letter reason: the last allowed attempt failed. */
  MaxDeliveries: "MAX_DELIVERIES",
  /** Dead-letter reason: no handler for the type and `onUnhandledType: "dead-letter"`. */
  UnhandledType: "UNHANDLED_TYPE",
} as const satisfies Record<string, CatalogedErrorCode>;

/** A method called in a state that does not allow it (e.g. `resume()` while stopping). */
export class IllegalStateError extends ThreadlineError {
  constructor(
    readonly operation: string,
    readonly state: ConsumerState,
  ) {
    super(ConsumerErrorCode.IllegalState, `cannot ${operation} a consumer that is ${state}`);
  }
}

/** The durable cannot be consumed as configured (missing, push-based, not explicit-ack, ...). */
export class ConsumerSetupError extends ThreadlineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ConsumerErrorCode.Setup, message, options);
  }
}

/** The reason of `ctx.signal` when the shutdown deadline passes. */
export class ShutdownAbortError extends ThreadlineError {
  constructor(timeoutMs: number) {
    super(
      ConsumerErrorCode.ShutdownAbort,
      `the consumer's drain deadline (${timeoutMs} ms) passed: the message was nak'd and will be redelivered`,
    );
  }
}

/**
 * A failure that retrying cannot fix: the event is dead-lettered at once with `code` as its reason
 * (a code of the catalogue, so docs/errors.md says what to do about the dead letter).
 * (Like Temporal's `ApplicationFailure.nonRetryable`.)
 */
export class PermanentError extends ThreadlineError {
  readonly retryable = false as const;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** A transient failure, optionally saying when to try again (e.g. an ERP's Retry-After). */
export class RetryableError extends ThreadlineError {
  readonly retryable = true as const;
  readonly retryAfterMs: number | undefined;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; retryAfterMs?: number }) {
    super(code, message, options);
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/** False for errors marked non-retryable (`retryable === false`, e.g. {@link PermanentError}). */
export function isRetryable(err: unknown): boolean {
  return !(typeof err === "object" && err !== null && (err as { retryable?: unknown }).retryable === false);
}
