/**
 * Posting records: what Odoo remembers of each shop-floor event applied to an order, one
 * `x_threadline_posting` per event id (odoo-setup.ts). A record is created by a one2many command
 * inside the same write as the effect — the quantity, the time logs — so Odoo holds both or neither;
 * finding the record is finding the event applied. Reconciliation reads them back.
 */
import { RetryableError } from "../../../../../streams/src/index.js";
import { OdooError } from "../../odoo/errors.js";
import { POSTING_MODEL, POSTINGS_FIELD } from "../../odoo-setup.js";
import { m2oId, odooDatetime, type PostingContext, type Row } from "../steps.js";

export { POSTING_MODEL, POSTINGS_FIELD };

export type PostingKind = "report" | "close";

export interface PostingValues {
  readonly eventId: string;
  readonly kind: PostingKind;
  readonly eventType: string;
  readonly productionId: number;
  readonly machine?: string;
  readonly countingPoint?: boolean;
  readonly good?: number;
  readonly reject?: number;
  readonly runningMinutes?: number;
  readonly at: Date;
  readonly details?: Record<string, unknown>;
}

export interface PostingRecord {
  readonly id: number;
  readonly eventId: string;
  readonly kind: string;
  readonly productionId: number | false;
  readonly workorderId: number | false;
  readonly machine: string | null;
  readonly countingPoint: boolean;
  readonly good: number;
  readonly reject: number;
  readonly runningMinutes: number;
  readonly details: Record<string, unknown>;
  /**
   * The posting's first write is in Odoo but not (yet) its later steps (components consumed at the
   * machine's operation, reserved lots kept): under way, or Odoo was restored from a backup taken
   * between them. A redelivery or a replay finishes it.
   */
  readonly pending: boolean;
}

export const POSTING_FIELDS = [
  "x_name",
  "x_kind",
  "x_production_id",
  "x_workorder_id",
  "x_machine",
  "x_counting_point",
  "x_good_qty",
  "x_reject_qty",
  "x_running_minutes",
  "x_details",
];

export function postingRecord(row: Row): PostingRecord {
  let details: Record<string, unknown> = {};
  if (typeof row["x_details"] === "string" && row["x_details"] !== "")
    try {
      details = JSON.parse(row["x_details"]) as Record<string, unknown>;
    } catch {
      details = {};
    }
  return {
    id: row["id"] as number,
    eventId: String(row["x_name"]),
    kind: String(row["x_kind"] || ""),
    productionId: m2oId(row["x_production_id"]),
    workorderId: m2oId(row["x_workorder_id"]),
    machine: typeof row["x_machine"] === "string" ? row["x_machine"] : null,
    countingPoint: row["x_counting_point"] === true,
    good: Number(row["x_good_qty"] || 0),
    reject: Number(row["x_reject_qty"] || 0),
    runningMinutes: Number(row["x_running_minutes"] || 0),
    details,
    pending: details["pending"] === true,
  };
}

/**
 * Runs a posting whose every Odoo id comes from what it read (not from the event), and starts it over
 * when Odoo says one of them no longer exists: the record was deleted meanwhile, or Odoo was restored
 * from a backup between two calls (its own posting record, written a few calls earlier, is then
 * gone). The next attempt reads what Odoo holds now: it posts the event again, finishes a posting the
 * backup holds in part, or fails with what is really wrong. Dead-lettering it would have lost a report
 * that only had to be posted again (seen in the fault run, "Odoo restored from a backup").
 */
export async function startOverIfVanished<T>(posting: () => Promise<T>): Promise<T> {
  try {
    return await posting();
  } catch (err) {
    if (err instanceof OdooError && err.odooName === "odoo.exceptions.MissingError")
      throw new RetryableError(
        err.code,
        `${err.odooName}: ${err.odooMessage} (a record this posting read is gone: it starts over)`,
        { cause: err },
      );
    throw err;
  }
}

/** Marks a posting's later steps done: one write of its details without `pending`. */
export async function completePosting(ctx: PostingContext, record: PostingRecord): Promise<void> {
  if (!record.pending) return;
  const { pending: _, ...details } = record.details;
  await ctx.odoo.write(POSTING_MODEL, [record.id], { x_details: JSON.stringify(details) });
}

/** The posting record of an event, if Odoo holds it. */
export async function findPosting(ctx: PostingContext, eventId: string): Promise<PostingRecord | undefined> {
  const [row] = await ctx.odoo.searchRead(POSTING_MODEL, [["x_name", "=", eventId]], {
    fields: POSTING_FIELDS,
    limit: 1,
  });
  return row ? postingRecord(row) : undefined;
}

/** Posting records of these event ids (reconciliation), in chunks. */
export async function postingsOf(
  ctx: Pick<PostingContext, "odoo">,
  eventIds: readonly string[],
): Promise<PostingRecord[]> {
  const out: PostingRecord[] = [];
  for (let i = 0; i < eventIds.length; i += 200) {
    const rows = await ctx.odoo.searchRead(POSTING_MODEL, [["x_name", "in", eventIds.slice(i, i + 200)]], {
      fields: POSTING_FIELDS,
    });
    out.push(...rows.map(postingRecord));
  }
  return out;
}

/** Posting records on orders (reconciliation, the close's scrap of rejects). */
export async function postingsOn(
  ctx: Pick<PostingContext, "odoo">,
  productionIds: readonly number[],
): Promise<PostingRecord[]> {
  if (productionIds.length === 0) return [];
  const rows = await ctx.odoo.searchRead(POSTING_MODEL, [["x_production_id", "in", [...productionIds]]], {
    fields: POSTING_FIELDS,
    order: "id",
  });
  return rows.map(postingRecord);
}

/** The one2many command that creates the record in the write of the effect. */
export function postingCommand(v: PostingValues): [0, 0, Row] {
  const vals: Row = {
    x_name: v.eventId,
    x_kind: v.kind,
    x_event_type: v.eventType,
    x_production_id: v.productionId,
    x_reported_at: odooDatetime(v.at),
  };
  if (v.machine !== undefined) vals["x_machine"] = v.machine;
  if (v.countingPoint !== undefined) vals["x_counting_point"] = v.countingPoint;
  if (v.good !== undefined) vals["x_good_qty"] = v.good;
  if (v.reject !== undefined) vals["x_reject_qty"] = v.reject;
  if (v.runningMinutes !== undefined) vals["x_running_minutes"] = v.runningMinutes;
  if (v.details !== undefined) vals["x_details"] = JSON.stringify(v.details);
  return [0, 0, vals];
}
