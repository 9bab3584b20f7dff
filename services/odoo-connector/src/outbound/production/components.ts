/**
 * Components, consumed as Odoo's own form consumes them — and, where Odoo leaves them to a person, as
 * the shop floor did. Used by the production postings (report.ts, serial.ts).
 */
import type { ProductionReported } from "../../../../../contracts/src/index.js";
import { m2oId, type PostingContext } from "../steps.js";
import { type FamilyMember, workOrderAt } from "./family.js";
import { postingsOn } from "./postings.js";

/** 17+: Odoo's own filler, as the form's onchange runs it. Idempotent (quantities by value). */
export async function fillComponents(ctx: PostingContext, member: FamilyMember): Promise<void> {
  if (!ctx.fields.hasSetQtyProducing) return;
  await ctx.odoo.call("mrp.production", "set_qty_producing", { ids: [member.id] }, { idempotent: true });
}

/**
 * 16: the raw moves' done quantities for the new quantity, as `_set_qty_producing` computes them
 * ((qty_producing - qty_produced) × unit_factor, skipping what it skips: done/cancelled moves, no
 * demand, tracked or manually consumed components), written in the same call as the quantity.
 */
export async function componentCommands16(
  ctx: PostingContext,
  member: FamilyMember,
  qtyProducing: number,
): Promise<unknown[]> {
  const moves = await ctx.odoo.searchRead(
    "stock.move",
    [["raw_material_production_id", "=", member.id], notScrap(ctx)],
    {
      fields: ["state", "product_uom_qty", "unit_factor", "has_tracking", "manual_consumption"],
    },
  );
  const produced = Number(member.row["qty_produced"] ?? 0);
  const commands: unknown[] = [];
  for (const m of moves) {
    if (["done", "cancel"].includes(String(m["state"])) || !Number(m["product_uom_qty"])) continue;
    if ((m["has_tracking"] && m["has_tracking"] !== "none") || m["manual_consumption"]) continue;
    const qty = Math.round((qtyProducing - produced) * Number(m["unit_factor"] ?? 0) * 1e6) / 1e6;
    commands.push([1, m["id"], { [ctx.fields.moveQty]: qty }]);
  }
  return commands;
}

/**
 * Components Odoo leaves to a person (`manual_consumption`: consumed at an operation, or — 16/17 — a
 * tracked component), consumed by what the shop floor did: a component of an operation by the
 * machine working that operation (its counts so far on the order's work order), one of an operation
 * no machine works (or of none) by the counting point (the quantity in production), × the move's
 * unit factor — with the lots
 * Odoo reserved — and marked consumed (`picked`, 17+). Without this, Odoo 17 cancels them unpicked
 * at the close and a "strict" or "warning" BoM stops it, and 18/19 consume whatever was reserved.
 * Quantities are absolute (from the posting records), so a redelivery writes the same values.
 */
export async function consumeAtOperation(
  ctx: PostingContext,
  member: FamilyMember,
  r: ProductionReported,
): Promise<void> {
  const f = ctx.fields;
  const moves = await ctx.odoo.searchRead(
    "stock.move",
    [
      ["raw_material_production_id", "=", member.id],
      notScrap(ctx),
      ["state", "not in", ["done", "cancel"]],
      ["manual_consumption", "=", true],
    ],
    {
      fields: [
        "unit_factor",
        "workorder_id",
        "state",
        "has_tracking",
        f.moveQty,
        ...(f.hasPicked ? ["picked"] : []),
      ],
    },
  );
  if (moves.length === 0) return;
  // A tracked component is consumed from the lots Odoo reserves ("Check availability"): without a
  // reservation the quantity would land on a line without a lot, which the close refuses.
  if (moves.some((m) => m["has_tracking"] && m["has_tracking"] !== "none" && m["state"] !== "assigned"))
    await ctx.odoo.call("mrp.production", "action_assign", { ids: [member.id] }, { idempotent: true });
  const code = ctx.equipment.workcenterOf(r.equipment.line ?? "", r.equipment.machine);
  const wo = workOrderAt(member, code);
  const [order] = await ctx.odoo.read("mrp.production", [member.id], ["qty_producing", "qty_produced"]);
  const postings = wo ? await postingsOn(ctx, [member.id]) : [];
  const processedAt = (woId: number) =>
    postings
      .filter((p) => p.workorderId === woId && p.kind === "report")
      .reduce((n, p) => n + p.good + p.reject, 0);
  const inProduction = Number(order?.["qty_producing"] ?? 0) - Number(order?.["qty_produced"] ?? 0);
  for (const m of moves) {
    const woId = m2oId(m["workorder_id"]);
    let processed: number;
    if (woId !== false && wo?.id === woId) processed = processedAt(woId);
    else {
      // Another machine's operation consumes it — unless no machine works there (or it has no
      // operation): then the counting point does, for what is in production.
      const at = member.workorders.find((w) => w.id === woId)?.workcenterCode ?? null;
      const tended = woId !== false && at !== null && ctx.equipment.hasMachineAt(at);
      if (tended || !r.countingPoint) continue;
      processed = inProduction;
    }
    const target = Math.round(processed * Number(m["unit_factor"] ?? 0) * 1e6) / 1e6;
    const done =
      Math.abs(Number(m[f.moveQty] ?? 0) - target) < 1e-9 && (!f.hasPicked || m["picked"] === true);
    if (done) continue;
    if (m["has_tracking"] && m["has_tracking"] !== "none") await consumeLot(ctx, m["id"] as number, target);
    else
      await ctx.odoo.write(
        "stock.move",
        [m["id"] as number],
        { [f.moveQty]: target, ...(f.hasPicked ? { picked: true } : {}) },
        { idempotent: true },
      );
  }
}

/**
 * A tracked component's quantity on its reserved lot: Odoo adds an increase on a move as a new line
 * without a lot (stock_move.py `_set_quantity_done_prepare_vals`), which the close then refuses; a
 * person sets the lot on the line. So the quantity goes on the line that has the reserved lot, and
 * lines without one are emptied. No reserved lot (stock short): the move takes it, and the close
 * says which component lacks a lot.
 */
async function consumeLot(ctx: PostingContext, moveId: number, target: number): Promise<void> {
  const f = ctx.fields;
  const lines = await ctx.odoo.searchRead("stock.move.line", [["move_id", "=", moveId]], {
    fields: ["lot_id", f.moveLineQty],
    order: "id",
  });
  const [withLot, ...others] = [
    ...lines.filter((l) => m2oId(l["lot_id"]) !== false),
    ...lines.filter((l) => m2oId(l["lot_id"]) === false),
  ];
  if (!withLot || m2oId(withLot["lot_id"]) === false) {
    await ctx.odoo.write(
      "stock.move",
      [moveId],
      { [f.moveQty]: target, ...(f.hasPicked ? { picked: true } : {}) },
      { idempotent: true },
    );
    return;
  }
  const picked = f.hasPicked ? { picked: true } : {};
  await ctx.odoo.write(
    "stock.move.line",
    [withLot["id"] as number],
    { [f.moveLineQty]: target, ...picked },
    {
      idempotent: true,
    },
  );
  const stale = others.filter((l) => Number(l[f.moveLineQty] ?? 0) !== 0).map((l) => l["id"] as number);
  if (stale.length > 0)
    await ctx.odoo.write("stock.move.line", stale, { [f.moveLineQty]: 0 }, { idempotent: true });
}

/** Scrap moves carry the order too (mrp stock_scrap.py `_prepare_move_values`): never components. */
export function notScrap(ctx: Pick<PostingContext, "fields">): unknown[] {
  return ctx.fields.scrapMoveLink === "move.scrap_id" ? ["scrap_id", "=", false] : ["scrapped", "=", false];
}

/**
 * Tracked components Odoo filled itself (18/19: not manual, filled by `_set_qty_producing`): Odoo
 * adds each increase as a line without a lot (`_set_quantity_done_prepare_vals`), which the close
 * refuses. The quantity is moved onto the line of the lot Odoo reserved, as a person would set it.
 */
export async function keepReservedLots(ctx: PostingContext, member: FamilyMember): Promise<void> {
  const f = ctx.fields;
  const moves = await ctx.odoo.searchRead(
    "stock.move",
    [
      ["raw_material_production_id", "=", member.id],
      notScrap(ctx),
      ["state", "not in", ["done", "cancel"]],
      ["product_id.tracking", "!=", "none"],
    ],
    { fields: ["id"] },
  );
  for (const m of moves) {
    const lines = await ctx.odoo.searchRead("stock.move.line", [["move_id", "=", m["id"]]], {
      fields: ["lot_id", f.moveLineQty],
      order: "id",
    });
    const loose = lines.filter((l) => m2oId(l["lot_id"]) === false && Number(l[f.moveLineQty] ?? 0) > 0);
    if (loose.length === 0 || !lines.some((l) => m2oId(l["lot_id"]) !== false)) continue;
    const total = lines.reduce((n, l) => n + Number(l[f.moveLineQty] ?? 0), 0);
    await consumeLot(ctx, m["id"] as number, Math.round(total * 1e6) / 1e6);
  }
}
