/**
 * DowntimeStarted / DowntimeEnded → one Odoo work-center productivity log (`mrp.workcenter.productivity`)
 * with an availability loss, on the work center of the machine's line. The log carries the
 * downtime's id (shared by both events) as its event id, so either event finds it:
 * - started: creates the log (start date, loss, reason) unless it exists;
 * - ended: writes the end date (and the final reason) on it — or, when the start was never posted,
 *   creates it whole. Writing the same values again changes nothing, so replays are harmless.
 *
 * The two events come from two durables and may be handled at the same time: in one process they
 * are serialised by downtime id; should two replicas still create two logs, the next posting of
 * that downtime keeps the oldest and removes the other (converging on exactly one log).
 */
import type {
  DowntimeCategory,
  DowntimeEnded,
  DowntimeStarted,
  EquipmentPath,
  StopReason,
} from "../../../../contracts/src/index.js";
import { PermanentError } from "../../../../streams/src/index.js";
import { OutboundErrorCode } from "./errors.js";
import {
  KeyedLock,
  MARKER,
  markedRecords,
  type OdooRecord,
  odooDatetime,
  type PostingContext,
  type PostingEvent,
  type PostingResult,
  type Row,
} from "./steps.js";

export interface DowntimePostingOptions {
  /**
   * Work center code (`mrp.workcenter.code`) per line token; a `line/machine` key wins over the
   * line. A line missing here is looked up with its own token as the code.
   */
  workcenterByLine?: Readonly<Record<string, string>>;
  /** Availability loss reason (by name) per downtime category. @default the first availability loss */
  lossByCategory?: Readonly<Partial<Record<DowntimeCategory, string>>>;
}

const MODEL = "mrp.workcenter.productivity";
const LOG_FIELDS = ["date_start", "date_end", "description", "workcenter_id"];

const locks = new KeyedLock();

export function postDowntimeStarted(
  ctx: PostingContext,
  event: PostingEvent<DowntimeStarted>,
  options: DowntimePostingOptions = {},
): Promise<PostingResult> {
  const d = event.value;
  return locks.run(d.downtimeId, async () => {
    const logs = await markedRecords(ctx, MODEL, d.downtimeId, LOG_FIELDS);
    if (logs.length > 0) {
      const kept = await converge(ctx, logs);
      return { outcome: "already_applied", records: [record(kept)] };
    }
    const id = await ctx.odoo.create(MODEL, {
      ...(await logBase(ctx, d.equipment, d.category, options)),
      description: describe(d.reason, d.category, d.equipment),
      date_start: odooDatetime(d.startedAt),
      [MARKER]: d.downtimeId,
    });
    return { outcome: "applied", records: [{ model: MODEL, id, name: null }] };
  });
}

export function postDowntimeEnded(
  ctx: PostingContext,
  event: PostingEvent<DowntimeEnded>,
  options: DowntimePostingOptions = {},
): Promise<PostingResult> {
  const d = event.value;
  return locks.run(d.downtimeId, async () => {
    const logs = await markedRecords(ctx, MODEL, d.downtimeId, LOG_FIELDS);
    const description = describe(d.reason, d.category, d.equipment);
    const end = odooDatetime(d.endedAt);
    if (logs.length === 0) {
      // The start was never posted (or comes later): the whole downtime in one record.
      const id = await ctx.odoo.create(MODEL, {
        ...(await logBase(ctx, d.equipment, d.category, options)),
        description,
        date_start: odooDatetime(d.startedAt),
        date_end: end,
        [MARKER]: d.downtimeId,
      });
      return { outcome: "applied", records: [{ model: MODEL, id, name: null }] };
    }
    const kept = await converge(ctx, logs);
    if (String(kept["date_end"] || "").slice(0, 19) === end && kept["description"] === description)
      return { outcome: "already_applied", records: [record(kept)] };
    await ctx.odoo.write(MODEL, [kept["id"] as number], { date_end: end, description }, { idempotent: true });
    return { outcome: "applied", records: [record(kept)] };
  });
}

function record(row: Row): OdooRecord {
  return { model: MODEL, id: row["id"] as number, name: null };
}

async function logBase(
  ctx: PostingContext,
  equipment: EquipmentPath,
  category: DowntimeCategory,
  options: DowntimePostingOptions,
): Promise<Row> {
  return {
    workcenter_id: await ctx.setup.workcenter(workcenterCode(equipment, options)),
    loss_id: await ctx.setup.availabilityLoss(options.lossByCategory?.[category]),
  };
}

function workcenterCode(equipment: EquipmentPath, options: DowntimePostingOptions): string {
  const map = options.workcenterByLine ?? {};
  const line = equipment.line;
  if (line === null)
    throw new PermanentError(
      OutboundErrorCode.WorkcenterNotFound,
      `the downtime of ${equipment.site}/${equipment.machine ?? "?"} names no line, so no Odoo work center`,
    );
  return (equipment.machine !== null ? map[`${line}/${equipment.machine}`] : undefined) ?? map[line] ?? line;
}

function describe(reason: StopReason | null, category: DowntimeCategory, equipment: EquipmentPath): string {
  const why = reason ? `${reason.code}${reason.text ? ` ${reason.text}` : ""}` : "no reason given";
  const where = [equipment.line, equipment.cell, equipment.machine].filter((p) => p !== null).join("/");
  return `Downtime ${where}: ${why} (${category})`;
}

/** Keeps the oldest of duplicate logs (carrying over an end date) and removes the others. */
async function converge(ctx: PostingContext, logs: Row[]): Promise<Row> {
  const [kept, ...duplicates] = logs as [Row, ...Row[]];
  if (duplicates.length === 0) return kept;
  const ended = duplicates.find((l) => l["date_end"]);
  if (!kept["date_end"] && ended) {
    await ctx.odoo.write(
      MODEL,
      [kept["id"] as number],
      { date_end: ended["date_end"], description: ended["description"] },
      { idempotent: true },
    );
    kept["date_end"] = ended["date_end"];
    kept["description"] = ended["description"];
  }
  try {
    await ctx.odoo.call(
      MODEL,
      "unlink",
      { ids: duplicates.map((l) => l["id"] as number) },
      { idempotent: true },
    );
    ctx.logger.warn(
      { kept: kept["id"], removed: duplicates.map((l) => l["id"]) },
      "removed duplicate downtime logs",
    );
  } catch (err) {
    ctx.logger.warn({ err, kept: kept["id"] }, "could not remove duplicate downtime logs");
  }
  return kept;
}
