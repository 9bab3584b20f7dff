/**
 * uom.uom → Unit (mfg.masterdata.unit.v1), every unit, archived ones included, on each change.
 *
 * Odoo's fields (odoo/odoo addons/uom/models/uom_uom.py):
 * - 16–18: `category_id` (uom.category, required), `uom_type` bigger/reference/smaller, `factor`
 *   ("Ratio", NUMERIC digits=0: how many of this unit make one reference unit, so 1/12 for Dozens),
 *   `rounding`, `active`; the SQL constraint `factor_gt_zero` and `_compute_ratio` (16+: the form's
 *   combined ratio — factor_inv for a bigger unit, factor for a smaller one, 1 for the reference).
 * - 19: no category and no uom_type; `relative_factor` ("Contains", required) of `relative_uom_id`
 *   ("Reference Unit"), `factor` ("Absolute Quantity", a stored compute along the parent path — a
 *   different meaning from 16–18's, so it is not read), `rounding` computed from the decimal precision.
 * Which model applies is told by the server's fields (`category_id` present), not by its version.
 *
 * The 16–18 ratio is published as the user typed it (Dozens: 12, not 0.0833…): Odoo keeps the
 * inverse of a bigger unit's ratio as a float, and only the ratio fits an exact decimal. A ratio of
 * zero is refused (CONNECTOR_UNIT_FACTOR_ZERO), as is one with more than 6 places
 * (CONNECTOR_UNIT_FACTOR_INEXACT). Renaming a category does not write its units (no write_date
 * change): the new name arrives with the unit's next change.
 */
import type { Unit } from "../../../../../contracts/src/index.js";
import type { InboundSource, MappingContext, PageResult } from "../source.js";
import { m2oName, type OdooRow } from "../values.js";
import {
  ACTIVE_AND_ARCHIVED,
  bool,
  datetime,
  exactDecimal,
  float,
  MasterDataErrorCode,
  MasterDataRefusal,
  mapEach,
  masterDataEmission,
  optionalRef,
  requiredRef,
  requiredText,
  selection,
  shapeError,
} from "./masterdata-common.js";

const MODEL = "uom.uom";
/** What its records become. */
const TYPE = "mfg.masterdata.unit.v1";
const CATEGORY_FIELDS = ["category_id", "uom_type", "factor"] as const;
const RELATIVE_FIELDS = ["relative_factor", "relative_uom_id"] as const;

/** Odoo 16–18 units convert through a category (`category_id` present); 19's through a reference unit. */
const hasCategories = (ctx: MappingContext) => ctx.has(MODEL, "category_id");

export const unitSource: InboundSource = {
  model: MODEL,
  cursorField: "write_date",
  triggeredBy: [MODEL],
  optionalFields: { [MODEL]: [...CATEGORY_FIELDS, ...RELATIVE_FIELDS] },
  domain: () => ACTIVE_AND_ARCHIVED,
  fields: (ctx) => [
    "name",
    "active",
    "rounding",
    "write_date",
    ...(hasCategories(ctx) ? CATEGORY_FIELDS : RELATIVE_FIELDS),
  ],
  map: mapUnits,
};

async function mapUnits(rows: readonly OdooRow[], ctx: MappingContext): Promise<PageResult> {
  const categories = hasCategories(ctx);
  const { values, refusals } = await mapEach(rows, MODEL, TYPE, (row) =>
    categories ? categoryUnit(row, ctx) : relativeUnit(row, ctx),
  );
  return {
    events: values.map((u) => masterDataEmission(ctx, TYPE, MODEL, u, u.name)),
    writes: [],
    refusals,
  };
}

function common(row: OdooRow, ctx: MappingContext) {
  const rounding = float(row, "rounding");
  const exactRounding = exactDecimal(rounding);
  if (rounding <= 0 || exactRounding === undefined)
    throw shapeError(`rounding is ${rounding}, not a positive decimal of at most 6 places`);
  return {
    odooId: BigInt(row.id),
    name: requiredText(row, "name"),
    site: ctx.site,
    rounding: exactRounding,
    active: bool(row, "active"),
    updatedAt: datetime(row, "write_date"),
  };
}

/** 16–18: category, type and the ratio the form shows. */
function categoryUnit(row: OdooRow, ctx: MappingContext): Unit {
  const type = selection(row, "uom_type", ["bigger", "reference", "smaller"] as const);
  const factor = float(row, "factor");
  if (factor === 0)
    throw new MasterDataRefusal(
      MasterDataErrorCode.UnitFactorZero,
      MODEL,
      row.id,
      `unit ${JSON.stringify(row["name"])} has factor 0 (Odoo's ratio), which converts nothing`,
    );
  const ratio = type === "reference" ? 1 : type === "bigger" ? 1 / factor : factor;
  return {
    ...common(row, ctx),
    category: m2oName(row["category_id"]),
    categoryOdooId: BigInt(requiredRef(row, "category_id")),
    uomType: type,
    ratio: exact(ratio, row, "ratio"),
    relativeFactor: null,
    relativeUnit: null,
    relativeUnitOdooId: null,
  };
}

/** 19: the factor relative to the reference unit. */
function relativeUnit(row: OdooRow, ctx: MappingContext): Unit {
  const factor = float(row, "relative_factor");
  if (factor === 0)
    throw new MasterDataRefusal(
      MasterDataErrorCode.UnitFactorZero,
      MODEL,
      row.id,
      `unit ${JSON.stringify(row["name"])} has relative_factor 0, which converts nothing`,
    );
  const reference = optionalRef(row, "relative_uom_id");
  return {
    ...common(row, ctx),
    category: null,
    categoryOdooId: null,
    uomType: null,
    ratio: null,
    relativeFactor: exact(factor, row, "relative_factor"),
    relativeUnit: reference === null ? null : m2oName(row["relative_uom_id"]),
    relativeUnitOdooId: reference === null ? null : BigInt(reference),
  };
}

function exact(v: number, row: OdooRow, what: string): string {
  const d = exactDecimal(v);
  if (d === undefined)
    throw new MasterDataRefusal(
      MasterDataErrorCode.UnitFactorInexact,
      MODEL,
      row.id,
      `unit ${JSON.stringify(row["name"])} has ${what} ${v}, which has more than 6 decimal places`,
    );
  return d;
}
