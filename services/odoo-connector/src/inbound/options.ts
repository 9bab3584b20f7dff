/** The inbound sync's options, their defaults (one literal) and their validation. */
import type { JetStreamClient } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { Registry } from "prom-client";
import {
  ConfigError,
  defaultRegistry,
  type EventPublisher,
  type Logger,
  silentLogger,
} from "../../../../streams/src/index.js";
import type { OdooClient } from "../odoo/client.js";
import { SOURCES } from "./mapping/index.js";
import { syncedModel } from "./source.js";

export interface InboundSyncOptions {
  /** A connected Odoo client (its version picks the field names, its breaker pauses the sync). */
  client: OdooClient;
  /** Publishes the events (its `service`/`site` go into ce-source). */
  publisher: EventPublisher;
  /**
   * Publishes the dead letters of refused records to MFG_DLQ (dead-letters.ts), on the same connection
   * as the publisher.
   */
  js: JetStreamClient;
  /**
   * The connector state bucket, THREADLINE_CONNECTOR_STATE: cursors, order snapshots and the dead
   * letters not stored yet.
   */
  kv: KV;
  /** The Odoo database: part of every event id and state key, so two databases never collide. */
  db: string;
  /** Site token of the subjects and the `site` of payloads. */
  site: string;
  /** Odoo work center code → line token of the orders' equipment; an unlisted code is its own token. @default {} */
  lineByWorkcenter?: Readonly<Record<string, string>>;
  /** Each model is read this often (and at once when triggered). @default 5000 */
  pollIntervalMs?: number;
  /**
   * Reference data (the master-data sources) is read this often instead: it changes rarely, and
   * reading nine more models every few seconds would take Odoo's capacity from postings. A webhook
   * still triggers it at once. @default 60000
   */
  referencePollIntervalMs?: number;
  /**
   * Each pass re-reads records whose write_date is up to this much older than the cursor, to catch
   * transactions that committed late (write_date is the transaction's start). Longer than the longest
   * Odoo transaction. @default 60000
   */
  overlapMs?: number;
  /** Records per search_read. @default 200 */
  pageSize?: number;
  /** Least time between the starts of two passes of one model (webhook bursts coalesce). @default 500 */
  minPassIntervalMs?: number;
  /**
   * A trigger also schedules one more pass this much later: Odoo 17 sends webhooks from inside the
   * transaction, so the pass a webhook starts at once may read before the change is committed.
   * 0 disables it. @default 2000
   */
  triggerFollowUpMs?: number;
  /** Longest wait between passes of a failing model (backoff from pollIntervalMs, doubling). @default 60000 */
  maxBackoffMs?: number;
  /**
   * Record versions remembered per model within the overlap window; beyond it the oldest are forgotten
   * and only the event ids deduplicate. Keep the stored cursor well under NATS's max_payload
   * (about 25 bytes each). @default 15000
   */
  maxSeen?: number;
  /** Where a model without a cursor starts reading (a first sync). @default the beginning */
  since?: Date;
  /** Odoo models to sync. @default all: mrp.production, stock.lot, stock.move, stock.move.line, mrp.unbuild, stock.picking */
  models?: readonly string[];
  /** Publishes awaiting their PubAck at once. @default 64 */
  maxInFlight?: number;
  /** @default a silent logger */
  logger?: Logger;
  /** Where connectorMetrics are registered. @default the process registry of streams/src/metrics.ts */
  registry?: Registry;
}

export const INBOUND_DEFAULTS = {
  pollIntervalMs: 5_000,
  referencePollIntervalMs: 60_000,
  overlapMs: 60_000,
  pageSize: 200,
  minPassIntervalMs: 500,
  triggerFollowUpMs: 2_000,
  maxBackoffMs: 60_000,
  maxSeen: 15_000,
  maxInFlight: 64,
} as const;

export type ResolvedInboundOptions = Required<
  Omit<InboundSyncOptions, "since" | "lineByWorkcenter" | "models" | "logger" | "registry">
> & {
  since: Date;
  lineByWorkcenter: Readonly<Record<string, string>>;
  models: readonly string[];
  logger: Logger;
  registry: Registry;
};

const where = "inbound sync options";

export function parseInboundOptions(o: InboundSyncOptions): ResolvedInboundOptions {
  const fail = (key: string, detail: string): never => {
    throw new ConfigError(key, `${detail} (${where})`);
  };
  for (const key of ["client", "publisher", "js", "kv"] as const) if (!o[key]) fail(key, "is required");
  for (const key of ["db", "site"] as const)
    if (typeof o[key] !== "string" || o[key].trim() === "") fail(key, "is required and must not be empty");
  const int = (key: keyof typeof INBOUND_DEFAULTS, min: number): number => {
    const v = o[key] ?? INBOUND_DEFAULTS[key];
    if (!Number.isInteger(v) || v < min) fail(key, `must be an integer >= ${min} (got ${String(v)})`);
    return v;
  };
  const known = [...new Set(SOURCES.map(syncedModel))];
  const models = o.models ?? known;
  for (const m of models)
    if (!known.includes(m))
      fail("models", `names ${JSON.stringify(m)}, which is not synced (known: ${known.join(", ")})`);
  const since = o.since ?? new Date(0);
  if (!(since instanceof Date) || Number.isNaN(since.getTime())) fail("since", "must be a valid Date");
  for (const [code, line] of Object.entries(o.lineByWorkcenter ?? {}))
    if (typeof line !== "string" || line.trim() === "")
      fail(`lineByWorkcenter.${code}`, "must be a non-empty line token");
  const resolved: ResolvedInboundOptions = {
    client: o.client,
    publisher: o.publisher,
    js: o.js,
    kv: o.kv,
    db: o.db,
    site: o.site,
    lineByWorkcenter: { ...(o.lineByWorkcenter ?? {}) },
    pollIntervalMs: int("pollIntervalMs", 1),
    referencePollIntervalMs: int("referencePollIntervalMs", 1),
    overlapMs: int("overlapMs", 0),
    pageSize: int("pageSize", 2),
    minPassIntervalMs: int("minPassIntervalMs", 0),
    triggerFollowUpMs: int("triggerFollowUpMs", 0),
    maxBackoffMs: int("maxBackoffMs", 1),
    maxSeen: int("maxSeen", 0),
    maxInFlight: int("maxInFlight", 1),
    since,
    models: [...new Set(models)],
    logger: o.logger ?? silentLogger,
    registry: o.registry ?? defaultRegistry,
  };
  if (resolved.maxBackoffMs < resolved.pollIntervalMs)
    fail("maxBackoffMs", `must be >= pollIntervalMs (${resolved.pollIntervalMs})`);
  return resolved;
}
