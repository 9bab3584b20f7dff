/**
 * Reconciliation: what the event log says was produced, against what Odoo holds, for a window.
 *
 * The log side is every ProductionReported whose `reportedAt` falls in the window (MFG_PRODUCTION,
 * read with an ordered consumer from the window's start). The Odoo side is, for those events, the
 * done manufacturing orders that carry the event id (`x_threadline_event_id`, written in the same
 * transaction as the posted quantity): their produced quantity minus what the report's own scrap
 * (its rejects) took back. A drift is a difference per order
 * between what the log says and what Odoo holds, leaving out the events still waiting in the stream
 * (listed per order, not drift); an event the connector dead-lettered will never be posted, so it
 * is drift, named with its dead-letter code, and so is a posting whose quantity differs.
 */
import { type Consumer, DeliverPolicy, type JsMsg, jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { EventCodec } from "../../../contracts/src/codec.js";
import type { ProductionReported } from "../../../contracts/src/events.generated.js";
import { fromHeaders } from "../../../streams/src/envelope.js";
import { DLQ_HEADERS, DLQ_STREAM, dlqSubject } from "../../../streams/src/names.js";
import type { OdooClient } from "./odoo/client.js";

const REPORTED = "mfg.production.production_reported.v1";
/** The durable whose dead letters are production reports Odoo refused. */
const PRODUCTION_DURABLE = "odoo-connector-production-reported";

export interface ReconcileOptions {
  readonly nc: NatsConnection;
  readonly codec: EventCodec;
  readonly client: OdooClient;
  readonly since: Date;
  /** @default now */
  readonly until?: Date;
  /** The production stream. @default MFG_PRODUCTION */
  readonly stream?: string;
}

export interface OrderDrift {
  readonly orderRef: string;
  /** Good quantity in the event log for the window (posted or not). */
  readonly logged: number;
  /** Good quantity Odoo holds for those events. */
  readonly posted: number;
  /**
   * posted minus the logged quantity of the events Odoo has a posting for: negative = less in Odoo
   * than reported, positive = more. Events not posted yet do not count (see `unposted`).
   */
  readonly drift: number;
  /** Events with no done manufacturing order carrying their id yet: still in the stream. */
  readonly unposted: readonly string[];
  /** Events the connector dead-lettered (with the code): never posted, part of the drift. */
  readonly deadLettered: readonly { eventId: string; code: string }[];
  /** Events whose posting holds a different quantity than the event. */
  readonly mismatched: readonly { eventId: string; logged: number; posted: number }[];
}

export interface ReconcileReport {
  readonly since: Date;
  readonly until: Date;
  readonly events: number;
  readonly orders: readonly OrderDrift[];
  /** Orders with a non-zero drift. */
  readonly drifting: readonly OrderDrift[];
}

interface LoggedReport {
  readonly id: string;
  readonly orderRef: string;
  readonly good: number;
}

async function loggedReports(options: ReconcileOptions, until: Date): Promise<LoggedReport[]> {
  const js = jetstream(options.nc);
  const stream = options.stream ?? "MFG_PRODUCTION";
  // Stored-time start: a report stored before the window cannot have been reported in it.
  const consumer = await js.consumers.get(stream, {
    filter_subjects: "mfg.production.production_reported.>",
    deliver_policy: DeliverPolicy.StartTime,
    opt_start_time: options.since.toISOString(),
  });
  const out: LoggedReport[] = [];
  await readToEnd(consumer, async (m) => {
    const envelope = fromHeaders(m.headers);
    const e = (await options.codec.decode<ProductionReported>(m.data, { as: REPORTED })).value;
    if (!e.orderRef || e.reportedAt < options.since || e.reportedAt > until) return;
    out.push({ id: envelope.id, orderRef: e.orderRef, good: Number(e.goodQuantity.value) });
  });
  return out;
}

/** Hands every message of an ordered consumer to `fn`, up to the end of the stream as it is now. */
async function readToEnd(consumer: Consumer, fn: (m: JsMsg) => Promise<void> | void): Promise<void> {
  for (;;) {
    const batch = await consumer.fetch({ max_messages: 500, expires: 1_000 });
    let got = 0;
    let pending = 0;
    for await (const m of batch) {
      got++;
      pending = m.info.pending;
      await fn(m);
    }
    if (got === 0 || pending === 0) return;
  }
}

/**
 * Event id → dead-letter code of the production reports the connector gave up on (MFG_DLQ, its
 * durable's subject): those will never be posted, so they are drift, not "waiting".
 */
async function deadLettered(options: ReconcileOptions): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const js = jetstream(options.nc);
  const consumer = await js.consumers
    .get(DLQ_STREAM, {
      filter_subjects: dlqSubject(options.stream ?? "MFG_PRODUCTION", PRODUCTION_DURABLE),
      deliver_policy: DeliverPolicy.StartTime,
      opt_start_time: options.since.toISOString(),
      headers_only: true,
    })
    .catch(() => undefined); // no DLQ stream: nothing dead-lettered
  if (!consumer) return out;
  await readToEnd(consumer, (m) => {
    const id = m.headers?.get("ce-id");
    if (id) out.set(id, m.headers?.get(DLQ_HEADERS.code) ?? "DEAD_LETTERED");
  });
  return out;
}

/** Compares the event log with Odoo for the window. Reads only. */
export async function reconcile(options: ReconcileOptions): Promise<ReconcileReport> {
  const until = options.until ?? new Date();
  const reports = await loggedReports(options, until);
  const dead = await deadLettered(options);
  const postedById = new Map<string, number>();
  const ids = reports.map((r) => r.id);
  for (let i = 0; i < ids.length; i += 200) {
    const chunk = ids.slice(i, i + 200);
    const rows = await options.client.searchRead<{ x_threadline_event_id: string; qty_produced: number }>(
      "mrp.production",
      [
        ["x_threadline_event_id", "in", chunk],
        ["state", "=", "done"],
      ],
      { fields: ["x_threadline_event_id", "qty_produced"] },
    );
    for (const row of rows) postedById.set(row.x_threadline_event_id, Number(row.qty_produced));
    // A report's rejects are produced on its order and scrapped from it: good = produced - scrapped.
    const scraps = await options.client.searchRead<{ x_threadline_event_id: string; scrap_qty: number }>(
      "stock.scrap",
      [
        ["x_threadline_event_id", "in", chunk],
        ["state", "=", "done"],
      ],
      { fields: ["x_threadline_event_id", "scrap_qty"] },
    );
    for (const row of scraps) {
      const produced = postedById.get(row.x_threadline_event_id);
      if (produced !== undefined) postedById.set(row.x_threadline_event_id, produced - Number(row.scrap_qty));
    }
  }
  const byOrder = new Map<
    string,
    {
      logged: number;
      posted: number;
      /** Logged quantity of the events still waiting to be posted. */
      waiting: number;
      unposted: string[];
      deadLettered: { eventId: string; code: string }[];
      mismatched: OrderDrift["mismatched"][number][];
    }
  >();
  for (const r of reports) {
    const o = byOrder.get(r.orderRef) ?? {
      logged: 0,
      posted: 0,
      waiting: 0,
      unposted: [],
      deadLettered: [],
      mismatched: [],
    };
    byOrder.set(r.orderRef, o);
    o.logged += r.good;
    const posted = postedById.get(r.id);
    if (posted === undefined) {
      const code = dead.get(r.id);
      if (code !== undefined) o.deadLettered.push({ eventId: r.id, code });
      else {
        if (r.good > 0) o.unposted.push(r.id);
        o.waiting += r.good;
      }
      continue;
    }
    o.posted += posted;
    if (Math.abs(posted - r.good) > 1e-6) o.mismatched.push({ eventId: r.id, logged: r.good, posted });
  }
  const orders = [...byOrder.entries()]
    .map(([orderRef, { waiting, ...o }]) => ({
      orderRef,
      ...o,
      drift: round(o.posted - (o.logged - waiting)),
    }))
    .sort((a, b) => a.orderRef.localeCompare(b.orderRef));
  return {
    since: options.since,
    until,
    events: reports.length,
    orders,
    drifting: orders.filter((o) => o.drift !== 0 || o.mismatched.length > 0 || o.deadLettered.length > 0),
  };
}

function round(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}

/** The report as Prometheus text (for node_exporter's textfile collector). */
export function driftMetricsText(report: ReconcileReport): string {
  const lines = [
    "# HELP threadline_erp_drift_quantity Odoo quantity minus event-log quantity, per order (reconciliation)",
    "# TYPE threadline_erp_drift_quantity gauge",
  ];
  for (const o of report.orders)
    lines.push(`threadline_erp_drift_quantity{order_ref=${JSON.stringify(o.orderRef)}} ${o.drift}`);
  lines.push(
    "# HELP threadline_erp_reconcile_unposted_events Events of the window with no posting in Odoo",
    "# TYPE threadline_erp_reconcile_unposted_events gauge",
    `threadline_erp_reconcile_unposted_events ${report.orders.reduce((n, o) => n + o.unposted.length, 0)}`,
  );
  return `${lines.join("\n")}\n`;
}
