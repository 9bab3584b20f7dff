/**
 * The Prometheus metrics every Threadline process exports (documented in docs/metrics.md).
 * One set per prom-client Registry (`perRegistry`): `metricsFor(registry)` always returns the same objects.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";

export interface ThreadlineMetrics {
  readonly registry: Registry;
  /** Events accepted by the stream (PubAck received), by event type and stream. Duplicates included, labelled. */
  readonly published: Counter<"event_type" | "stream" | "duplicate">;
  /** Publish attempts that failed, by event type and error code (retried or not). */
  readonly publishErrors: Counter<"event_type" | "code">;
  /** Publish retries after a transient failure. */
  readonly publishRetries: Counter<"event_type">;
  /** Messages finished by a consumer, by outcome: acked | nak | dead_lettered. */
  readonly consumed: Counter<"stream" | "consumer" | "event_type" | "outcome">;
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

const threadlineMetrics = perRegistry((registry): ThreadlineMetrics => {
  const registers = [registry];
  return {
    registry,
    published: new Counter({
      name: "threadline_events_published_total",
      help: "Events accepted by JetStream (PubAck received)",
      labelNames: ["event_type", "stream", "duplicate"],
      registers,
    }),
    publishErrors: new Counter({
      name: "threadline_publish_errors_total",
      help: "Failed publish attempts by error code",
      labelNames: ["event_type", "code"],
      registers,
    }),
    publishRetries: new Counter({
      name: "threadline_publish_retries_total",
      help: "Publish retries after transient failures",
      labelNames: ["event_type"],
      registers,
    }),
    consumed: new Counter({
      name: "threadline_events_consumed_total",
      help: "Messages finished by consumers, by outcome (acked, nak, dead_lettered)",
      labelNames: ["stream", "consumer", "event_type", "outcome"],
      registers,
    }),
    handlerDuration: new Histogram({
      name: "threadline_handler_duration_seconds",
      help: "Handler run time",
      labelNames: ["stream", "consumer", "event_type"],
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers,
    }),
    inFlight: new Gauge({
      name: "threadline_consumer_in_flight",
      help: "Messages being handled now",
      labelNames: ["stream", "consumer"],
      registers,
    }),
    redeliveries: new Counter({
      name: "threadline_consumer_redeliveries_total",
      help: "Messages received with a delivery count above 1",
      labelNames: ["stream", "consumer"],
      registers,
    }),
    deadLettered: new Counter({
      name: "threadline_dead_lettered_total",
      help: "Messages sent to the dead-letter stream, by reason code",
      labelNames: ["stream", "consumer", "reason"],
      registers,
    }),
    pending: new Gauge({
      name: "threadline_consumer_pending",
      help: "Messages in the stream not yet delivered to the consumer (lag)",
      labelNames: ["stream", "consumer"],
      registers,
    }),
    ackPending: new Gauge({
      name: "threadline_consumer_ack_pending",
      help: "Messages delivered and not yet acknowledged",
      labelNames: ["stream", "consumer"],
      registers,
    }),
    paused: new Gauge({
      name: "threadline_consumer_paused",
      help: "1 while the consumer is paused, else 0",
      labelNames: ["stream", "consumer"],
      registers,
    }),
  };
});

export function metricsFor(registry: Registry = defaultRegistry): ThreadlineMetrics {
  return threadlineMetrics(registry);
}
