/**
 * stock.picking of an outgoing operation type, waiting (confirmed) or ready (assigned) →
 * ShipmentRequested; cancelled → ShipmentCancelled (once per delivery), so the shipment gate stops
 * waiting for a delivery that will never ship.
 *
 * Lines are the move lines (product, lot, reserved quantity: `reserved_uom_qty` where the server has
 * it — Odoo 16 —, else fields.ts's move line quantity); a move not reserved yet is one line with its
 * demand and no lot. The id derives from the picking and the request's content (customer, lines,
 * schedule): reading the delivery again — confirmed then reserved with the same lots — publishes the
 * same id, which the stream drops; a changed request (other lots reserved, another quantity) is a new
 * request for the shipment gate to check. The customers' master data (Partner) is published with
 * the deliveries (masterdata-partner.ts).
 */
import { createHash } from "node:crypto";
import type {
  ShipmentCancelled,
  ShipmentLine,
  ShipmentRequested,
} from "../../../../../contracts/src/index.js";
import type { Emission, InboundSource, MappingContext, PageResult } from "../source.js";
import { m2oId, m2oName, num, type OdooRow, odooDate, productOf, quantity, text, x2mIds } from "../values.js";
import { PARTNER_OPTIONAL_FIELDS, partnerEmissions } from "./masterdata-partner.js";

const MODEL = "stock.picking";

export const shipmentSource: InboundSource = {
  model: MODEL,
  cursorField: "write_date",
  triggeredBy: [MODEL, "stock.move"],
  optionalFields: { "stock.move.line": ["reserved_uom_qty"], ...PARTNER_OPTIONAL_FIELDS },
  domain: () => [
    ["picking_type_code", "=", "outgoing"],
    ["state", "in", ["confirmed", "assigned", "cancel"]],
  ],
  fields: () => ["name", "partner_id", "origin", "scheduled_date", "move_ids", "state", "write_date"],
  map: mapShipments,
};

async function mapShipments(rows: readonly OdooRow[], ctx: MappingContext): Promise<PageResult> {
  const f = ctx.fields;
  const reserved = ctx.has("stock.move.line", "reserved_uom_qty");
  const moves = await ctx.related.load(
    "stock.move",
    rows.flatMap((r) => x2mIds(r["move_ids"])),
    ["product_id", "product_uom_qty", "product_uom", "move_line_ids", "state"],
  );
  const lines = await ctx.related.load(
    "stock.move.line",
    [...moves.values()].flatMap((m) => x2mIds(m["move_line_ids"])),
    [
      "product_id",
      "product_uom_id",
      "lot_id",
      "lot_name",
      f.moveLineQty,
      ...(reserved ? ["reserved_uom_qty"] : []),
    ],
  );
  const partners = await ctx.related.load(
    "res.partner",
    rows.map((r) => m2oId(r["partner_id"]) ?? 0),
    ["ref", "name"],
  );
  const products = await ctx.related.products([
    ...[...moves.values()].map((m) => m2oId(m["product_id"]) ?? 0),
    ...[...lines.values()].map((l) => m2oId(l["product_id"]) ?? 0),
  ]);

  // The customers' master data first (masterdata-partner.ts): a partner unchanged since it was
  // created is published with its first delivery.
  const customers = await partnerEmissions(
    rows.map((r) => m2oId(r["partner_id"]) ?? 0),
    ctx,
  );
  const events: Emission[] = [...customers.events];
  for (const picking of rows) {
    if (picking["state"] === "cancel") {
      events.push(cancelled(picking, ctx));
      continue;
    }
    const shipmentLines: ShipmentLine[] = [];
    for (const moveId of x2mIds(picking["move_ids"])) {
      const move = moves.get(moveId);
      if (!move || move["state"] === "cancel" || move["state"] === "done") continue;
      const moveLines = x2mIds(move["move_line_ids"]).flatMap((id) => lines.get(id) ?? []);
      if (moveLines.length === 0) {
        shipmentLines.push({
          product: productOf(move["product_id"], products),
          lot: null,
          quantity: quantity(move["product_uom_qty"], move["product_uom"]),
        });
        continue;
      }
      for (const line of moveLines) {
        const qty =
          reserved && num(line["reserved_uom_qty"]) > 0 ? line["reserved_uom_qty"] : line[f.moveLineQty];
        shipmentLines.push({
          product: productOf(line["product_id"], products),
          lot: m2oName(line["lot_id"]) ?? text(line["lot_name"]),
          quantity: quantity(qty, line["product_uom_id"]),
        });
      }
    }
    if (shipmentLines.length === 0) continue; // the contract wants at least one line
    const partnerId = m2oId(picking["partner_id"]);
    const partner = partnerId ? partners.get(partnerId) : undefined;
    const pickingRef = text(picking["name"]) ?? `${MODEL}:${picking.id}`;
    const requestedAt = odooDate(picking["write_date"]) ?? new Date();
    const payload: ShipmentRequested = {
      pickingRef,
      odooPickingId: BigInt(picking.id),
      site: ctx.site,
      customerRef: text(partner?.["ref"]) ?? (partnerId ? String(partnerId) : "unknown"),
      customerName: text(partner?.["name"]) ?? m2oName(picking["partner_id"]),
      salesOrderRef: text(picking["origin"]),
      lines: shipmentLines,
      scheduledAt: odooDate(picking["scheduled_date"]),
      requestedAt,
    };
    const content = createHash("sha256")
      .update(
        JSON.stringify([
          payload.customerRef,
          payload.salesOrderRef,
          payload.scheduledAt?.toISOString() ?? null,
          shipmentLines.map((l) => [l.product.code, l.lot, l.quantity.value, l.quantity.uom]),
        ]),
      )
      .digest("base64url")
      .slice(0, 16);
    events.push({
      type: "mfg.shipping.shipment_requested.v1",
      payload,
      key: pickingRef,
      id: ctx.eventId(MODEL, picking.id, "requested", content),
      time: requestedAt,
    });
  }
  return { events, writes: [], refusals: customers.refusals };
}

function cancelled(picking: OdooRow, ctx: MappingContext): Emission {
  const pickingRef = text(picking["name"]) ?? `${MODEL}:${picking.id}`;
  const cancelledAt = odooDate(picking["write_date"]) ?? new Date();
  const payload: ShipmentCancelled = {
    pickingRef,
    odooPickingId: BigInt(picking.id),
    site: ctx.site,
    origin: text(picking["origin"]),
    cancelledAt,
  };
  return {
    type: "mfg.shipping.shipment_cancelled.v1",
    payload,
    key: pickingRef,
    id: ctx.eventId(MODEL, picking.id, "cancelled"),
    time: cancelledAt,
  };
}
