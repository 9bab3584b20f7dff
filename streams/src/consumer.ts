/**
 * The consuming half of the runtime SDK: a durable pull consumer that decodes events with schema
 * resolution, runs typed handlers with bounded concurrency and a bounded buffer, acknowledges on success,
 * retries transient failures with backoff, dead-letters poison messages to `MFG_DLQ` and carries on.
 *
 * ```ts
 * const consumer = createEventConsumer(nc, {
 *   stream: "MFG_PRODUCTION",
 *   durable: "erp-poster",
 *   ordered: true, // postings to one production order never reorder
 *   handlers: {
 *     "mfg.production.production_reported.v1": async (event, ctx) => postToErp(event.value, ctx.signal),
 *   },
 * });
 * await consumer.start();
 * handleSignals(consumer, { beforeExit: () => nc.drain() });
 * ```
 *
 * Semantics (what a service team can rely on):
 * - Bounds. At most `concurrency` handlers run at once, and at most `maxBuffered` deliveries are in
 *   memory or on their way — requested from the server and not yet arrived, received by the client and
 *   not taken yet, buffered, running, waiting behind their key or waiting for an in-place retry, all
 *   counted — so memory stays flat whatever the backlog.
 * - Pulling. One nats.js `consume()` at a time keeps pull requests in flight ahead of the handlers, with
 *   `max_messages` = the client's share of the buffer (half of `maxBuffered`, at most `maxBuffered -
 *   concurrency`). nats.js sends each follow-up pull request only when its iterator is advanced past
 *   it, so the client never has more than its share requested or received, and the consumer advances
 *   the iterator only while `held + share ≤ maxBuffered`: not taking is the back-pressure. When the SDK
 *   is full, the client holds received messages and nothing it asked for is in flight, the consume is
 *   stopped and its messages are handed over to the SDK: all of `maxBuffered` then buffers (slow
 *   handlers, a blocked key) and their ack deadline is kept alive like any held message's. A new
 *   consume starts once there is room for a whole share again. Acks of one event-loop turn are written
 *   to the socket together at its end.
 * - Outcomes. Success: ack. Transient failure (any error not marked permanent): `nak(delay)` with
 *   exponential backoff + jitter by delivery count. Permanent failure ({@link PermanentError}, or any
 *   error with `retryable === false`), undecodable bytes, unknown writer schema, invalid CloudEvents
 *   headers, a failure on the last allowed delivery (`maxDeliver`): published to `MFG_DLQ` on
 *   `dlqSubject(stream, durable)` with the original data and headers plus the `DLQ_HEADERS` (see
 *   `dead-letter.ts`: `readDeadLetter` reads them back), with
 *   `Nats-Msg-Id` `<stream>:<seq>` (a redelivered poison is not dead-lettered twice), the PubAck awaited,
 *   and only then the original terminated. If the dead-letter publish fails the original is nak'd:
 *   nothing is lost. Every outcome is counted (`threadline_events_consumed_total{outcome}`) and logged
 *   with the event id, type and key.
 * - Per-key ordering (`ordered: true`). Parallel across keys, serial within a key (the `ce-subject`
 *   header, or `orderingKey`), in stream-sequence order, within this process. A transient failure is
 *   retried IN PLACE (the message is kept, its ack deadline extended, the key blocked) instead of nak'd,
 *   so a later event of the same key can never overtake it; `maxDeliver` counts deliveries plus in-place
 *   retries. A dead-lettered event does not block its key. Later events of a blocked key stay buffered
 *   and count against `maxBuffered`: if they fill it, every key waits (back-pressure, by design; an
 *   outage of what the handlers call is what `pause()` is for). Ordering across replicas that share the
 *   durable is NOT guaranteed (the server hands any message to any replica): that needs a partitioned
 *   consumer (one durable per partition of the key space).
 * - Pause. `pause()` stops the consume and starts no new handler; running handlers finish. Buffered
 *   messages, and those the client had already received, are HELD (their ack deadline kept alive) by
 *   default, because a nak would count a delivery and a flapping circuit breaker would push innocent
 *   events towards `maxDeliver`; `pauseMode: "release"` naks them instead. The backlog waits in the
 *   stream. `resume()` starts a new consume and continues in order.
 * - Shutdown. `stop()` stops the consume, naks (without delay) what was received or buffered but not
 *   started so another replica takes it at once, lets running handlers finish and ack until the
 *   deadline, then aborts their `ctx.signal` and naks their messages. A handler's result after the
 *   deadline is ignored.
 * - Recovery. A disconnect stops the consume and the reconnect starts a new one. Missed heartbeats, a
 *   deleted durable, no responders (server restart) or a refused pull end the consume as failed: the
 *   consumer backs off, checks the durable and starts a new consume, forever, reporting on `status()`
 *   and in logs. (nats.js would re-pull a whole share by itself on missed heartbeats, on top of pull
 *   requests that may still be alive; a new consume has a new inbox, which keeps the bound strict.) A
 *   deleted durable is recreated from the configuration it had at start, starting after the last known
 *   ack floor (events between the floor and the deletion are handled again: at-least-once).
 */
import {
  AckPolicy,
  type Consumer,
  type ConsumerConfig,
  type ConsumerInfo,
  type ConsumerMessages,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type JetStreamOptions,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import { type MsgHdrs, type NatsConnection, errors as natsErrors } from "@nats-io/nats-core";
import type { Registry } from "prom-client";
import { EventCodec } from "../../contracts/src/codec.js";
import { ThreadlineError } from "../../contracts/src/errors.js";
import type { EventPayloads, EventType } from "../../contracts/src/events.generated.js";
import { type BackoffPolicy, backoffDelay, parseBackoff, sleep } from "./backoff.js";
import { deadLetterHeaders } from "./dead-letter.js";
import { CE, type EventEnvelope, fromHeaders } from "./envelope.js";
import { ConfigError } from "./errors.js";
import { type Logger, silentLogger } from "./logger.js";
import { metricsFor, type ThreadlineMetrics } from "./metrics.js";
import { DLQ_STREAM, dlqSubject } from "./names.js";

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

/** One decoded event, as a handler receives it. */
export interface ConsumedEvent<T = unknown> {
  /** The CloudEvents metadata: id, type, time, subject (business key), source, traceparent. */
  readonly envelope: EventEnvelope;
  /** `ce-id`. */
  readonly id: string;
  /** `ce-type`, e.g. `mfg.production.production_reported.v1`. */
  readonly type: string;
  /** The ordering key: `ce-subject` (the business key) unless `orderingKey` says otherwise. */
  readonly key: string;
  /** The payload, resolved from the writer's schema to this program's (reader) schema. */
  readonly value: T;
  /** The writer schema: fingerprint, and registry version when a registry is used. */
  readonly writer: { readonly fingerprint: string; readonly version?: number };
  /** The NATS subject the event was published on (routing only). */
  readonly routingSubject: string;
  readonly stream: string;
  readonly streamSequence: number;
  /** Deliveries of this message by the server so far, this one included. */
  readonly deliveryCount: number;
  /** Attempts so far, this one included: deliveries plus in-place retries (ordered mode). */
  readonly attempt: number;
  /** All headers of the message, as received. */
  readonly headers: MsgHdrs | undefined;
}

/** What a handler gets besides the event. */
export interface HandlerContext {
  /** Aborted when the consumer's shutdown deadline passes (the message is then nak'd). */
  readonly signal: AbortSignal;
  /** Extends the message's ack deadline (`+WPI`); the consumer also does so by itself every ~ack_wait/2. */
  working(): void;
  /** A child logger carrying the event id, type, key and stream sequence. */
  readonly logger: Logger;
  /** Same as `event.attempt`. */
  readonly attempt: number;
  /** True when a failure of this attempt dead-letters the event instead of retrying it. */
  readonly lastAttempt: boolean;
}

export type EventHandler<T = unknown> = (event: ConsumedEvent<T>, ctx: HandlerContext) => Promise<void>;

/** One handler per event type, typed by the catalog. */
export type EventHandlers = { [K in EventType]?: EventHandler<EventPayloads[K]> };

/** The lifecycle: created → running ⇄ paused → stopping → draining → stopped, or failed. */
export type ConsumerState = "created" | "running" | "paused" | "stopping" | "draining" | "stopped" | "failed";

/** How a message left the consumer (the `outcome` label of `threadline_events_consumed_total`). */
export type ConsumerOutcome =
  /** handled, acknowledged */
  | "acked"
  /** no handler for its type, acknowledged (`onUnhandledType: "ack"`) */
  | "skipped"
  /** a transient failure: nak'd with a backoff delay (or the dead-letter publish failed) */
  | "nak"
  /** a transient failure in ordered mode: retried in place after the backoff delay */
  | "retried"
  /** published to MFG_DLQ and terminated */
  | "dead_lettered"
  /** given back unhandled without delay: shutdown, `pauseMode: "release"`, over-delivery */
  | "released";

/** Non-fatal conditions, as a typed notification stream (see {@link EventConsumer.status}). */
export type ConsumerStatus =
  | { readonly type: "state"; readonly from: ConsumerState; readonly to: ConsumerState }
  | { readonly type: "disconnected" }
  | { readonly type: "reconnected" }
  | { readonly type: "pull_failed"; readonly failures: number; readonly error: Error }
  | { readonly type: "consumer_missing" }
  | { readonly type: "consumer_recreated"; readonly startSequence: number }
  | { readonly type: "stream_missing" }
  | {
      readonly type: "dead_lettered";
      readonly streamSequence: number;
      readonly code: string;
      readonly eventId?: string;
    };

/** A snapshot of the consumer's counters (cheap; for health checks, tests and benchmarks). */
export interface ConsumerStats {
  readonly state: ConsumerState;
  /** Handlers running now (≤ concurrency). */
  readonly inFlight: number;
  /** Deliveries the SDK holds: buffered, running, waiting behind a key or for a retry. */
  readonly held: number;
  /**
   * The client's share: messages requested from the server or received by the client and not taken
   * by the SDK yet (an upper bound while a consume runs, exact while it drains).
   * `held + reserved ≤ maxBuffered`.
   */
  readonly reserved: number;
  readonly peakInFlight: number;
  readonly peakHeldPlusReserved: number;
  readonly concurrency: number;
  readonly maxBuffered: number;
}

export interface ConsumerOptions {
  /** The stream the durable reads. */
  stream: string;
  /** The durable pull consumer (it must exist: declare it with `streams apply`). */
  durable: string;
  /** A handler per event type. Exclusive with `handler`. */
  handlers?: EventHandlers;
  /** One handler for every event type (the value is resolved to the catalog's schema when known). */
  handler?: EventHandler<unknown>;
  /** Handlers running at once. @default 16 */
  concurrency?: number;
  /** Deliveries in memory at once, all states counted (≥ concurrency). @default 4 × concurrency, at least 64 */
  maxBuffered?: number;
  /** Serial processing per key, parallel across keys (see the module doc). @default false */
  ordered?: boolean;
  /** The ordering key of a message (only with `ordered`). @default its `ce-subject` header */
  orderingKey?: (msg: JsMsg) => string | undefined;
  /** Delay before a transient failure is retried, by attempt; or a function of the attempt. @default CONSUMER_DEFAULTS.retryBackoff */
  retryBackoff?: Partial<BackoffPolicy> | ((attempt: number) => number);
  /** Attempts before a failure dead-letters (≤ the consumer's `max_deliver`). @default the consumer's `max_deliver`, unlimited when it has none */
  maxDeliver?: number;
  /** A message whose type has no handler (only with `handlers`): acknowledged or dead-lettered. @default "ack" */
  onUnhandledType?: "ack" | "dead-letter";
  /** What `pause()` does with buffered, not started messages. @default "hold" */
  pauseMode?: "hold" | "release";
  /** How long `stop()` lets running handlers finish before aborting them. @default 30000 */
  drainTimeoutMs?: number;
  /** How long one pull request waits on the server (nats.js minimum 1000). @default 30000 */
  pullExpiresMs?: number;
  /** How often `num_pending` / `num_ack_pending` are refreshed from consumer info. @default 5000 */
  infoIntervalMs?: number;
  /** Recreate the durable when it is deleted while running. @default true */
  recreateDeleted?: boolean;
  /** @default a silent logger */
  logger?: Logger;
  /** Where metrics are registered. @default the process's defaultRegistry */
  metrics?: Registry;
  /** @default a new EventCodec over the package's catalog */
  codec?: EventCodec;
  /** JetStream options (e.g. a domain). @default none */
  jetstream?: JetStreamOptions;
}

/** The single source of the consumer's defaults. */
export const CONSUMER_DEFAULTS = {
  concurrency: 16,
  /** maxBuffered = max(minBuffered, bufferPerHandler × concurrency) */
  bufferPerHandler: 4,
  minBuffered: 64,
  ordered: false,
  retryBackoff: {
    initialDelayMs: 1_000,
    maxDelayMs: 60_000,
    multiplier: 2,
    jitter: 0.2,
  } satisfies BackoffPolicy,
  onUnhandledType: "ack",
  pauseMode: "hold",
  drainTimeoutMs: 30_000,
  pullExpiresMs: 30_000,
  infoIntervalMs: 5_000,
  recreateDeleted: true,
  /** Backoff of the pull loop after a failed pull (not configurable). */
  pullRetry: { initialDelayMs: 250, maxDelayMs: 5_000, multiplier: 2, jitter: 0.2 } satisfies BackoffPolicy,
  /** Attempts at publishing one dead letter before the original is nak'd. */
  dlqPublishAttempts: 3,
  /** First-failure times remembered (per stream sequence) for the dead-letter headers. */
  firstFailureMemory: 10_000,
} as const;

export interface EventConsumer {
  readonly stream: string;
  readonly durable: string;
  readonly state: ConsumerState;
  /** Reads the durable's configuration and starts pulling. created → running. */
  start(): Promise<void>;
  /** Stops pulling and starting handlers. running → paused; no-op when paused. */
  pause(): void;
  /** paused → running; no-op when running. */
  resume(): void;
  /** Graceful drain (see the module doc). Idempotent: every call returns the same promise. */
  stop(options?: { timeoutMs?: number }): Promise<void>;
  /** Notifications (state changes, disconnects, recreation, dead letters) until the consumer ends. */
  status(): AsyncIterable<ConsumerStatus>;
  stats(): ConsumerStats;
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

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
} as const;

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
 * A failure that retrying cannot fix: the event is dead-lettered at once with `code` as its reason.
 * (Like Temporal's `ApplicationFailure.nonRetryable`.)
 */
export class PermanentError extends ThreadlineError {
  readonly retryable = false as const;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** A transient failure, optionally saying when to try again (e.g. an ERP's Retry-After). */
export class RetryableError extends ThreadlineError {
  readonly retryable = true as const;
  readonly retryAfterMs: number | undefined;
  constructor(code: string, message: string, options?: { cause?: unknown; retryAfterMs?: number }) {
    super(code, message, options);
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/** False for errors marked non-retryable (`retryable === false`, e.g. {@link PermanentError}). */
export function isRetryable(err: unknown): boolean {
  return !(typeof err === "object" && err !== null && (err as { retryable?: unknown }).retryable === false);
}

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

interface ParsedOptions {
  readonly stream: string;
  readonly durable: string;
  readonly handlers: ReadonlyMap<string, EventHandler<unknown>> | undefined;
  readonly handler: EventHandler<unknown> | undefined;
  readonly concurrency: number;
  readonly maxBuffered: number;
  readonly ordered: boolean;
  readonly orderingKey: (msg: JsMsg) => string | undefined;
  readonly retryDelay: (attempt: number) => number;
  readonly maxDeliver: number | undefined;
  readonly onUnhandledType: "ack" | "dead-letter";
  readonly pauseMode: "hold" | "release";
  readonly drainTimeoutMs: number;
  readonly pullExpiresMs: number;
  readonly infoIntervalMs: number;
  readonly recreateDeleted: boolean;
  readonly logger: Logger;
  readonly metrics: ThreadlineMetrics;
  readonly codec: EventCodec;
  readonly jetstream: JetStreamOptions;
}

const subjectHeaderKey = (msg: JsMsg): string | undefined => msg.headers?.get(CE.subject) || undefined;

function integerAtLeast(key: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min)
    throw new ConfigError(key, `must be an integer >= ${min} (got ${value})`);
  return value;
}

/** Normalises and checks the options in one place; conflicting options are named in the error. */
function parseConsumerOptions(o: ConsumerOptions): ParsedOptions {
  if (typeof o.stream !== "string" || o.stream === "") throw new ConfigError("stream", "is required");
  if (typeof o.durable !== "string" || o.durable === "") throw new ConfigError("durable", "is required");
  if (o.handlers && o.handler)
    throw new ConfigError(
      "handler",
      "cannot be combined with handlers: give one catch-all handler or a handler per event type",
    );
  if (!o.handlers && !o.handler) throw new ConfigError("handlers", "or handler is required");
  if (o.handler && o.onUnhandledType !== undefined)
    throw new ConfigError(
      "onUnhandledType",
      "has no effect with a catch-all handler (every type is handled)",
    );
  if (o.orderingKey && !o.ordered) throw new ConfigError("orderingKey", "needs ordered: true");
  const codec = o.codec ?? new EventCodec();
  let handlers: Map<string, EventHandler<unknown>> | undefined;
  if (o.handlers) {
    handlers = new Map();
    for (const [type, fn] of Object.entries(o.handlers)) {
      if (fn === undefined) continue;
      if (typeof fn !== "function") throw new ConfigError(`handlers["${type}"]`, "must be a function");
      if (!codec.catalog.find(type))
        throw new ConfigError(`handlers["${type}"]`, "is not an event type of the catalog (a typo?)");
      handlers.set(type, fn as EventHandler<unknown>);
    }
    if (handlers.size === 0) throw new ConfigError("handlers", "is empty");
  }
  if (o.handler !== undefined && typeof o.handler !== "function")
    throw new ConfigError("handler", "must be a function");
  const concurrency = integerAtLeast("concurrency", o.concurrency ?? CONSUMER_DEFAULTS.concurrency, 1);
  const maxBuffered = integerAtLeast(
    "maxBuffered",
    o.maxBuffered ??
      Math.max(CONSUMER_DEFAULTS.minBuffered, CONSUMER_DEFAULTS.bufferPerHandler * concurrency),
    1,
  );
  if (maxBuffered < concurrency)
    throw new ConfigError(
      "maxBuffered",
      `(${maxBuffered}) must be at least concurrency (${concurrency}): a running handler holds its message`,
    );
  let retryDelay: (attempt: number) => number;
  if (typeof o.retryBackoff === "function") {
    const fn = o.retryBackoff;
    retryDelay = (attempt) => Math.max(0, fn(attempt));
  } else {
    const policy = parseBackoff(o.retryBackoff, CONSUMER_DEFAULTS.retryBackoff, "retryBackoff");
    retryDelay = (attempt) => backoffDelay(policy, attempt);
  }
  if (o.maxDeliver !== undefined) integerAtLeast("maxDeliver", o.maxDeliver, 1);
  const oneOf = <T extends string>(key: string, value: T | undefined, allowed: readonly T[], d: T): T => {
    const v = value ?? d;
    if (!allowed.includes(v)) throw new ConfigError(key, `must be one of ${allowed.join(", ")} (got ${v})`);
    return v;
  };
  const drainTimeoutMs = o.drainTimeoutMs ?? CONSUMER_DEFAULTS.drainTimeoutMs;
  if (!(drainTimeoutMs >= 0)) throw new ConfigError("drainTimeoutMs", `must be >= 0 (got ${drainTimeoutMs})`);
  const pullExpiresMs = o.pullExpiresMs ?? CONSUMER_DEFAULTS.pullExpiresMs;
  if (!(pullExpiresMs >= 1000))
    throw new ConfigError("pullExpiresMs", `must be >= 1000, the client's minimum (got ${pullExpiresMs})`);
  const infoIntervalMs = o.infoIntervalMs ?? CONSUMER_DEFAULTS.infoIntervalMs;
  if (!(infoIntervalMs >= 100))
    throw new ConfigError("infoIntervalMs", `must be >= 100 (got ${infoIntervalMs})`);
  return {
    stream: o.stream,
    durable: o.durable,
    handlers,
    handler: o.handler,
    concurrency,
    maxBuffered,
    ordered: o.ordered ?? CONSUMER_DEFAULTS.ordered,
    orderingKey: o.orderingKey ?? subjectHeaderKey,
    retryDelay,
    maxDeliver: o.maxDeliver,
    onUnhandledType: oneOf(
      "onUnhandledType",
      o.onUnhandledType,
      ["ack", "dead-letter"],
      CONSUMER_DEFAULTS.onUnhandledType,
    ),
    pauseMode: oneOf("pauseMode", o.pauseMode, ["hold", "release"], CONSUMER_DEFAULTS.pauseMode),
    drainTimeoutMs,
    pullExpiresMs,
    infoIntervalMs,
    recreateDeleted: o.recreateDeleted ?? CONSUMER_DEFAULTS.recreateDeleted,
    logger: o.logger ?? silentLogger,
    metrics: metricsFor(o.metrics),
    codec,
    jetstream: o.jetstream ?? {},
  };
}

// ---------------------------------------------------------------------------------------------
// Internals
// ---------------------------------------------------------------------------------------------

const TRANSITIONS: Readonly<Record<ConsumerState, readonly ConsumerState[]>> = {
  created: ["running", "stopped", "failed"],
  running: ["paused", "stopping", "failed"],
  paused: ["running", "stopping", "failed"],
  stopping: ["draining", "failed"],
  draining: ["stopped", "failed"],
  stopped: [],
  failed: [],
};

/** One delivery of a message; `incarnation` tells deliveries of a deleted-and-recreated durable apart. */
interface Delivery {
  readonly msg: JsMsg;
  readonly incarnation: number;
}

/** A message held in memory, from arrival to its final ack / nak / term. */
interface Entry {
  readonly seq: number;
  /** Every delivery of this stream sequence we hold (a redelivery can arrive while we hold the first). */
  readonly deliveries: Delivery[];
  /** Lane key in ordered mode. */
  readonly lane: string | undefined;
  status: "queued" | "running" | "waiting" | "done";
  /** Last time its ack deadline was reset (delivery or +WPI). */
  touchedAt: number;
  localRetries: number;
  timer?: NodeJS.Timeout;
  /** The running attempt's `ctx.signal`, made on first use (most handlers never look at it). */
  abort?: AbortController;
  /** Set when the running attempt is aborted (shutdown deadline, failure). */
  abortReason?: unknown;
}

function signalOf(e: Entry): AbortSignal {
  if (!e.abort) {
    e.abort = new AbortController();
    if (e.abortReason !== undefined) e.abort.abort(e.abortReason);
  }
  return e.abort.signal;
}

function abortEntry(e: Entry, reason: unknown): void {
  e.abortReason = reason;
  e.abort?.abort(reason);
}

type Settlement = "ack" | "term" | { nak: number };

/** One `consume()` of the durable, from its start until the client's iterator is drained. */
interface PullSession {
  readonly messages: ConsumerMessages;
  /** The one iterator of `messages` (a second one would throw). */
  readonly iterator: AsyncIterator<JsMsg>;
  /** `max_messages`: requested from the server + received and not taken ≤ quota. */
  readonly quota: number;
  readonly incarnation: number;
  /** False once stopped: what the client still yields is drained, not taken for handling. */
  live: boolean;
  /** The loop is inside `iterator.next()` (only then can the client send a pull request). */
  awaiting: boolean;
  /** Messages taken from the iterator. */
  taken: number;
  /** Messages asked for by the pull requests sent (`next` notifications). */
  requested: number;
  /** Messages asked for by pull requests that ended unfilled (`discard` notifications: expiry...). */
  unfilled: number;
  /** When the client's buffer was last seen empty: what it holds was delivered after that. */
  clearAt: number;
  /** Set when the session ended on a failure: the loop backs off before the next one. */
  failure?: Error;
}

/** Messages the client has received and the loop has not taken yet. */
function sessionBuffered(s: PullSession): number {
  return s.messages.getReceived() - s.messages.getProcessed();
}

/**
 * Messages requested and not arrived yet. Exact once the session's notifications have been read,
 * i.e. from a timer callback (nats.js pushes them synchronously, the watcher reads them in microtasks).
 */
function sessionInFlight(s: PullSession): number {
  return s.requested - s.unfilled - s.messages.getReceived();
}

/** While full, how often the loop looks whether the client's share can be handed over. */
const HANDOVER_POLL_MS = 20;

type Labels = Readonly<Record<string, string>>;

/**
 * Metric label sets made once per event type (and outcome) rather than once per message. Event
 * types come from message headers, so past a bound new ones are not remembered.
 */
class LabelSets {
  static readonly maxTypes = 1_000;
  readonly #byType = new Map<string, { type: Labels; outcomes: Map<string, Labels> }>();
  constructor(readonly base: Labels) {}

  type(eventType: string): Labels {
    return this.#entry(eventType).type;
  }

  outcome(eventType: string, outcome: ConsumerOutcome): Labels {
    const entry = this.#entry(eventType);
    let labels = entry.outcomes.get(outcome);
    if (!labels) {
      labels = { ...entry.type, outcome };
      entry.outcomes.set(outcome, labels);
    }
    return labels;
  }

  #entry(eventType: string): { type: Labels; outcomes: Map<string, Labels> } {
    let entry = this.#byType.get(eventType);
    if (!entry) {
      entry = { type: { ...this.base, event_type: eventType }, outcomes: new Map() };
      if (this.#byType.size < LabelSets.maxTypes) this.#byType.set(eventType, entry);
    }
    return entry;
  }
}

/** A FIFO with O(1) push/shift. */
class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;
  get length(): number {
    return this.#items.length - this.#head;
  }
  push(item: T): void {
    this.#items.push(item);
  }
  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
}

/** A fan-out of notifications to any number of async iterators; each keeps the latest 256. */
class Notifier<T> {
  readonly #listeners = new Set<{ queue: T[]; wake?: () => void }>();
  #ended = false;

  push(n: T): void {
    for (const l of this.#listeners) {
      l.queue.push(n);
      if (l.queue.length > 256) l.queue.shift();
      l.wake?.();
    }
  }

  end(): void {
    this.#ended = true;
    for (const l of this.#listeners) l.wake?.();
  }

  async *iterate(): AsyncGenerator<T> {
    const l: { queue: T[]; wake?: () => void } = { queue: [] };
    this.#listeners.add(l);
    try {
      for (;;) {
        const next = l.queue.shift();
        if (next !== undefined) {
          yield next;
          continue;
        }
        if (this.#ended) return;
        await new Promise<void>((resolve) => {
          l.wake = resolve;
        });
        l.wake = undefined;
      }
    } finally {
      this.#listeners.delete(l);
    }
  }
}

function serverAtLeast(nc: NatsConnection, version: string): boolean {
  const parse = (v: string) =>
    v
      .split(/[.-]/)
      .slice(0, 3)
      .map((x) => Number.parseInt(x, 10) || 0);
  const have = parse(nc.info?.version ?? "0.0.0");
  const want = parse(version);
  for (let i = 0; i < 3; i++) {
    const a = have[i] ?? 0;
    const b = want[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

const isApiError = (err: unknown, code: number): boolean =>
  err instanceof JetStreamApiError && err.code === code;

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// ---------------------------------------------------------------------------------------------
// The consumer
// ---------------------------------------------------------------------------------------------

/** Creates a consumer (state `created`); call `start()`. Throws ConfigError for invalid options. */
export function createEventConsumer(nc: NatsConnection, options: ConsumerOptions): EventConsumer {
  return new EventConsumerImpl(nc, parseConsumerOptions(options));
}

/** Creates and starts a consumer. */
export async function startEventConsumer(
  nc: NatsConnection,
  options: ConsumerOptions,
): Promise<EventConsumer> {
  const consumer = createEventConsumer(nc, options);
  await consumer.start();
  return consumer;
}

class EventConsumerImpl implements EventConsumer {
  readonly #nc: NatsConnection;
  readonly #o: ParsedOptions;
  readonly #log: Logger;
  readonly #labels: { stream: string; consumer: string };
  readonly #labelSets: LabelSets;
  readonly #notifier = new Notifier<ConsumerStatus>();
  /** Aborted when stopping starts: interrupts waits and backoff sleeps. */
  readonly #lifetime = new AbortController();

  #state: ConsumerState = "created";
  #js!: JetStreamClient;
  #jsm!: JetStreamManager;
  #consumer: Consumer | undefined;
  #startConfig!: ConsumerConfig;
  #ackWaitMs = 30_000;
  #maxDeliver = Number.POSITIVE_INFINITY;
  #maxBatch = Number.POSITIVE_INFINITY;
  /** The client's share of maxBuffered: `max_messages` of each consume. */
  #quota = 1;
  #expiresMs = 30_000;
  #termWithReason = false;
  #lastAckFloor = 0;
  #incarnation = 0;
  #recreating: Promise<void> | undefined;

  readonly #held = new Map<number, Entry>();
  #heldCount = 0;
  #running = 0;
  #peakInFlight = 0;
  #peakHeld = 0;
  readonly #ready = new Fifo<Entry>();
  readonly #lanes = new Map<string, Entry[]>();
  readonly #firstFailure = new Map<number, number>();
  /** Acks of this event-loop turn, written together at its end (see #ack). */
  #acks: JsMsg[] = [];
  #endOfTurnScheduled = false;

  /** The current consume, from `consume()` until it is drained. */
  #session: PullSession | undefined;
  #connected = true;
  readonly #waiters = new Set<() => void>();
  #pullLoop: Promise<void> | undefined;
  #stopPromise: Promise<void> | undefined;
  #sweepTimer: NodeJS.Timeout | undefined;
  #infoTimer: NodeJS.Timeout | undefined;
  #infoBusy = false;
  #connStatus: (AsyncIterable<unknown> & { stop?: () => void }) | undefined;

  constructor(nc: NatsConnection, options: ParsedOptions) {
    this.#nc = nc;
    this.#o = options;
    this.#labels = { stream: options.stream, consumer: options.durable };
    this.#labelSets = new LabelSets(this.#labels);
    this.#log = options.logger.child({ stream: options.stream, consumer: options.durable });
  }

  get stream(): string {
    return this.#o.stream;
  }
  get durable(): string {
    return this.#o.durable;
  }
  get state(): ConsumerState {
    return this.#state;
  }

  status(): AsyncIterable<ConsumerStatus> {
    return this.#notifier.iterate();
  }

  stats(): ConsumerStats {
    return {
      state: this.#state,
      inFlight: this.#running,
      held: this.#heldCount,
      reserved: this.#clientShare(),
      peakInFlight: this.#peakInFlight,
      peakHeldPlusReserved: this.#peakHeld,
      concurrency: this.#o.concurrency,
      maxBuffered: this.#o.maxBuffered,
    };
  }

  // --- lifecycle ------------------------------------------------------------------------------

  #transition(to: ConsumerState, detail?: Record<string, unknown>): void {
    const from = this.#state;
    if (!TRANSITIONS[from].includes(to)) throw new IllegalStateError(`move to ${to}`, from);
    this.#state = to;
    this.#o.metrics.paused.set(this.#labels, to === "paused" ? 1 : 0);
    const level = to === "failed" ? "error" : "info";
    this.#log[level]({ from, to, ...detail }, `consumer ${from} -> ${to}`);
    this.#notifier.push({ type: "state", from, to });
  }

  async start(): Promise<void> {
    if (this.#state !== "created") throw new IllegalStateError("start", this.#state);
    const { stream, durable } = this.#o;
    try {
      this.#js = jetstream(this.#nc, this.#o.jetstream);
      this.#jsm = await jetstreamManager(this.#nc, { ...this.#o.jetstream, checkAPI: false });
      let info: ConsumerInfo;
      try {
        info = await this.#jsm.consumers.info(stream, durable);
      } catch (cause) {
        if (isApiError(cause, JetStreamApiCodes.StreamNotFound))
          throw new ConsumerSetupError(
            `stream ${stream} does not exist: declare it and consumer ${durable} (threadline streams apply) before starting the service`,
            { cause },
          );
        if (isApiError(cause, JetStreamApiCodes.ConsumerNotFound))
          throw new ConsumerSetupError(
            `consumer ${durable} on stream ${stream} does not exist: declare it (threadline streams apply) before starting the service`,
            { cause },
          );
        throw cause;
      }
      this.#configure(info);
      this.#consumer = await this.#js.consumers.get(stream, durable);
    } catch (err) {
      if ((this.#state as ConsumerState) === "created") {
        this.#transition("failed", { err });
        this.#notifier.end();
      }
      throw err;
    }
    if ((this.#state as ConsumerState) !== "created") throw new IllegalStateError("start", this.#state);
    this.#termWithReason = serverAtLeast(this.#nc, "2.10.4");
    this.#transition("running", {
      concurrency: this.#o.concurrency,
      maxBuffered: this.#o.maxBuffered,
      ordered: this.#o.ordered,
      ackWaitMs: this.#ackWaitMs,
      maxDeliver: this.#maxDeliver,
    });
    this.#watchConnection();
    this.#sweepTimer = setInterval(() => this.#sweep(), Math.max(100, Math.floor(this.#ackWaitMs / 4)));
    this.#sweepTimer.unref?.();
    this.#infoTimer = setInterval(() => void this.#refreshInfo(), this.#o.infoIntervalMs);
    this.#infoTimer.unref?.();
    this.#pullLoop = this.#runPullLoop().catch((err) => this.#fail(err));
  }

  #configure(info: ConsumerInfo): void {
    const c = info.config;
    const { stream, durable } = this.#o;
    if (c.deliver_subject)
      throw new ConsumerSetupError(
        `consumer ${durable} on ${stream} is a push consumer; Threadline consumes pull consumers`,
      );
    if (c.ack_policy !== AckPolicy.Explicit)
      throw new ConsumerSetupError(
        `consumer ${durable} on ${stream} has ack_policy ${c.ack_policy}; it must be explicit so that nothing is lost`,
      );
    const serverMax =
      c.max_deliver !== undefined && c.max_deliver > 0 ? c.max_deliver : Number.POSITIVE_INFINITY;
    if (this.#o.maxDeliver !== undefined && this.#o.maxDeliver > serverMax)
      throw new ConfigError(
        "maxDeliver",
        `(${this.#o.maxDeliver}) exceeds the consumer's max_deliver (${serverMax}): the server would stop delivering before the SDK dead-letters`,
      );
    this.#maxDeliver = this.#o.maxDeliver ?? serverMax;
    this.#ackWaitMs = c.ack_wait ? Math.max(1, Math.floor(c.ack_wait / 1e6)) : 30_000;
    this.#maxBatch = c.max_batch && c.max_batch > 0 ? c.max_batch : Number.POSITIVE_INFINITY;
    // Half the buffer, leaving the SDK at least `concurrency` (all handlers busy), within max_batch.
    const { maxBuffered, concurrency } = this.#o;
    this.#quota = Math.max(
      1,
      Math.min(Math.floor(maxBuffered / 2), maxBuffered - concurrency, this.#maxBatch),
    );
    const maxExpires = c.max_expires && c.max_expires > 0 ? c.max_expires / 1e6 : Number.POSITIVE_INFINITY;
    this.#expiresMs = Math.max(1000, Math.min(this.#o.pullExpiresMs, maxExpires));
    this.#startConfig = structuredClone(c);
    this.#lastAckFloor = info.ack_floor.stream_seq;
    this.#o.metrics.pending.set(this.#labels, info.num_pending);
    this.#o.metrics.ackPending.set(this.#labels, info.num_ack_pending);
    if (c.max_ack_pending && c.max_ack_pending > 0 && c.max_ack_pending < this.#o.concurrency)
      this.#log.warn(
        { maxAckPending: c.max_ack_pending, concurrency: this.#o.concurrency },
        "the consumer's max_ack_pending is below concurrency: handlers will idle",
      );
  }

  pause(): void {
    if (this.#state === "paused") return;
    if (this.#state !== "running") throw new IllegalStateError("pause", this.#state);
    this.#transition("paused");
    // The loop drains what the client had received: held, or released with the rest below.
    this.#endSession("paused");
    if (this.#o.pauseMode === "release") {
      for (const e of [...this.#held.values()])
        if (e.status === "queued" || e.status === "waiting")
          this.#settle(e, { nak: 0 }, "released", "paused");
    }
    this.#wake();
  }

  resume(): void {
    if (this.#state === "running") return;
    if (this.#state !== "paused") throw new IllegalStateError("resume", this.#state);
    this.#transition("running");
    this.#pump();
    this.#wake();
  }

  stop(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#stopPromise) return this.#stopPromise;
    if (this.#state === "created") {
      this.#transition("stopped");
      this.#notifier.end();
      return Promise.resolve();
    }
    if (this.#state === "stopped" || this.#state === "failed") return Promise.resolve();
    const timeoutMs = options.timeoutMs ?? this.#o.drainTimeoutMs;
    if (!(timeoutMs >= 0)) throw new ConfigError("timeoutMs", `must be >= 0 (got ${timeoutMs})`);
    this.#stopPromise = this.#drain(timeoutMs);
    return this.#stopPromise;
  }

  async #drain(timeoutMs: number): Promise<void> {
    this.#transition("stopping", { timeoutMs, inFlight: this.#running, held: this.#heldCount });
    this.#lifetime.abort();
    // The loop naks what the client had received but not handed over, then leaves at its next step.
    this.#endSession("stopping");
    this.#wake();
    // It may be inside a consumer info request (up to the API timeout), so do not wait for that:
    // whatever it still receives is released at once.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#pullLoop, new Promise((r) => (timer = setTimeout(r, 1_000)))]);
    clearTimeout(timer);
    let released = 0;
    for (const e of [...this.#held.values()]) {
      if (e.status === "queued" || e.status === "waiting") {
        this.#settle(e, { nak: 0 }, "released", "shutdown");
        released++;
      }
    }
    if ((this.#state as ConsumerState) === "failed") return;
    this.#transition("draining", { inFlight: this.#running, released });
    const deadline = Date.now() + timeoutMs;
    while (this.#running > 0 && Date.now() < deadline) await this.#waitForChange(deadline - Date.now());
    let aborted = 0;
    if (this.#running > 0) {
      const reason = new ShutdownAbortError(timeoutMs);
      for (const e of [...this.#held.values()]) {
        if (e.status !== "running") continue;
        abortEntry(e, reason);
        this.#settle(e, { nak: 0 }, "released", "shutdown deadline");
        aborted++;
      }
    }
    this.#cleanup();
    this.#transition("stopped", { aborted });
    this.#notifier.end();
  }

  #fail(err: unknown): void {
    if (this.#state === "stopped" || this.#state === "failed") return;
    this.#log.error({ err }, "consumer failed");
    this.#lifetime.abort();
    this.#endSession("failed");
    for (const e of [...this.#held.values()]) {
      abortEntry(e, err);
      this.#settle(e, { nak: 0 }, "released", "consumer failed");
    }
    this.#cleanup();
    this.#transition("failed", { err });
    this.#notifier.end();
    this.#wake();
  }

  #cleanup(): void {
    this.#flushAcks();
    clearInterval(this.#sweepTimer);
    clearInterval(this.#infoTimer);
    this.#connStatus?.stop?.();
    this.#o.metrics.inFlight.set(this.#labels, 0);
  }

  // --- waking ---------------------------------------------------------------------------------

  #wake(): void {
    if (this.#waiters.size === 0) return;
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const w of waiters) w();
  }

  /** Resolves true on the next #wake(), false after `ms` (also a safety net against a missed wake-up). */
  #waitForChange(ms = 1_000): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (woken: boolean) => {
        clearTimeout(timer);
        this.#waiters.delete(wake);
        resolve(woken);
      };
      const wake = () => done(true);
      const timer = setTimeout(() => done(false), Math.max(1, ms));
      this.#waiters.add(wake);
    });
  }

  // --- pulling --------------------------------------------------------------------------------

  #pulling(): boolean {
    return this.#state === "running" || this.#state === "paused";
  }

  /** A new consume may start: running, connected, and room for the client's whole share. */
  #mayOpen(): boolean {
    return (
      this.#state === "running" &&
      this.#connected &&
      !this.#recreating &&
      this.#heldCount + this.#quota <= this.#o.maxBuffered
    );
  }

  /**
   * One session per `consume()`: open it when there is room, take from it while there is room, and
   * when it ends (pause, stop, hand-over, disconnect, recreation, failure) drain what the client had
   * already received; after a failure, back off before the next one.
   */
  async #runPullLoop(): Promise<void> {
    let failures = 0;
    while (this.#pulling()) {
      if (!this.#mayOpen()) {
        await (this.#recreating ?? this.#waitForChange());
        continue;
      }
      let session: PullSession | undefined;
      let failure: unknown;
      try {
        session = await this.#openSession();
        await this.#take(session);
        failure = session.failure;
      } catch (err) {
        failure = err;
      } finally {
        if (session) await this.#closeSession(session);
      }
      if ((session?.taken ?? 0) > 0) failures = 0;
      if (failure === undefined) continue;
      if (!this.#pulling()) break;
      failures++;
      await this.#onPullError(failure, failures);
    }
  }

  async #openSession(): Promise<PullSession> {
    const consumer = this.#consumer ?? (await this.#js.consumers.get(this.#o.stream, this.#o.durable));
    this.#consumer = consumer;
    const messages = await consumer.consume({
      max_messages: this.#quota,
      expires: this.#expiresMs,
      // Two missed heartbeats end a session whose pull requests died silently: keep that under ~10 s.
      idle_heartbeat: Math.min(this.#expiresMs / 2, 5_000),
    });
    const session: PullSession = {
      messages,
      iterator: messages[Symbol.asyncIterator](),
      quota: this.#quota,
      incarnation: this.#incarnation,
      live: true,
      awaiting: false,
      taken: 0,
      requested: 0,
      unfilled: 0,
      clearAt: Date.now(),
    };
    this.#session = session;
    void this.#watchSession(session);
    // Paused, stopped or disconnected while the consumer was looked up: this session ends at once.
    if (this.#state !== "running" || !this.#connected) this.#endSession("superseded");
    return session;
  }

  /**
   * Takes messages from the client while the SDK has room for them plus the client's whole share
   * (`held + quota ≤ maxBuffered`): advancing the iterator is what lets the client send its next
   * pull request, so not advancing it is the back-pressure. Returns when the session ends.
   */
  async #take(s: PullSession): Promise<void> {
    while (s.live) {
      if (sessionBuffered(s) === 0) s.clearAt = Date.now();
      if (this.#heldCount + s.quota > this.#o.maxBuffered) {
        // Full. The client does not say when a message arrives, so look again soon; when the wait
        // times out this runs just after a timer callback, with every notification read.
        const woken = await this.#waitForChange(HANDOVER_POLL_MS);
        if (this.#mayHandOver(s, !woken)) this.#endSession("hand-over");
        continue;
      }
      s.awaiting = true;
      this.#notePeak();
      let next: IteratorResult<JsMsg>;
      try {
        next = await s.iterator.next();
      } finally {
        s.awaiting = false;
      }
      if (next.done) {
        // Not ended by us: the client gave up on its own (connection closing, a terminal status).
        if (s.live) this.#endSession("ended", new Error("the consume ended"));
        return;
      }
      s.taken++;
      if (s.live) this.#admit(next.value, s.clearAt);
      else this.#takeDelivered(s, next.value);
    }
  }

  /**
   * Whether the messages the client received can be handed over to the SDK: the SDK is full, the
   * client holds some, and none is in flight (its follow-up pull requests wait in the iterator), so
   * stopping the consume loses nothing. Handed over, they may fill the rest of `maxBuffered` (when
   * handlers are slow or a key is blocked) and their ack deadline is kept alive by the sweep, which
   * cannot reach messages still in the client.
   */
  #mayHandOver(s: PullSession, notificationsRead: boolean): boolean {
    if (s.awaiting || sessionBuffered(s) === 0) return false;
    if (notificationsRead && sessionInFlight(s) <= 0) return true;
    // Pull requests are open but the server has nothing for them (it would have filled them). The
    // sweep cannot keep alive what is still in the client: hand it over before a quarter of its ack
    // deadline is gone, at the small risk of a message sent just as the consume stops (redelivered
    // after ack_wait).
    return Date.now() - s.clearAt >= this.#ackWaitMs / 4;
  }

  /** Stops the current consume (idempotent); the loop then drains what the client had received. */
  #endSession(reason: string, failure?: Error): void {
    const s = this.#session;
    if (!s?.live) return;
    s.live = false;
    s.failure = failure;
    this.#log.debug({ reason, taken: s.taken, buffered: sessionBuffered(s) }, "consume stopped");
    // Unsubscribes at once; the iterator ends after the messages the client had already received.
    s.messages.stop();
    this.#wake();
  }

  /**
   * Drains a stopped session: each message the client had received goes to the held set or back
   * to the server (see #takeDelivered). Follow-up pull requests still queued in the iterator are
   * published to the closed inbox on the way: the server finds no interest and drops them.
   */
  async #closeSession(s: PullSession): Promise<void> {
    this.#endSession("closed");
    try {
      for (;;) {
        const next = await s.iterator.next();
        if (next.done) break;
        this.#takeDelivered(s, next.value);
      }
    } catch (err) {
      this.#log.debug({ err }, "the consume ended with an error");
    }
    if (this.#session === s) this.#session = undefined;
    this.#wake();
  }

  /** A message received by a stopped session: held (room and state permitting) or nak'd at once. */
  #takeDelivered(s: PullSession, msg: JsMsg): void {
    // A delivery of the deleted durable: the recreated one delivers it again, settling it is moot.
    if (s.incarnation !== this.#incarnation) return;
    if (this.#state === "paused" && this.#o.pauseMode === "release") this.#giveBack(msg, "paused");
    else if (!this.#pulling()) this.#giveBack(msg, "shutdown");
    // Cannot happen while the client keeps to its share; a redelivery of a held message costs no slot.
    else if (this.#heldCount >= this.#o.maxBuffered && !this.#held.has(msg.info.streamSequence))
      this.#giveBack(msg, "over-delivery");
    else this.#admit(msg, s.clearAt);
  }

  /** Nak without delay, for a message never handled. */
  #giveBack(msg: JsMsg, why: string): void {
    msg.nak();
    this.#countOutcome(msg.headers?.get(CE.type) || "unknown", "released");
    this.#log.debug({ seq: msg.info.streamSequence, why }, "message released");
  }

  /**
   * Notifications of the consume: a terminal one ends the session as failed (the loop then backs
   * off, checks the durable, recreating it when deleted, and starts a new consume).
   */
  async #watchSession(s: PullSession): Promise<void> {
    try {
      for await (const n of s.messages.status()) {
        if (!s.live || this.#session !== s) break;
        switch (n.type) {
          case "heartbeats_missed":
            // While the loop is full its pull requests may all be filled (the next one waits in the
            // iterator), so silence is expected: start afresh, not a failure. (Were the server gone,
            // the next session would miss them while waiting for a message.)
            if (!s.awaiting) this.#endSession("idle");
            else this.#endSession(n.type, new Error(`${n.count} heartbeats missed`));
            break;
          case "consumer_deleted":
          case "exceeded_limits":
            this.#endSession(n.type, new Error(`${n.type}: ${n.code} ${n.description}`));
            break;
          case "consumer_not_found":
          case "stream_not_found":
          case "no_responders":
            this.#endSession(n.type, new Error(n.type));
            break;
          case "next":
            s.requested += n.options.batch ?? 0;
            break;
          case "discard":
            s.unfilled += n.messagesLeft;
            break;
          default:
          // heartbeat, debug...: routine.
        }
      }
    } catch (err) {
      this.#log.debug({ err }, "consume notifications ended");
    }
  }

  /**
   * Slots the client holds: requested from the server or received, not taken yet. A live session
   * holds at most `quota` while the loop waits in `next()` and `quota - 1` between two `next()`
   * calls; a stopped one only what it has received.
   */
  #clientShare(): number {
    const s = this.#session;
    if (!s) return 0;
    if (!s.live) return sessionBuffered(s);
    return s.awaiting ? s.quota : s.quota - 1;
  }

  #notePeak(): void {
    this.#peakHeld = Math.max(this.#peakHeld, this.#heldCount + this.#clientShare());
  }

  async #onPullError(err: unknown, failures: number): Promise<void> {
    const error = err instanceof Error ? err : new Error(String(err));
    if (err instanceof natsErrors.ClosedConnectionError || this.#nc.isClosed()) {
      throw new ConsumerSetupError("the NATS connection was closed: the consumer cannot continue", {
        cause: err,
      });
    }
    this.#log.warn({ err: error, failures }, "pull failed; retrying");
    this.#notifier.push({ type: "pull_failed", failures, error });
    // Consumer deleted (409), missed heartbeats, no responders: find out whether the durable is still there.
    await this.#checkConsumer();
    await sleep(backoffDelay(CONSUMER_DEFAULTS.pullRetry, failures), this.#lifetime.signal);
  }

  /** Looks the durable up; recreates it when it was deleted. */
  async #checkConsumer(): Promise<void> {
    try {
      const info = await this.#jsm.consumers.info(this.#o.stream, this.#o.durable);
      this.#noteInfo(info);
    } catch (err) {
      if (isApiError(err, JetStreamApiCodes.ConsumerNotFound)) await this.#recreate();
      else if (isApiError(err, JetStreamApiCodes.StreamNotFound)) {
        this.#log.error({ err }, "the stream is missing; waiting for it to come back");
        this.#notifier.push({ type: "stream_missing" });
      } else this.#log.debug({ err }, "consumer info failed");
    }
  }

  #recreate(): Promise<void> {
    if (!this.#o.recreateDeleted) {
      this.#notifier.push({ type: "consumer_missing" });
      this.#log.error(
        "the durable consumer is missing and recreateDeleted is false; waiting for it to come back",
      );
      return Promise.resolve();
    }
    this.#recreating ??= (async () => {
      this.#notifier.push({ type: "consumer_missing" });
      const config: ConsumerConfig = { ...this.#startConfig };
      const startSequence = this.#lastAckFloor + 1;
      if (this.#lastAckFloor > 0) {
        config.deliver_policy = DeliverPolicy.StartSequence;
        config.opt_start_seq = startSequence;
        delete config.opt_start_time;
      }
      this.#log.warn(
        { startSequence },
        "the durable consumer was deleted; recreating it from its start configuration",
      );
      try {
        await this.#jsm.consumers.add(this.#o.stream, config);
      } catch (err) {
        // Another replica may have recreated it first: fine if it exists now.
        await this.#jsm.consumers.info(this.#o.stream, this.#o.durable).catch(() => {
          throw err;
        });
      }
      // Deliveries of the old incarnation are not settled on the new one: it redelivers them.
      this.#incarnation++;
      this.#consumer = await this.#js.consumers.get(this.#o.stream, this.#o.durable);
      this.#endSession("recreated");
      this.#log.warn({ startSequence }, "durable consumer recreated");
      this.#notifier.push({ type: "consumer_recreated", startSequence });
    })()
      .catch((err) => this.#log.error({ err }, "recreating the durable consumer failed; will retry"))
      .finally(() => {
        this.#recreating = undefined;
        this.#wake();
      });
    return this.#recreating;
  }

  #noteInfo(info: ConsumerInfo): void {
    this.#lastAckFloor = Math.max(this.#lastAckFloor, info.ack_floor.stream_seq);
    this.#o.metrics.pending.set(this.#labels, info.num_pending);
    this.#o.metrics.ackPending.set(this.#labels, info.num_ack_pending);
  }

  async #refreshInfo(): Promise<void> {
    if (this.#infoBusy || !this.#pulling() || !this.#connected) return;
    this.#infoBusy = true;
    try {
      await this.#checkConsumer();
    } finally {
      this.#infoBusy = false;
    }
  }

  #watchConnection(): void {
    void this.#nc.closed().then(() => {
      if (this.#pulling())
        this.#fail(
          new ConsumerSetupError(
            "the NATS connection was closed while consuming: stop() the consumer before closing",
          ),
        );
    });
    const iter = this.#nc.status() as AsyncIterable<{ type: string }> & { stop?: () => void };
    this.#connStatus = iter;
    void (async () => {
      for await (const s of iter) {
        if (s.type === "disconnect") {
          if (!this.#connected) continue;
          this.#connected = false;
          this.#log.warn("disconnected from NATS; pulling stops until reconnected");
          this.#notifier.push({ type: "disconnected" });
          // The server drops this connection's pull requests; a new consume starts once reconnected.
          this.#endSession("disconnected");
        } else if (s.type === "reconnect") {
          this.#connected = true;
          this.#log.info("reconnected to NATS; pulling resumes");
          this.#notifier.push({ type: "reconnected" });
          this.#wake();
        }
      }
    })().catch(() => undefined);
  }

  // --- admission and scheduling ---------------------------------------------------------------

  /** `deliveredAfter`: a lower bound of its delivery time (it may have waited in the client). */
  #admit(msg: JsMsg, deliveredAfter: number): void {
    const seq = msg.info.streamSequence;
    if (msg.info.deliveryCount > 1) this.#o.metrics.redeliveries.inc(this.#labels);
    const delivery: Delivery = { msg, incarnation: this.#incarnation };
    const existing = this.#held.get(seq);
    if (existing) {
      // A redelivery of a message we still hold (ack deadline passed while disconnected, or the durable
      // was recreated): keep it, and settle it together with the first.
      existing.deliveries.push(delivery);
      this.#heldCount++;
      this.#log.debug({ seq, deliveryCount: msg.info.deliveryCount }, "redelivery of a message already held");
      return;
    }
    if (!this.#pulling()) {
      msg.nak();
      this.#countOutcome(msg.headers?.get(CE.type) || "unknown", "released");
      return;
    }
    let lane: string | undefined;
    if (this.#o.ordered) {
      let key: string | undefined;
      try {
        key = this.#o.orderingKey(msg);
      } catch (err) {
        this.#log.warn({ err, seq }, "orderingKey threw; the message gets a lane of its own");
      }
      lane = key ?? `\u0000seq:${seq}`;
    }
    const entry: Entry = {
      seq,
      deliveries: [delivery],
      lane,
      status: "queued",
      touchedAt: deliveredAfter,
      localRetries: 0,
    };
    this.#held.set(seq, entry);
    this.#heldCount++;
    if (lane === undefined) this.#ready.push(entry);
    else {
      const queue = this.#lanes.get(lane);
      if (!queue) {
        this.#lanes.set(lane, [entry]);
        this.#ready.push(entry);
      } else {
        // In stream order; never ahead of a head that already started.
        let i = queue.length;
        const floor = queue[0]?.status === "queued" ? 0 : 1;
        while (i > floor && (queue[i - 1] as Entry).seq > seq) i--;
        queue.splice(i, 0, entry);
        if (i === 0) this.#ready.push(entry); // the old head stays in #ready but is skipped (not the head)
      }
    }
    this.#pump();
  }

  #nextReady(): Entry | undefined {
    for (;;) {
      const e = this.#ready.shift();
      if (!e) return undefined;
      if (e.status !== "queued") continue;
      if (e.lane !== undefined && this.#lanes.get(e.lane)?.[0] !== e) continue;
      return e;
    }
  }

  #pump(): void {
    while (this.#state === "running" && this.#running < this.#o.concurrency) {
      const e = this.#nextReady();
      if (!e) return;
      e.status = "running";
      this.#running++;
      this.#peakInFlight = Math.max(this.#peakInFlight, this.#running);
      this.#atEndOfTurn();
      void this.#process(e)
        .catch((err) => {
          this.#log.error({ err, seq: e.seq }, "internal error while processing a message; nak");
          if (e.status !== "done") this.#settle(e, { nak: this.#o.retryDelay(1) }, "nak");
        })
        .finally(() => {
          this.#running--;
          this.#atEndOfTurn();
          this.#pump();
          this.#wake();
        });
    }
  }

  // --- processing -----------------------------------------------------------------------------

  /** Whether the entry was settled meanwhile (e.g. released at the shutdown deadline); defeats narrowing. */
  #isDone(e: Entry): boolean {
    return e.status === "done";
  }

  #latest(e: Entry): JsMsg {
    return (e.deliveries[e.deliveries.length - 1] as Delivery).msg;
  }

  async #process(e: Entry): Promise<void> {
    const msg = this.#latest(e);
    const deliveryCount = msg.info.deliveryCount;
    const attempt = deliveryCount + e.localRetries;
    let envelope: EventEnvelope;
    try {
      envelope = fromHeaders(msg.headers);
    } catch (err) {
      return this.#deadLetter(e, err as ThreadlineError, undefined);
    }
    const handler = this.#o.handler ?? this.#o.handlers?.get(envelope.type);
    if (!handler) {
      if (this.#o.onUnhandledType === "ack") return this.#settle(e, "ack", "skipped", "no handler", envelope);
      return this.#deadLetter(
        e,
        {
          code: ConsumerErrorCode.UnhandledType,
          message: `no handler for ${envelope.type} in consumer ${this.#o.durable}`,
        },
        envelope,
      );
    }
    const codec = this.#o.codec;
    let decoded: Awaited<ReturnType<EventCodec["decode"]>>;
    try {
      decoded = await codec.decode(msg.data, {
        ...(codec.catalog.find(envelope.type) ? { as: envelope.type } : {}),
        subjectHint: envelope.type,
      });
    } catch (err) {
      // Contract errors (bytes, fingerprint, schema, payload) are poison; anything else (a registry
      // lookup that timed out) is transient.
      if (err instanceof ThreadlineError) return this.#deadLetter(e, err, envelope);
      return this.#failed(e, err, attempt, envelope);
    }
    if (this.#isDone(e)) return; // released meanwhile (shutdown deadline)
    const key = this.#o.ordered ? (e.lane ?? envelope.subject) : envelope.subject;
    const info = msg.info;
    const event: ConsumedEvent<unknown> = {
      envelope,
      id: envelope.id,
      type: envelope.type,
      key,
      value: decoded.value,
      writer:
        decoded.writer.version === undefined
          ? { fingerprint: decoded.writer.fingerprint }
          : { fingerprint: decoded.writer.fingerprint, version: decoded.writer.version },
      routingSubject: msg.subject,
      stream: info.stream,
      streamSequence: e.seq,
      deliveryCount,
      attempt,
      headers: msg.headers,
    };
    e.abort = undefined; // a fresh signal for each attempt
    const parentLog = this.#log;
    let childLog: Logger | undefined;
    const ctx: HandlerContext = {
      get signal() {
        return signalOf(e);
      },
      working: () => this.#touch(e),
      // Made on first use: most handlers never log, and the hot path pays for nothing it does not need.
      get logger() {
        childLog ??= parentLog.child({ eventId: envelope.id, eventType: envelope.type, key, seq: e.seq });
        return childLog;
      },
      attempt,
      lastAttempt: attempt >= this.#maxDeliver,
    };
    const startedAt = performance.now();
    const endTimer = () =>
      this.#o.metrics.handlerDuration.observe(
        this.#labelSets.type(envelope.type),
        (performance.now() - startedAt) / 1e3,
      );
    try {
      await handler(event, ctx);
    } catch (err) {
      endTimer();
      if (this.#isDone(e)) {
        this.#log.warn(
          { err, seq: e.seq, eventId: envelope.id },
          "handler failed after its message was released",
        );
        return;
      }
      return this.#failed(e, err, attempt, envelope);
    }
    endTimer();
    if (this.#isDone(e)) {
      this.#log.warn(
        { seq: e.seq, eventId: envelope.id },
        "handler finished after the shutdown deadline; its message was already nak'd and will be redelivered",
      );
      return;
    }
    this.#firstFailure.delete(e.seq);
    this.#settle(e, "ack", "acked", undefined, envelope);
  }

  /** A handler (or decode) failure: dead-letter when permanent or out of attempts, else retry later. */
  async #failed(e: Entry, err: unknown, attempt: number, envelope: EventEnvelope): Promise<void> {
    const now = Date.now();
    if (!this.#firstFailure.has(e.seq)) {
      this.#firstFailure.set(e.seq, now);
      if (this.#firstFailure.size > CONSUMER_DEFAULTS.firstFailureMemory) {
        const oldest = this.#firstFailure.keys().next().value;
        if (oldest !== undefined) this.#firstFailure.delete(oldest);
      }
    }
    const message = errorMessage(err);
    if (!isRetryable(err)) {
      const code = (err as { code?: unknown }).code;
      return this.#deadLetter(
        e,
        {
          code: typeof code === "string" && code !== "" ? code : ConsumerErrorCode.HandlerPermanent,
          message,
        },
        envelope,
        now,
      );
    }
    if (attempt >= this.#maxDeliver) {
      return this.#deadLetter(
        e,
        {
          code: ConsumerErrorCode.MaxDeliveries,
          message: `failed ${attempt} time(s); last error: ${message}`,
        },
        envelope,
        now,
      );
    }
    const retryAfter = (err as { retryAfterMs?: unknown }).retryAfterMs;
    const delay =
      typeof retryAfter === "number" && retryAfter >= 0 ? retryAfter : this.#o.retryDelay(attempt);
    const log = {
      err,
      eventId: envelope.id,
      eventType: envelope.type,
      key: envelope.subject,
      seq: e.seq,
      attempt,
      delay,
    };
    if (this.#o.ordered) {
      // Retry in place: the key stays blocked, so nothing overtakes this event.
      this.#log.warn(log, "handler failed; retrying in place (ordered)");
      this.#countOutcome(envelope.type, "retried");
      e.localRetries++;
      e.status = "waiting";
      e.timer = setTimeout(() => {
        if (e.status !== "waiting") return;
        e.status = "queued";
        this.#ready.push(e);
        this.#pump();
      }, delay);
      return;
    }
    this.#log.warn(log, "handler failed; nak with delay");
    this.#settle(e, { nak: delay }, "nak", undefined, envelope);
  }

  async #deadLetter(
    e: Entry,
    reason: { code: string; message: string },
    envelope: EventEnvelope | undefined,
    failedAt = Date.now(),
  ): Promise<void> {
    const msg = this.#latest(e);
    const { stream, durable } = this.#o;
    const h = deadLetterHeaders({
      stream,
      sequence: e.seq,
      subject: msg.subject,
      consumer: durable,
      deliveries: msg.info.deliveryCount + e.localRetries,
      code: reason.code,
      message: reason.message,
      firstFailureAt: new Date(this.#firstFailure.get(e.seq) ?? failedAt),
      lastFailureAt: new Date(failedAt),
      headers: msg.headers,
    });
    const eventType = envelope?.type ?? (msg.headers?.get(CE.type) || "unknown");
    const log = {
      eventId: envelope?.id ?? msg.headers?.get(CE.id),
      eventType,
      key: envelope?.subject ?? msg.headers?.get(CE.subject),
      seq: e.seq,
      code: reason.code,
      reason: reason.message,
    };
    let lastErr: unknown;
    for (let i = 1; i <= CONSUMER_DEFAULTS.dlqPublishAttempts; i++) {
      try {
        await this.#js.publish(dlqSubject(stream, durable), msg.data, {
          headers: h,
          msgID: `${stream}:${e.seq}`,
          expect: { streamName: DLQ_STREAM },
        });
        lastErr = undefined;
        break;
      } catch (err) {
        lastErr = err;
        if (this.#isDone(e)) return;
        if (i < CONSUMER_DEFAULTS.dlqPublishAttempts)
          await sleep(backoffDelay(CONSUMER_DEFAULTS.pullRetry, i), this.#lifetime.signal);
      }
    }
    if (this.#isDone(e)) return;
    if (lastErr !== undefined) {
      this.#log.error({ ...log, err: lastErr }, "dead-letter publish failed; nak so the message is not lost");
      this.#settle(e, { nak: this.#o.retryDelay(msg.info.deliveryCount) }, "nak", undefined, envelope);
      return;
    }
    this.#firstFailure.delete(e.seq);
    this.#o.metrics.deadLettered.inc({ ...this.#labels, reason: reason.code });
    this.#log.error(log, "message dead-lettered");
    this.#notifier.push({
      type: "dead_lettered",
      streamSequence: e.seq,
      code: reason.code,
      ...(log.eventId ? { eventId: log.eventId } : {}),
    });
    this.#settle(e, "term", "dead_lettered", undefined, envelope, reason.code);
  }

  /** Final ack / nak / term of every current delivery of the entry; frees its slot. */
  #settle(
    e: Entry,
    how: Settlement,
    outcome: ConsumerOutcome,
    why?: string,
    envelope?: EventEnvelope,
    termReason?: string,
  ): void {
    if (e.status === "done") return;
    for (const d of e.deliveries) {
      if (d.incarnation !== this.#incarnation) continue; // the recreated durable redelivers it
      if (how === "ack") this.#ack(d.msg);
      else if (how === "term") {
        // nats-server < 2.10.4 ignores "+TERM <reason>" (the message is redelivered): plain +TERM there.
        if (this.#termWithReason && termReason) d.msg.term(termReason);
        else d.msg.term();
      } else d.msg.nak(how.nak > 0 ? how.nak : undefined);
    }
    const eventType = envelope?.type ?? (this.#latest(e).headers?.get(CE.type) || "unknown");
    this.#countOutcome(eventType, outcome);
    if (outcome !== "acked" && outcome !== "dead_lettered" && outcome !== "nak") {
      const msg = this.#latest(e);
      this.#log.debug(
        {
          eventId: envelope?.id ?? msg.headers?.get(CE.id),
          eventType,
          key: envelope?.subject ?? msg.headers?.get(CE.subject),
          seq: e.seq,
          why,
        },
        `message ${outcome}`,
      );
    } else if (outcome === "acked") {
      this.#log.debug(
        { eventId: envelope?.id, eventType, key: envelope?.subject, seq: e.seq },
        "message acked",
      );
    }
    this.#release(e);
  }

  /**
   * Acks leave together at the end of the event-loop turn. nats.js flushes its socket in a microtask
   * after a publish, and handlers finish in different microtasks, so acking at once costs a socket
   * write per message, which was most of the consumer's CPU. The slot is freed at once; the ack is
   * only deferred to the end of the turn (stop() writes what is left).
   */
  #ack(msg: JsMsg): void {
    this.#acks.push(msg);
    this.#atEndOfTurn();
  }

  #atEndOfTurn(): void {
    if (this.#endOfTurnScheduled) return;
    this.#endOfTurnScheduled = true;
    setImmediate(this.#endOfTurn);
  }

  readonly #endOfTurn = (): void => {
    this.#endOfTurnScheduled = false;
    this.#flushAcks();
    // Once a turn, not per handler: a gauge nobody scrapes that often (and it costs a label hash).
    if (this.#state !== "stopped" && this.#state !== "failed")
      this.#o.metrics.inFlight.set(this.#labels, this.#running);
  };

  #flushAcks(): void {
    if (this.#acks.length === 0) return;
    const acks = this.#acks;
    this.#acks = [];
    for (const msg of acks) {
      try {
        msg.ack();
      } catch (err) {
        this.#log.warn({ err, seq: msg.info.streamSequence }, "ack failed; the message will be redelivered");
      }
    }
  }

  #countOutcome(eventType: string, outcome: ConsumerOutcome): void {
    this.#o.metrics.consumed.inc(this.#labelSets.outcome(eventType, outcome));
  }

  #release(e: Entry): void {
    e.status = "done";
    if (e.timer) clearTimeout(e.timer);
    this.#held.delete(e.seq);
    this.#heldCount -= e.deliveries.length;
    if (e.lane !== undefined) {
      const queue = this.#lanes.get(e.lane);
      if (queue) {
        const i = queue.indexOf(e);
        if (i >= 0) queue.splice(i, 1);
        const head = queue[0];
        if (!head) this.#lanes.delete(e.lane);
        else if (i === 0 && head.status === "queued") this.#ready.push(head);
      }
    }
    this.#wake();
  }

  #touch(e: Entry): void {
    if (e.status === "done") return;
    for (const d of e.deliveries) if (d.incarnation === this.#incarnation) d.msg.working();
    e.touchedAt = Date.now();
  }

  /** Keeps every held message's ack deadline alive: +WPI once it is half gone. */
  #sweep(): void {
    if (!this.#connected) return;
    const due = Date.now() - this.#ackWaitMs / 2;
    for (const e of this.#held.values()) if (e.touchedAt <= due) this.#touch(e);
  }
}

// ---------------------------------------------------------------------------------------------
// Signals
// ---------------------------------------------------------------------------------------------

/** Anything with a graceful stop (consumers, servers, ...). */
export interface Stoppable {
  stop(options?: { timeoutMs?: number }): Promise<void>;
}

export interface HandleSignalsOptions {
  /** @default ["SIGTERM", "SIGINT"] */
  signals?: readonly NodeJS.Signals[];
  /** Drain deadline passed to every `stop()`. @default each target's own default */
  timeoutMs?: number;
  /** Runs after every target stopped, e.g. `() => nc.drain()`. @default nothing */
  beforeExit?: () => Promise<void>;
  /** @default process.exit */
  exit?: (code: number) => void;
  /** @default a silent logger */
  logger?: Logger;
}

/**
 * On the first signal: stops every target in parallel (graceful drain), runs `beforeExit`, exits 0 (1 if
 * anything failed). A second signal exits at once with 130. Returns a function that removes the handlers.
 */
export function handleSignals(
  targets: Stoppable | readonly Stoppable[],
  options: HandleSignalsOptions = {},
): () => void {
  const list = Array.isArray(targets) ? (targets as readonly Stoppable[]) : [targets as Stoppable];
  const signals = options.signals ?? ["SIGTERM", "SIGINT"];
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const log = options.logger ?? silentLogger;
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, "second signal: exiting without waiting");
      exit(130);
      return;
    }
    stopping = true;
    log.info({ signal }, "signal received: draining");
    const stopOptions = options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs };
    void Promise.allSettled(list.map((t) => t.stop(stopOptions)))
      .then(async (results) => {
        const failed = results.filter((r) => r.status === "rejected");
        for (const f of failed) log.error({ err: (f as PromiseRejectedResult).reason }, "stop failed");
        try {
          await options.beforeExit?.();
        } catch (err) {
          log.error({ err }, "beforeExit failed");
          failed.push({ status: "rejected", reason: err });
        }
        log.info({ signal, failed: failed.length }, "drained: exiting");
        exit(failed.length > 0 ? 1 : 0);
      })
      .catch(() => exit(1));
  };
  for (const s of signals) process.on(s, onSignal);
  return () => {
    for (const s of signals) process.off(s, onSignal);
  };
}
