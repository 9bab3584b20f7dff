/**
 * What a warehouse user does in the simulated Odoo, through its public API only (as the demo and
 * tests drive it): receive stock on a vendor receipt. Odoo does not reserve the arrived stock for
 * waiting orders by itself (only chained `move_dest_ids` are assigned when a move is done; other
 * orders wait for "Check availability" — `mrp.production.action_assign` — or the scheduler), so
 * `receiveStock` reserves nothing either.
 */
import type { SimEnv } from "./server.js";

type Row = Record<string, unknown>;

/**
 * Receives `quantity` of the product `code` into WH/Stock on a validated receipt (lot-tracked
 * products in lot `lot`): creates the picking, confirms it (an incoming move from a vendor bypasses
 * reservation and is assigned at once), sets the quantity on its line (16 `qty_done`; 17+ `quantity`
 * and `picked`), and validates it. Returns the picking id.
 */
export async function receiveStock(
  env: SimEnv,
  version: number,
  code: string,
  quantity: number,
  lot?: string,
): Promise<number> {
  const [product] = await env.search("product.product", [["default_code", "=", code]]);
  if (!product) throw new RangeError(`receiveStock: no product ${code}`);
  const picking = await env.create("stock.picking", {
    picking_type_id: env.ref("stock.picking_type_in"),
    origin: `receipt of ${code}`,
    move_ids: [
      [
        0,
        0,
        {
          ...(version <= 18 ? { name: code } : {}),
          product_id: product,
          product_uom_qty: quantity,
          location_id: env.ref("stock.stock_location_suppliers"),
          location_dest_id: env.ref("stock.stock_location_stock"),
        },
      ],
    ],
  });
  await env.call("stock.picking", "action_confirm", [[picking]]);
  const [row] = (await env.read("stock.picking", [picking], ["move_line_ids"])) as Row[];
  const lines = (row?.["move_line_ids"] ?? []) as number[];
  const qty = version === 16 ? { qty_done: quantity } : { quantity, picked: true };
  await env.write("stock.move.line", lines.slice(0, 1), { ...qty, ...(lot ? { lot_name: lot } : {}) });
  const result = await env.call("stock.picking", "button_validate", [[picking]]);
  if (result !== true) throw new Error(`receiveStock: button_validate answered ${JSON.stringify(result)}`);
  return picking;
}
