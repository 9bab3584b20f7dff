/**
 * Serial-tracked products: one unit per serial, as Odoo's own mass production does it — each unit
 * is produced on the open order with a new serial number and the order closed at once, the rest
 * going on as its backorder (mrp_production.py: `_set_qty_producing` forces 1 for a serial product;
 * the mass-produce wizards split the order per serial). Serial names come from Odoo's lot/serial
 * sequence (a `stock.lot` created without a name). A rejected unit is produced, closed, then its
 * serial scrapped from the order.
 *
 * Each unit is a step of its own: its posting record (`<event id>#<n>`) is written with the
 * quantity and the serial, then the close, then the scrap of a rejected unit; a redelivery resumes
 * at the first unit not finished.
 */
import type { ProductionReported } from "../../../../../contracts/src/index.js";
import { PermanentError } from "../../../../../streams/src/index.js";
import { OutboundErrorCode } from "../errors.js";
import {
  MARKER,
  m2oId,
  markedRecords,
  type OdooRecord,
  type PostingContext,
  type PostingEvent,
  type Row,
} from "../steps.js";
import { componentCommands16 } from "./components.js";
import {
  type Family,
  type FamilyMember,
  OPEN_STATES,
  openMemberFor,
  orderFamily,
  workOrderAt,
} from "./family.js";
import { findPosting, POSTINGS_FIELD, postingCommand } from "./postings.js";
import { validateScrap } from "./scrap.js";

const REPORTED = "mfg.production.production_reported.v1";

/** Posts every unit of a counting point's report of a serial-tracked product; returns the orders touched. */
export async function postSerialUnits(
  ctx: PostingContext,
  event: PostingEvent<ProductionReported>,
  units: { good: number; reject: number },
): Promise<OdooRecord[]> {
  const r = event.value;
  const total = units.good + units.reject;
  if (!Number.isInteger(total))
    throw new PermanentError(
      OutboundErrorCode.SerialTracked,
      `a serial-tracked product is counted in whole units: the report says ${units.good} good and ${units.reject} rejected`,
    );
  const records: OdooRecord[] = [];
  for (let unit = 1; unit <= total; unit++) {
    const id = `${event.id}#${unit}`;
    const rejected = unit > units.good;
    const family = await orderFamily(ctx, r.orderRef as string, ctx.equipment);
    const found = await findPosting(ctx, id);
    let member: FamilyMember;
    if (found) member = memberById(family, found.productionId, id);
    else {
      member = openMemberFor(family, r.equipment.line);
      await produceUnit(ctx, event, member, id, unit, total, rejected);
    }
    if (OPEN_STATES.has(member.state) || !found) await closeUnit(ctx, member.id, member.name);
    if (rejected) await scrapUnit(ctx, member, id);
    records.push({ model: "mrp.production", id: member.id, name: member.name });
  }
  return records;
}

function memberById(family: Family, id: number | false, eventId: string): FamilyMember {
  const m = family.members.find((x) => x.id === id);
  if (!m)
    throw new PermanentError(
      OutboundErrorCode.UnexpectedState,
      `unit ${eventId} is recorded on an order no longer in ${family.ref}'s family`,
    );
  return m;
}

/** The unit's serial (created, numbered by Odoo) and ONE write: quantity 1, the serial, the record. */
async function produceUnit(
  ctx: PostingContext,
  event: PostingEvent<ProductionReported>,
  member: FamilyMember,
  id: string,
  unit: number,
  total: number,
  rejected: boolean,
): Promise<void> {
  const r = event.value;
  if (Number(member.row["qty_producing"] ?? 0) > 0)
    throw new PermanentError(
      OutboundErrorCode.UnexpectedState,
      `${member.name} already holds ${Number(member.row["qty_producing"])} in production: a serial unit is posted on an order with nothing in production`,
    );
  const productId = m2oId(member.row["product_id"]);
  const [existing] = await markedRecords(ctx, "stock.lot", id, ["name"]);
  const serial =
    (existing?.["id"] as number | undefined) ??
    (await ctx.odoo.create("stock.lot", {
      product_id: productId,
      [MARKER]: id,
    }));
  const { field, many } = ctx.fields.moLotProducing;
  const record = postingCommand({
    eventId: id,
    kind: "report",
    eventType: REPORTED,
    productionId: member.id,
    machine: `${r.equipment.line ?? ""}/${r.equipment.machine ?? ""}`,
    countingPoint: true,
    good: rejected ? 0 : 1,
    reject: rejected ? 1 : 0,
    runningMinutes: 0,
    at: r.reportedAt,
    details: { serial: serial, unit, of: total, source: event.id },
  });
  const vals: Row = {
    [field]: many ? [[6, 0, [serial]]] : serial,
    qty_producing: 1,
    [POSTINGS_FIELD]: [record],
  };
  const code = ctx.equipment.workcenterOf(r.equipment.line ?? "", r.equipment.machine);
  const wo = workOrderAt(member, code);
  if (wo) {
    // The lot is the order's; the quantity goes through the work order so Odoo fills the components.
    await ctx.odoo.write("mrp.production", [member.id], { [field]: vals[field] }, { idempotent: true });
    await ctx.odoo.write("mrp.workorder", [wo.id], { qty_producing: 1, [POSTINGS_FIELD]: [record] });
    return;
  }
  // 16 has no public filler: the component quantities go in the same write (report.ts).
  if (!ctx.fields.hasSetQtyProducing) vals["move_raw_ids"] = await componentCommands16(ctx, member, 1);
  await ctx.odoo.write("mrp.production", [member.id], vals);
  if (ctx.fields.hasSetQtyProducing)
    await ctx.odoo.call("mrp.production", "set_qty_producing", { ids: [member.id] }, { idempotent: true });
}

/** Marks the unit's order done, the rest (if any) as one backorder. */
async function closeUnit(ctx: PostingContext, productionId: number, name: string): Promise<void> {
  const [row] = await ctx.odoo.read("mrp.production", [productionId], ["state"]);
  if (row?.["state"] === "done") return;
  const result = (await ctx.odoo.call("mrp.production", "button_mark_done", {
    ids: [productionId],
    context: { skip_backorder: true, mo_ids_to_backorder: [productionId] },
  })) as { target?: string; res_model?: string } | boolean;
  if (typeof result === "object" && result !== null && result.target === "new")
    throw new PermanentError(
      result.res_model === "mrp.consumption.warning"
        ? OutboundErrorCode.ConsumptionWarning
        : OutboundErrorCode.WizardUnanswered,
      `closing the serial unit on ${name} opened ${String(result.res_model)}: finish it in Odoo, then replay the event`,
    );
  const [after] = await ctx.odoo.read("mrp.production", [productionId], ["state"]);
  if (after?.["state"] !== "done")
    throw new PermanentError(
      OutboundErrorCode.UnexpectedState,
      `${name} is ${String(after?.["state"])} after button_mark_done`,
    );
}

/** A rejected unit's serial scrapped from its (done) order. */
async function scrapUnit(ctx: PostingContext, member: FamilyMember, id: string): Promise<void> {
  const marker = `${id}:rejects`;
  let [scrap] = await markedRecords(ctx, "stock.scrap", marker, ["state"]);
  if (!scrap) {
    const [lot] = await markedRecords(ctx, "stock.lot", id, ["name"]);
    const [order] = await ctx.odoo.read("mrp.production", [member.id], ["product_id", "location_dest_id"]);
    const scrapId = await ctx.odoo.create("stock.scrap", {
      product_id: m2oId(order?.["product_id"]),
      scrap_qty: 1,
      production_id: member.id,
      location_id: m2oId(order?.["location_dest_id"]),
      lot_id: lot?.["id"],
      origin: member.name,
      [MARKER]: marker,
    });
    [scrap] = await ctx.odoo.read("stock.scrap", [scrapId], ["state"]);
  }
  if ((scrap as Row)["state"] !== "done")
    await validateScrap(ctx, (scrap as Row)["id"] as number, `the rejected serial unit of ${member.name}`);
}
