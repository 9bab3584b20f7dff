/**
 * `uom.uom._compute_quantity` for the simulator's models (addons/uom/models/uom_uom.py): a quantity in
 * one unit as Odoo computes it in another — 16–18 `qty / from.factor × to.factor` within a category,
 * 19 `qty × from.factor / to.factor` along `relative_uom_id` — rounded with `float_round` to the
 * target's rounding. The arithmetic is the SDK's exact unit table (streams/src/units), fed the
 * simulator's own `uom.uom` rows as the Odoo connector feeds it Odoo's; units of two categories
 * raise Odoo's UserError, as `raise_if_failure` (the default) does.
 *
 * Used where Odoo converts and a posting relies on it: an order's components scaled from the BoM's
 * unit (mrp_production.py `_get_moves_raw_values`: `product_uom_id._compute_quantity(product_qty,
 * bom_id.product_uom_id) / bom_id.product_qty`), stock booked in the product's unit when a move line
 * is done (stock_move_line.py `_action_done`: `quantity_product_uom`, HALF-UP) and a scrap's quantity
 * checked against stock in the product's unit (stock_scrap.py `check_available_qty`).
 */
import {
  type RoundingMethod,
  UnitCategoryMismatchError,
  type UnitRecord,
  unitTable,
} from "../../../../streams/src/index.js";
import { UserError } from "../errors.js";
import type { Env } from "../orm.js";

const float = (v: unknown) => (typeof v === "number" ? v : 0);

/** `qty` of unit `fromId` in unit `toId`; `qty` itself when either is missing or they are one unit. */
export function computeQuantity(
  env: Env,
  qty: number,
  fromId: unknown,
  toId: unknown,
  rounding: RoundingMethod = "UP",
): number {
  if (!qty || typeof fromId !== "number" || typeof toId !== "number" || fromId === toId) return qty;
  const ids = env.search("uom.uom", ["|", ["active", "=", true], ["active", "=", false]]);
  const names = new Map(ids.map((id) => [id, String(env.get("uom.uom", id, "name"))]));
  const records = ids.map((id): UnitRecord => {
    const base = {
      name: names.get(id) as string,
      rounding: float(env.get("uom.uom", id, "rounding")) || 0.01,
    };
    if (env.profile.uomCategory)
      return {
        ...base,
        category: String(env.get("uom.uom", id, "category_id")),
        factor: float(env.get("uom.uom", id, "factor")),
      };
    const parent = env.get("uom.uom", id, "relative_uom_id");
    return {
      ...base,
      relativeFactor: float(env.get("uom.uom", id, "relative_factor")),
      relativeUnit: typeof parent === "number" ? (names.get(parent) ?? null) : null,
    };
  });
  const from = names.get(fromId) as string;
  const to = names.get(toId) as string;
  try {
    return Number(unitTable(records).convert({ value: String(qty), uom: from }, to, { rounding }).value);
  } catch (err) {
    if (err instanceof UnitCategoryMismatchError)
      throw new UserError(
        `The unit of measure ${from} defined on the order line doesn't belong to the same category as the unit of measure ${to} defined on the product. Please correct the unit of measure defined on the order line or on the product. They should belong to the same category.`,
      );
    throw err;
  }
}

/** `qty` of unit `fromId` in the product's own unit (`uom_id`), HALF-UP as stock quantities are. */
export function inProductUom(env: Env, qty: number, fromId: unknown, productId: number): number {
  return computeQuantity(env, qty, fromId, env.get("product.product", productId, "uom_id"), "HALF-UP");
}
