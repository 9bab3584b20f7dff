/**
 * The handler's side of a message: the event and the context it receives (a fresh abort signal per
 * attempt, a child logger made on first use, `working()`), and what its failure means — dead-letter
 * now (a permanent error, or the last allowed attempt) or try again after a delay.
 */
import type { JsMsg } from "@nats-io/jetstream";
import type { EventCodec } from "../../../contracts/src/index.js";
import { type EventEnvelope, writerOf } from "../envelope.js";
import type { Logger } from "../logger.js";
import type { ReplayOrigin } from "../replay.js";
import { ConsumerErrorCode, isRetryable } from "./errors.js";
import type { Entry } from "./key-scheduler.js";
import type { ConsumedEvent, HandlerContext } from "./types.js";

/** A payload as the codec decoded it. */
export type Decoded = Awaited<ReturnType<EventCodec["decode"]>>;

/** Why a message is dead-lettered: the `Threadline-Dlq-Code` and `-Message`. */
export interface DeadLetterReason {
  readonly code: string;
  readonly message: string;
}

/** What a failed attempt leads to. */
export type FailureDecision = { readonly deadLetter: DeadLetterReason } | { readonly retryInMs: number };

/** The running attempt's `ctx.signal`, made on first use (most handlers never look at it). */
export function signalOf(e: Entry): AbortSignal {
  if (!e.abort) {
    e.abort = new AbortController();
    if (e.abortReason !== undefined) e.abort.abort(e.abortReason);
  }
  return e.abort.signal;
}

/** Aborts the running attempt's signal (now, or when the handler first asks for it). */
export function abortEntry(e: Entry, reason: unknown): void {
  e.abortReason = reason;
  e.abort?.abort(reason);
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The event a handler receives. */
export function consumedEvent(
  msg: JsMsg,
  seq: number,
  envelope: EventEnvelope,
  decoded: Decoded,
  o: { readonly key: string; readonly deliveryCount: number; readonly attempt: number },
): ConsumedEvent<unknown> {
  const info = msg.info;
  return {
    envelope,
    id: envelope.id,
    type: envelope.type,
    key: o.key,
    value: decoded.value,
    writer: writerOf(decoded),
    routingSubject: msg.subject,
    stream: info.stream,
    streamSequence: seq,
    deliveryCount: o.deliveryCount,
    attempt: o.attempt,
    headers: msg.headers,
  };
}

/** The context of one attempt at the entry, with a fresh `signal`. */
export function handlerContext(
  e: Entry,
  o: {
    readonly log: Logger;
    readonly envelope: EventEnvelope;
    readonly key: string;
    readonly attempt: number;
    readonly lastAttempt: boolean;
    readonly working: () => void;
    readonly replay: ReplayOrigin | undefined;
    readonly owner: () => boolean;
  },
): HandlerContext {
  e.abort = undefined; // a fresh signal for each attempt
  const { log: parentLog, envelope, key } = o;
  let childLog: Logger | undefined;
  return {
    get signal() {
      return signalOf(e);
    },
    working: o.working,
    // Made on first use: most handlers never log, and the hot path pays for nothing it does not need.
    get logger() {
      childLog ??= parentLog.child({ eventId: envelope.id, eventType: envelope.type, key, seq: e.seq });
      return childLog;
    },
    attempt: o.attempt,
    lastAttempt: o.lastAttempt,
    delivery: o.replay?.kind ?? "live",
    replay: o.replay,
    owner: o.owner,
  };
}

/**
 * What a failure of attempt `attempt` means: a permanent error (`retryable === false`) is dead-lettered
 * with its own code (HANDLER_PERMANENT without one), the last allowed attempt with MAX_DELIVERIES; any
 * other is retried after the error's `retryAfterMs`, else after `retryDelay(attempt)`.
 */
export function decideOnFailure(
  err: unknown,
  attempt: number,
  maxDeliver: number,
  retryDelay: (attempt: number) => number,
): FailureDecision {
  const message = errorMessage(err);
  if (!isRetryable(err)) {
    const code = (err as { code?: unknown }).code;
    return {
      deadLetter: {
        code: typeof code === "string" && code !== "" ? code : ConsumerErrorCode.HandlerPermanent,
        message,
      },
    };
  }
  if (attempt >= maxDeliver) {
    return {
      deadLetter: {
        code: ConsumerErrorCode.MaxDeliveries,
        message: `failed ${attempt} time(s); last error: ${message}`,
      },
    };
  }
  const retryAfter = (err as { retryAfterMs?: unknown }).retryAfterMs;
  return { retryInMs: typeof retryAfter === "number" && retryAfter >= 0 ? retryAfter : retryDelay(attempt) };
}
