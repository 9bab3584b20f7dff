/**
 * mrp.unbuild done → UnbuildPosted, once per unbuild (the id derives from it): the reverse
 * genealogy edge — the finished lot taken apart and the component lots back in stock.
 *
 * Odoo gives every move of an unbuild `unbuild_id` (the finished product consumed and the components
 * returned alike; `consume_unbuild_id` is never written: mrp_unbuild.py
 * `_generate_move_from_existing_move`, 16–19), so the returned components are its done moves of
 * other products, into stock; their lots come from the move lines (Odoo copies the original order's).
 */
import type { ReturnedComponent, UnbuildPosted } from "../../../../../contracts/src/index.js";
import type { Emission, InboundSource, MappingContext, PageResult } from "../source.js";
import { m2oId, m2oName, num, type OdooRow, odooDate, productOf, quantity, text, x2mIds } from "../values.js";

const MODEL = "mrp.unbuild";

export const unbuildSource: InboundSource = {
  model: MODEL,
  cursorField: "write_date",
  triggeredBy: [MODEL],
  domain: () => [["state", "=", "done"]],
  fields: () => ["name", "product_id", "product_qty", "product_uom_id", "lot_id", "mo_id", "write_date"],
  map: mapUnbuilds,
};

async function mapUnbuilds(rows: readonly OdooRow[], ctx: MappingContext): Promise<PageResult> {
  const f = ctx.fields;
  const moves = rows.length
    ? await ctx.client.searchRead<OdooRow>(
        "stock.move",
        [
          ["unbuild_id", "in", rows.map((r) => r.id)],
          ["state", "=", "done"],
        ],
        {
          fields: [
            "unbuild_id",
            "product_id",
            "product_uom",
            f.moveQty,
            "move_line_ids",
            "location_dest_id",
            "date",
          ],
        },
      )
    : [];
  const lines = await ctx.related.load(
    "stock.move.line",
    moves.flatMap((m) => x2mIds(m["move_line_ids"])),
    ["lot_id", f.moveLineQty],
  );
  const locations = await ctx.related.load(
    "stock.location",
    moves.map((m) => m2oId(m["location_dest_id"]) ?? 0),
    ["usage"],
  );
  const products = await ctx.related.products([
    ...rows.map((r) => m2oId(r["product_id"]) ?? 0),
    ...moves.map((m) => m2oId(m["product_id"]) ?? 0),
  ]);
  const events: Emission[] = rows.map((u) => {
    const productId = m2oId(u["product_id"]);
    const returned: ReturnedComponent[] = [];
    let doneAt: Date | undefined;
    for (const m of moves.filter((m) => m2oId(m["unbuild_id"]) === u.id)) {
      const at = odooDate(m["date"]);
      if (at && (!doneAt || at > doneAt)) doneAt = at;
      if (m2oId(m["product_id"]) === productId) continue;
      if (text(locations.get(m2oId(m["location_dest_id"]) ?? 0)?.["usage"]) !== "internal") continue;
      const byLot = new Map<string, number>();
      for (const id of x2mIds(m["move_line_ids"])) {
        const line = lines.get(id);
        if (!line) continue;
        const lot = m2oName(line["lot_id"]) ?? "";
        byLot.set(lot, (byLot.get(lot) ?? 0) + num(line[f.moveLineQty]));
      }
      if (byLot.size === 0) byLot.set("", num(m[f.moveQty]));
      for (const [lot, qty] of byLot)
        returned.push({
          component: productOf(m["product_id"], products),
          lot: lot === "" ? null : lot,
          quantity: quantity(qty, m["product_uom"]),
        });
    }
    const unbuiltAt = doneAt ?? odooDate(u["write_date"]) ?? new Date();
    const payload: UnbuildPosted = {
      site: ctx.site,
      unbuildRef: text(u["name"]) ?? `${MODEL}:${u.id}`,
      odooUnbuildId: BigInt(u.id),
      orderRef: m2oName(u["mo_id"]),
      product: productOf(u["product_id"], products),
      lot: m2oName(u["lot_id"]),
      quantity: quantity(u["product_qty"], u["product_uom_id"]),
      returnedComponents: returned,
      unbuiltAt,
    };
    return {
      type: "mfg.inventory.unbuild_posted.v1",
      payload,
      key: payload.orderRef ?? payload.unbuildRef,
      id: ctx.eventId(MODEL, u.id, "done"),
      time: unbuiltAt,
    };
  });
  return { events, writes: [] };
}
