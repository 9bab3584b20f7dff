/**
 * ProductionRunEnded → closes the order in Odoo, when the close policy says this reason closes
 * orders: `button_mark_done` on the open member of the family for the run's line, with at most one
 * backorder for the remainder as the operation type says (`create_backorder`: always → backorder,
 * never → close short, ask → the connector's ODOO_BACKORDER_ON_ASK) — passed to Odoo explicitly
 * (`skip_backorder`, `mo_ids_to_backorder`: mrp_production.py `button_mark_done` on 16–19, where 16
 * ignores the operation type itself). The consumption warning is never confirmed: it dead-letters
 * with the components Odoo found off the BoM. Then the rejects the counting point reported on the
 * order are scrapped from it (one scrap), and, with ODOO_MOVE_DATE=event, the order's moves carry
 * the shop-floor time instead of the posting time (the accounting date too, `force_period_date`).
 *
 * Exactly once: a posting record of the close (its event id) is written on the order first; a
 * redelivery finds it and resumes — mark done again if the order is still open, then the scrap
 * (found by its own marker), then the dates (by value).
 */
import type { ProductionRunEnded, RunEndReason } from "../../../../../contracts/src/index.js";
import { PermanentError } from "../../../../../streams/src/index.js";
import { OutboundErrorCode } from "../errors.js";
import {
  idsOf,
  MARKER,
  m2oId,
  markedRecords,
  type OdooRecord,
  odooDatetime,
  type PostingContext,
  type PostingEvent,
  type PostingResult,
  productById,
  type Row,
} from "../steps.js";
import { type FamilyMember, OPEN_STATES, openMemberFor, orderFamily, orderFields } from "./family.js";
import { findPosting, POSTINGS_FIELD, postingCommand, postingsOn, startOverIfVanished } from "./postings.js";
import { familyKey, familyLocks } from "./report.js";
import { validateScrap } from "./scrap.js";

/** When orders close (ProductionRunEnded reasons): see `closesOn`. */
export type ClosePolicy = "order_end" | "lot_change" | "shift" | "operator";

export interface CloseOptions {
  /** @default "order_end" */
  policy?: ClosePolicy;
  /** What `create_backorder: ask` means for the connector. @default "backorder" */
  onAsk?: "backorder" | "close";
  /** Which time the order's stock moves carry. @default "event" */
  moveDate?: "event" | "posting";
  /** Scrap location of the rejects by full name; Odoo's default when absent or not found. */
  scrapLocation?: string;
}

export const CLOSE_DEFAULTS = {
  policy: "order_end",
  onAsk: "backorder",
  moveDate: "event",
  scrapLocation: "Virtual Locations/Scrap",
} as const satisfies Required<CloseOptions>;

/**
 * The reasons each policy closes an order on. An operator's request always closes; a lot change
 * closes a lot-tracked order whatever the policy (Odoo holds one produced lot per order).
 */
export function closesOn(policy: ClosePolicy, reason: RunEndReason, lotTracked: boolean): boolean {
  if (reason === "OPERATOR") return true;
  if (reason === "LOT_CHANGE" && lotTracked) return true;
  switch (policy) {
    case "order_end":
      return reason === "ORDER_CHANGE" || reason === "PLANNED_QUANTITY";
    case "lot_change":
      return reason === "ORDER_CHANGE" || reason === "LOT_CHANGE" || reason === "PLANNED_QUANTITY";
    case "shift":
      return reason === "ORDER_CHANGE" || reason === "SHIFT_END" || reason === "PLANNED_QUANTITY";
    case "operator":
      return false;
  }
}

const RUN_ENDED = "mfg.production.production_run_ended.v1";

export function postRunEnded(
  ctx: PostingContext,
  event: PostingEvent<ProductionRunEnded>,
  options: CloseOptions = {},
): Promise<PostingResult> {
  const r = event.value;
  return familyLocks.run(familyKey(r.orderRef), () =>
    startOverIfVanished(() => close(ctx, event, { ...CLOSE_DEFAULTS, ...options })),
  );
}

async function close(
  ctx: PostingContext,
  event: PostingEvent<ProductionRunEnded>,
  o: Required<CloseOptions>,
): Promise<PostingResult> {
  const r = event.value;
  const family = await orderFamily(ctx, r.orderRef, ctx.equipment);
  const found = await findPosting(ctx, event.id);
  let member: FamilyMember | undefined;
  if (found) member = family.members.find((m) => m.id === found.productionId);
  else {
    try {
      member = openMemberFor(family, r.equipment.line);
    } catch {
      return {
        outcome: "skipped",
        reason: `no order of ${r.orderRef} is open on line ${r.equipment.line}`,
        records: [],
      };
    }
    const productId = m2oId(member.row["product_id"]);
    const product = productId === false ? undefined : await productById(ctx, productId);
    if (!closesOn(o.policy, r.reason, product !== undefined && product.tracking !== "none"))
      return {
        outcome: "skipped",
        reason: `close policy ${o.policy} keeps orders open at ${r.reason}`,
        records: [],
      };
    if (Number(member.row["qty_producing"] ?? 0) <= 0)
      return { outcome: "skipped", reason: `nothing was produced on ${member.name}`, records: [] };
    await ctx.odoo.write("mrp.production", [member.id], {
      [POSTINGS_FIELD]: [
        postingCommand({
          eventId: event.id,
          kind: "close",
          eventType: RUN_ENDED,
          productionId: member.id,
          machine: `${r.equipment.line ?? ""}/${r.equipment.machine ?? ""}`,
          at: r.endedAt,
          details: { reason: r.reason, ...(r.requestedBy ? { requestedBy: r.requestedBy } : {}) },
        }),
      ],
    });
  }
  if (!member)
    throw new PermanentError(
      OutboundErrorCode.UnexpectedState,
      `the close ${event.id} is recorded on an order no longer in ${r.orderRef}'s family`,
    );
  const records: OdooRecord[] = [{ model: "mrp.production", id: member.id, name: member.name }];
  let order = member.row;
  if (OPEN_STATES.has(String(order["state"]))) {
    await markDone(ctx, member, r, o);
    order = await readOrder(ctx, member.id);
  }
  if (order["state"] !== "done")
    throw new PermanentError(
      OutboundErrorCode.UnexpectedState,
      `${member.name} is ${String(order["state"])} after button_mark_done, expected done`,
    );
  const scrap = await scrapRejects(ctx, event.id, member, order, o);
  if (scrap) records.push(scrap);
  if (o.moveDate === "event") await dateMoves(ctx, member.id, r.endedAt);
  const backorder = await nextOpen(ctx, r.orderRef, member);
  if (backorder) records.push(backorder);
  return { outcome: found ? "already_applied" : "applied", records };
}

async function readOrder(ctx: PostingContext, id: number): Promise<Row> {
  const [row] = await ctx.odoo.read("mrp.production", [id], orderFields(ctx));
  if (!row) throw new Error(`mrp.production ${id} vanished`);
  return row;
}

interface WindowAction {
  type?: string;
  res_model?: string;
  target?: string;
  context?: Record<string, unknown>;
}

async function markDone(
  ctx: PostingContext,
  member: FamilyMember,
  r: ProductionRunEnded,
  o: Required<CloseOptions>,
): Promise<void> {
  const row = member.row;
  const remainder = Number(row["product_qty"] ?? 0) - Number(row["qty_producing"] ?? 0);
  const pickingType = m2oId(row["picking_type_id"]);
  const setting = pickingType === false ? "ask" : await ctx.setup.createBackorder(pickingType);
  const backorder =
    remainder > 1e-9 && (setting === "always" || (setting === "ask" && o.onAsk === "backorder"));
  const context: Record<string, unknown> = {
    skip_backorder: true,
    mo_ids_to_backorder: backorder ? [member.id] : [],
  };
  if (o.moveDate === "event") context["force_period_date"] = r.endedAt.toISOString().slice(0, 10);
  const result = (await ctx.odoo.call("mrp.production", "button_mark_done", { ids: [member.id], context })) as
    | WindowAction
    | boolean;
  if (typeof result !== "object" || result === null || result.target !== "new") return;
  if (result.res_model === "mrp.consumption.warning")
    throw new PermanentError(
      OutboundErrorCode.ConsumptionWarning,
      await consumptionMessage(ctx, member, result),
    );
  throw new PermanentError(
    OutboundErrorCode.WizardUnanswered,
    `closing ${member.name} opened the wizard ${String(result.res_model)}, which the connector does not answer: finish it in Odoo, then replay the event`,
  );
}

/** The components Odoo found off the BoM, from the wizard's default lines (named as Odoo names them). */
async function consumptionMessage(
  ctx: PostingContext,
  member: FamilyMember,
  action: WindowAction,
): Promise<string> {
  const lines = action.context?.["default_mrp_consumption_warning_line_ids"];
  const rows: Row[] = [];
  if (Array.isArray(lines))
    for (const command of lines) {
      const vals = Array.isArray(command) ? (command[2] as Row | undefined) : undefined;
      if (vals) rows.push(vals);
    }
  const ids = rows.map((r) => m2oId(r["product_id"])).filter((id): id is number => id !== false);
  const names = new Map(
    (ids.length ? await ctx.odoo.read("product.product", ids, ["display_name"]) : []).map((p) => [
      p["id"] as number,
      String(p["display_name"]),
    ]),
  );
  const described = rows.map((vals) => {
    const id = m2oId(vals["product_id"]);
    const product = (id !== false ? names.get(id) : undefined) ?? String(vals["product_id"]);
    return `${product}: consumed ${String(vals["product_consumed_qty_uom"] ?? "?")}, the BoM expects ${String(vals["product_expected_qty_uom"] ?? "?")}`;
  });
  return `closing ${member.name} opened Odoo's consumption warning (the BoM's consumption is "warning" or "strict")${described.length ? `: ${described.join("; ")}` : ""}. The connector never confirms it blindly: correct the consumption on the order (or the BoM) in Odoo, then replay the event`;
}

/** The rejects the counting point reported on the order, scrapped from it once it is done. */
async function scrapRejects(
  ctx: PostingContext,
  eventId: string,
  member: FamilyMember,
  order: Row,
  o: Required<CloseOptions>,
): Promise<OdooRecord | undefined> {
  const marker = `${eventId}:rejects`;
  const [found] = await markedRecords(ctx, "stock.scrap", marker, ["name", "state"]);
  let scrap = found;
  if (!scrap) {
    const rejects = (await postingsOn(ctx, [member.id]))
      .filter((p) => p.kind === "report" && p.countingPoint)
      .reduce((sum, p) => sum + p.reject, 0);
    if (rejects <= 0) return undefined;
    const vals: Row = {
      product_id: m2oId(order["product_id"]),
      scrap_qty: Math.round(rejects * 1e6) / 1e6,
      production_id: member.id,
      location_id: m2oId(order["location_dest_id"]),
      origin: member.name,
      [MARKER]: marker,
    };
    const uom = m2oId(order["product_uom_id"]);
    if (uom !== false) vals["product_uom_id"] = uom;
    const [lot] = idsOf(order[ctx.fields.moLotProducing.field]);
    if (lot !== undefined) vals["lot_id"] = lot;
    const scrapLocation = await ctx.setup.location(o.scrapLocation).catch(() => undefined);
    if (scrapLocation !== undefined) vals["scrap_location_id"] = scrapLocation;
    const id = await ctx.odoo.create("stock.scrap", vals);
    [scrap] = await ctx.odoo.read("stock.scrap", [id], ["name", "state"]);
  }
  const id = (scrap as Row)["id"] as number;
  if ((scrap as Row)["state"] !== "done") await validateScrap(ctx, id, `the rejects of ${member.name}`);
  return { model: "stock.scrap", id, name: typeof scrap?.["name"] === "string" ? scrap["name"] : null };
}

/**
 * The order's done moves (and their lines) dated at the shop-floor time. Odoo dates them "now" at
 * done (stock_move.py `_action_done`) and lets a done move's date be written afterwards (19 copies
 * it onto the lines itself; 16–18 need the lines written too).
 */
async function dateMoves(ctx: PostingContext, productionId: number, at: Date): Promise<void> {
  const date = odooDatetime(at);
  const moves = await ctx.odoo.searchRead(
    "stock.move",
    [
      "|",
      ["production_id", "=", productionId],
      ["raw_material_production_id", "=", productionId],
      ["state", "=", "done"],
    ],
    { fields: ["date", "move_line_ids"] },
  );
  const stale = moves.filter((m) => String(m["date"]).slice(0, 19) !== date);
  if (stale.length === 0) return;
  await ctx.odoo.write(
    "stock.move",
    stale.map((m) => m["id"] as number),
    { date },
    { idempotent: true },
  );
  const lines = stale.flatMap((m) => idsOf(m["move_line_ids"]));
  if (lines.length > 0) await ctx.odoo.write("stock.move.line", lines, { date }, { idempotent: true });
  await ctx.odoo.write("mrp.production", [productionId], { date_finished: date }, { idempotent: true });
}

/** The open member that took the remainder, for the posting's records. */
async function nextOpen(
  ctx: PostingContext,
  ref: string,
  closed: FamilyMember,
): Promise<OdooRecord | undefined> {
  const family = await orderFamily(ctx, ref, ctx.equipment);
  const open = family.members.find((m) => OPEN_STATES.has(m.state) && m.id !== closed.id);
  return open ? { model: "mrp.production", id: open.id, name: open.name } : undefined;
}
