/**
 * Typed publishing of canonical events: validate + encode (nothing invalid is sent), CloudEvents
 * headers, `Nats-Msg-Id` = `ce-id` for server-side dedup, and the PubAck awaited.
 *
 * Transient failures (no responders while a stream leader is elected or the server restarts, PubAck
 * timeouts, a connection that is reconnecting) are retried with jittered exponential backoff under a
 * {@link RetryPolicy}. Every attempt carries the SAME `ce-id` / `Nats-Msg-Id`, so a retry after a lost
 * PubAck is deduplicated by the stream (within its duplicate window) instead of storing the event twice.
 *
 * The async mode ({@link EventPublisher.batch}, {@link EventPublisher.publishAsync}) keeps at most
 * `maxInFlight` publishes awaiting their PubAck; `publish` waits while the window is full, `flush()`
 * resolves when every ack arrived or rejects with {@link PublishBatchError} listing each failure.
 */

import { isProxy } from "node:util/types";
import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import { JetStreamApiError, PubHeaders } from "@nats-io/jetstream";
import { type MsgHdrs, type NatsConnection, errors as natsErrors } from "@nats-io/nats-core";
import type { Registry } from "prom-client";
import {
  type CatalogedErrorCode,
  type EventCodec,
  type EventInputs,
  type EventType,
  ThreadlineError,
} from "../../contracts/src/index.js";
import { type BackoffPolicy, backoffDelay, parseBackoff, sleep } from "./backoff.js";
import {
  dataschemaOf,
  type EventEnvelope,
  newEventId,
  newTraceparent,
  sourceUrn,
  subjectFor,
  toHeaders,
} from "./envelope.js";
import { ConfigError } from "./errors.js";
import { type Logger, silentLogger } from "./logger.js";
import { metricsFor, type PublishErrorLabel, type ThreadlineMetrics } from "./metrics.js";
import { PubAckInbox } from "./pub-ack-inbox.js";

/** Where an event is routed and what it is about. */
export interface PublishTarget {
  /** Site token of the subject. */
  site: string;
  /** Optional line token. */
  line?: string;
  /** Optional machine token (needs `line`). */
  machine?: string;
  /** `ce-subject`: the business key (order, lot, machine). */
  key: string;
  /** Reuse an id to make a retry or a replay idempotent. @default a new UUIDv7 */
  id?: string;
  /** @default now */
  time?: Date;
  /** Continue a trace. @default a new trace */
  traceparent?: string;
  /**
   * Compare-and-set on the subject: the server stores the event only while the last message on its
   * subject is this stream sequence (0: none yet), so a writer that is no longer the subject's only
   * one is refused (`api_10071`, never retried) instead of writing beside the other. A retry of an
   * event that did land (its ack lost) is answered as a duplicate by nats-server 2.9 but refused by
   * 2.15, which checks the expectation before `Nats-Msg-Id`: a writer must treat a refusal as "read
   * the subject back", not as proof that someone else wrote.
   * @default no expectation
   */
  expectedLastSubjectSequence?: number;
}

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

/** When to give up retrying a publish: whichever limit is reached first. */
export interface RetryPolicy extends BackoffPolicy {
  /** Attempts in total, the first one included (1 = never retry). @default 10 */
  attempts: number;
  /**
   * No new attempt starts later than this after the first one. Keep it well below the stream's
   * `duplicate_window` (2 min by default): a retry after the window is not deduplicated.
   * @default 30000
   */
  maxElapsedMs: number;
}

export interface PublisherOptions {
  /** The service name in `ce-source`. */
  service: string;
  /** The site in `ce-source`. */
  site: string;
  /** Retries of transient failures. @default PUBLISHER_DEFAULTS.retry */
  retry?: Partial<RetryPolicy>;
  /** How long one attempt waits for its PubAck. @default 5000 */
  ackTimeoutMs?: number;
  /** Publishes awaiting their PubAck at once in the async mode (per batch). @default 256 */
  maxInFlight?: number;
  /** Where metrics are registered. @default the process's defaultRegistry */
  metrics?: Registry;
  /** @default a silent logger */
  logger?: Logger;
}

/** The single source of the publisher's defaults. */
export const PUBLISHER_DEFAULTS = {
  retry: {
    attempts: 10,
    maxElapsedMs: 30_000,
    initialDelayMs: 100,
    maxDelayMs: 5_000,
    multiplier: 2,
    jitter: 0.2,
  } satisfies RetryPolicy,
  ackTimeoutMs: 5_000,
  maxInFlight: 256,
} as const;

interface ParsedPublisherOptions {
  readonly service: string;
  readonly site: string;
  readonly retry: RetryPolicy;
  readonly ackTimeoutMs: number;
  readonly maxInFlight: number;
  readonly metrics: ThreadlineMetrics;
  readonly logger: Logger;
}

function positiveInteger(key: string, value: number): number {
  if (!Number.isInteger(value) || value < 1)
    throw new ConfigError(key, `must be an integer >= 1 (got ${value})`);
  return value;
}

function parsePublisherOptions(o: PublisherOptions): ParsedPublisherOptions {
  if (!o.service) throw new ConfigError("service", "is required (the service name in ce-source)");
  if (!o.site) throw new ConfigError("site", "is required (the site in ce-source)");
  const backoff = parseBackoff(o.retry, PUBLISHER_DEFAULTS.retry, "retry");
  const retry: RetryPolicy = {
    ...backoff,
    attempts: positiveInteger("retry.attempts", o.retry?.attempts ?? PUBLISHER_DEFAULTS.retry.attempts),
    maxElapsedMs: o.retry?.maxElapsedMs ?? PUBLISHER_DEFAULTS.retry.maxElapsedMs,
  };
  if (!(retry.maxElapsedMs >= 0)) throw new ConfigError("retry.maxElapsedMs", "must be >= 0");
  const ackTimeoutMs = o.ackTimeoutMs ?? PUBLISHER_DEFAULTS.ackTimeoutMs;
  if (!(ackTimeoutMs >= 1)) throw new ConfigError("ackTimeoutMs", `must be >= 1 (got ${ackTimeoutMs})`);
  return {
    service: o.service,
    site: o.site,
    retry,
    ackTimeoutMs,
    maxInFlight: positiveInteger("maxInFlight", o.maxInFlight ?? PUBLISHER_DEFAULTS.maxInFlight),
    metrics: metricsFor(o.metrics),
    logger: o.logger ?? silentLogger,
  };
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/** Error codes of the publisher. Stable: never reuse a retired one. */
export const PublishErrorCode = {
  /** Gave up: the last attempt failed with a transient error and the retry policy is exhausted. */
  RetriesExhausted: "PUBLISH_RETRIES_EXHAUSTED",
  /** The server refused the message (a non-transient JetStream API error) or the connection is closed. */
  Rejected: "PUBLISH_REJECTED",
  /** Some publishes of an async batch failed; `failures` lists them. */
  BatchFailed: "PUBLISH_BATCH_FAILED",
} as const satisfies Record<string, CatalogedErrorCode>;

/** A publish that did not get a PubAck. `attempts` were made, all with the same `ce-id`. */
export class PublishError extends ThreadlineError {
  constructor(
    code: (typeof PublishErrorCode)["RetriesExhausted" | "Rejected"],
    readonly eventType: string,
    readonly eventId: string,
    readonly subject: string,
    readonly attempts: number,
    /** The classified failure of the last attempt, e.g. `timeout`, `no_responders`, `api_10071`. */
    readonly failure: string,
    cause: unknown,
    /** The encoded event's size, named when it is the problem. */
    readonly bytes?: number,
  ) {
    const what =
      code === PublishErrorCode.RetriesExhausted
        ? `gave up after ${attempts} attempt(s)`
        : `refused after ${attempts} attempt(s)`;
    const hint =
      failure === "no_responders" || failure === "jetstream_unavailable"
        ? " (is there a stream for this subject and is JetStream up?)"
        : failure === "connection_closed"
          ? " (the NATS connection was closed)"
          : failure === "too_large" || failure === "api_10054"
            ? ` (the event is ${bytes ?? "?"} bytes: over ${failure === "too_large" ? "the server's max_payload" : "the stream's max_msg_size"}; a retry cannot help: make the event smaller or raise the limit)`
            : "";
    super(
      code,
      `publish of ${eventType} ${eventId} to ${subject} ${what}: ${failure}: ${(cause as Error)?.message ?? String(cause)}${hint}${failure === "too_large" || failure === "api_10054" ? "" : "; publishing again with the same id is safe"}`,
      { cause },
    );
  }
}

/** One failed publish of an async batch. */
export interface BatchFailure {
  readonly eventType: string;
  readonly envelope: EventEnvelope;
  readonly subject: string;
  readonly error: Error;
}

/** Some publishes of an async batch failed; the others were acknowledged. */
export class PublishBatchError extends ThreadlineError {
  constructor(
    readonly failures: readonly BatchFailure[],
    readonly succeeded: number,
  ) {
    const list = failures
      .slice(0, 5)
      .map((f) => `${f.envelope.id} (${f.eventType}): ${f.error.message}`)
      .join("; ");
    super(
      PublishErrorCode.BatchFailed,
      `${failures.length} publish(es) failed, ${succeeded} acknowledged: ${list}${failures.length > 5 ? "; ..." : ""}; republish the failed events with the same ids (deduplicated)`,
    );
  }
}

/**
 * Classifies a publish failure: `transient` failures are retried. The code names the failure in
 * metrics (`threadline_publish_errors_total{code}`) and errors.
 */
/** JetStream's "duplicate message id is in process" (JSStreamDuplicateMessageConflict). */
const DUPLICATE_IN_PROCESS = 10158;

export function classifyPublishError(err: unknown): { code: PublishErrorLabel; transient: boolean } {
  if (err instanceof natsErrors.TimeoutError) return { code: "timeout", transient: true };
  if (err instanceof natsErrors.NoRespondersError) return { code: "no_responders", transient: true };
  if (err instanceof natsErrors.RequestError) {
    if (err.isNoResponders()) return { code: "no_responders", transient: true };
    // The user may not publish to this subject (docs/security.md): retrying cannot fix it.
    if (err.cause instanceof natsErrors.PermissionViolationError)
      return { code: "permission_denied", transient: false };
    // "connection disconnected": the request was in flight while the client reconnected.
    return { code: "disconnected", transient: true };
  }
  // nats.js reports "no responders" on a JetStream publish as JetStreamNotEnabled (not exported from the
  // package root, hence the name test): no stream (leader) answered, which is what a restarting server or
  // a leader election looks like.
  if (err instanceof Error && err.name === "JetStreamNotEnabled")
    return { code: "jetstream_unavailable", transient: true };
  // The client refuses before sending a message larger than the server's max_payload.
  if (err instanceof natsErrors.InvalidArgumentError && /max_payload/.test(err.message))
    return { code: "too_large", transient: false };
  if (err instanceof natsErrors.ClosedConnectionError || err instanceof natsErrors.DrainingConnectionError)
    return { code: "connection_closed", transient: false };
  if (err instanceof natsErrors.ConnectionError) return { code: "connection", transient: true };
  if (err instanceof JetStreamApiError) {
    // 503: JetStream temporarily unavailable (e.g. no quorum, leader election). 10158: an earlier
    // attempt with this id (one that timed out) is still being stored by a clustered stream — the next
    // attempt gets its duplicate PubAck. Anything else is a refusal of this message (wrong expected
    // sequence, too large, limits) that a retry cannot fix.
    return { code: `api_${err.code}`, transient: err.status === 503 || err.code === DUPLICATE_IN_PROCESS };
  }
  return { code: "unknown", transient: false };
}

// ---------------------------------------------------------------------------------------------
// Publisher
// ---------------------------------------------------------------------------------------------

export interface Published {
  readonly envelope: EventEnvelope;
  readonly ack: PubAck;
  readonly subject: string;
  /** Attempts it took (1 = no retry). */
  readonly attempts: number;
}

/** An event validated, encoded and addressed, ready to be sent (and resent with the same id). */
interface Prepared {
  readonly eventType: string;
  readonly envelope: EventEnvelope;
  readonly subject: string;
  readonly data: Uint8Array;
  readonly expectedLastSubjectSequence?: number;
}

/** What {@link PublishBatch.flush} resolves with. */
export interface BatchResult {
  /** Publishes acknowledged since the previous flush (duplicates included). */
  readonly acknowledged: number;
  /** Of those, how many the stream reported as duplicates (already stored under the same id). */
  readonly duplicates: number;
}

/** One event for {@link PublishBatch.publishMany}, typed by the catalog. */
export type BatchEvent = {
  [K in EventType]: { eventType: K; payload: EventInputs[K]; target: PublishTarget };
}[EventType];

/** The async mode: a bounded window of publishes awaiting their PubAck. */
export interface PublishBatch {
  /**
   * Validates and sends one event, waiting first while `maxInFlight` publishes await their PubAck.
   * Resolves with the envelope once sent (not acknowledged: see {@link flush}). Rejects with
   * PayloadInvalidError (nothing sent, nothing recorded) when the payload does not fit its schema.
   */
  publish<K extends EventType>(
    eventType: K,
    payload: EventInputs[K],
    target: PublishTarget,
  ): Promise<EventEnvelope>;
  /**
   * Validates every event first (one invalid payload refuses the call, nothing sent), then sends them
   * through the window. Faster than awaiting `publish` one by one: sends that find room go out in one
   * socket write. Resolves once all are sent; {@link flush} waits for their PubAcks.
   */
  publishMany(events: readonly BatchEvent[]): Promise<EventEnvelope[]>;
  /** Publishes awaiting their PubAck now (never more than `maxInFlight`). */
  readonly inFlight: number;
  /** The window size. */
  readonly maxInFlight: number;
  /**
   * Resolves when every publish sent so far is acknowledged, or rejects with PublishBatchError listing
   * the failed ones (each already retried under the retry policy). The batch stays usable afterwards.
   */
  flush(): Promise<BatchResult>;
}

export class EventPublisher {
  readonly #options: ParsedPublisherOptions;
  readonly #given: PublisherOptions;
  /** `ce-source`: the same for every event of this publisher. */
  readonly #source: string;
  /** Routing subjects of the targets seen, made once each (two regular expressions per token otherwise). */
  readonly #subjects = new Map<string, string>();
  /**
   * PubAcks awaited on an inbox of our own (./pub-ack-inbox.ts), not by a nats.js request per
   * publish. Undefined when `js` is not nats.js's own client object (its `nc` is not in its public
   * type) or is wrapped in a Proxy — a wrapper's `publish` (instrumentation, a test injecting
   * failures) is honoured — and then `js.publish` sends: slower, the same outcomes.
   */
  readonly #acks: PubAckInbox | undefined;
  #defaultBatch: PublishBatch | undefined;

  constructor(
    private readonly js: JetStreamClient,
    private readonly codec: EventCodec,
    options: PublisherOptions,
  ) {
    this.#options = parsePublisherOptions(options);
    this.#given = options;
    this.#source = sourceUrn(this.#options.service, this.#options.site);
    this.#acks = isProxy(js) ? undefined : PubAckInbox.of((js as { nc?: NatsConnection }).nc);
  }

  /** The site `ce-source` names. */
  get site(): string {
    return this.#options.site;
  }

  /**
   * The same publisher (connection, codec, retries, metrics, logger) for events of another site:
   * its `ce-source` names `site`. A producer whose events belong to several sites (a plant
   * connector mapping machines of two sites) publishes each through the publisher of its site, so
   * `ce-source` and the subject always name the same one. Returns this publisher for its own site.
   */
  forSite(site: string): EventPublisher {
    if (site === this.#options.site) return this;
    return new EventPublisher(this.js, this.codec, { ...this.#given, site });
  }

  /**
   * Validates, encodes and publishes one event; resolves with the stream's PubAck. Transient failures
   * are retried with the same id; throws PayloadInvalidError (nothing sent) or PublishError.
   */
  async publish<K extends EventType>(
    eventType: K,
    payload: EventInputs[K],
    target: PublishTarget,
  ): Promise<Published> {
    return this.#send(this.#prepare(eventType, payload, target));
  }

  /** A new async window (see {@link PublishBatch}); `maxInFlight` defaults to the publisher's. */
  batch(options: { maxInFlight?: number } = {}): PublishBatch {
    const maxInFlight = positiveInteger("maxInFlight", options.maxInFlight ?? this.#options.maxInFlight);
    return new PublishBatchImpl(
      maxInFlight,
      (p) => this.#send(p),
      (t, v, target) => this.#prepare(t, v, target),
    );
  }

  /** {@link PublishBatch.publish} on the publisher's own window; pair it with {@link flush}. */
  publishAsync<K extends EventType>(
    eventType: K,
    payload: EventInputs[K],
    target: PublishTarget,
  ): Promise<EventEnvelope> {
    this.#defaultBatch ??= this.batch();
    return this.#defaultBatch.publish(eventType, payload, target);
  }

  /** Waits for every {@link publishAsync} so far; rejects with PublishBatchError listing failures. */
  flush(): Promise<BatchResult> {
    return this.#defaultBatch?.flush() ?? Promise.resolve({ acknowledged: 0, duplicates: 0 });
  }

  #prepare(eventType: string, payload: unknown, target: PublishTarget): Prepared {
    const contract = this.codec.contract(eventType);
    const data = this.codec.encodeWith(contract, payload); // throws PayloadInvalidError: nothing is sent
    const envelope: EventEnvelope = {
      id: target.id ?? newEventId(),
      source: this.#source,
      type: eventType,
      time: target.time ?? new Date(),
      subject: target.key,
      dataschema: dataschemaOf(eventType, contract.fingerprint),
      traceparent: target.traceparent ?? newTraceparent(),
    };
    const subject = this.#subjectOf(eventType, target);
    const expected = target.expectedLastSubjectSequence;
    return {
      eventType,
      envelope,
      subject,
      data,
      ...(expected === undefined ? {} : { expectedLastSubjectSequence: expected }),
    };
  }

  #subjectOf(eventType: string, target: PublishTarget): string {
    // A token given is marked with "=", so that an absent one and an empty one differ.
    const line = target.line === undefined ? "" : `=${target.line}`;
    const machine = target.machine === undefined ? "" : `=${target.machine}`;
    const key = `${eventType}\u0000${target.site}\u0000${line}\u0000${machine}`;
    let subject = this.#subjects.get(key);
    if (subject === undefined) {
      subject = subjectFor(eventType, target.site, target.line, target.machine);
      // Bounded: machines come and go over a long-running process.
      if (this.#subjects.size >= 10_000) this.#subjects.clear();
      this.#subjects.set(key, subject);
    }
    return subject;
  }

  /** One attempt: the event with its headers (`Nats-Msg-Id` = `ce-id`), resolved by its PubAck. */
  #publishOnce(p: Prepared, timeoutMs: number): Promise<PubAck> {
    // Fresh headers per attempt (the client may add to them); the id never changes.
    const headers: MsgHdrs = toHeaders(p.envelope);
    const expected = p.expectedLastSubjectSequence;
    if (this.#acks) {
      if (expected !== undefined) headers.set(PubHeaders.ExpectedLastSubjectSequenceHdr, `${expected}`);
      return this.#acks.publish(p.subject, p.data, headers, timeoutMs);
    }
    return this.js.publish(p.subject, p.data, {
      headers,
      msgID: p.envelope.id,
      timeout: timeoutMs,
      ...(expected === undefined ? {} : { expect: { lastSubjectSequence: expected } }),
    });
  }

  async #send(p: Prepared): Promise<Published> {
    const { retry, ackTimeoutMs, metrics, logger } = this.#options;
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        const ack = await this.#publishOnce(p, ackTimeoutMs);
        metrics.published.inc({
          event_type: p.eventType,
          stream: ack.stream,
          duplicate: String(ack.duplicate),
        });
        if (attempt > 1)
          logger.info(
            { eventId: p.envelope.id, eventType: p.eventType, attempts: attempt, duplicate: ack.duplicate },
            "publish succeeded after retry",
          );
        return { envelope: p.envelope, ack, subject: p.subject, attempts: attempt };
      } catch (err) {
        const { code, transient } = classifyPublishError(err);
        metrics.publishErrors.inc({ event_type: p.eventType, code });
        const delay = backoffDelay(retry, attempt);
        const giveUp =
          !transient || attempt >= retry.attempts || Date.now() + delay - started > retry.maxElapsedMs;
        const log = {
          eventId: p.envelope.id,
          eventType: p.eventType,
          subject: p.subject,
          attempt,
          code,
          err,
        };
        if (giveUp) {
          logger.error(log, "publish failed");
          throw new PublishError(
            transient ? PublishErrorCode.RetriesExhausted : PublishErrorCode.Rejected,
            p.eventType,
            p.envelope.id,
            p.subject,
            attempt,
            code,
            err,
            p.data.length,
          );
        }
        metrics.publishRetries.inc({ event_type: p.eventType });
        logger.warn({ ...log, retryInMs: delay }, "publish failed, retrying with the same id");
        await sleep(delay);
      }
    }
  }
}

class PublishBatchImpl implements PublishBatch {
  #inFlight = 0;
  readonly #waiters: (() => void)[] = [];
  readonly #settled = new Set<Promise<void>>();
  #failures: BatchFailure[] = [];
  #acknowledged = 0;
  #duplicates = 0;

  constructor(
    readonly maxInFlight: number,
    private readonly send: (p: Prepared) => Promise<Published>,
    private readonly prepare: (eventType: string, payload: unknown, target: PublishTarget) => Prepared,
  ) {}

  get inFlight(): number {
    return this.#inFlight;
  }

  async publish<K extends EventType>(
    eventType: K,
    payload: EventInputs[K],
    target: PublishTarget,
  ): Promise<EventEnvelope> {
    const prepared = this.prepare(eventType, payload, target); // invalid: throws before taking a slot
    while (this.#inFlight >= this.maxInFlight) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    this.#start(prepared);
    return prepared.envelope;
  }

  async publishMany(events: readonly BatchEvent[]): Promise<EventEnvelope[]> {
    // Every event is validated before the first is sent: one invalid payload refuses the whole call.
    const prepared = events.map((e) => this.prepare(e.eventType, e.payload, e.target));
    for (const p of prepared) {
      // Sends that find room start in the same tick, so the client writes them to the socket together.
      while (this.#inFlight >= this.maxInFlight) {
        await new Promise<void>((resolve) => this.#waiters.push(resolve));
      }
      this.#start(p);
    }
    return prepared.map((p) => p.envelope);
  }

  #start(prepared: Prepared): void {
    this.#inFlight++;
    const done: Promise<void> = this.send(prepared).then(
      (published) => {
        this.#acknowledged++;
        if (published.ack.duplicate) this.#duplicates++;
      },
      (error: unknown) => {
        this.#failures.push({
          eventType: prepared.eventType,
          envelope: prepared.envelope,
          subject: prepared.subject,
          error: error instanceof Error ? error : new Error(String(error)),
        });
      },
    );
    const tracked = done.finally(() => {
      this.#inFlight--;
      this.#settled.delete(tracked);
      this.#waiters.shift()?.();
    });
    this.#settled.add(tracked);
  }

  async flush(): Promise<BatchResult> {
    while (this.#settled.size > 0) await Promise.all([...this.#settled]);
    const failures = this.#failures;
    const acknowledged = this.#acknowledged;
    const duplicates = this.#duplicates;
    this.#failures = [];
    this.#acknowledged = 0;
    this.#duplicates = 0;
    if (failures.length > 0) throw new PublishBatchError(failures, acknowledged);
    return { acknowledged, duplicates };
  }
}
