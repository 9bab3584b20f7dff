/**
 * A report's counts in the unit Odoo books them in. A machine counts in its own unit (the bridge
 * mapping's `counters.uom`: jars, cases, kg); the order's quantities are in its `product_uom_id`, and
 * a component scrap in the component's `uom_id`. Each quantity is converted on its own with Odoo's
 * factors and rounding (the SDK's unit table over Odoo's `uom.uom`, src/units.ts), so good in Units
 * and rejects in Dozens both land on an order in Dozens; a unit Odoo does not know, or one of another
 * category, dead-letters the report (UOM_UNKNOWN / UOM_CATEGORY_MISMATCH, both units named).
 *
 * Rounding: HALF-UP, the method Odoo itself uses for a move's quantity in its product's unit
 * (stock_move.py `_compute_product_qty`: `_compute_quantity(..., rounding_method='HALF-UP')`), not
 * `_compute_quantity`'s default UP: reports are converted one by one, and UP would add up to a step
 * to every one of them. A quantity already in the target unit is taken as it is (no rounding: the
 * connector's behaviour before conversion existed, and Odoo's own when a quantity is typed in).
 *
 * The numbers written to Odoo are the exact decimals the conversion gives (a few places), sent as the
 * JSON number that prints them; sums are made in micro-units, never by adding floats.
 */
import type { Quantity } from "../../../../../contracts/src/index.js";
import { formatMicros, microsOf, microsOfFloat, PermanentError } from "../../../../../streams/src/index.js";
import { referenceOf } from "../../reference/index.js";
import { OutboundErrorCode } from "../errors.js";
import { m2oId, type PostingContext } from "../steps.js";

const ROUNDING = { rounding: "HALF-UP" } as const;

/** `q` in unit `uomId` of Odoo (an order's or a product's unit); `q` itself when that unit has no id. */
export async function inUnit(ctx: PostingContext, q: Quantity, uomId: unknown): Promise<Quantity> {
  const id = m2oId(uomId);
  if (id === false) return q;
  const units = referenceOf(ctx);
  const target = await units.unitName(id);
  if (target === undefined)
    throw new PermanentError(
      OutboundErrorCode.SetupMissing,
      units.source === "odoo"
        ? `Odoo's unit of measure ${id} could not be read (uom.uom): check the connector user's access to units`
        : `the master data has no unit of measure ${id} (uom.uom), even after reading Odoo's units again: check the connector user's access to units and the master-data sync (threadline_odoo_masterdata_refused_total)`,
    );
  if (q.uom === target) return q;
  return units.convert(q, target, ROUNDING);
}

/** A decimal quantity as the number Odoo's float field takes. */
export function odooNumber(q: Quantity): number {
  const n = Number(q.value);
  if (!Number.isFinite(n))
    throw new PermanentError(OutboundErrorCode.QuantityInvalid, `not a quantity: ${q.value} ${q.uom}`);
  return n;
}

/** `current + added` (Odoo's float plus a decimal), added in micro-units: 0.1 + 0.2 is 0.3. */
export function addToOdoo(current: unknown, added: number): number {
  return Number(formatMicros(microsOfFloat(current) + microsOf(added.toFixed(6))));
}
