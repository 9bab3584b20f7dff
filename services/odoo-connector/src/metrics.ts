/** The Odoo connector's business metrics (documented in docs/metrics.md). */
import { Counter, Gauge, Histogram } from "prom-client";
import { perRegistry } from "../../../streams/src/index.js";

export interface ConnectorMetrics {
  /** Event time (when it happened on the floor) to Odoo accepting the posting. */
  readonly postingLag: Histogram<"event_type">;
  /** Postings applied in Odoo, by event type and outcome: applied | already_applied | dead_lettered. */
  readonly postings: Counter<"event_type" | "outcome">;
  /** Events waiting in the stream for the connector's durables (consumer lag). */
  readonly backlog: Gauge<"consumer">;
  /** Records read from Odoo by the inbound sync, and events emitted from them. */
  readonly syncedRecords: Counter<"model">;
  readonly emitted: Counter<"event_type">;
  /** Seconds since the last successful sync of a model. */
  readonly syncAge: Gauge<"model">;
  /** Master-data records refused by the inbound sync, by Odoo model and catalogued code. */
  readonly refused: Counter<"model" | "code">;
  /** Dead letters of refused records MFG_DLQ has not stored yet, by synced model (retried every pass). */
  readonly deadLettersPending: Gauge<"model">;
}

export const connectorMetrics = perRegistry((registry): ConnectorMetrics => {
  const registers = [registry];
  return {
    postingLag: new Histogram({
      name: "threadline_erp_posting_lag_seconds",
      help: "Event time to Odoo accepting the posting",
      labelNames: ["event_type"],
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
      registers,
    }),
    postings: new Counter({
      name: "threadline_erp_postings_total",
      help: "Postings to Odoo by outcome",
      labelNames: ["event_type", "outcome"],
      registers,
    }),
    backlog: new Gauge({
      name: "threadline_erp_backlog_events",
      help: "Events waiting for the connector's durables",
      labelNames: ["consumer"],
      registers,
    }),
    syncedRecords: new Counter({
      name: "threadline_odoo_sync_records_total",
      help: "Records read by the inbound sync",
      labelNames: ["model"],
      registers,
    }),
    emitted: new Counter({
      name: "threadline_odoo_sync_events_total",
      help: "Events emitted by the inbound sync",
      labelNames: ["event_type"],
      registers,
    }),
    syncAge: new Gauge({
      name: "threadline_odoo_sync_age_seconds",
      help: "Seconds since the last successful sync of a model",
      labelNames: ["model"],
      registers,
    }),
    refused: new Counter({
      name: "threadline_odoo_masterdata_refused_total",
      help: "Master-data records refused by the inbound sync (never published), by model and code",
      labelNames: ["model", "code"],
      registers,
    }),
    deadLettersPending: new Gauge({
      name: "threadline_odoo_masterdata_dead_letters_pending",
      help: "Dead letters of refused master-data records not stored in MFG_DLQ yet, by synced model",
      labelNames: ["model"],
      registers,
    }),
  };
});

/** What the last reconciliation found (the periodic one in the service, or `--prom` of the command). */
export interface ReconcileMetrics {
  /** Odoo's produced quantity minus the counting point's postings, per order. */
  readonly drift: Gauge<"order_ref">;
  /** Findings per kind: lost, dead_lettered, quantity_mismatch, output, components, scrap, time, … */
  readonly findings: Gauge<"kind">;
  /** Production reports of the window not posted in Odoo yet. */
  readonly waiting: Gauge;
  /** When the last reconciliation completed (its window's end): alert when it stops advancing. */
  readonly completedAt: Gauge;
}

export const reconcileMetrics = perRegistry((registry): ReconcileMetrics => {
  const registers = [registry];
  return {
    drift: new Gauge({
      name: "threadline_erp_drift_quantity",
      help: "Odoo's produced quantity minus the counting point's postings, per order (reconciliation)",
      labelNames: ["order_ref"],
      registers,
    }),
    findings: new Gauge({
      name: "threadline_erp_reconcile_findings",
      help: "Reconciliation findings of the last run, per kind",
      labelNames: ["kind"],
      registers,
    }),
    waiting: new Gauge({
      name: "threadline_erp_reconcile_unposted_events",
      help: "Production reports of the window not posted in Odoo yet",
      registers,
    }),
    completedAt: new Gauge({
      name: "threadline_erp_reconcile_completed_timestamp_seconds",
      help: "End of the window of the last completed reconciliation (Unix seconds); stale when reconciling fails",
      registers,
    }),
  };
});

/** What the last master-data check found (masterdata/watch.ts). */
export interface MasterDataMetrics {
  /** Findings per check and severity (blocking: postings fail or lose data). */
  readonly findings: Gauge<"check" | "severity">;
  /** When the checks last ran to the end. */
  readonly checkedAt: Gauge;
}

export const masterDataMetrics = perRegistry(
  (registry): MasterDataMetrics => ({
    findings: new Gauge({
      name: "threadline_masterdata_findings",
      help: "Findings of the last master-data check, per check (blocking: postings fail or lose data)",
      labelNames: ["check", "severity"],
      registers: [registry],
    }),
    checkedAt: new Gauge({
      name: "threadline_masterdata_checked_timestamp_seconds",
      help: "When the master-data checks last ran to the end (Unix seconds)",
      registers: [registry],
    }),
  }),
);
