/**
 * Odoo's side of reconciliation: for each order family the window's reports touched, what Odoo
 * holds — the posting records of the events, each member's produced quantity, the components it
 * consumed and what its BoM expects for that quantity, its scraps, its work orders' logged time, and
 * which members were closed by a run end. Reads only.
 */

import {
  divideMicros,
  formatMicros,
  type Micros,
  microsOf,
  microsOfFloat,
  mulDivMicros,
  ONE_MICROS,
} from "../../../../streams/src/index.js";
import { notScrap } from "../outbound/production/components.js";
import { type Family, orderFamily } from "../outbound/production/family.js";
import { type PostingRecord, postingsOf, postingsOn } from "../outbound/production/postings.js";
import { inUnit } from "../outbound/production/quantities.js";
import { m2oId, type PostingContext, type Row } from "../outbound/steps.js";
import { referenceOf } from "../reference/index.js";

export interface MemberFacts {
  readonly id: number;
  readonly name: string;
  readonly state: string;
  readonly productId: number | false;
  /** Its unit (`product_uom_id`): produced quantities and the counting point's postings are in it. */
  readonly uom: number | false;
  /** Done: qty_produced; open: qty_producing. */
  readonly produced: Micros;
  /** Posting records on it (all of them, whatever the window). */
  readonly postings: readonly PostingRecord[];
  /** Per component product id: consumed (picked / done) and what the BoM expects for `produced`. */
  readonly components: readonly ComponentFacts[];
  /** Done scraps from it, per product id. */
  readonly scrapped: ReadonlyMap<number, Micros>;
  /** Its work orders: logged minutes and how many time logs hold them. */
  readonly workorders: readonly { id: number; workcenter: string; minutes: number; logs: number }[];
}

export interface ComponentFacts {
  readonly productId: number;
  readonly product: string;
  readonly code: string | null;
  readonly consumed: Micros;
  readonly expected: Micros;
  /** Half the unit's rounding: smaller differences are Odoo's own rounding. */
  readonly tolerance: Micros;
}

export interface FamilyFacts {
  readonly ref: string;
  readonly members: readonly MemberFacts[];
}

export interface OdooFacts {
  /** Event id → its posting record. */
  readonly postings: ReadonlyMap<string, PostingRecord>;
  readonly families: ReadonlyMap<string, FamilyFacts>;
  /** Product id → default_code (component scraps name their component by code). */
  readonly codes: ReadonlyMap<number, string | null>;
}

/** A unit of measure's rounding when Odoo does not say (Odoo's default, 0.01). */
const DEFAULT_ROUNDING = microsOf("0.01");

export async function readOdoo(
  ctx: PostingContext,
  refs: readonly string[],
  eventIds: readonly string[],
): Promise<OdooFacts> {
  const postings = new Map((await postingsOf(ctx, eventIds)).map((p) => [p.eventId, p]));
  const families = new Map<string, FamilyFacts>();
  const codes = new Map<number, string | null>();
  for (const ref of refs) {
    let family: Family;
    try {
      family = await orderFamily(ctx, ref, ctx.equipment);
    } catch {
      families.set(ref, { ref, members: [] });
      continue;
    }
    families.set(ref, {
      ref,
      members: await Promise.all(family.members.map((m) => memberFacts(ctx, m.row, codes))),
    });
  }
  return { postings, families, codes };
}

async function memberFacts(
  ctx: PostingContext,
  row: Row,
  codes: Map<number, string | null>,
): Promise<MemberFacts> {
  const id = row["id"] as number;
  const state = String(row["state"]);
  const produced = microsOfFloat(state === "done" ? row["qty_produced"] : row["qty_producing"]);
  const [postings, components, scrapped, workorders] = await Promise.all([
    postingsOn(ctx, [id]),
    componentFacts(ctx, row, produced, codes),
    scrapsOf(ctx, id),
    workordersOf(ctx, id),
  ]);
  return {
    id,
    name: String(row["name"]),
    state,
    productId: m2oId(row["product_id"]),
    uom: m2oId(row["product_uom_id"]),
    produced,
    postings,
    components,
    scrapped,
    workorders,
  };
}

/** `produced` of the order's unit in the BoM's unit (itself when either is unknown or they are one). */
async function inBomUnit(
  ctx: PostingContext,
  produced: Micros,
  orderUom: unknown,
  bomUom: unknown,
): Promise<Micros> {
  const from = m2oId(orderUom);
  if (from === false || m2oId(bomUom) === false || from === m2oId(bomUom)) return produced;
  const name = await referenceOf(ctx).unitName(from);
  if (name === undefined) return produced;
  return microsOf((await inUnit(ctx, { value: formatMicros(produced), uom: name }, bomUom)).value);
}

/**
 * Consumed per component (17+: picked or done quantities; 16: done quantities) against the BoM's
 * lines for the produced quantity. Scrap moves are not component moves (Odoo keeps them out of
 * `move_raw_ids`), cancelled moves consumed nothing.
 */
async function componentFacts(
  ctx: PostingContext,
  row: Row,
  produced: Micros,
  codes: Map<number, string | null>,
): Promise<ComponentFacts[]> {
  const id = row["id"] as number;
  const moves = await ctx.odoo.searchRead(
    "stock.move",
    [["raw_material_production_id", "=", id], notScrap(ctx)],
    {
      fields: [
        "product_id",
        "state",
        ctx.fields.moveQty,
        ...(ctx.fields.hasPicked ? ["picked"] : []),
        "product_uom",
      ],
    },
  );
  const consumed = new Map<number, Micros>();
  for (const m of moves) {
    if (m["state"] === "cancel") continue;
    const counts = m["state"] === "done" || !ctx.fields.hasPicked || m["picked"] === true;
    const product = m2oId(m["product_id"]);
    if (product === false || !counts) continue;
    consumed.set(product, (consumed.get(product) ?? 0n) + microsOfFloat(m[ctx.fields.moveQty]));
  }
  const bomId = m2oId(row["bom_id"]);
  const expected = new Map<number, Micros>();
  const rounding = new Map<number, Micros>();
  if (bomId !== false) {
    const [bom] = await ctx.odoo.read("mrp.bom", [bomId], ["product_qty", "product_uom_id"]);
    // The output in the BoM's unit, as Odoo scales the components (mrp_production.py
    // `_get_moves_raw_values`: `product_uom_id._compute_quantity(product_qty, bom_id.product_uom_id)`):
    // 3 Dozens of a BoM per Unit need the components of 36.
    const output = await inBomUnit(ctx, produced, row["product_uom_id"], bom?.["product_uom_id"]);
    const lines = await ctx.odoo.searchRead("mrp.bom.line", [["bom_id", "=", bomId]], {
      fields: ["product_id", "product_qty", "product_uom_id"],
    });
    const bomQty = microsOfFloat(bom?.["product_qty"] ?? 1) || ONE_MICROS;
    const uoms = [
      ...new Set(lines.map((l) => m2oId(l["product_uom_id"])).filter((u) => u !== false)),
    ] as number[];
    const roundingOf = new Map(
      (uoms.length ? await ctx.odoo.read("uom.uom", uoms, ["rounding"]) : []).map((u) => [
        u["id"] as number,
        microsOfFloat(u["rounding"] ?? 0.01),
      ]),
    );
    for (const l of lines) {
      const product = m2oId(l["product_id"]);
      if (product === false) continue;
      // The line's quantity scaled from the BoM's output to the order's: exact, rounded to a micro-unit.
      const forOrder = mulDivMicros(microsOfFloat(l["product_qty"]), output, bomQty);
      expected.set(product, (expected.get(product) ?? 0n) + forOrder);
      rounding.set(product, roundingOf.get(m2oId(l["product_uom_id"]) as number) ?? DEFAULT_ROUNDING);
    }
  }
  const products = [...new Set([...consumed.keys(), ...expected.keys()])];
  const names = new Map(
    (products.length
      ? await ctx.odoo.read("product.product", products, ["display_name", "default_code"])
      : []
    ).map((p) => {
      codes.set(p["id"] as number, typeof p["default_code"] === "string" ? p["default_code"] : null);
      return [p["id"] as number, p];
    }),
  );
  return products.map((p) => ({
    productId: p,
    product: String(names.get(p)?.["display_name"] ?? p),
    code: codes.get(p) ?? null,
    consumed: consumed.get(p) ?? 0n,
    expected: expected.get(p) ?? 0n,
    tolerance: divideMicros(rounding.get(p) ?? DEFAULT_ROUNDING, 2n),
  }));
}

async function scrapsOf(ctx: PostingContext, productionId: number): Promise<Map<number, Micros>> {
  const rows = await ctx.odoo.searchRead(
    "stock.scrap",
    [
      ["production_id", "=", productionId],
      ["state", "=", "done"],
    ],
    { fields: ["product_id", "scrap_qty"] },
  );
  const out = new Map<number, Micros>();
  for (const r of rows) {
    const product = m2oId(r["product_id"]);
    if (product !== false) out.set(product, (out.get(product) ?? 0n) + microsOfFloat(r["scrap_qty"]));
  }
  return out;
}

async function workordersOf(
  ctx: PostingContext,
  productionId: number,
): Promise<{ id: number; workcenter: string; minutes: number; logs: number }[]> {
  const rows = await ctx.odoo.searchRead("mrp.workorder", [["production_id", "=", productionId]], {
    fields: ["workcenter_id", "duration", "time_ids"],
  });
  const codes = await ctx.setup.workcenterCodes(
    rows.map((r) => m2oId(r["workcenter_id"])).filter((w) => w !== false) as number[],
  );
  return rows.map((r) => {
    const wc = m2oId(r["workcenter_id"]);
    return {
      id: r["id"] as number,
      workcenter:
        (wc !== false ? codes.get(wc) : null) ??
        String(Array.isArray(r["workcenter_id"]) ? r["workcenter_id"][1] : wc),
      minutes: Number(r["duration"] ?? 0),
      logs: Array.isArray(r["time_ids"]) ? r["time_ids"].length : 0,
    };
  });
}
