/**
 * Reference data read from Odoo itself: units through the cached unit table (../units.ts), products
 * by a search per lookup. For contexts without master data; the running connector reads the master
 * data (masterdata.ts).
 */
import type { ConvertOptions, UnitQuantity } from "../../../../streams/src/index.js";
import type { OdooMajor } from "../fields.js";
import type { OdooClient } from "../odoo/client.js";
import { m2oId } from "../outbound/steps.js";
import { OdooUnits } from "../units.js";
import type { ProductInfo, ReferenceData } from "./index.js";

type Row = Record<string, unknown>;

const PRODUCT_FIELDS = ["display_name", "product_tmpl_id", "tracking", "uom_id"];

export class OdooReference implements ReferenceData {
  readonly source = "odoo";
  private readonly units: OdooUnits;

  constructor(
    private readonly odoo: OdooClient,
    major: OdooMajor,
  ) {
    this.units = new OdooUnits(odoo, major);
  }

  unitName(id: number): Promise<string | undefined> {
    return this.units.nameOf(id);
  }

  convert(quantity: UnitQuantity, to: string, options?: ConvertOptions): Promise<UnitQuantity> {
    return this.units.convert(quantity, to, options);
  }

  async productById(id: number): Promise<ProductInfo | undefined> {
    // Archived included, as the master data has them: an order may make a product archived since.
    const [row] = await this.odoo.searchRead(
      "product.product",
      [
        ["id", "=", id],
        ["active", "in", [true, false]],
      ],
      { fields: PRODUCT_FIELDS },
    );
    return row ? productInfo(row) : undefined;
  }

  async productByCode(code: string): Promise<ProductInfo | undefined> {
    const [row] = await this.odoo.searchRead("product.product", [["default_code", "=", code]], {
      fields: PRODUCT_FIELDS,
      limit: 1,
    });
    return row ? productInfo(row) : undefined;
  }
}

function productInfo(row: Row): ProductInfo {
  return {
    id: row["id"] as number,
    name: typeof row["display_name"] === "string" ? row["display_name"] : null,
    templateId: m2oId(row["product_tmpl_id"]),
    tracking: typeof row["tracking"] === "string" ? row["tracking"] : "none",
    uomId: m2oId(row["uom_id"]),
  };
}
