/** The machine bridge's own Prometheus metrics (documented in docs/metrics.md). */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

export interface BridgeMetrics {
  /** 1 while the endpoint answers its heartbeat, else 0. */
  readonly endpointUp: Gauge<"endpoint">;
  /** Value changes received from OPC UA subscriptions. */
  readonly readings: Counter<"endpoint">;
  /** Counter decreases read as a rollover or a reset, per machine. */
  readonly counterAnomalies: Counter<"machine" | "kind">;
  /** Values older than one already applied (late copies after a reconnection), ignored. */
  readonly staleReadings: Counter<"machine">;
  /** State numbers the machine's profile does not know (read as UNDEFINED). */
  readonly unknownStates: Counter<"machine">;
  /** Telemetry samples dropped because NATS was unreachable too long (buffer full). */
  readonly samplesDropped: Counter<"machine">;
  /** Events waiting for their PubAck or a retry. */
  readonly outboxSize: Gauge<"machine">;
  /** Machines whose state and counters have been read since start (nothing they count goes uncounted). */
  readonly baselined: Gauge;
  /** Seconds from the OPC UA source timestamp to the event stored in JetStream. */
  readonly sourceToStored: Histogram<"event_type">;
}

const byRegistry = new WeakMap<Registry, BridgeMetrics>();

export function bridgeMetrics(registry: Registry): BridgeMetrics {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const registers = [registry];
  const m: BridgeMetrics = {
    endpointUp: new Gauge({
      name: "threadline_bridge_endpoint_up",
      help: "1 while the OPC UA endpoint answers its heartbeat",
      labelNames: ["endpoint"],
      registers,
    }),
    readings: new Counter({
      name: "threadline_bridge_readings_total",
      help: "Value changes received from OPC UA subscriptions",
      labelNames: ["endpoint"],
      registers,
    }),
    counterAnomalies: new Counter({
      name: "threadline_bridge_counter_anomalies_total",
      help: "Counter decreases read as rollover or reset",
      labelNames: ["machine", "kind"],
      registers,
    }),
    staleReadings: new Counter({
      name: "threadline_bridge_stale_readings_total",
      help: "Values older than one already applied (late copies after a reconnection), ignored",
      labelNames: ["machine"],
      registers,
    }),
    unknownStates: new Counter({
      name: "threadline_bridge_unknown_states_total",
      help: "State numbers not in the machine's profile",
      labelNames: ["machine"],
      registers,
    }),
    samplesDropped: new Counter({
      name: "threadline_bridge_samples_dropped_total",
      help: "Telemetry samples dropped while NATS was unreachable",
      labelNames: ["machine"],
      registers,
    }),
    outboxSize: new Gauge({
      name: "threadline_bridge_outbox_events",
      help: "Events waiting to be acknowledged by JetStream",
      labelNames: ["machine"],
      registers,
    }),
    baselined: new Gauge({
      name: "threadline_bridge_machines_baselined",
      help: "Machines whose state and counters have been read since start",
      registers,
    }),
    sourceToStored: new Histogram({
      name: "threadline_bridge_source_to_stored_seconds",
      help: "OPC UA source timestamp to event stored in JetStream",
      labelNames: ["event_type"],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
  };
  byRegistry.set(registry, m);
  return m;
}
