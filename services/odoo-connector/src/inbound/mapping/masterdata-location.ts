/**
 * stock.location → Location (mfg.masterdata.location.v1), every location, archived ones included.
 * Odoo's fields (odoo/odoo addons/stock/models/stock_location.py, 16–19): `name`, `complete_name`
 * (stored, parents included), `usage` supplier/view/internal/customer/inventory/production/transit,
 * `location_id` (parent), `barcode`, `active`.
 *
 * Renaming a parent recomputes its children's complete_name; whether that stamps their write_date
 * depends on how Odoo flushes the recomputation, so a child's new full name may arrive only with its
 * own next change.
 */
import type { Location } from "../../../../../contracts/src/index.js";
import type { InboundSource, MappingContext, PageResult } from "../source.js";
import type { OdooRow } from "../values.js";
import {
  ACTIVE_AND_ARCHIVED,
  bool,
  datetime,
  mapEach,
  masterDataEmission,
  optionalRef,
  optionalText,
  requiredText,
  selection,
} from "./masterdata-common.js";

const MODEL = "stock.location";
/** What its records become. */
const TYPE = "mfg.masterdata.location.v1";
const USAGES = ["supplier", "view", "internal", "customer", "inventory", "production", "transit"] as const;

export const locationSource: InboundSource = {
  model: MODEL,
  cursorField: "write_date",
  triggeredBy: [MODEL],
  domain: () => ACTIVE_AND_ARCHIVED,
  fields: () => ["name", "complete_name", "usage", "location_id", "barcode", "active", "write_date"],
  map: mapLocations,
};

async function mapLocations(rows: readonly OdooRow[], ctx: MappingContext): Promise<PageResult> {
  const { values, refusals } = await mapEach(rows, MODEL, TYPE, (row): Location => {
    const parent = optionalRef(row, "location_id");
    return {
      odooId: BigInt(row.id),
      name: requiredText(row, "name"),
      fullName: optionalText(row, "complete_name") ?? requiredText(row, "name"),
      site: ctx.site,
      usage: selection(row, "usage", USAGES),
      parentOdooId: parent === null ? null : BigInt(parent),
      barcode: optionalText(row, "barcode"),
      active: bool(row, "active"),
      updatedAt: datetime(row, "write_date"),
    };
  });
  return {
    events: values.map((l) => masterDataEmission(ctx, TYPE, MODEL, l, l.fullName)),
    writes: [],
    refusals,
  };
}
