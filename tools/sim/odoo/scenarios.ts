/**
 * What a warehouse user does in the simulated Odoo, through its public API only (as the demo and
 * tests drive it): receive stock on a vendor receipt, prepare and ship a delivery. Odoo does not reserve the arrived stock for
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

/** A delivery being prepared: reserved, not shipped yet (`shipDelivery` ships it). */
export interface PreparedDelivery {
  readonly picking: number;
  readonly name: string;
  /** The lots the simulator reserved (its own choice, as its stock models make it: models/stock-picking.ts). */
  readonly lots: readonly string[];
}

/**
 * Prepares a delivery of `quantity` of the product `code` from WH/Stock to the customer `partner`
 * (the delivery type's locations): creates the picking, confirms it and checks availability, which
 * reserves stock — lots included — through the simulator's `action_assign` (its stock models cite the
 * Odoo source they follow). Returns what was reserved.
 */
export async function prepareDelivery(
  env: SimEnv,
  version: number,
  code: string,
  quantity: number,
  partner: number,
  origin: string,
): Promise<PreparedDelivery> {
  const [product] = await env.search("product.product", [["default_code", "=", code]]);
  if (!product) throw new RangeError(`prepareDelivery: no product ${code}`);
  const picking = await env.create("stock.picking", {
    picking_type_id: env.ref("stock.picking_type_out"),
    partner_id: partner,
    origin,
    move_ids: [
      [
        0,
        0,
        {
          ...(version <= 18 ? { name: code } : {}),
          product_id: product,
          product_uom_qty: quantity,
          location_id: env.ref("stock.stock_location_stock"),
          location_dest_id: env.ref("stock.stock_location_customers"),
        },
      ],
    ],
  });
  await env.call("stock.picking", "action_confirm", [[picking]]);
  await env.call("stock.picking", "action_assign", [[picking]]);
  const [row] = (await env.read("stock.picking", [picking], ["name", "move_line_ids", "state"])) as Row[];
  if (row?.["state"] !== "assigned")
    throw new Error(
      `prepareDelivery: ${row?.["name"]} is ${row?.["state"]}, not ready: not enough ${code} in stock`,
    );
  const lines = (await env.read("stock.move.line", (row?.["move_line_ids"] ?? []) as number[], [
    "lot_id",
  ])) as Row[];
  const lots = lines.flatMap((l) => (Array.isArray(l["lot_id"]) ? [String(l["lot_id"][1])] : []));
  return { picking, name: String(row?.["name"]), lots: [...new Set(lots)].sort() };
}

/**
 * Ships a prepared delivery: what was reserved is done (16 `qty_done`; 17+ `picked`), then validated.
 */
export async function shipDelivery(env: SimEnv, version: number, delivery: PreparedDelivery): Promise<void> {
  const [row] = (await env.read("stock.picking", [delivery.picking], ["move_line_ids"])) as Row[];
  const ids = (row?.["move_line_ids"] ?? []) as number[];
  const lines = (await env.read("stock.move.line", ids, [
    version === 16 ? "reserved_uom_qty" : "quantity",
  ])) as Row[];
  for (const [i, id] of ids.entries()) {
    const qty = Number(lines[i]?.[version === 16 ? "reserved_uom_qty" : "quantity"] ?? 0);
    await env.write(
      "stock.move.line",
      [id],
      version === 16 ? { qty_done: qty } : { quantity: qty, picked: true },
    );
  }
  const result = await env.call("stock.picking", "button_validate", [[delivery.picking]]);
  if (result !== true) throw new Error(`shipDelivery: button_validate answered ${JSON.stringify(result)}`);
}
