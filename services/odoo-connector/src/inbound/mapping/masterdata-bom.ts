/**
 * mrp.bom (+ lines, by-products, operations) → BillOfMaterials (mfg.masterdata.bill_of_materials.v1),
 * every BoM, archived ones included, as one message holding the whole BoM.
 *
 * Odoo's fields (odoo/odoo addons/mrp/models/mrp_bom.py, mrp_routing.py; the same in 16–19):
 * mrp.bom `code`, `product_tmpl_id`, `product_id` (optional variant), `product_qty`,
 * `product_uom_id`, `type` normal/phantom (mrp_subcontracting adds `subcontract`: refused as an
 * unknown shape until the schema learns it), `consumption` flexible/warning/strict, `sequence`,
 * `active`, `bom_line_ids`, `byproduct_ids`, `operation_ids`; mrp.bom.line `product_id`,
 * `product_qty`, `product_uom_id`, `operation_id`; mrp.bom.byproduct `product_id`, `product_qty`,
 * `product_uom_id`, `operation_id`; mrp.routing.workcenter `name`, `workcenter_id`, `sequence`,
 * `time_cycle_manual`. By-products are read where the server has `byproduct_ids`.
 *
 * Editing a line in Odoo writes the line (its write_date), not always the BoM: the form saves the
 * one2many through the BoM's write, but an import, an RPC write of the line or a change of its
 * operation does not touch the BoM. So three sources publish BoMs — the BoMs' own cursor, the lines'
 * and the operations' — each re-reading the whole BoMs concerned; they give a BoM the same content
 * (its updatedAt is the latest write date of the BoM and its parts), hence the same id, and the
 * stream drops the copies.
 *
 * A BoM in a cycle — one of its components is made by a BoM that, directly or further down, consumes
 * the BoM's product — is refused (CONNECTOR_BOM_CYCLE): Odoo 16+ refuses it in `_check_bom_cycle`,
 * but data imported around the ORM can still hold one, and exploding it would never end. Products are
 * compared by template, and only active BoMs count towards a cycle.
 */
import type { BillOfMaterials, ProductRef } from "../../../../../contracts/src/index.js";
import type { InboundSource, MappingContext, PageResult } from "../source.js";
import { decimal, m2oId, m2oName, type OdooRow, x2mIds } from "../values.js";
import {
  ACTIVE_AND_ARCHIVED,
  bool,
  datetime,
  float,
  integer,
  latest,
  MasterDataErrorCode,
  MasterDataRefusal,
  mapEach,
  masterDataEmission,
  optionalRef,
  optionalText,
  requiredRef,
  requiredText,
  selection,
  shapeError,
} from "./masterdata-common.js";

const MODEL = "mrp.bom";
/** What its records become. */
const TYPE = "mfg.masterdata.bill_of_materials.v1";
const LINE = "mrp.bom.line";
const BYPRODUCT = "mrp.bom.byproduct";
const OPERATION = "mrp.routing.workcenter";
const BOM_FIELDS = [
  "code",
  "product_tmpl_id",
  "product_id",
  "product_qty",
  "product_uom_id",
  "type",
  "consumption",
  "sequence",
  "active",
  "bom_line_ids",
  "operation_ids",
  "write_date",
];
const PART_FIELDS = ["product_id", "product_qty", "product_uom_id", "operation_id", "write_date"];
const OPERATION_FIELDS = ["name", "workcenter_id", "sequence", "time_cycle_manual", "write_date"];
/** Deeper than any real product structure; a longer path is treated as a cycle. */
const MAX_DEPTH = 64;

const hasByproducts = (ctx: MappingContext) => ctx.has(MODEL, "byproduct_ids");

export const bomSource: InboundSource = {
  model: MODEL,
  cursorField: "write_date",
  triggeredBy: [MODEL, LINE, OPERATION],
  optionalFields: { [MODEL]: ["byproduct_ids"] },
  domain: () => ACTIVE_AND_ARCHIVED,
  // The content, not only write_date: the cursor tells versions apart by a digest of what it read,
  // and two writes within one second share a write_date.
  fields: () => BOM_FIELDS,
  map: (rows, ctx) =>
    mapBoms(
      rows.map((r) => r.id),
      ctx,
    ),
};

/** A line changed (added, quantity, unit, operation): its BoM is published again. */
export const bomLineSource: InboundSource = {
  model: LINE,
  cursorField: "write_date",
  triggeredBy: [LINE],
  domain: () => [],
  fields: () => ["bom_id", ...PART_FIELDS],
  map: (rows, ctx) =>
    mapBoms(
      rows.map((r) => m2oId(r["bom_id"]) ?? 0),
      ctx,
    ),
};

/** An operation changed (work centre, duration, order): its BoM is published again. */
export const bomOperationSource: InboundSource = {
  model: OPERATION,
  cursorField: "write_date",
  triggeredBy: [OPERATION],
  domain: () => [],
  fields: () => ["bom_id", ...OPERATION_FIELDS],
  map: (rows, ctx) =>
    mapBoms(
      rows.map((r) => m2oId(r["bom_id"]) ?? 0),
      ctx,
    ),
};

/** Reads the BoMs `ids` whole (lines, by-products, operations) and maps each. */
export async function mapBoms(ids: readonly number[], ctx: MappingContext): Promise<PageResult> {
  const byproducts = hasByproducts(ctx);
  const boms = await ctx.related.load(MODEL, ids, byproducts ? [...BOM_FIELDS, "byproduct_ids"] : BOM_FIELDS);
  const rows = [...boms.values()].sort((a, b) => a.id - b.id);
  const lines = await ctx.related.load(
    LINE,
    rows.flatMap((b) => x2mIds(b["bom_line_ids"])),
    PART_FIELDS,
  );
  const extras = byproducts
    ? await ctx.related.load(
        BYPRODUCT,
        rows.flatMap((b) => x2mIds(b["byproduct_ids"])),
        PART_FIELDS,
      )
    : new Map<number, OdooRow>();
  const operations = await ctx.related.load(
    OPERATION,
    rows.flatMap((b) => x2mIds(b["operation_ids"])),
    OPERATION_FIELDS,
  );
  const workcenters = await ctx.related.load(
    "mrp.workcenter",
    [...operations.values()].map((o) => m2oId(o["workcenter_id"]) ?? 0),
    ["code", "name"],
  );
  const products = await ctx.related.products([
    ...rows.map((b) => m2oId(b["product_id"]) ?? 0),
    ...[...lines.values(), ...extras.values()].map((l) => m2oId(l["product_id"]) ?? 0),
  ]);
  // A part without its own unit is counted in its product's (Odoo's default for product_uom_id).
  const productUnits = await ctx.related.load(
    "product.product",
    [...lines.values(), ...extras.values()].map((l) => m2oId(l["product_id"]) ?? 0),
    ["uom_id"],
  );
  const unitOf = (part: OdooRow) => m2oName(productUnits.get(m2oId(part["product_id"]) ?? 0)?.["uom_id"]);
  const cycles = new CycleFinder(ctx);

  const { values, refusals } = await mapEach(rows, MODEL, TYPE, async (bom): Promise<BillOfMaterials> => {
    const template = requiredRef(bom, "product_tmpl_id");
    const parts = (field: string, from: ReadonlyMap<number, OdooRow>) =>
      x2mIds(bom[field]).map((id) => {
        const row = from.get(id);
        if (!row) throw shapeError(`${field} lists ${id}, which cannot be read`);
        return row;
      });
    const lineRows = parts("bom_line_ids", lines);
    const extraRows = byproducts ? parts("byproduct_ids", extras) : [];
    const operationRows = parts("operation_ids", operations);
    const payload: BillOfMaterials = {
      odooId: BigInt(bom.id),
      code: optionalText(bom, "code"),
      site: ctx.site,
      productTemplateOdooId: BigInt(template),
      product: optionalRef(bom, "product_id") === null ? null : productOf(bom, products),
      quantity: quantityOf(bom),
      type: selection(bom, "type", ["normal", "phantom"] as const),
      consumption: selection(bom, "consumption", ["flexible", "warning", "strict"] as const),
      sequence: integer(bom, "sequence"),
      active: bool(bom, "active"),
      lines: lineRows.map((l) => ({
        odooId: BigInt(l.id),
        product: productOf(l, products),
        quantity: quantityOf(l, unitOf(l)),
        operation: optionalRef(l, "operation_id") === null ? null : m2oName(l["operation_id"]),
        operationOdooId: nullableId(optionalRef(l, "operation_id")),
      })),
      byProducts: extraRows.map((l) => ({
        odooId: BigInt(l.id),
        product: productOf(l, products),
        quantity: quantityOf(l, unitOf(l)),
        operation: optionalRef(l, "operation_id") === null ? null : m2oName(l["operation_id"]),
      })),
      operations: operationRows.map((o) => {
        const wc = requiredRef(o, "workcenter_id");
        const centre = workcenters.get(wc);
        return {
          odooId: BigInt(o.id),
          name: requiredText(o, "name"),
          workCenterOdooId: BigInt(wc),
          workCenter:
            (centre && optionalText(centre, "code")) ?? m2oName(o["workcenter_id"]) ?? `mrp.workcenter:${wc}`,
          sequence: integer(o, "sequence"),
          durationMinutes:
            typeof o["time_cycle_manual"] === "number" ? decimal(o["time_cycle_manual"]) : null,
        };
      }),
      updatedAt: latest(
        [bom, ...lineRows, ...extraRows, ...operationRows].map((r) => datetime(r, "write_date")),
      ),
    };
    const path = await cycles.pathBack(template, lineRows);
    if (path)
      throw new MasterDataRefusal(
        MasterDataErrorCode.BomCycle,
        MODEL,
        bom.id,
        `BoM ${bom.id} of product template ${template} is in a cycle: ${path.join(" -> ")}`,
      );
    return payload;
  });
  return {
    events: values.map((b) =>
      masterDataEmission(ctx, TYPE, MODEL, b, b.code ?? b.product?.code ?? `${MODEL}:${b.odooId}`),
    ),
    writes: [],
    refusals,
  };
}

function productOf(row: OdooRow, products: ReadonlyMap<number, ProductRef>): ProductRef {
  const id = requiredRef(row, "product_id");
  const p = products.get(id);
  if (!p) throw shapeError(`product_id ${id} cannot be read`);
  return p;
}

/** `product_qty` in `product_uom_id`, or in `fallbackUnit` when the record names none. */
function quantityOf(row: OdooRow, fallbackUnit: string | null = null) {
  const qty = float(row, "product_qty");
  const unit = optionalRef(row, "product_uom_id") === null ? fallbackUnit : m2oName(row["product_uom_id"]);
  if (unit === null)
    throw shapeError(
      `product_uom_id is ${JSON.stringify(row["product_uom_id"])} and its product has no unit`,
    );
  return { value: decimal(qty), uom: unit };
}

function nullableId(id: number | null): bigint | null {
  return id === null ? null : BigInt(id);
}

/**
 * Walks down from a BoM's components through the active BoMs of their templates, looking for the
 * BoM's own template. Loads what it needs once per page (templates of products, BoMs of templates,
 * their lines).
 */
class CycleFinder {
  private readonly templateOf = new Map<number, number>();
  private readonly bomsOf = new Map<number, { id: number; lines: number[] }[]>();
  private readonly lineProducts = new Map<number, number>();

  constructor(private readonly ctx: MappingContext) {}

  /** The path `bom template -> component template -> … -> bom template`, or undefined when there is none. */
  async pathBack(target: number, lines: readonly OdooRow[]): Promise<string[] | undefined> {
    const start = lines.map((l) => m2oId(l["product_id"]) ?? 0).filter((p) => p > 0);
    const firstTemplates = await this.templates(start);
    // Depth-first over templates, with the path that led there; each template explored once.
    const seen = new Set<number>();
    const stack: { template: number; path: number[] }[] = [...new Set(firstTemplates)].map((t) => ({
      template: t,
      path: [target, t],
    }));
    while (stack.length > 0) {
      const { template, path } = stack.pop() as { template: number; path: number[] };
      if (template === target) return path.map((t) => `product.template:${t}`);
      if (seen.has(template)) continue;
      seen.add(template);
      if (path.length > MAX_DEPTH) return [...path.map((t) => `product.template:${t}`), "…"];
      const components = (await this.boms(template)).flatMap((b) => b.lines);
      for (const next of new Set(await this.templates(components)))
        stack.push({ template: next, path: [...path, next] });
    }
    return undefined;
  }

  private async templates(products: readonly number[]): Promise<number[]> {
    const missing = [...new Set(products)].filter((p) => !this.templateOf.has(p));
    if (missing.length > 0) {
      const rows = await this.ctx.related.load("product.product", missing, ["product_tmpl_id"]);
      for (const [id, row] of rows) this.templateOf.set(id, m2oId(row["product_tmpl_id"]) ?? 0);
    }
    return products.map((p) => this.templateOf.get(p) ?? 0).filter((t) => t > 0);
  }

  /** The active BoMs of a template with their lines' products. */
  private async boms(template: number): Promise<{ id: number; lines: number[] }[]> {
    const known = this.bomsOf.get(template);
    if (known) return known;
    const rows = await this.ctx.client.searchRead<OdooRow>(MODEL, [["product_tmpl_id", "=", template]], {
      fields: ["bom_line_ids"],
      order: "id asc",
    });
    const lineIds = rows.flatMap((r) => x2mIds(r["bom_line_ids"])).filter((l) => !this.lineProducts.has(l));
    const lineRows = await this.ctx.related.load(LINE, lineIds, ["product_id"]);
    for (const [id, row] of lineRows) this.lineProducts.set(id, m2oId(row["product_id"]) ?? 0);
    const out = rows.map((r) => ({
      id: r.id,
      lines: x2mIds(r["bom_line_ids"]).map((l) => this.lineProducts.get(l) ?? 0),
    }));
    this.bomsOf.set(template, out);
    return out;
  }
}
