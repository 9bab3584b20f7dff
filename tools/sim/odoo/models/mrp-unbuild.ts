/**
 * `mrp.unbuild` (mrp/models/mrp_unbuild.py 16/17/18/19; sources: README "Conformance"):
 * - fields: product, quantity (16: ValidationError "Unbuild Order product quantity has to be strictly
 *   positive."; 17+: SQL "The quantity to unbuild must be positive!"), BoM, order (`mo_id`), lot,
 *   locations (the warehouse stock), `produce_line_ids` (moves with `unbuild_id`), `consume_line_ids`
 *   (`consume_unbuild_id`, which Odoo never writes: it stays empty); filling from the order is an
 *   onchange on 16/17 (give product and lot yourself), computed on 18 (product, BoM, quantity, lot) and
 *   19 (product, BoM, quantity; the lot is not computed);
 * - `action_unbuild`: a tracked product needs `lot_id` ("You should provide a lot number for the final
 *   product."), the order must be done ("You cannot unbuild a undone manufacturing order."); the
 *   product is consumed back into production and the order's consumed components are returned in
 *   proportion, with the component lots of the order's lines; all moves carry `unbuild_id`; tracked
 *   components without order are refused (16–18 / 19 wording);
 * - `action_validate`: stock short (exact location and lot) → the `stock.warn.insufficient.qty.unbuild`
 *   action; `action_unbuild` skips that check.
 */
import { UserError, ValidationError } from "../errors.js";
import type { Env, ModelSpec, Vals } from "../orm.js";
import type { Profile } from "../profiles.js";
import { sqlCheck } from "./mrp-bom.js";
import { ensureOne, finished, mo, producingLots, qtyProduced, raws } from "./mrp-production.js";
import { actionDone, lineIds, moveDoneQty } from "./stock-move.js";
import { isStorable, onHand, round } from "./stock-quant.js";

const float = (v: unknown) => (typeof v === "number" ? v : 0);

function productionLocation(env: Env): number {
  return env.search("stock.location", [["usage", "=", "production"]], { limit: 1 })[0] as number;
}

function warehouseStock(env: Env): number | false {
  const [wh] = env.search("stock.warehouse", [], { limit: 1 });
  return wh === undefined ? false : (env.get("stock.warehouse", wh, "lot_stock_id") as number | false);
}

function moveVals(env: Env, unbuildId: number, vals: Vals): Vals {
  const name = env.get("mrp.unbuild", unbuildId, "name");
  return {
    ...(env.profile.stockMoveName ? { name } : {}),
    reference: name,
    origin: name,
    unbuild_id: unbuildId,
    state: "draft",
    ...vals,
  };
}

function unbuild(env: Env, id: number): boolean {
  const p = env.profile;
  const u = env.row("mrp.unbuild", id);
  const product = u["product_id"] as number;
  const lot = (u["lot_id"] as number) || false;
  if (env.get("product.product", product, "tracking") !== "none" && !lot)
    throw new UserError("You should provide a lot number for the final product.");
  const production = (u["mo_id"] as number) || false;
  if (production && mo(env, production)["state"] !== "done")
    throw new UserError("You cannot unbuild a undone manufacturing order.");
  const qty = float(u["product_qty"]);
  const prodLoc = productionLocation(env);
  const consume: number[] = [];
  const produce: { move: number; origin?: number }[] = [];
  if (production) {
    const factor = qty / (qtyProduced(env, production) || 1);
    for (const m of finished(env, production).filter((x) => env.get("stock.move", x, "state") === "done"))
      consume.push(
        env.create(
          "stock.move",
          moveVals(env, id, {
            product_id: env.get("stock.move", m, "product_id"),
            product_uom: env.get("stock.move", m, "product_uom"),
            product_uom_qty: round(moveDoneQty(env, m) * factor),
            location_id: u["location_id"],
            location_dest_id: env.get("stock.move", m, "location_id"),
            origin_returned_move_id: m,
          }),
        ),
      );
    for (const m of raws(env, production).filter((x) => env.get("stock.move", x, "state") === "done"))
      produce.push({
        origin: m,
        move: env.create(
          "stock.move",
          moveVals(env, id, {
            product_id: env.get("stock.move", m, "product_id"),
            product_uom: env.get("stock.move", m, "product_uom"),
            product_uom_qty: round(moveDoneQty(env, m) * factor),
            location_id: env.get("stock.move", m, "location_dest_id"),
            location_dest_id: u["location_dest_id"],
            origin_returned_move_id: m,
          }),
        ),
      });
  } else {
    const bom = u["bom_id"] as number | false;
    if (!bom) throw new UserError("You should provide a bill of material for the product.");
    const factor = qty / (float(env.get("mrp.bom", bom, "product_qty")) || 1);
    consume.push(
      env.create(
        "stock.move",
        moveVals(env, id, {
          product_id: product,
          product_uom_qty: qty,
          location_id: u["location_id"],
          location_dest_id: prodLoc,
        }),
      ),
    );
    for (const l of env.get("mrp.bom", bom, "bom_line_ids") as number[])
      produce.push({
        move: env.create(
          "stock.move",
          moveVals(env, id, {
            product_id: env.get("mrp.bom.line", l, "product_id"),
            product_uom_qty: round(float(env.get("mrp.bom.line", l, "product_qty")) * factor),
            bom_line_id: l,
            location_id: prodLoc,
            location_dest_id: u["location_dest_id"],
          }),
        ),
      });
  }
  const tracked = (m: number) => env.get("stock.move", m, "has_tracking") !== "none";
  if (!production && produce.some((x) => tracked(x.move)))
    throw new UserError(
      p.version >= 19
        ? "Please specify a manufacturing order.\nIt will allow us to retrieve the lots/serial numbers of the correct components and/or byproducts."
        : "Some of your components are tracked, you have to specify a manufacturing order in order to retrieve the correct components.",
    );
  const field = p.moveLineQty;
  const line = (m: number, vals: Vals) =>
    env.create("stock.move.line", {
      move_id: m,
      product_id: env.get("stock.move", m, "product_id"),
      product_uom_id: env.get("stock.move", m, "product_uom"),
      location_id: env.get("stock.move", m, "location_id"),
      location_dest_id: env.get("stock.move", m, "location_dest_id"),
      ...vals,
    });
  for (const m of consume) {
    const demand = float(env.get("stock.move", m, "product_uom_qty"));
    if (env.get("stock.move", m, "product_id") === product) line(m, { [field]: demand, lot_id: lot });
    else line(m, { [field]: demand });
  }
  const used = new Map<number, number>();
  for (const { move, origin } of produce) {
    const demand = float(env.get("stock.move", move, "product_uom_qty"));
    if (!tracked(move) || !origin) {
      line(move, { [field]: demand });
      continue;
    }
    // the component lots of the order: take from its lines until the quantity is covered
    let needed = demand;
    for (const l of lineIds(env, origin)) {
      if (needed <= 1e-9) break;
      const have = float(env.get("stock.move.line", l, field)) - (used.get(l) ?? 0);
      const take = round(Math.min(needed, have));
      if (take <= 0) continue;
      line(move, { [field]: take, lot_id: env.get("stock.move.line", l, "lot_id") });
      used.set(l, (used.get(l) ?? 0) + take);
      needed = round(needed - take);
    }
  }
  const all = [...consume, ...produce.map((x) => x.move)];
  for (const m of all) env.setRaw("stock.move", m, { state: "confirmed" });
  if (p.picked) env.write("stock.move", all, { picked: true });
  actionDone(env, consume);
  actionDone(
    env,
    produce.map((x) => x.move),
  );
  env.setRaw("mrp.unbuild", id, { state: "done" });
  return true;
}

export function unbuildModels(p: Profile): ModelSpec[] {
  const fromOrder = p.version >= 18;
  return [
    {
      name: "mrp.unbuild",
      description: "Unbuild Order",
      order: "id desc",
      fields: {
        name: { type: "char", string: "Reference", readonly: true, default: "New", copy: false },
        product_id: {
          type: "many2one",
          string: "Product",
          relation: "product.product",
          required: true,
          ...(fromOrder
            ? {
                default: (env: Env, vals: Vals) =>
                  vals["mo_id"] ? env.get("mrp.production", vals["mo_id"] as number, "product_id") : false,
              }
            : {}),
        },
        product_qty: {
          type: "float",
          string: "Quantity",
          required: true,
          default: fromOrder
            ? (env: Env, vals: Vals) => {
                const production = vals["mo_id"] as number | undefined;
                if (!production) return 1;
                if (env.get("mrp.production", production, "product_tracking") === "serial") return 1;
                return qtyProduced(env, production);
              }
            : 1,
        },
        product_uom_id: {
          type: "many2one",
          string: "Unit of Measure",
          relation: "uom.uom",
          required: true,
          default: (env: Env, vals: Vals) => {
            if (vals["mo_id"]) return env.get("mrp.production", vals["mo_id"] as number, "product_uom_id");
            return vals["product_id"]
              ? env.get("product.product", vals["product_id"] as number, "uom_id")
              : false;
          },
        },
        bom_id: {
          type: "many2one",
          string: "Bill of Material",
          relation: "mrp.bom",
          ...(fromOrder
            ? {
                default: (env: Env, vals: Vals) =>
                  vals["mo_id"] ? env.get("mrp.production", vals["mo_id"] as number, "bom_id") : false,
              }
            : {}),
        },
        mo_id: { type: "many2one", string: "Manufacturing Order", relation: "mrp.production" },
        lot_id: {
          type: "many2one",
          string: "Lot/Serial Number",
          relation: "stock.lot",
          ...(p.version === 18
            ? {
                default: (env: Env, vals: Vals) =>
                  vals["mo_id"] ? (producingLots(env, vals["mo_id"] as number)[0] ?? false) : false,
              }
            : {}),
        },
        has_tracking: {
          type: "selection",
          string: "Product with Tracking",
          selection: [
            ["serial", "By Unique Serial Number"],
            ["lot", "By Lots"],
            ["none", "No Tracking"],
          ],
          related: "product_id.tracking",
        },
        location_id: {
          type: "many2one",
          string: "Source Location",
          relation: "stock.location",
          required: true,
          default: warehouseStock,
        },
        location_dest_id: {
          type: "many2one",
          string: "Destination Location",
          relation: "stock.location",
          required: true,
          default: warehouseStock,
        },
        consume_line_ids: {
          type: "one2many",
          string: "Consumed Disassembly Lines",
          relation: "stock.move",
          inverse: "consume_unbuild_id",
        },
        produce_line_ids: {
          type: "one2many",
          string: "Processed Disassembly Lines",
          relation: "stock.move",
          inverse: "unbuild_id",
        },
        state: {
          type: "selection",
          string: "Status",
          selection: [
            ["draft", "Draft"],
            ["done", "Done"],
          ],
          default: "draft",
        },
      },
      beforeCreate: (env, vals) => {
        if (!vals["name"] || vals["name"] === "New")
          vals["name"] = `UB/${String(env.db.nextSequence("mrp.unbuild")).padStart(5, "0")}`;
      },
      beforeUnlink: (env, ids) => {
        if (ids.some((id) => env.get("mrp.unbuild", id, "state") === "done"))
          throw new UserError("You cannot delete an unbuild order if the state is 'Done'.");
      },
      constrain: (env, ids) => {
        for (const id of ids)
          if (float(env.get("mrp.unbuild", id, "product_qty")) <= 0) {
            if (p.version === 16)
              throw new ValidationError("Unbuild Order product quantity has to be strictly positive.");
            throw sqlCheck("The quantity to unbuild must be positive!");
          }
      },
      methods: {
        action_unbuild: { fn: ({ env, ids }) => unbuild(env, ensureOne("mrp.unbuild", ids)) },
        action_validate: {
          fn: ({ env, ids }) => {
            const id = ensureOne("mrp.unbuild", ids);
            const u = env.row("mrp.unbuild", id);
            const product = u["product_id"] as number;
            const available = isStorable(env, product)
              ? onHand(env, product, u["location_id"] as number, {
                  children: false,
                  lot: (u["lot_id"] as number) || false,
                })
              : Number.POSITIVE_INFINITY;
            if (available >= float(u["product_qty"]) - 1e-9) return unbuild(env, id);
            return {
              name: `${env.displayName("product.product", product)}: Insufficient Quantity To Unbuild`,
              view_mode: "form",
              res_model: "stock.warn.insufficient.qty.unbuild",
              view_id: false,
              type: "ir.actions.act_window",
              context: {
                ...env.context,
                default_product_id: product,
                default_location_id: u["location_id"],
                default_unbuild_id: id,
                default_quantity: u["product_qty"],
                default_product_uom_name: env.displayName("uom.uom", u["product_uom_id"] as number),
              },
              target: "new",
            };
          },
        },
      },
    },
    {
      name: "stock.warn.insufficient.qty.unbuild",
      description: "Warn Insufficient Unbuild Quantity",
      transient: true,
      fields: {
        product_id: { type: "many2one", string: "Product", relation: "product.product", required: true },
        location_id: { type: "many2one", string: "Location", relation: "stock.location", required: true },
        quantity: { type: "float", string: "Quantity", required: true },
        product_uom_name: { type: "char", string: "Unit of Measure", required: true },
        unbuild_id: { type: "many2one", string: "Unbuild", relation: "mrp.unbuild" },
      },
      methods: {
        action_done: {
          fn: ({ env, ids }) => {
            for (const id of ids) {
              const u = env.get("stock.warn.insufficient.qty.unbuild", id, "unbuild_id") as number | false;
              if (u) unbuild(env, u);
            }
            return true;
          },
        },
      },
    },
  ];
}
