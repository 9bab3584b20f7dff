/**
 * stock.move done with `raw_material_production_id` → MaterialConsumed: one genealogy edge per
 * component lot of the move (its done move lines grouped by lot; quantities from fields.ts's move
 * line quantity field). A move without done lines (an untracked component recorded on the move)
 * gives one edge with the move's done quantity and no lot. The produced lot is the order's lot to
 * produce when the move is read. Ids derive from the move and the lot: once per edge. Component
 * scraps are not consumption (they go out as GoodsMovementPosted SCRAP with the order).
 */
import type { MaterialConsumed } from "../../../../../contracts/src/index.js";
import type { Emission, InboundSource, MappingContext, PageResult } from "../source.js";
import { m2oId, m2oName, num, type OdooRow, odooDate, productOf, quantity, text, x2mIds } from "../values.js";

const MODEL = "stock.move";

export const consumptionSource: InboundSource = {
  model: MODEL,
  cursorField: "write_date",
  triggeredBy: [MODEL, "mrp.production"],
  domain: ({ fields: f }) => [
    ["raw_material_production_id", "!=", false],
    ["state", "=", "done"],
    // A component scrapped from an order carries the order too (mrp stock_scrap.py
    // `_prepare_move_values`) but was not consumed into its product: not a genealogy edge.
    f.scrapMoveLink === "move.scrap_id" ? ["scrap_id", "=", false] : ["scrapped", "=", false],
  ],
  fields: ({ fields: f }) => [
    "raw_material_production_id",
    "product_id",
    "product_uom",
    f.moveQty,
    "move_line_ids",
    "date",
    "write_date",
  ],
  map: mapConsumption,
};

async function mapConsumption(rows: readonly OdooRow[], ctx: MappingContext): Promise<PageResult> {
  const f = ctx.fields;
  const lotField = f.moLotProducing.field;
  const lines = await ctx.related.load(
    "stock.move.line",
    rows.flatMap((r) => x2mIds(r["move_line_ids"])),
    ["lot_id", "lot_name", f.moveLineQty, "state"],
  );
  const orders = await ctx.related.load(
    "mrp.production",
    rows.map((r) => m2oId(r["raw_material_production_id"]) ?? 0),
    ["name", "product_id", lotField],
  );
  const producedLots = f.moLotProducing.many
    ? await ctx.related.load(
        "stock.lot",
        [...orders.values()].flatMap((o) => x2mIds(o[lotField]).slice(0, 1)),
        ["name"],
      )
    : new Map<number, OdooRow>();
  const products = await ctx.related.products([
    ...rows.map((r) => m2oId(r["product_id"]) ?? 0),
    ...[...orders.values()].map((o) => m2oId(o["product_id"]) ?? 0),
  ]);

  const events: Emission[] = [];
  for (const move of rows) {
    const orderId = m2oId(move["raw_material_production_id"]) ?? 0;
    const order = orders.get(orderId);
    const orderRef =
      text(order?.["name"]) ?? m2oName(move["raw_material_production_id"]) ?? `mrp.production:${orderId}`;
    const producedLot = order
      ? f.moLotProducing.many
        ? text(producedLots.get(x2mIds(order[lotField])[0] ?? 0)?.["name"])
        : m2oName(order[lotField])
      : null;
    const consumedAt = odooDate(move["date"]) ?? odooDate(move["write_date"]) ?? new Date();
    // Done quantity per lot; "" for lines without a lot.
    const byLot = new Map<string, number>();
    for (const id of x2mIds(move["move_line_ids"])) {
      const line = lines.get(id);
      if (!line || line["state"] === "cancel") continue;
      const qty = num(line[f.moveLineQty]);
      if (qty <= 0) continue;
      const lot = m2oName(line["lot_id"]) ?? text(line["lot_name"]) ?? "";
      byLot.set(lot, (byLot.get(lot) ?? 0) + qty);
    }
    if (byLot.size === 0 && num(move[f.moveQty]) > 0) byLot.set("", num(move[f.moveQty]));
    for (const [lot, qty] of byLot) {
      const payload: MaterialConsumed = {
        site: ctx.site,
        orderRef,
        component: productOf(move["product_id"], products),
        componentLot: lot === "" ? null : lot,
        quantity: quantity(qty, move["product_uom"]),
        producedProduct: productOf(order?.["product_id"] ?? [0, null], products),
        producedLot,
        odooMoveId: BigInt(move.id),
        consumedAt,
      };
      events.push({
        type: "mfg.inventory.material_consumed.v1",
        payload,
        key: orderRef,
        id: ctx.eventId(MODEL, move.id, "consumed", lot === "" ? "-" : lot),
        time: consumedAt,
      });
    }
  }
  return { events, writes: [] };
}
