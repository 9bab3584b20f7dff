/**
 * Odoo's units of measure as the SDK's unit table (streams/src/units): `uom.uom` read over the
 * external API — `category_id`, `factor`, `uom_type`, `rounding` on 16–18; `relative_factor`,
 * `relative_uom_id`, `rounding` on 19 — archived units included (an order may still use one).
 *
 * Units change rarely and a read costs one call, so the table is kept and read again after
 * `maxAgeMs`; a unit the table does not know (created in Odoo since) makes it read again at once,
 * at most every `missRefreshMs`, before a conversion is refused as UOM_UNKNOWN.
 */
import {
  type ConvertOptions,
  type UnitQuantity,
  type UnitRecord,
  type UnitTable,
  UnitUnknownError,
  unitTable,
} from "../../../streams/src/index.js";
import type { OdooMajor } from "./fields.js";
import type { OdooClient } from "./odoo/client.js";

export interface OdooUnitsOptions {
  /** How long a read of Odoo's units is used. @default 600000 (10 minutes) */
  readonly maxAgeMs?: number;
  /** A unit missing from the table makes it read again at once, at most this often. @default 30000 */
  readonly missRefreshMs?: number;
  /** The clock (tests). @default Date.now */
  readonly now?: () => number;
}

const DEFAULTS: Required<OdooUnitsOptions> = { maxAgeMs: 600_000, missRefreshMs: 30_000, now: Date.now };

interface Loaded {
  readonly table: UnitTable;
  /** uom.uom id → its name (orders name their unit by id). */
  readonly names: ReadonlyMap<number, string>;
  readonly at: number;
}

type Row = Record<string, unknown>;

/** Odoo's unit table, cached. One per connector (and per reconciliation). */
export class OdooUnits {
  private readonly options: Required<OdooUnitsOptions>;
  private loaded: Promise<Loaded> | undefined;

  constructor(
    private readonly odoo: OdooClient,
    private readonly major: OdooMajor,
    options: OdooUnitsOptions = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
  }

  /** The name of unit `id` (an order's `product_uom_id`), or undefined. */
  async nameOf(id: number): Promise<string | undefined> {
    const known = (await this.current()).names.get(id);
    if (known !== undefined) return known;
    return (await this.refreshed(this.loaded))?.names.get(id);
  }

  /**
   * `quantity` in unit `to` as Odoo would store it (UnitTable.convert). An unknown unit reads Odoo's
   * units again first; a unit still unknown, or of another category, throws the SDK's
   * UnitUnknownError / UnitCategoryMismatchError (PermanentErrors naming both units).
   */
  async convert(quantity: UnitQuantity, to: string, options?: ConvertOptions): Promise<UnitQuantity> {
    const loaded = await this.current();
    try {
      return loaded.table.convert(quantity, to, options);
    } catch (err) {
      if (!(err instanceof UnitUnknownError)) throw err;
      const again = await this.refreshed(this.loaded);
      if (!again) throw err;
      return again.table.convert(quantity, to, options);
    }
  }

  private current(): Promise<Loaded> {
    const loaded = this.loaded;
    if (loaded === undefined) return this.load();
    return loaded.then((l) => (this.options.now() - l.at >= this.options.maxAgeMs ? this.load() : l));
  }

  /** A fresh read after a miss, unless the last read is more recent than `missRefreshMs`. */
  private async refreshed(previous: Promise<Loaded> | undefined): Promise<Loaded | undefined> {
    const last = previous ? await previous : undefined;
    if (last && this.options.now() - last.at < this.options.missRefreshMs) return undefined;
    return this.load();
  }

  private load(): Promise<Loaded> {
    const p = this.read();
    this.loaded = p;
    p.catch(() => {
      if (this.loaded === p) this.loaded = undefined;
    });
    return p;
  }

  private async read(): Promise<Loaded> {
    const relative = this.major >= 19;
    const fields = relative
      ? ["name", "active", "rounding", "relative_factor", "relative_uom_id"]
      : ["name", "active", "rounding", "category_id", "factor", "uom_type"];
    const rows = await this.odoo.searchRead<Row>("uom.uom", [], {
      fields,
      context: { active_test: false },
    });
    const names = new Map(rows.map((r) => [r["id"] as number, String(r["name"])]));
    const table = unitTable(rows.map((r) => unitRecordOf(r, names, relative)));
    return { table, names, at: this.options.now() };
  }
}

/** A `uom.uom` row as the SDK's plain unit record. */
export function unitRecordOf(row: Row, names: ReadonlyMap<number, string>, relative: boolean): UnitRecord {
  const base = {
    name: String(row["name"]),
    active: row["active"] !== false,
    ...(typeof row["rounding"] === "number" ? { rounding: row["rounding"] } : {}),
  };
  if (relative) {
    const parent = manyToOne(row["relative_uom_id"]);
    return {
      ...base,
      relativeFactor: row["relative_factor"] as number,
      relativeUnit: parent === undefined ? null : (names.get(parent.id) ?? parent.name),
    };
  }
  const category = manyToOne(row["category_id"]);
  return {
    ...base,
    category: category ? (category.name ?? category.id) : "",
    factor: row["factor"] as number,
    ...(row["uom_type"] === "reference" || row["uom_type"] === "bigger" || row["uom_type"] === "smaller"
      ? { type: row["uom_type"] }
      : {}),
  };
}

function manyToOne(value: unknown): { id: number; name: string | undefined } | undefined {
  if (Array.isArray(value) && typeof value[0] === "number")
    return { id: value[0], name: typeof value[1] === "string" ? value[1] : undefined };
  return typeof value === "number" ? { id: value, name: undefined } : undefined;
}
