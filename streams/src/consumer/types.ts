/**
 * The consumer's public types: the event and context a handler receives, the lifecycle states, how a
 * message can leave, the status notifications, the stats snapshot and the `EventConsumer` interface.
 */
import type { MsgHdrs } from "@nats-io/nats-core";
import type { EventPayloads, EventType } from "../../../contracts/src/index.js";
import type { EventEnvelope } from "../envelope.js";
import type { Logger } from "../logger.js";
import type { DeliveryKind, ReplayOrigin } from "../replay.js";

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
  /**
   * `"live"`: from the consumer's durable; `"replay"`: a `threadline replay --to` job re-runs it;
   * `"redrive"`: `threadline dlq redrive` brings a dead letter back (streams/src/replay.ts).
   */
  readonly delivery: DeliveryKind;
  /** For a replayed or redriven delivery: the job and the event's original stream and sequence. */
  readonly replay: ReplayOrigin | undefined;
  /**
   * True while this process still owns the event's partition (always, on a durable that is not
   * partitioned). Synchronous and clock-based like `Lease.isOwner`: right after a pause it is already
   * false. Ask it before each write to an outside system a deposed owner must not make — the new owner
   * is handling the same event.
   */
  owner(): boolean;
}

export type EventHandler<T = unknown> = (event: ConsumedEvent<T>, ctx: HandlerContext) => Promise<void>;

/** One handler per event type, typed by the catalog. */
export type EventHandlers = { [K in EventType]?: EventHandler<EventPayloads[K]> };

/** The lifecycle: created → running ⇄ paused → stopping → draining → stopped, or failed. */
export type ConsumerState = "created" | "running" | "paused" | "stopping" | "draining" | "stopped" | "failed";

/**
 * How a message left the consumer: the `outcome` label of `threadline_events_consumed_total`, one value
 * per key of its entry in the metrics catalogue (streams/src/metrics.ts), where each is explained.
 */
export type { ConsumerOutcome } from "../metrics.js";

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
  /** Messages of other partitions acknowledged without a handler (a partition's consumer; else 0). */
  readonly otherPartition: number;
}

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
  /** Graceful drain (see `consumer.ts`). Idempotent: every call returns the same promise. */
  stop(options?: { timeoutMs?: number }): Promise<void>;
  /** Notifications (state changes, disconnects, recreation, dead letters) until the consumer ends. */
  status(): AsyncIterable<ConsumerStatus>;
  stats(): ConsumerStats;
}
