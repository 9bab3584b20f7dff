/**
 * stock.move.line done → GoodsMovementPosted, once per line (the id derives from the line).
 *
 * Movement type, first rule that applies:
 * | rule                                                                 | type        |
 * |----------------------------------------------------------------------|-------------|
 * | the move belongs to a scrap (17+ `stock.move.scrap_id`; 16 `stock.scrap.move_id`, read back through `scrap_ids`) | SCRAP |
 * | the move belongs to an unbuild (`unbuild_id`)                        | UNBUILD     |
 * | the move consumes for an order (raw_material_production_id) or goes to a production location | CONSUMPTION |
 * | the move produces for an order (production_id) or comes from a production location           | PRODUCTION  |
 * | to a scrap location (`scrap_location` up to 18)                      | SCRAP       |
 * | from or to an inventory-loss location                                | ADJUSTMENT  |
 * | operation type incoming / outgoing / internal                        | RECEIPT / DELIVERY / INTERNAL |
 * | from a vendor / to a customer / internal to internal                 | RECEIPT / DELIVERY / INTERNAL |
 * | otherwise                                                            | OTHER       |
 *
 * A scrap from a manufacturing order carries the order on its move (`production_id` for the finished
 * product, `raw_material_production_id` for a component: mrp stock_scrap.py `_prepare_move_values`),
 * so the scrap link must win over those, or the connector's own reject scraps would come back as
 * production. `orderRef` names the order either way (for an unbuild: the order it undid).
 *
 * Key: the transfer's name, else the move's reference (the order's name for production moves).
 */
import type { GoodsMovementPosted, MovementType } from "../../../../../contracts/src/index.js";
import type { Emission, InboundSource, MappingContext, PageResult } from "../source.js";
import { m2oId, m2oName, type OdooRow, odooDate, productOf, quantity, text, x2mIds } from "../values.js";

const MODEL = "stock.move.line";

export const movementSource: InboundSource = {
  model: MODEL,
  cursorField: "write_date",
  triggeredBy: [MODEL, "stock.move", "stock.picking", "mrp.production"],
  optionalFields: {
    "stock.location": ["scrap_location"],
    "stock.move": ["scrap_id", "scrap_ids", "unbuild_id"],
  },
  domain: () => [["state", "=", "done"]],
  fields: ({ fields: f }) => [
    "move_id",
    "picking_id",
    "product_id",
    "product_uom_id",
    f.moveLineQty,
    "lot_id",
    "lot_name",
    "location_id",
    "location_dest_id",
    "date",
    "write_date",
  ],
  map: mapMovements,
};

async function mapMovements(rows: readonly OdooRow[], ctx: MappingContext): Promise<PageResult> {
  const links = ["scrap_id", "scrap_ids", "unbuild_id"].filter((f) => ctx.has("stock.move", f));
  const moves = await ctx.related.load(
    "stock.move",
    rows.map((r) => m2oId(r["move_id"]) ?? 0),
    ["raw_material_production_id", "production_id", "picking_type_id", "origin", "reference", ...links],
  );
  const unbuilds = await ctx.related.load(
    "mrp.unbuild",
    [...moves.values()].map((m) => m2oId(m["unbuild_id"]) ?? 0),
    ["mo_id"],
  );
  const pickings = await ctx.related.load(
    "stock.picking",
    rows.map((r) => m2oId(r["picking_id"]) ?? 0),
    ["name", "origin", "picking_type_id"],
  );
  const types = await ctx.related.load(
    "stock.picking.type",
    [
      ...[...moves.values()].map((m) => m2oId(m["picking_type_id"]) ?? 0),
      ...[...pickings.values()].map((p) => m2oId(p["picking_type_id"]) ?? 0),
    ],
    ["code"],
  );
  const locationFields = [
    "usage",
    ...(ctx.has("stock.location", "scrap_location") ? ["scrap_location"] : []),
  ];
  const locations = await ctx.related.load(
    "stock.location",
    rows.flatMap((r) => [m2oId(r["location_id"]) ?? 0, m2oId(r["location_dest_id"]) ?? 0]),
    locationFields,
  );
  const products = await ctx.related.products(rows.map((r) => m2oId(r["product_id"]) ?? 0));

  const events: Emission[] = rows.map((line) => {
    const move = moves.get(m2oId(line["move_id"]) ?? 0);
    const pickingId = m2oId(line["picking_id"]);
    const picking = pickingId ? pickings.get(pickingId) : undefined;
    const pickingRef = pickingId ? (text(picking?.["name"]) ?? m2oName(line["picking_id"])) : null;
    const typeId = m2oId(move?.["picking_type_id"]) ?? m2oId(picking?.["picking_type_id"]) ?? 0;
    const unbuild = unbuilds.get(m2oId(move?.["unbuild_id"]) ?? 0);
    const movementType = movementTypeOf({
      scrap: m2oId(move?.["scrap_id"]) !== null || x2mIds(move?.["scrap_ids"]).length > 0,
      unbuild: m2oId(move?.["unbuild_id"]) !== null,
      consumes: m2oId(move?.["raw_material_production_id"]) !== null,
      produces: m2oId(move?.["production_id"]) !== null,
      operation: text(types.get(typeId)?.["code"]),
      from: locations.get(m2oId(line["location_id"]) ?? 0),
      to: locations.get(m2oId(line["location_dest_id"]) ?? 0),
    });
    const postedAt = odooDate(line["date"]) ?? odooDate(line["write_date"]) ?? new Date();
    const moveId = m2oId(line["move_id"]) ?? 0;
    const payload: GoodsMovementPosted = {
      site: ctx.site,
      movementType,
      pickingRef,
      odooPickingId: pickingId === null ? null : BigInt(pickingId),
      odooMoveId: BigInt(moveId),
      odooMoveLineId: BigInt(line.id),
      product: productOf(line["product_id"], products),
      lot: m2oName(line["lot_id"]) ?? text(line["lot_name"]),
      quantity: quantity(line[ctx.fields.moveLineQty], line["product_uom_id"]),
      fromLocation: m2oName(line["location_id"]) ?? "",
      toLocation: m2oName(line["location_dest_id"]) ?? "",
      origin: text(move?.["origin"]) ?? text(picking?.["origin"]),
      postedAt,
      orderRef:
        m2oName(move?.["raw_material_production_id"]) ??
        m2oName(move?.["production_id"]) ??
        m2oName(unbuild?.["mo_id"]) ??
        null,
    };
    return {
      type: "mfg.inventory.goods_movement_posted.v1",
      payload,
      key: pickingRef ?? text(move?.["reference"]) ?? `${MODEL}:${line.id}`,
      id: ctx.eventId(MODEL, line.id, "posted"),
      time: postedAt,
    };
  });
  return { events, writes: [] };
}

export function movementTypeOf(m: {
  scrap?: boolean;
  unbuild?: boolean;
  consumes: boolean;
  produces: boolean;
  operation: string | null;
  from: OdooRow | undefined;
  to: OdooRow | undefined;
}): MovementType {
  const from = text(m.from?.["usage"]);
  const to = text(m.to?.["usage"]);
  if (m.scrap) return "SCRAP";
  if (m.unbuild) return "UNBUILD";
  if (m.consumes || to === "production") return "CONSUMPTION";
  if (m.produces || from === "production") return "PRODUCTION";
  if (m.to?.["scrap_location"] === true) return "SCRAP";
  if (from === "inventory" || to === "inventory") return "ADJUSTMENT";
  if (m.operation === "incoming") return "RECEIPT";
  if (m.operation === "outgoing") return "DELIVERY";
  if (m.operation === "internal") return "INTERNAL";
  if (from === "supplier") return "RECEIPT";
  if (to === "customer") return "DELIVERY";
  if (from === "internal" && to === "internal") return "INTERNAL";
  return "OTHER";
}
