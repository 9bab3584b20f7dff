/**
 * Reference data from the master data (stream MFG_MASTERDATA), as every service reads it: the
 * connector's own copy, published by its inbound sync from Odoo, read back through the SDK's
 * MasterData reader. A posting then costs no Odoo call for its units and products.
 *
 * The master data follows Odoo within a master-data poll (MASTERDATA_POLL_INTERVAL_MS) or a webhook.
 * A unit or product created in Odoo since — the first order of a new product — is not missed: a key
 * the master data does not hold makes the connector re-read that model from Odoo at once (`refresh`,
 * the inbound sync's pass) and wait until the reader has the new version, before it answers
 * "unknown". One key misses into Odoo at most every `missRefreshMs`, so a code that is simply wrong
 * does not turn every redelivery of its posting into an Odoo read.
 */
import {
  type ConvertOptions,
  type MasterData,
  type MasterRecord,
  type UnitQuantity,
  UnitUnknownError,
} from "../../../../streams/src/index.js";
import type { ProductInfo, ReferenceData } from "./index.js";

/** The Odoo models behind the reference data a posting reads. */
export type ReferenceModel = "uom.uom" | "product.product";

export interface MasterDataReferenceOptions {
  /** The connector's reader of its site's master data (kinds unit and product at least). */
  readonly masterData: MasterData;
  /**
   * Re-reads `model` from Odoo into the master data now and resolves, once it is stored, with how
   * many records it published (the inbound sync's `syncNow`). @default none: a missing key is unknown at once
   */
  readonly refresh?: (model: ReferenceModel) => Promise<number>;
  /** After a refresh that published something, how long the reader is given to receive it. @default 5000 */
  readonly settleMs?: number;
  /** One key (a unit, a product code) makes a re-read at most this often. @default 30000 */
  readonly missRefreshMs?: number;
  /** The clock (tests). @default Date.now */
  readonly now?: () => number;
}

/** The single source of the defaults. */
export const REFERENCE_DEFAULTS = {
  settleMs: 5_000,
  missRefreshMs: 30_000,
  pollMs: 50,
  /** After a refresh that published nothing, how long a version another pass just stored may take to arrive. */
  graceMs: 250,
  maxMisses: 1_000,
} as const;

export class MasterDataReference implements ReferenceData {
  readonly source = "masterdata";
  private readonly md: MasterData;
  private readonly o: Required<Omit<MasterDataReferenceOptions, "masterData" | "refresh">> &
    Pick<MasterDataReferenceOptions, "refresh">;
  /** When each key last missed and made a re-read: a key misses into Odoo at most every missRefreshMs. */
  private readonly misses = new Map<string, number>();

  constructor(options: MasterDataReferenceOptions) {
    this.md = options.masterData;
    this.o = {
      settleMs: options.settleMs ?? REFERENCE_DEFAULTS.settleMs,
      missRefreshMs: options.missRefreshMs ?? REFERENCE_DEFAULTS.missRefreshMs,
      now: options.now ?? Date.now,
      refresh: options.refresh,
    };
  }

  unitName(id: number): Promise<string | undefined> {
    return this.lookup("uom.uom", `id:${id}`, () => this.md.unitById(id)?.name);
  }

  async convert(quantity: UnitQuantity, to: string, options?: ConvertOptions): Promise<UnitQuantity> {
    await this.md.ready;
    try {
      return this.md.units().convert(quantity, to, options);
    } catch (err) {
      if (!(err instanceof UnitUnknownError)) throw err;
      const known = (name: string) => this.md.unit(name) !== undefined;
      // Created in Odoo since the last master-data poll? Read the units again, then convert or refuse.
      const both = () => (known(quantity.uom) && known(to) ? true : undefined);
      if (!(await this.lookup("uom.uom", `name:${quantity.uom}|${to}`, both))) throw err;
      return this.md.units().convert(quantity, to, options);
    }
  }

  productById(id: number): Promise<ProductInfo | undefined> {
    return this.lookup("product.product", `id:${id}`, () => productInfo(this.md.productById(id)));
  }

  async productByCode(code: string): Promise<ProductInfo | undefined> {
    // An archived product is known, not missing (null): Odoo's search would not find it, nor does this.
    const found = await this.lookup("product.product", `code:${code}`, () => {
      const p = this.md.product(code);
      return p === undefined ? undefined : p.active ? productInfo(p) : null;
    });
    return found ?? undefined;
  }

  /**
   * `find()` in the master data. A miss (undefined) re-reads `model` from Odoo — a pass that starts
   * after the miss; concurrent misses share it (the sync queues one) — unless this key missed within
   * missRefreshMs, then waits up to settleMs for the reader to have it.
   */
  private async lookup<T>(
    model: ReferenceModel,
    key: string,
    find: () => T | undefined,
  ): Promise<T | undefined> {
    await this.md.ready;
    const found = find();
    if (found !== undefined || !this.o.refresh) return found;
    const missKey = `${model}|${key}`;
    const now = this.o.now();
    const last = this.misses.get(missKey);
    if (last !== undefined && now - last < this.o.missRefreshMs) return undefined;
    this.remember(missKey, now);
    let published: number;
    try {
      published = await this.o.refresh(model);
    } catch (err) {
      // Odoo could not be read: not an answer. The posting is retried, and its miss reads again.
      this.misses.delete(missKey);
      throw err;
    }
    // Nothing new in Odoo: only a version another pass stored a moment ago may still be on its way.
    const deadline = this.o.now() + (published > 0 ? this.o.settleMs : REFERENCE_DEFAULTS.graceMs);
    for (;;) {
      const again = find();
      if (again !== undefined || this.o.now() >= deadline) return again;
      await new Promise((r) => setTimeout(r, REFERENCE_DEFAULTS.pollMs));
    }
  }

  /** Notes a miss; forgets the ones older than the window once there are many (wrong codes). */
  private remember(missKey: string, now: number): void {
    if (this.misses.size >= REFERENCE_DEFAULTS.maxMisses)
      for (const [k, at] of this.misses) if (now - at >= this.o.missRefreshMs) this.misses.delete(k);
    this.misses.set(missKey, now);
  }
}
function productInfo(p: MasterRecord<"product"> | undefined): ProductInfo | undefined {
  if (p === undefined) return undefined;
  return {
    id: Number(p.odooId),
    name: p.name,
    templateId: Number(p.templateOdooId),
    tracking: p.tracking,
    uomId: Number(p.unitOdooId),
  };
}
