/** The machine bridge's own Prometheus metrics (documented in docs/metrics.md). */
import { Counter, Gauge, Histogram } from "prom-client";
import { perRegistry } from "../../../streams/src/index.js";

export interface BridgeMetrics {
  /** 1 while the endpoint answers its heartbeat (ONLINE or DEGRADED), else 0. */
  readonly endpointUp: Gauge<"endpoint">;
  /** Value changes received from OPC UA subscriptions. */
  readonly readings: Counter<"endpoint">;
  /** Counter decreases read as a rollover or a reset, per machine. */
  readonly counterAnomalies: Counter<"machine" | "kind">;
  /** Values older than one already applied (late copies after a reconnection), ignored. */
  readonly staleReadings: Counter<"machine">;
  /** State numbers the machine's profile does not know (read as UNDEFINED). */
  readonly unknownStates: Counter<"machine">;
  /**
   * Telemetry samples dropped, by tag and reason: `buffer_full` (NATS unreachable too long),
   * `unsupported_type`, `nested_array`, `array_too_long`.
   */
  readonly samplesDropped: Counter<"machine" | "tag" | "reason">;
  /** Readings of signals (state, counters, running …) that could not be used, by reason. */
  readonly readingsDropped: Counter<"machine" | "signal" | "reason">;
  /** 1 while a configured node is good (exists, readable, of a usable type, its item reporting good values). */
  readonly nodeOk: Gauge<"endpoint" | "machine" | "signal">;
  /** Configured nodes of the endpoint that are not good (the endpoint is DEGRADED while above 0). */
  readonly nodesNotOk: Gauge<"endpoint">;
  /** Events their schema refused (a defect), left out rather than blocking the machine's outbox. */
  readonly eventsInvalid: Counter<"machine" | "event_type">;
  /** Events waiting for their PubAck or a retry. */
  readonly outboxSize: Gauge<"machine">;
  /** Machines whose state and counters have been read since start (nothing they count goes uncounted). */
  readonly baselined: Gauge;
  /** Seconds from the OPC UA source timestamp to the event stored in JetStream. */
  readonly sourceToStored: Histogram<"event_type">;
  /** Commands to machines executed (a re-sent request answered from memory is not counted again). */
  readonly commands: Counter<"command" | "outcome">;
}

export const bridgeMetrics = perRegistry((registry): BridgeMetrics => {
  const registers = [registry];
  return {
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
      help: "Telemetry samples dropped, by tag and reason (buffer_full, unsupported_type, nested_array, array_too_long)",
      labelNames: ["machine", "tag", "reason"],
      registers,
    }),
    readingsDropped: new Counter({
      name: "threadline_bridge_readings_dropped_total",
      help: "Signal readings that could not be used (not_a_count, not_a_state, bad_quality ...)",
      labelNames: ["machine", "signal", "reason"],
      registers,
    }),
    nodeOk: new Gauge({
      name: "threadline_bridge_node_ok",
      help: "1 while a configured OPC UA node is good, 0 when missing, unreadable, mistyped or reporting a bad status",
      labelNames: ["endpoint", "machine", "signal"],
      registers,
    }),
    nodesNotOk: new Gauge({
      name: "threadline_bridge_nodes_not_ok",
      help: "Configured OPC UA nodes of the endpoint that are not good",
      labelNames: ["endpoint"],
      registers,
    }),
    eventsInvalid: new Counter({
      name: "threadline_bridge_events_invalid_total",
      help: "Events their schema refused (a defect), logged and left out",
      labelNames: ["machine", "event_type"],
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
    commands: new Counter({
      name: "threadline_bridge_commands_total",
      help: "Commands to machines by command and outcome (CONFIRMED, REFUSED, UNCONFIRMED, INVALID)",
      labelNames: ["command", "outcome"],
      registers,
    }),
  };
});
