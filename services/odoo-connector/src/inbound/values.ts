/**
 * Reading Odoo's field shapes (as `read`/`search_read` return them over RPC) into event values, and
 * loading the related records a mapping needs, once per page.
 *
 * Shapes: many2one `[id, "display name"]` or `false`; x2many a list of ids; empty values `false`;
 * datetimes naive UTC `"YYYY-MM-DD HH:MM:SS"`; floats as JSON numbers.
 */
import type { ProductRef, Quantity } from "../../../../contracts/src/index.js";
import type { OdooClient } from "../odoo/client.js";

/** One record as Odoo returns it. */
export type OdooRow = { readonly id: number } & Readonly<Record<string, unknown>>;

/** Id of a many2one value (`[id, name]`, a bare id over `load=None`, or `false`). */
export function m2oId(v: unknown): number | null {
  if (Array.isArray(v) && typeof v[0] === "number") return v[0];
  if (typeof v === "number" && v > 0) return v;
  return null;
}

/** Display name of a many2one value; null when empty or loaded without names. */
export function m2oName(v: unknown): string | null {
  return Array.isArray(v) && typeof v[1] === "string" ? v[1] : null;
}

export function x2mIds(v: unknown): number[] {
  return Array.isArray(v) ? v.filter((x): x is number => typeof x === "number") : [];
}

/** A char/selection value; Odoo's `false` (and "") become null. */
export function text(v: unknown): string | null {
  return typeof v === "string" && v !== "" ? v : null;
}

export function num(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}

const ODOO_DATETIME = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(\.\d+)?$/;

/** An Odoo datetime (naive UTC) as a Date; null when empty or not a datetime. */
export function odooDate(v: unknown): Date | null {
  if (typeof v !== "string") return null;
  const m = ODOO_DATETIME.exec(v);
  if (!m) return null;
  const d = new Date(`${m[1]}T${m[2]}${m[3] ?? ""}Z`);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** A Date as Odoo writes datetimes in domains: `YYYY-MM-DD HH:MM:SS` (UTC, whole seconds). */
export function odooDatetime(d: Date): string {
  return d.toISOString().slice(0, 19).replace("T", " ");
}

/** An Odoo float as the contracts' exact decimal (6 decimals, the schemas' scale). */
export function decimal(v: number): string {
  const fixed = (Math.round(v * 1e6) / 1e6).toFixed(6);
  return fixed === "-0.000000" ? "0.000000" : fixed;
}

export function quantity(value: unknown, uom: unknown): Quantity {
  return { value: decimal(num(value)), uom: m2oName(uom) ?? "Units" };
}

/**
 * Loads related records by id with `search_read` (not `read`: a record deleted meanwhile is simply
 * absent instead of failing the page with a MissingError), caching them for the page being mapped.
 */
export class RelatedRecords {
  private readonly cache = new Map<string, Map<number, OdooRow>>();

  constructor(private readonly client: OdooClient) {}

  async load(model: string, ids: Iterable<number>, fields: readonly string[]): Promise<Map<number, OdooRow>> {
    const key = `${model}|${fields.join(",")}`;
    let known = this.cache.get(key);
    if (!known) {
      known = new Map();
      this.cache.set(key, known);
    }
    const wanted = [...new Set(ids)].filter((id) => id > 0);
    const missing = wanted.filter((id) => !known.has(id));
    for (let i = 0; i < missing.length; i += 500) {
      const chunk = missing.slice(i, i + 500);
      const rows = await this.client.searchRead<OdooRow>(model, [["id", "in", chunk]], {
        fields: [...fields],
        context: { active_test: false },
      });
      for (const row of rows) known.set(row.id, row);
    }
    return new Map(wanted.flatMap((id) => (known.has(id) ? [[id, known.get(id) as OdooRow]] : [])));
  }

  /** Products as the contracts reference them: internal reference, name, id. */
  async products(ids: Iterable<number>): Promise<Map<number, ProductRef>> {
    const rows = await this.load("product.product", ids, ["default_code", "name"]);
    const out = new Map<number, ProductRef>();
    for (const [id, row] of rows) out.set(id, productRef(id, row));
    return out;
  }
}

/**
 * A product's reference. `code` is Odoo's internal reference (default_code), the key shared with the
 * shop floor; a product without one gets `product.product:<id>` so the key stays stable and unique.
 */
export function productRef(id: number, row: OdooRow | undefined): ProductRef {
  return {
    code: text(row?.["default_code"]) ?? `product.product:${id}`,
    name: text(row?.["name"]),
    odooId: BigInt(id),
  };
}

/** The product of a many2one value, from loaded products (a placeholder when it could not be read). */
export function productOf(v: unknown, products: ReadonlyMap<number, ProductRef>): ProductRef {
  const id = m2oId(v) ?? 0;
  return products.get(id) ?? { code: `product.product:${id}`, name: m2oName(v), odooId: BigInt(id) };
}
