/**
 * The Odoo client's metrics. One set per prom-client Registry: clients sharing a registry share
 * the counters (and the two gauges, which then describe the last client that changed them).
 */
import { Counter, Gauge, Histogram } from "prom-client";
import { perRegistry } from "../../../../streams/src/index.js";
import type { BreakerState } from "./breaker.js";

export interface OdooClientMetrics {
  /**
   * HTTP requests to Odoo (each retry is one) by outcome: ok | transient | permanent | auth; calls
   * refused by the open circuit breaker are counted with outcome circuit_open (nothing is sent).
   */
  readonly requests: Counter<"model" | "method" | "outcome">;
  /** Duration of one HTTP request, answer read. */
  readonly duration: Histogram<"model" | "method">;
  /** Requests sent again after a transient failure, by reason (serialization_failure, http_502, …). */
  readonly retries: Counter<"reason">;
  /** 0 closed, 1 half-open, 2 open. */
  readonly breakerState: Gauge;
  /** Requests sent and not yet answered. */
  readonly inFlight: Gauge;
}

export const BREAKER_STATE_VALUE: Record<BreakerState, number> = { closed: 0, "half-open": 1, open: 2 };

export const odooClientMetrics = perRegistry((registry): OdooClientMetrics => {
  const registers = [registry];
  return {
    requests: new Counter({
      name: "threadline_odoo_requests_total",
      help: "HTTP requests to Odoo by model, method and outcome (ok, transient, permanent, auth, circuit_open)",
      labelNames: ["model", "method", "outcome"],
      registers,
    }),
    duration: new Histogram({
      name: "threadline_odoo_request_duration_seconds",
      help: "Duration of one HTTP request to Odoo",
      labelNames: ["model", "method"],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    retries: new Counter({
      name: "threadline_odoo_retries_total",
      help: "Requests to Odoo sent again after a transient failure, by reason",
      labelNames: ["reason"],
      registers,
    }),
    breakerState: new Gauge({
      name: "threadline_odoo_breaker_state",
      help: "Circuit breaker in front of Odoo: 0 closed, 1 half-open, 2 open",
      registers,
    }),
    inFlight: new Gauge({
      name: "threadline_odoo_in_flight",
      help: "Requests to Odoo sent and not yet answered",
      registers,
    }),
  };
});
