/**
 * Reads the master data the checks look at from Odoo, archived records included (`active_test:
 * false`): an archived product a bill of materials still names is a finding, not an absence.
 */
import type { OdooClient } from "../odoo/client.js";
import { OdooSetup } from "../outbound/steps.js";
import type { MasterDataSnapshot } from "./check.js";

type Row = Record<string, unknown> & { id: number };

const m2o = (v: unknown): number | false => (Array.isArray(v) && typeof v[0] === "number" ? v[0] : false);
const text = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);
const ALL = { context: { active_test: false } };

export interface LoadOptions {
  /** Lots created since then are checked (all lots of a long-running plant would be many). @default 30 days ago */
  readonly lotsSince?: Date;
  /** Caches what Odoo's fields are (they differ by version); give one to reuse across runs. @default a new one */
  readonly setup?: OdooSetup;
}

export async function loadSnapshot(
  client: OdooClient,
  options: LoadOptions = {},
): Promise<MasterDataSnapshot> {
  const setup = options.setup ?? new OdooSetup(client);
  const has = (model: string, field: string) => setup.hasField(model, field);
  // 16–18 group units in categories; 19 chains each unit to a reference unit (uom_uom.py).
  const categories = await has("uom.uom", "category_id");
  const bomUnit = (await has("mrp.bom", "product_uom_id")) ? "product_uom_id" : "uom_id";
  const lineUnit = (await has("mrp.bom.line", "product_uom_id")) ? "product_uom_id" : "uom_id";
  const since = options.lotsSince ?? new Date(Date.now() - 30 * 86_400_000);
  const [unitRows, templateRows, productRows, bomRows, lineRows, workcenterRows, lotRows] = await Promise.all(
    [
      client.searchRead<Row>("uom.uom", [], {
        fields: ["name", ...(categories ? ["category_id"] : ["relative_uom_id"])],
        ...ALL,
      }),
      client.searchRead<Row>("product.template", [], { fields: ["name", "active"], ...ALL }),
      client.searchRead<Row>("product.product", [], {
        fields: ["display_name", "product_tmpl_id", "default_code", "barcode", "uom_id", "active"],
        ...ALL,
      }),
      client.searchRead<Row>("mrp.bom", [], {
        fields: ["display_name", "product_tmpl_id", "product_id", bomUnit, "active"],
        ...ALL,
      }),
      client.searchRead<Row>("mrp.bom.line", [], { fields: ["bom_id", "product_id", lineUnit], ...ALL }),
      client.searchRead<Row>("mrp.workcenter", [], { fields: ["name", "code", "active"], ...ALL }),
      client.searchRead<Row>("stock.lot", [["create_date", ">=", odooDate(since)]], { fields: ["name"] }),
    ],
  );
  const parent = new Map(unitRows.map((u) => [u.id, m2o(u["relative_uom_id"])]));
  const root = (id: number): number => {
    const seen = new Set<number>();
    let at = id;
    for (
      let next = parent.get(at);
      next !== undefined && next !== false && !seen.has(next);
      next = parent.get(at)
    ) {
      seen.add(at);
      at = next;
    }
    return at;
  };
  return {
    units: unitRows.map((u) => ({
      id: u.id,
      name: String(u["name"]),
      family: categories ? m2o(u["category_id"]) : root(u.id),
    })),
    templates: templateRows.map((t) => ({
      id: t.id,
      name: String(t["name"]),
      active: t["active"] !== false,
    })),
    products: productRows.map((p) => ({
      id: p.id,
      templateId: m2o(p["product_tmpl_id"]),
      name: String(p["display_name"]),
      code: text(p["default_code"]),
      barcode: text(p["barcode"]),
      unitId: m2o(p["uom_id"]),
      active: p["active"] !== false,
    })),
    boms: bomRows.map((b) => ({
      id: b.id,
      name: String(b["display_name"]),
      templateId: m2o(b["product_tmpl_id"]),
      productId: m2o(b["product_id"]),
      unitId: m2o(b[bomUnit]),
      active: b["active"] !== false,
      lines: lineRows
        .filter((l) => m2o(l["bom_id"]) === b.id)
        .map((l) => ({ id: l.id, productId: m2o(l["product_id"]), unitId: m2o(l[lineUnit]) })),
    })),
    workcenters: workcenterRows.map((w) => ({
      id: w.id,
      code: text(w["code"]),
      name: String(w["name"]),
      active: w["active"] !== false,
    })),
    lots: lotRows.map((l) => ({ id: l.id, name: String(l["name"]) })),
  };
}

function odooDate(d: Date): string {
  return d.toISOString().slice(0, 19).replace("T", " ");
}
