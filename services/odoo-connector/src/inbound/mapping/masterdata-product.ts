/**
 * product.product → Product (mfg.masterdata.product.v1), every variant, archived ones included.
 *
 * Odoo's fields (odoo/odoo addons/product/models/product_product.py, product_template.py; `tracking`
 * from addons/stock/models/product.py, none/lot/serial in 16–19): the variant has `default_code`,
 * `barcode`, `active` and `product_tmpl_id`; `name`, `uom_id`, `categ_id` and `tracking` live on the
 * template and are read through the variant (`_inherits`).
 *
 * Two sources publish the same messages: one follows the variants' write_date, the other the
 * templates' — renaming a product or changing its unit writes the template, not its variants, so
 * the variants' cursor would never see it. Both give a variant the same content (the later of the two
 * write dates included), hence the same id: the second copy is dropped by the stream.
 */
import type { Product } from "../../../../../contracts/src/index.js";
import type { InboundSource, MappingContext, PageResult } from "../source.js";
import { m2oName, type OdooRow } from "../values.js";
import {
  ACTIVE_AND_ARCHIVED,
  bool,
  datetime,
  latest,
  mapEach,
  masterDataEmission,
  optionalRef,
  optionalText,
  requiredRef,
  requiredText,
  selection,
  shapeError,
} from "./masterdata-common.js";

const MODEL = "product.product";
/** What its records become. */
const TYPE = "mfg.masterdata.product.v1";
const TEMPLATE = "product.template";
const VARIANT_FIELDS = [
  "default_code",
  "barcode",
  "name",
  "tracking",
  "uom_id",
  "categ_id",
  "product_tmpl_id",
  "active",
  "write_date",
];

export const productSource: InboundSource = {
  model: MODEL,
  cursorField: "write_date",
  triggeredBy: [MODEL, TEMPLATE],
  domain: () => ACTIVE_AND_ARCHIVED,
  fields: () => VARIANT_FIELDS,
  map: mapProducts,
};

/** Template changes (name, unit, category, tracking): their variants are published again. */
export const productTemplateSource: InboundSource = {
  model: TEMPLATE,
  cursorField: "write_date",
  triggeredBy: [TEMPLATE],
  domain: () => ACTIVE_AND_ARCHIVED,
  // The content, not only write_date: two writes within one second share a write_date, and the
  // cursor tells versions apart by a digest of what it read.
  fields: () => ["name", "uom_id", "categ_id", "tracking", "active", "write_date"],
  map: async (rows, ctx) => {
    const variants = await ctx.client.searchRead<OdooRow>(
      MODEL,
      [["product_tmpl_id", "in", rows.map((r) => r.id)], ...ACTIVE_AND_ARCHIVED],
      { fields: VARIANT_FIELDS, order: "id asc" },
    );
    return mapProducts(variants, ctx);
  },
};

async function mapProducts(rows: readonly OdooRow[], ctx: MappingContext): Promise<PageResult> {
  const templates = await ctx.related.load(
    TEMPLATE,
    rows.map((r) => optionalRef(r, "product_tmpl_id") ?? 0),
    ["write_date"],
  );
  const { values, refusals } = await mapEach(rows, MODEL, TYPE, (row): Product => {
    const templateId = requiredRef(row, "product_tmpl_id");
    const template = templates.get(templateId);
    if (!template) throw shapeError(`product_tmpl_id ${templateId} cannot be read`);
    return {
      odooId: BigInt(row.id),
      code: optionalText(row, "default_code"),
      barcode: optionalText(row, "barcode"),
      name: requiredText(row, "name"),
      site: ctx.site,
      tracking: selection(row, "tracking", ["none", "lot", "serial"] as const),
      unit: m2oName(row["uom_id"]) ?? `uom.uom:${requiredRef(row, "uom_id")}`,
      unitOdooId: BigInt(requiredRef(row, "uom_id")),
      category: optionalRef(row, "categ_id") === null ? null : m2oName(row["categ_id"]),
      templateOdooId: BigInt(templateId),
      active: bool(row, "active"),
      updatedAt: latest([datetime(row, "write_date"), datetime(template, "write_date")]),
    };
  });
  return {
    events: values.map((p) => masterDataEmission(ctx, TYPE, MODEL, p, p.code ?? `${MODEL}:${p.odooId}`)),
    writes: [],
    refusals,
  };
}
