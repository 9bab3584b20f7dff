/**
 * Dead letters on the wire: what a consumer writes to `MFG_DLQ` when it gives up on a message, and how
 * everything else (reconciliation, the demo, ops tools, tests) reads it back. The header names and
 * their formats are spelled here once.
 *
 * A dead letter is the original message — its bytes, and its headers except the `Nats-*` ones (server
 * directives such as `Nats-Msg-Id` or `Nats-Expected-*` would dedup or refuse the dead letter; the
 * event's own id stays in `ce-id`) — plus the `Threadline-Dlq-*` headers ({@link DLQ_HEADERS}): where it
 * came from (stream, sequence, subject), who gave up on it (consumer) after how many attempts, why
 * (code, message), and when (first and last failure, ISO-8601). The consumer publishes it on
 * `dlqSubject(stream, consumer)` with `Nats-Msg-Id` `<stream>:<sequence>`.
 *
 * A producer dead-letters what it refuses before publishing it — an Odoo record the connector's inbound
 * sync cannot vouch for — with {@link deadLetterRefused}: the same headers, with `stream` and `subject`
 * where it would have gone, no `Threadline-Dlq-Sequence` (it never was in a stream), and a token of the
 * producer's own in the consumer's place (`mfg.dlq.<stream>.<producer>`, granted by `access.deadLetters`).
 *
 * ```ts
 * const letter = readDeadLetter(await jsm.streams.getMessage(DLQ_STREAM, { seq }));
 * console.log(letter.code, letter.message, letter.headers.get("ce-id"));
 * ```
 */
import type { JetStreamClient } from "@nats-io/jetstream";
import { type MsgHdrs, headers as natsHeaders } from "@nats-io/nats-core";
import type { Registry } from "prom-client";
import { type CatalogedErrorCode, ThreadlineError } from "../../contracts/src/index.js";
import { metricsFor } from "./metrics.js";
import { DLQ_HEADERS, DLQ_STREAM, dlqSubject } from "./names.js";

/** A message a consumer gave up on, with where it came from and why. */
export interface DeadLetter {
  /** The stream the message was consumed from. */
  readonly stream: string;
  /**
   * Its sequence in that stream; undefined for something a producer refused before publishing it
   * ({@link deadLetterRefused}): it never was in a stream.
   */
  readonly sequence: number | undefined;
  /** The subject it was published on (for a producer's refusal: would have been). */
  readonly subject: string;
  /** The durable consumer that gave up on it, or the producer's token for what it refused. */
  readonly consumer: string;
  /** Attempts made: the server's deliveries plus in-place retries (ordered consumers). */
  readonly deliveries: number;
  /** The reason: the failing error's `code` (`CONNECTOR_ORDER_NOT_FOUND`, `BAD_MARKER`..., see docs/errors.md) or the consumer's own (`MAX_DELIVERIES`...). */
  readonly code: string;
  /** What went wrong, in words (may be empty: an error without a message). */
  readonly message: string;
  readonly firstFailureAt: Date;
  readonly lastFailureAt: Date;
  /** The original message's headers (without `Nats-*`, which a dead letter does not keep). */
  readonly headers: MsgHdrs;
  /** The original message's bytes (empty when the dead letter was read headers only). */
  readonly data: Uint8Array;
}

/** What {@link deadLetterHeaders} writes: a dead letter without its bytes; the original may have had no headers. */
export type DeadLetterFields = Omit<DeadLetter, "data" | "headers"> & {
  readonly headers?: MsgHdrs | undefined;
};

/** A dead letter as it arrives: consumed (`JsMsg`, `Msg`: `headers`) or stored (`StoredMsg` from `getMessage`: `header`). */
export type DeadLetterMessage =
  | { readonly headers?: MsgHdrs | undefined; readonly data: Uint8Array }
  | { readonly header: MsgHdrs; readonly data: Uint8Array };

/** Error codes of the dead-letter codec. Codes are stable: never reuse a retired one. */
export const DeadLetterErrorCode = {
  NotADeadLetter: "NOT_A_DEAD_LETTER",
} as const satisfies Record<string, CatalogedErrorCode>;

/** A message read as a dead letter that is not one: a `Threadline-Dlq-*` header is missing or malformed. */
export class NotADeadLetterError extends ThreadlineError {
  constructor(
    /** The header that is missing or malformed, e.g. `Threadline-Dlq-Sequence`. */
    readonly header: string,
    detail: string,
  ) {
    super(
      DeadLetterErrorCode.NotADeadLetter,
      `not a dead letter: header ${header} ${detail}; dead letters are written by a Threadline consumer or a producer's deadLetterRefused with the Threadline-Dlq-* headers (read this message as an ordinary one, or find what else publishes on mfg.dlq.>)`,
    );
  }
}

/** `Nats-*` headers are server directives, `Threadline-Dlq-*` the dead letter's own: neither is the original's. */
const NOT_ORIGINAL = /^(nats|threadline-dlq)-/i;
const NATS_DIRECTIVE = /^nats-/i;

/**
 * The headers of the dead letter of a message: the original's headers, `Nats-*` left out, with the
 * `Threadline-Dlq-*` headers set (replacing those of an earlier dead-lettering, for a redriven message).
 */
export function deadLetterHeaders(letter: DeadLetterFields): MsgHdrs {
  const h = natsHeaders();
  if (letter.headers) {
    for (const k of letter.headers.keys()) {
      if (NATS_DIRECTIVE.test(k)) continue;
      for (const v of letter.headers.values(k)) h.append(k, v);
    }
  }
  h.set(DLQ_HEADERS.stream, letter.stream);
  if (letter.sequence !== undefined) h.set(DLQ_HEADERS.sequence, String(letter.sequence));
  h.set(DLQ_HEADERS.subject, letter.subject);
  h.set(DLQ_HEADERS.consumer, letter.consumer);
  h.set(DLQ_HEADERS.deliveries, String(letter.deliveries));
  h.set(DLQ_HEADERS.code, freeText(letter.code));
  h.set(DLQ_HEADERS.message, freeText(letter.message));
  h.set(DLQ_HEADERS.firstFailureAt, letter.firstFailureAt.toISOString());
  h.set(DLQ_HEADERS.lastFailureAt, letter.lastFailureAt.toISOString());
  return h;
}

/**
 * Reads a dead letter. Throws {@link NotADeadLetterError} naming the first `Threadline-Dlq-*` header
 * that is missing or malformed (the message may be empty or missing). `Threadline-Dlq-Sequence` may be
 * absent (a producer's refusal: `sequence` undefined), not malformed.
 */
export function readDeadLetter(msg: DeadLetterMessage): DeadLetter {
  const h = "header" in msg ? (msg.header as MsgHdrs) : msg.headers;
  const text = (name: string): string => {
    const value = h?.get(name) ?? "";
    if (value === "") throw new NotADeadLetterError(name, "is missing");
    return value;
  };
  const count = (name: string): number => {
    const value = text(name);
    const n = Number(value);
    if (!/^[1-9][0-9]*$/.test(value) || !Number.isSafeInteger(n))
      throw new NotADeadLetterError(name, `is not a positive integer (${JSON.stringify(value)})`);
    return n;
  };
  const time = (name: string): Date => {
    const value = text(name);
    const at = new Date(value);
    if (Number.isNaN(at.getTime()))
      throw new NotADeadLetterError(name, `is not an ISO-8601 time (${JSON.stringify(value)})`);
    return at;
  };
  const letter = {
    stream: text(DLQ_HEADERS.stream),
    sequence: h?.has(DLQ_HEADERS.sequence) ? count(DLQ_HEADERS.sequence) : undefined,
    subject: text(DLQ_HEADERS.subject),
    consumer: text(DLQ_HEADERS.consumer),
    deliveries: count(DLQ_HEADERS.deliveries),
    code: text(DLQ_HEADERS.code),
    message: h?.get(DLQ_HEADERS.message) ?? "",
    firstFailureAt: time(DLQ_HEADERS.firstFailureAt),
    lastFailureAt: time(DLQ_HEADERS.lastFailureAt),
  };
  const original = natsHeaders();
  for (const k of h?.keys() ?? []) {
    if (NOT_ORIGINAL.test(k)) continue;
    for (const v of h?.values(k) ?? []) original.append(k, v);
  }
  return { ...letter, headers: original, data: msg.data };
}

/** Something a producer refused before publishing it, for {@link deadLetterRefused}. */
export interface RefusedMessage {
  /** The stream it would have been published to: the first token after `mfg.dlq.`. */
  readonly stream: string;
  /** The subject it would have been published on. */
  readonly subject: string;
  /**
   * The producer's token in place of a consumer (`mfg.dlq.<stream>.<producer>`, `Threadline-Dlq-Consumer`):
   * `<service>-…`, never a declared durable's name; its NATS user is granted exactly that subject by
   * the manifest's `access.deadLetters`.
   */
  readonly producer: string;
  /** Why it was refused: a catalogued error code (docs/errors.md). */
  readonly code: string;
  /** What is wrong with it, in words: what it is and the reason. */
  readonly message: string;
  /** When it was first refused (the last attempt is now). */
  readonly refusedAt: Date;
  /** Identifies this refusal of this version of the thing: `Nats-Msg-Id`, so the DLQ keeps it once per duplicate window. */
  readonly id: string;
  /** Its own headers: a content type and what identifies it (they stay the dead letter's original headers). */
  readonly headers?: MsgHdrs;
  /** Its bytes, as the producer read them. */
  readonly data: Uint8Array;
}

/**
 * Dead-letters what a producer refused before publishing it — one attempt, the PubAck awaited — on
 * `mfg.dlq.<stream>.<producer>` with `Nats-Msg-Id` = `id`, and counts it in
 * `threadline_dead_lettered_total{stream, consumer: producer, reason: code}` once stored. Resolves with
 * `duplicate: true` when the DLQ already had that id (the same refusal within its duplicate window);
 * throws what the publish threw (the caller keeps the refusal and tries again later).
 */
export async function deadLetterRefused(
  js: JetStreamClient,
  refused: RefusedMessage,
  options: { readonly registry?: Registry } = {},
): Promise<{ readonly duplicate: boolean }> {
  const headers = deadLetterHeaders({
    stream: refused.stream,
    sequence: undefined,
    subject: refused.subject,
    consumer: refused.producer,
    deliveries: 1,
    code: refused.code,
    message: refused.message,
    firstFailureAt: refused.refusedAt,
    lastFailureAt: new Date(),
    headers: refused.headers,
  });
  const ack = await js.publish(dlqSubject(refused.stream, refused.producer), refused.data, {
    headers,
    msgID: refused.id,
    expect: { streamName: DLQ_STREAM },
  });
  if (!ack.duplicate)
    metricsFor(options.registry).deadLettered.inc({
      stream: refused.stream,
      consumer: refused.producer,
      reason: refused.code,
    });
  return { duplicate: ack.duplicate };
}

/** Header values cannot carry CR/LF; keep them short too. */
function freeText(text: string): string {
  const flat = text.replace(/[\r\n]+/g, " ");
  return flat.length > 1024 ? `${flat.slice(0, 1021)}...` : flat;
}
