/**
 * The handler's side of a message: the event and the context it receives (a fresh abort signal per
 * attempt, a child logger made on first use, `working()`), and what its failure means — dead-letter
 * now (a permanent error, or the last allowed attempt) or try again after a delay.
 */
import type { JsMsg } from "@nats-io/jetstream";
import type { MsgHdrs } from "@nats-io/nats-core";
import type { EventCodec } from "../../../contracts/src/index.js";
import { type EventEnvelope, writerOf } from "../envelope.js";
import type { Logger } from "../logger.js";
import type { DeliveryKind, ReplayOrigin } from "../replay.js";
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

/** Where a replayed event came from, which it reports instead of the replay channel's. */
export interface EventOrigin {
  readonly stream: string;
  readonly streamSequence: number;
  readonly routingSubject: string;
}

/**
 * The event a handler receives. A class, not a literal: its `headers` are nats.js's header object,
 * built only if the handler reads them (the envelope was read from the raw header block).
 */
class Consumed implements ConsumedEvent<unknown> {
  readonly id: string;
  readonly type: string;
  readonly value: unknown;
  readonly writer: { readonly fingerprint: string; readonly version?: number };
  readonly routingSubject: string;
  readonly stream: string;
  readonly streamSequence: number;
  readonly #msg: JsMsg;

  constructor(
    msg: JsMsg,
    origin: EventOrigin,
    readonly envelope: EventEnvelope,
    decoded: Decoded,
    readonly key: string,
    readonly deliveryCount: number,
    readonly attempt: number,
  ) {
    this.#msg = msg;
    this.id = envelope.id;
    this.type = envelope.type;
    this.value = decoded.value;
    this.writer = writerOf(decoded);
    this.routingSubject = origin.routingSubject;
    this.stream = origin.stream;
    this.streamSequence = origin.streamSequence;
  }

  get headers(): MsgHdrs | undefined {
    return this.#msg.headers;
  }
}

/** The event a handler receives; `origin` (a replay's) replaces the delivery's stream, sequence and subject. */
export function consumedEvent(
  msg: JsMsg,
  seq: number,
  envelope: EventEnvelope,
  decoded: Decoded,
  o: {
    readonly key: string;
    readonly deliveryCount: number;
    readonly attempt: number;
    readonly origin?: EventOrigin | undefined;
  },
): ConsumedEvent<unknown> {
  const origin = o.origin ?? { stream: msg.info.stream, streamSequence: seq, routingSubject: msg.subject };
  return new Consumed(msg, origin, envelope, decoded, o.key, o.deliveryCount, o.attempt);
}

/** What one attempt's context is made of. */
export interface AttemptContext {
  readonly log: Logger;
  readonly envelope: EventEnvelope;
  readonly key: string;
  readonly attempt: number;
  readonly lastAttempt: boolean;
  readonly working: () => void;
  readonly replay: ReplayOrigin | undefined;
  readonly owner: () => boolean;
}

/**
 * One attempt's context. Its signal and child logger are made on first use: most handlers never look
 * at them, and the hot path pays for nothing it does not need.
 */
class AttemptHandlerContext implements HandlerContext {
  readonly working: () => void;
  readonly attempt: number;
  readonly lastAttempt: boolean;
  readonly delivery: DeliveryKind;
  readonly replay: ReplayOrigin | undefined;
  readonly owner: () => boolean;
  readonly #e: Entry;
  readonly #o: AttemptContext;
  #log: Logger | undefined;

  constructor(e: Entry, o: AttemptContext) {
    this.#e = e;
    this.#o = o;
    this.working = o.working;
    this.attempt = o.attempt;
    this.lastAttempt = o.lastAttempt;
    this.delivery = o.replay?.kind ?? "live";
    this.replay = o.replay;
    this.owner = o.owner;
  }

  get signal(): AbortSignal {
    return signalOf(this.#e);
  }

  get logger(): Logger {
    const { envelope, key } = this.#o;
    this.#log ??= this.#o.log.child({
      eventId: envelope.id,
      eventType: envelope.type,
      key,
      seq: this.#e.seq,
    });
    return this.#log;
  }
}

/** The context of one attempt at the entry, with a fresh `signal`. */
export function handlerContext(e: Entry, o: AttemptContext): HandlerContext {
  e.abort = undefined; // a fresh signal for each attempt
  return new AttemptHandlerContext(e, o);
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
