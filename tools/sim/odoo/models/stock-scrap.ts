/**
 * `stock.scrap` (stock + mrp) and its `stock.warn.insufficient.qty.scrap` wizard, per version
 * (stock/models/stock_scrap.py, mrp/models/stock_scrap.py,
 * stock/wizard/stock_warn_insufficient_qty.py of 16/17/18/19):
 * - link: 16 `stock.scrap.move_id` (and `stock.move.scrap_ids`); 17+ `stock.move.scrap_id` /
 *   `stock.scrap.move_ids`;
 * - default source: 16 the warehouse stock (`_get_default_location_id`), 17 the same compute (mrp only
 *   has an onchange: over RPC the order is not used), 18/19 mrp's `_compute_location_id` (the order's
 *   components location until it is done, its finished products location after; a work order's order
 *   components location);
 * - default scrap location: ≤18 the first `scrap_location` location, 19 the first `usage=inventory`
 *   location (id order: "Inventory adjustment" before "Scrap");
 * - `action_validate`: "You can only enter positive quantities." for zero; a storable product short in
 *   the source location returns the insufficient-quantity wizard (16: quants of exactly that location
 *   and lot; 17: that lot, child locations included; 18/19: that lot and exactly that location) — a
 *   tracked product scrapped without a lot therefore finds nothing on hand; else `do_scrap`;
 * - `do_scrap`: SP/ sequence, one move with one line to the scrap location, done with `is_scrap`; mrp's
 *   `_prepare_move_values` links it to the order (`production_id` for a finished product,
 *   `raw_material_production_id` otherwise) and the move takes the order's operation type (so a tracked
 *   product needs a lot, as on any manufacturing move).
 */
import { UserError, valueError } from "../errors.js";
import type { Env, ModelSpec, Vals } from "../orm.js";
import type { Profile } from "../profiles.js";
import { actionDone } from "./stock-move.js";
import { isStorable, onHand, round } from "./stock-quant.js";
import { computeQuantity } from "./uom.js";

const float = (v: unknown) => (typeof v === "number" ? v : 0);

function defaultScrapLocation(env: Env): number | false {
  const domain = env.profile.version <= 18 ? [["scrap_location", "=", true]] : [["usage", "=", "inventory"]];
  return env.search("stock.location", domain, { limit: 1, order: "id" })[0] ?? false;
}

function warehouseStock(env: Env): number | false {
  const [wh] = env.search("stock.warehouse", [], { limit: 1 });
  return wh === undefined ? false : (env.get("stock.warehouse", wh, "lot_stock_id") as number | false);
}

function defaultScrapSource(env: Env, vals: Vals): number | false {
  if (env.profile.version >= 18) {
    const mo = vals["production_id"] as number | undefined;
    if (mo && env.exists("mrp.production", mo))
      return env.get(
        "mrp.production",
        mo,
        env.get("mrp.production", mo, "state") !== "done" ? "location_src_id" : "location_dest_id",
      ) as number | false;
    const wo = vals["workorder_id"] as number | undefined;
    if (wo && env.exists("mrp.workorder", wo)) {
      const production = env.get("mrp.workorder", wo, "production_id") as number;
      return env.get("mrp.production", production, "location_src_id") as number | false;
    }
  }
  const picking = vals["picking_id"] as number | undefined;
  if (env.profile.version >= 17 && picking && env.exists("stock.picking", picking))
    return env.get(
      "stock.picking",
      picking,
      env.get("stock.picking", picking, "state") === "done" ? "location_dest_id" : "location_id",
    ) as number | false;
  return warehouseStock(env);
}

/** `check_available_qty` (17+) / the quant gather of 16's `action_validate`. */
function enoughOnHand(env: Env, scrapId: number): boolean {
  const s = env.row("stock.scrap", scrapId);
  const product = s["product_id"] as number;
  if (!isStorable(env, product)) return true;
  const available = onHand(env, product, s["location_id"] as number, {
    children: env.profile.version === 17,
    lot: (s["lot_id"] as number) || false,
  });
  // `scrap_qty` in the scrap's unit, stock in the product's: `product_uom_id._compute_quantity(scrap_qty, product_id.uom_id)`.
  return (
    available >=
    computeQuantity(
      env,
      float(s["scrap_qty"]),
      s["product_uom_id"],
      env.get("product.product", product, "uom_id"),
    ) -
      1e-9
  );
}

function insufficientQtyAction(env: Env, scrapId: number): Vals {
  const s = env.row("stock.scrap", scrapId);
  const product = s["product_id"] as number;
  return {
    name: `${env.displayName("product.product", product)}: Insufficient Quantity To Scrap`,
    view_mode: "form",
    res_model: "stock.warn.insufficient.qty.scrap",
    view_id: false,
    type: "ir.actions.act_window",
    context: {
      ...env.context,
      default_product_id: product,
      default_location_id: s["location_id"],
      default_scrap_id: scrapId,
      default_quantity: s["scrap_qty"],
      default_product_uom_name: env.displayName(
        "uom.uom",
        env.get("product.product", product, "uom_id") as number,
      ),
    },
    target: "new",
  };
}

/** `do_scrap`: the move (with mrp's links), done with `is_scrap`, state done, `date_done`. */
export function doScrap(env: Env, ids: number[]): true {
  const p = env.profile;
  for (const id of ids) {
    const name = `SP/${String(env.db.nextSequence("stock.scrap")).padStart(5, "0")}`;
    env.setRaw("stock.scrap", id, { name });
    const s = env.row("stock.scrap", id);
    const product = s["product_id"] as number;
    const moveVals: Vals = {
      origin:
        s["origin"] ||
        (s["picking_id"] ? env.get("stock.picking", s["picking_id"] as number, "name") : false) ||
        name,
      reference: name,
      product_id: product,
      product_uom: s["product_uom_id"],
      product_uom_qty: s["scrap_qty"],
      location_id: s["location_id"],
      location_dest_id: s["scrap_location_id"],
      picking_id: s["picking_id"] || false,
    };
    if (p.stockMoveName) moveVals["name"] = name;
    if (p.version >= 17) {
      moveVals["scrap_id"] = id;
      moveVals["picked"] = true;
    }
    const production = s["production_id"] as number | false;
    if (production) {
      // mrp `_prepare_move_values`: the order's finished product, or anything else on the component side
      moveVals["origin"] = s["origin"] || env.get("mrp.production", production, "name");
      const finishedProducts = (env.get("mrp.production", production, "move_finished_ids") as number[]).map(
        (m) => env.get("stock.move", m, "product_id"),
      );
      if (finishedProducts.includes(product)) moveVals["production_id"] = production;
      else moveVals["raw_material_production_id"] = production;
      // mrp `_compute_picking_type_id`: the move takes the order's operation type
      moveVals["picking_type_id"] = env.get("mrp.production", production, "picking_type_id");
    }
    const move = env.create("stock.move", moveVals);
    env.setRaw("stock.move", move, { state: "confirmed" });
    env.create("stock.move.line", {
      move_id: move,
      product_id: product,
      product_uom_id: s["product_uom_id"],
      location_id: s["location_id"],
      location_dest_id: s["scrap_location_id"],
      lot_id: s["lot_id"] || false,
      [p.moveLineQty]: s["scrap_qty"],
      ...(p.picked ? { picked: true } : {}),
    });
    actionDone(env.withContext({ is_scrap: true }), [move]);
    env.setRaw("stock.scrap", id, {
      state: "done",
      date_done: env.now(),
      ...(p.version === 16 ? { move_id: move } : {}),
    });
  }
  return true;
}

export function scrapModels(p: Profile): ModelSpec[] {
  const link: ModelSpec["fields"] =
    p.version === 16
      ? {
          move_id: {
            type: "many2one",
            string: "Scrap Move",
            relation: "stock.move",
            readonly: true,
            copy: false,
          },
        }
      : { move_ids: { type: "one2many", string: "Moves", relation: "stock.move", inverse: "scrap_id" } };
  return [
    {
      name: "stock.scrap",
      description: "Scrap",
      order: "id desc",
      fields: {
        name: {
          type: "char",
          string: "Reference",
          required: true,
          readonly: true,
          default: "New",
          copy: false,
        },
        origin: { type: "char", string: "Source Document" },
        product_id: { type: "many2one", string: "Product", relation: "product.product", required: true },
        product_uom_id: {
          type: "many2one",
          string: "Unit of Measure",
          relation: "uom.uom",
          required: true,
          default: (env: Env, vals: Vals) =>
            vals["product_id"] ? env.get("product.product", vals["product_id"] as number, "uom_id") : false,
        },
        tracking: {
          type: "selection",
          string: "Product Tracking",
          selection: [
            ["serial", "By Unique Serial Number"],
            ["lot", "By Lots"],
            ["none", "No Tracking"],
          ],
          related: "product_id.tracking",
        },
        lot_id: { type: "many2one", string: "Lot/Serial", relation: "stock.lot" },
        ...link,
        picking_id: { type: "many2one", string: "Picking", relation: "stock.picking" },
        location_id: {
          type: "many2one",
          string: "Source Location",
          relation: "stock.location",
          required: true,
          default: defaultScrapSource,
        },
        scrap_location_id: {
          type: "many2one",
          string: "Scrap Location",
          relation: "stock.location",
          required: true,
          default: defaultScrapLocation,
        },
        scrap_qty: { type: "float", string: "Quantity", required: true, default: 1 },
        state: {
          type: "selection",
          string: "Status",
          selection: [
            ["draft", "Draft"],
            ["done", "Done"],
          ],
          default: "draft",
          readonly: true,
        },
        date_done: { type: "datetime", string: "Date", readonly: true },
        ...(p.version >= 17
          ? { should_replenish: { type: "boolean" as const, string: "Replenish Quantities" } }
          : {}),
        // mrp
        production_id: { type: "many2one", string: "Manufacturing Order", relation: "mrp.production" },
        workorder_id: { type: "many2one", string: "Work Order", relation: "mrp.workorder" },
      },
      beforeUnlink: (env, ids) => {
        if (ids.some((id) => env.get("stock.scrap", id, "state") === "done"))
          throw new UserError("You cannot delete a scrap which is done.");
      },
      methods: {
        do_scrap: { fn: ({ env, ids }) => doScrap(env, ids) },
        action_validate: {
          fn: ({ env, ids }) => {
            if (ids.length !== 1) throw valueError(`Expected singleton: stock.scrap(${ids.join(", ")})`);
            const [id] = ids as [number];
            // float_is_zero(scrap_qty, precision_rounding=product_uom_id.rounding)
            if (Math.abs(round(float(env.get("stock.scrap", id, "scrap_qty")))) < 1e-6)
              throw new UserError("You can only enter positive quantities.");
            if (!enoughOnHand(env, id)) return insufficientQtyAction(env, id);
            return doScrap(env, [id]);
          },
        },
      },
    },
    {
      name: "stock.warn.insufficient.qty.scrap",
      description: "Warn Insufficient Scrap Quantity",
      transient: true,
      fields: {
        product_id: { type: "many2one", string: "Product", relation: "product.product", required: true },
        location_id: { type: "many2one", string: "Location", relation: "stock.location", required: true },
        quantity: { type: "float", string: "Quantity", required: true },
        product_uom_name: { type: "char", string: "Unit of Measure", required: true },
        scrap_id: { type: "many2one", string: "Scrap", relation: "stock.scrap" },
      },
      methods: {
        action_done: {
          fn: ({ env, ids }) => {
            const scraps = ids
              .map((id) => env.get("stock.warn.insufficient.qty.scrap", id, "scrap_id"))
              .filter(Boolean);
            return doScrap(env, scraps as number[]);
          },
        },
        // the wizard's "Discard" deletes the scrap unless `not_unlink_on_discard`
        action_cancel: {
          fn: ({ env, ids }) => {
            if (env.context["not_unlink_on_discard"]) return true;
            const scraps = ids
              .map((id) => env.get("stock.warn.insufficient.qty.scrap", id, "scrap_id"))
              .filter(Boolean);
            env.unlink("stock.scrap", scraps as number[]);
            return true;
          },
        },
      },
    },
  ];
}
