/**
 * stock.lot → LotRegistered, once per lot.
 *
 * The cursor follows `create_date` (a transaction time like write_date, with the same overlap): the
 * event is the creation, so renaming a lot or writing its notes later is not read again. The order
 * producing the lot is the manufacturing order whose lot to produce it is when it is read (Odoo's
 * "generate serial" creates the lot and sets it on the order in one transaction); a lot set on an
 * order later keeps `orderRef: null`. `expiresAt` needs the product_expiry module
 * (`expiration_date`), read only when the server has it.
 */
import type { LotRegistered } from "../../../../../contracts/src/index.js";
import type { Emission, InboundSource, MappingContext, PageResult } from "../source.js";
import { m2oId, type OdooRow, odooDate, productOf, text, x2mIds } from "../values.js";

const MODEL = "stock.lot";

export const lotSource: InboundSource = {
  model: MODEL,
  cursorField: "create_date",
  triggeredBy: [MODEL, "mrp.production"],
  optionalFields: { [MODEL]: ["expiration_date"] },
  domain: () => [],
  fields: (ctx) => [
    "name",
    "product_id",
    "ref",
    "create_date",
    ...(ctx.has(MODEL, "expiration_date") ? ["expiration_date"] : []),
  ],
  map: mapLots,
};

async function mapLots(rows: readonly OdooRow[], ctx: MappingContext): Promise<PageResult> {
  const products = await ctx.related.products(rows.map((r) => m2oId(r["product_id"]) ?? 0));
  const lotField = ctx.fields.moLotProducing.field;
  const orders = await ctx.client.searchRead<OdooRow>(
    "mrp.production",
    [[lotField, "in", rows.map((r) => r.id)]],
    { fields: ["name", lotField], order: "id asc" },
  );
  const orderByLot = new Map<number, string>();
  for (const order of orders) {
    const lots = ctx.fields.moLotProducing.many ? x2mIds(order[lotField]) : [m2oId(order[lotField]) ?? 0];
    for (const lot of lots) if (!orderByLot.has(lot)) orderByLot.set(lot, String(order["name"]));
  }
  const events: Emission[] = rows.map((row) => {
    const name = text(row["name"]) ?? `${MODEL}:${row.id}`;
    const registeredAt = odooDate(row["create_date"]) ?? new Date();
    const payload: LotRegistered = {
      lot: name,
      odooId: BigInt(row.id),
      product: productOf(row["product_id"], products),
      site: ctx.site,
      orderRef: orderByLot.get(row.id) ?? null,
      supplierLot: text(row["ref"]),
      expiresAt: odooDate(row["expiration_date"]),
      registeredAt,
    };
    return {
      type: "mfg.inventory.lot_registered.v1",
      payload,
      key: name,
      id: ctx.eventId(MODEL, row.id, "registered"),
      time: registeredAt,
    };
  });
  return { events, writes: [] };
}
