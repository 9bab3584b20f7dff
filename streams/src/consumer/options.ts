/**
 * The consumer's options: their types, the single source of their defaults, and the one place that
 * checks them (naming conflicting options) and combines them with the durable's server configuration.
 */
import { AckPolicy, type ConsumerInfo, type JetStreamOptions, type JsMsg } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { Registry } from "prom-client";
import { EventCodec } from "../../../contracts/src/index.js";
import { type BackoffPolicy, backoffDelay, parseBackoff } from "../backoff.js";
import { CE } from "../envelope.js";
import { ConfigError } from "../errors.js";
import { type Logger, silentLogger } from "../logger.js";
import { metricsFor, type ThreadlineMetrics } from "../metrics.js";
import { headerValue } from "../wire-headers.js";
import { ConsumerSetupError } from "./errors.js";
import type { EventHandler, EventHandlers } from "./types.js";

/** What a service gives `createEventConsumer`; every default is in {@link CONSUMER_DEFAULTS}. */
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
  /**
   * Serial processing per key, parallel across keys (see `consumer.ts`). One consumer at a time
   * reads an ordered durable (`partitions` across replicas, or one active replica): after a
   * disconnect it delivers again, first and in stream order, every outstanding delivery it does not
   * hold. @default false
   */
  ordered?: boolean;
  /**
   * The ordering key of a message (only with `ordered`). It may return a promise when it must look
   * something up first (a writer schema): the consumer then takes no further message until it
   * settles, so the stream order is kept. With `partitions` it must give the same key on every
   * replica: the key picks the partition. @default its `ce-subject` header
   */
  orderingKey?: (msg: JsMsg) => string | undefined | Promise<string | undefined>;
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
  /**
   * This consumer reads the replay channel of the live durable `replayOf` (streams/src/replay.ts):
   * its events keep their original stream and sequence, `ctx.delivery` says replay or redrive, and
   * a dead letter is the live durable's. Set by startConsumers. @default none: a live consumer
   */
  replayOf?: { readonly stream: string; readonly durable: string };
  /**
   * This consumer reads partition `index` of `count` of the partitioned durable `of`
   * (streams/src/partitioned-consumer.ts sets it): it handles only the messages whose ordering key
   * falls in its partition (streams/src/partitions.ts) and acknowledges the others at once without
   * running a handler (outcome `other_partition`); before each handler it asks `owns()` and gives the
   * message back when this process no longer owns the partition. Its dead letters are `of`'s, so a
   * redrive goes to `of`'s replay channel. Needs `ordered`. @default none: the whole durable
   */
  partition?: PartitionAssignment;
  /**
   * The durable is partitioned (its manifest declares `partitions`): `startConsumers` (or
   * `createPartitionedConsumer`) runs it as a partitioned consumer, streams/src/partitioned-consumer.ts,
   * so per-key order holds across replicas. Needs `ordered`. `createEventConsumer` refuses it.
   * @default none: one durable, shared by the replicas (order within a process only)
   */
  partitions?: PartitionsOptions;
}

/** How a consumer's durable is partitioned (see the module doc). */
export interface PartitionsOptions {
  /** Partitions: the durables `<durable>-p0`..`<durable>-p<count-1>` must exist (the manifest's `partitions`). */
  readonly count: number;
  /** The bucket of the partitions' leases (a service's state bucket, e.g. THREADLINE_CONNECTOR_STATE). */
  readonly kv: KV;
  /** Unique per process, e.g. `${HOSTNAME}:${pid}`. */
  readonly holder: string;
  /** The WorkShares group (KV-key-safe). @default the durable's name */
  readonly group?: string;
  /** Lease time to live: how long a dead replica's partitions wait for a new owner. @default WorkShares' (15 s) */
  readonly ttlMs?: number;
  /** @default WorkShares' (ttlMs / 3) */
  readonly renewEveryMs?: number;
  /** How often a new owner looks whether the previous owner's deliveries are settled. @default 250 */
  readonly handoverPollMs?: number;
  /** Where the shares' metrics are registered. @default the consumer's `metrics` */
  readonly registry?: Registry;
}

/** Which partition of a partitioned durable a consumer reads (see {@link ConsumerOptions.partition}). */
export interface PartitionAssignment {
  /** The partitioned durable as the manifest names it. */
  readonly of: string;
  readonly index: number;
  readonly count: number;
  /** Whether this process still owns the partition (its WorkShares lease). */
  readonly owns: () => boolean;
}

/** The single source of the consumer's defaults. */
/**
 * After a consume's pull requests can have expired on the server: the margin before a partition's
 * give-backs fall due, and before deliveries an old consume never received are requeued.
 */
export const PULL_EXPIRY_MARGIN_MS = 1_000;

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

/** The options, checked and with every default applied. */
export interface ParsedOptions {
  readonly stream: string;
  readonly durable: string;
  readonly handlers: ReadonlyMap<string, EventHandler<unknown>> | undefined;
  readonly handler: EventHandler<unknown> | undefined;
  readonly concurrency: number;
  readonly maxBuffered: number;
  readonly ordered: boolean;
  readonly orderingKey: (msg: JsMsg) => string | undefined | Promise<string | undefined>;
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
  readonly replayOf: { readonly stream: string; readonly durable: string } | undefined;
  readonly partition: PartitionAssignment | undefined;
}

const subjectHeaderKey = (msg: JsMsg): string | undefined => headerValue(msg, CE.subject) || undefined;

function integerAtLeast(key: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min)
    throw new ConfigError(key, `must be an integer >= ${min} (got ${value})`);
  return value;
}

/** Normalises and checks the options in one place; conflicting options are named in the error. */
export function parseConsumerOptions(o: ConsumerOptions): ParsedOptions {
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
  if (o.partitions) {
    if (!o.ordered)
      throw new ConfigError("partitions", "needs ordered: true (partitions exist to keep order)");
    integerAtLeast("partitions.count", o.partitions.count, 1);
  }
  if (o.partition) {
    const { index, count } = o.partition;
    if (!o.ordered)
      throw new ConfigError("partition", "needs ordered: true (partitions exist to keep order)");
    if (o.replayOf) throw new ConfigError("partition", "cannot be combined with replayOf");
    integerAtLeast("partition.count", count, 1);
    if (!Number.isInteger(index) || index < 0 || index >= count)
      throw new ConfigError("partition.index", `must be an integer in 0..${count - 1} (got ${index})`);
  }
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
    replayOf: o.replayOf,
    partition: o.partition,
    jetstream: o.jetstream ?? {},
  };
}

/** How the consumer works with its durable: the durable's server configuration combined with the options. */
export interface DurableSettings {
  /** The durable's ack wait in ms: held messages get `+WPI` once half of it is gone. */
  readonly ackWaitMs: number;
  /** Attempts before a failure dead-letters (unlimited: Infinity). */
  readonly maxDeliver: number;
  /** The client's share of maxBuffered: `max_messages` of each consume. */
  readonly quota: number;
  /** How long one pull request waits on the server. */
  readonly expiresMs: number;
  /**
   * The priority group its pull requests name, when the durable pins one client at a time
   * (`priority_policy: pinned_client`, 2.11+: a partition durable). @default none
   */
  readonly group?: string;
}

/**
 * Checks that the durable can be consumed as configured (a pull consumer, explicit acks, a
 * `max_deliver` not below `maxDeliver`) and derives the settings from it.
 */
export function durableSettings(info: ConsumerInfo, o: ParsedOptions): DurableSettings {
  const c = info.config;
  const { stream, durable } = o;
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
  if (o.maxDeliver !== undefined && o.maxDeliver > serverMax)
    throw new ConfigError(
      "maxDeliver",
      `(${o.maxDeliver}) exceeds the consumer's max_deliver (${serverMax}): the server would stop delivering before the SDK dead-letters`,
    );
  const maxBatch = c.max_batch && c.max_batch > 0 ? c.max_batch : Number.POSITIVE_INFINITY;
  // Half the buffer, leaving the SDK at least `concurrency` (all handlers busy), within max_batch.
  const { maxBuffered, concurrency } = o;
  const maxExpires = c.max_expires && c.max_expires > 0 ? c.max_expires / 1e6 : Number.POSITIVE_INFINITY;
  const group = c.priority_policy === "pinned_client" ? c.priority_groups?.[0] : undefined;
  return {
    ackWaitMs: c.ack_wait ? Math.max(1, Math.floor(c.ack_wait / 1e6)) : 30_000,
    maxDeliver: o.maxDeliver ?? serverMax,
    quota: Math.max(1, Math.min(Math.floor(maxBuffered / 2), maxBuffered - concurrency, maxBatch)),
    expiresMs: Math.max(1000, Math.min(o.pullExpiresMs, maxExpires)),
    ...(group ? { group } : {}),
  };
}
