/**
 * The reference data a posting needs — units of measure and products — and where it is read. The
 * running connector reads the master data it publishes itself (stream MFG_MASTERDATA, through the
 * SDK's MasterData reader: masterdata.ts), the same copy every other service reads, instead of asking
 * Odoo on every posting. Where there is no master data (a single posting against a bare Odoo in a
 * test, a reconciliation run without the stream) Odoo is asked (odoo.ts).
 */
import type { ConvertOptions, UnitQuantity } from "../../../../streams/src/index.js";
import type { OdooMajor } from "../fields.js";
import type { OdooClient } from "../odoo/client.js";
import { OdooReference } from "./odoo.js";

export { MasterDataReference, type MasterDataReferenceOptions, REFERENCE_DEFAULTS } from "./masterdata.js";
export { OdooReference } from "./odoo.js";

/** A product as postings use it (product.product). */
export interface ProductInfo {
  readonly id: number;
  readonly name: string | null;
  readonly templateId: number | false;
  readonly tracking: string;
  readonly uomId: number | false;
}

/** Units and products, from the master data or from Odoo. */
export interface ReferenceData {
  /** Where it reads: the master data stream, or Odoo itself. */
  readonly source: "masterdata" | "odoo";
  /** The name of unit `id` (an order's `product_uom_id`), as quantities carry it; undefined when unknown. */
  unitName(id: number): Promise<string | undefined>;
  /**
   * `quantity` in unit `to` as Odoo would store it (the SDK's UnitTable.convert). Throws the SDK's
   * UnitUnknownError / UnitCategoryMismatchError (PermanentErrors naming both units).
   */
  convert(quantity: UnitQuantity, to: string, options?: ConvertOptions): Promise<UnitQuantity>;
  /** A product by its Odoo id, archived ones included (an order may make one); undefined when unknown. */
  productById(id: number): Promise<ProductInfo | undefined>;
  /** The active product with this internal reference (default_code), as Odoo's search finds it. */
  productByCode(code: string): Promise<ProductInfo | undefined>;
}

const perSetup = new WeakMap<object, ReferenceData>();

/**
 * The reference data of a posting context: its own (`ctx.reference`, the running connector's master
 * data), else one Odoo-backed cache per OdooSetup.
 */
export function referenceOf(ctx: {
  odoo: OdooClient;
  fields: { major: OdooMajor };
  setup: object;
  reference?: ReferenceData | undefined;
}): ReferenceData {
  if (ctx.reference) return ctx.reference;
  let ref = perSetup.get(ctx.setup);
  if (!ref) {
    ref = new OdooReference(ctx.odoo, ctx.fields.major);
    perSetup.set(ctx.setup, ref);
  }
  return ref;
}
