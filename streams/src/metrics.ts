/**
 * The Prometheus metrics every Threadline process exports: {@link SDK_METRICS} is their catalogue, and
 * the SDK table of docs/metrics.md is rendered from it.
 * One set per prom-client Registry (`perRegistry`): `metricsFor(registry)` always returns the same objects.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";

/**
 * What a label's values are, for the docs and the test that compares them with what the SDK emits:
 * an enumeration (`value → meaning`; a value written `api_<code>` is a pattern), the codes of the
 * error catalogue (docs/errors.md), or open (event types, stream and durable names).
 */
export type LabelValues = Readonly<Record<string, string>> | "error-code" | "open";

/** One SDK metric: what Prometheus sees (name, type, help, labels) and what docs/metrics.md says. */
export interface SdkMetricEntry {
  readonly type: "counter" | "gauge" | "histogram";
  readonly labels: readonly string[];
  /** The HELP text Prometheus serves. */
  readonly help: string;
  /** The docs' "meaning" column: what a value says, and when to look at it. */
  readonly meaning: string;
  /** Every label's values (see {@link LabelValues}). */
  readonly values: Readonly<Record<string, LabelValues>>;
}

/**
 * The SDK's metrics, the one source of their names, labels and label values: the prom-client objects
 * below are made from it, the table of docs/metrics.md is rendered from it (`threadline metrics
 * --markdown`), the consumer's `outcome` type and the publisher's `code` type are its keys, and
 * test/streams/metrics-doc.test.ts fails when the page is stale or a run emits a name or label value
 * it does not list, or never emits a value it lists.
 */
export const SDK_METRICS = {
  threadline_events_published_total: {
    type: "counter",
    labels: ["event_type", "stream", "duplicate"],
    help: "Events accepted by JetStream (PubAck received)",
    meaning: "events accepted by JetStream (PubAck received), duplicates included and labelled",
    values: {
      event_type: "open",
      stream: "open",
      duplicate: {
        false: "stored by this publish",
        true: "the server's duplicate window dropped it: an earlier attempt with the same id was stored",
      },
    },
  },
  threadline_publish_errors_total: {
    type: "counter",
    labels: ["event_type", "code"],
    help: "Failed publish attempts by error code",
    meaning: "failed publish attempts, by cause (retried or not)",
    values: {
      event_type: "open",
      code: {
        timeout: "no PubAck within the ack timeout (retried)",
        no_responders: "no stream answered: a restart or leader election (retried)",
        jetstream_unavailable: "JetStream answered as not enabled: a restarting server (retried)",
        disconnected: "the connection dropped while the publish was in flight (retried)",
        connection: "a connection error (retried)",
        connection_closed: "the connection is closed or draining (not retried)",
        permission_denied: "the NATS user may not publish on the subject (not retried)",
        too_large:
          "the event is larger than the server's max_payload (not retried; a stream's own limit shows as api_10054)",
        "api_<code>":
          "JetStream refused it with that API error code; retried only when the server said 503 (unavailable)",
        unknown: "any other error (not retried)",
      },
    },
  },
  threadline_publish_retries_total: {
    type: "counter",
    labels: ["event_type"],
    help: "Publish retries after transient failures",
    meaning: "publish retries after a transient failure",
    values: { event_type: "open" },
  },
  threadline_events_consumed_total: {
    type: "counter",
    labels: ["stream", "consumer", "event_type", "outcome"],
    help: "Messages finished by consumers, by outcome",
    meaning: "messages a consumer finished, by how they left it",
    values: {
      stream: "open",
      consumer: "open",
      event_type: "open",
      outcome: {
        acked: "handled, acknowledged",
        skipped: 'no handler for its type, acknowledged (`onUnhandledType: "ack"`)',
        nak: "a transient failure: nak'd with a backoff delay, redelivered later (or its dead-letter publish failed)",
        retried: "a transient failure in ordered mode: retried in place after the backoff delay",
        dead_lettered: "published to MFG_DLQ and terminated",
        released:
          'given back unhandled without delay: shutdown, `pauseMode: "release"`, over-delivery, a partition no longer owned',
        other_partition:
          "a partition's consumer acknowledged, without handling it, a message whose key is another partition's",
      },
    },
  },
  threadline_handler_duration_seconds: {
    type: "histogram",
    labels: ["stream", "consumer", "event_type"],
    help: "Handler run time",
    meaning: "handler run time",
    values: { stream: "open", consumer: "open", event_type: "open" },
  },
  threadline_consumer_in_flight: {
    type: "gauge",
    labels: ["stream", "consumer"],
    help: "Messages being handled now",
    meaning: "messages being handled now (bounded by the consumer's concurrency)",
    values: { stream: "open", consumer: "open" },
  },
  threadline_consumer_redeliveries_total: {
    type: "counter",
    labels: ["stream", "consumer"],
    help: "Messages received with a delivery count above 1",
    meaning: "messages received with a delivery count above 1",
    values: { stream: "open", consumer: "open" },
  },
  threadline_dead_lettered_total: {
    type: "counter",
    labels: ["stream", "consumer", "reason"],
    help: "Messages sent to the dead-letter stream, by reason code",
    meaning:
      "messages sent to `MFG_DLQ`, by reason: the dead letter's code (docs/errors.md); `consumer` is the durable that gave up, or the producer's token for what it refused before publishing (`odoo-connector-inbound`)",
    values: { stream: "open", consumer: "open", reason: "error-code" },
  },
  threadline_consumer_pending: {
    type: "gauge",
    labels: ["stream", "consumer"],
    help: "Messages in the stream not yet delivered to the consumer (lag)",
    meaning: "lag: messages in the stream not yet delivered to the consumer",
    values: { stream: "open", consumer: "open" },
  },
  threadline_consumer_ack_pending: {
    type: "gauge",
    labels: ["stream", "consumer"],
    help: "Messages delivered and not yet acknowledged",
    meaning: "delivered, not yet acknowledged",
    values: { stream: "open", consumer: "open" },
  },
  threadline_consumer_paused: {
    type: "gauge",
    labels: ["stream", "consumer"],
    help: "1 while the consumer is paused, else 0",
    meaning: "1 while the consumer is paused (e.g. a circuit breaker is open), else 0",
    values: { stream: "open", consumer: "open" },
  },
  threadline_lease_owner: {
    type: "gauge",
    labels: ["lease"],
    help: "1 while this process owns the lease, else 0",
    meaning:
      "1 while this process owns the lease of a piece of singleton work (`lease`: e.g. `odoo-connector.<db>`, the database's inbound sync and periodic jobs), else 0; summed over the replicas it is 1, or 0 for at most the lease's ttl after an owner is lost",
    values: { lease: "open" },
  },
  threadline_lease_changes_total: {
    type: "counter",
    labels: ["lease", "change"],
    help: "Changes of this process's ownership of a lease, by kind",
    meaning: "changes of this process's ownership of a lease",
    values: {
      lease: "open",
      change: {
        acquired: "became the owner (the lease was free, released, or not renewed for its ttl)",
        taken_over:
          "lost: another replica holds the lease (this one was paused or cut off longer than the ttl)",
        not_renewed:
          "lost: no renewal succeeded in time (NATS unreachable, or the process paused); it stops its work before any standby may start",
        released: "gave the lease up on stop, so that a standby takes over at once",
      },
    },
  },
} as const satisfies Record<string, SdkMetricEntry>;

export type SdkMetricName = keyof typeof SDK_METRICS;

/** The `outcome` of `threadline_events_consumed_total`: how a message left the consumer. */
export type ConsumerOutcome =
  keyof (typeof SDK_METRICS)["threadline_events_consumed_total"]["values"]["outcome"];

/** The `code` of `threadline_publish_errors_total` (`api_<code>`: JetStream's API error code). */
export type PublishErrorLabel =
  | Exclude<keyof (typeof SDK_METRICS)["threadline_publish_errors_total"]["values"]["code"], "api_<code>">
  | `api_${number}`;

export interface ThreadlineMetrics {
  readonly registry: Registry;
  /** Events accepted by the stream (PubAck received), by event type and stream. Duplicates included, labelled. */
  readonly published: Counter<"event_type" | "stream" | "duplicate">;
  /** Publish attempts that failed, by event type and error code (retried or not). */
  readonly publishErrors: Counter<"event_type" | "code">;
  /** Publish retries after a transient failure. */
  readonly publishRetries: Counter<"event_type">;
  /** Messages finished by a consumer, by outcome ({@link ConsumerOutcome}). */
  readonly consumed: Counter<"stream" | "consumer" | "event_type" | "outcome">;
  /**
   * Counts of `consumed` a consumer holds until the end of its event-loop turn (meter.ts): added
   * before every read of the metric, so a scrape (or a test) never sees them late.
   */
  readonly pendingConsumed: Set<() => void>;
  /** Handler run time in seconds. */
  readonly handlerDuration: Histogram<"stream" | "consumer" | "event_type">;
  /** Messages being handled right now (bounded by the consumer's concurrency). */
  readonly inFlight: Gauge<"stream" | "consumer">;
  /** Messages received with a delivery count above 1. */
  readonly redeliveries: Counter<"stream" | "consumer">;
  /** Messages sent to the dead-letter stream, by reason code. */
  readonly deadLettered: Counter<"stream" | "consumer" | "reason">;
  /** Messages in the stream not yet delivered to the consumer (lag), from consumer info. */
  readonly pending: Gauge<"stream" | "consumer">;
  /** Messages delivered but not yet acknowledged, from consumer info. */
  readonly ackPending: Gauge<"stream" | "consumer">;
  /** 1 while the consumer is paused (a circuit breaker is open), else 0. */
  readonly paused: Gauge<"stream" | "consumer">;
  /** 1 while this process owns the lease, else 0 (streams/src/lease.ts). */
  readonly leaseOwner: Gauge<"lease">;
  /** Changes of this process's ownership of a lease. */
  readonly leaseChanges: Counter<"lease" | "change">;
}

/**
 * Makes a set of metrics once per prom-client Registry: `create` runs on a registry's first call and
 * later calls return the same objects (prom-client refuses a metric name registered twice). Every
 * process's and service's metric sets are built through it.
 *
 * ```ts
 * export const bridgeMetrics = perRegistry((registry): BridgeMetrics => ({ … }));
 * ```
 */
export function perRegistry<M>(create: (registry: Registry) => M): (registry: Registry) => M {
  const made = new WeakMap<Registry, M>();
  return (registry) => {
    let metrics = made.get(registry);
    if (metrics === undefined) {
      metrics = create(registry);
      made.set(registry, metrics);
    }
    return metrics;
  };
}

/** The default registry of the process (what `/metrics` serves unless told otherwise). */
export const defaultRegistry = new Registry();

/** How prom-client is asked for a catalogued metric: its name, help and label names from the catalogue. */
function definition<N extends SdkMetricName>(name: N, registers: Registry[]) {
  const m = SDK_METRICS[name];
  return { name, help: m.help, labelNames: m.labels as readonly string[] as string[], registers };
}

const threadlineMetrics = perRegistry((registry): ThreadlineMetrics => {
  const registers = [registry];
  const pendingConsumed = new Set<() => void>();
  return {
    registry,
    pendingConsumed,
    published: new Counter(definition("threadline_events_published_total", registers)),
    publishErrors: new Counter(definition("threadline_publish_errors_total", registers)),
    publishRetries: new Counter(definition("threadline_publish_retries_total", registers)),
    consumed: new Counter({
      ...definition("threadline_events_consumed_total", registers),
      collect: () => {
        for (const flush of pendingConsumed) flush();
      },
    }),
    handlerDuration: new Histogram({
      ...definition("threadline_handler_duration_seconds", registers),
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    }),
    inFlight: new Gauge(definition("threadline_consumer_in_flight", registers)),
    redeliveries: new Counter(definition("threadline_consumer_redeliveries_total", registers)),
    deadLettered: new Counter(definition("threadline_dead_lettered_total", registers)),
    pending: new Gauge(definition("threadline_consumer_pending", registers)),
    ackPending: new Gauge(definition("threadline_consumer_ack_pending", registers)),
    paused: new Gauge(definition("threadline_consumer_paused", registers)),
    leaseOwner: new Gauge(definition("threadline_lease_owner", registers)),
    leaseChanges: new Counter(definition("threadline_lease_changes_total", registers)),
  } satisfies { [K in keyof ThreadlineMetrics]: unknown };
});

export function metricsFor(registry: Registry = defaultRegistry): ThreadlineMetrics {
  return threadlineMetrics(registry);
}
