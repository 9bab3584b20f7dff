/**
 * Manufacturing orders (mrp/models/mrp_production.py, 16/17/18/19; sources: README "Conformance"):
 * creation (moves and work orders from the BoM, a procurement group — 19: a production group),
 * `action_confirm` (consumption copied from the BoM, reservation), `_set_qty_producing` per version and
 * the public `set_qty_producing` (17+), `action_generate_serial` per version, `action_cancel` per
 * version, the computed state. Closing lives in mrp-mark-done.ts, work orders in mrp-workorder.ts.
 *
 * A plain `write` of `qty_producing` changes nothing else (Odoo's filler is the form onchange, which
 * RPC does not run): components move only through `set_qty_producing` (17+), a work order's
 * `qty_producing` (its inverse), `button_start`, `action_generate_serial` (serials), the immediate
 * production wizard (16), `_set_quantities` at close (17+), or writes on the moves themselves.
 */
import { UserError, valueError } from "../errors.js";
import type { Env, ModelSpec, Vals } from "../orm.js";
import type { Profile } from "../profiles.js";
import { sqlCheck } from "./mrp-bom.js";
import { cancelWorkorders, createWorkorders } from "./mrp-workorder.js";
import { cancelMoves, isPicked, lineIds, moveDoneQty, setQuantityDone } from "./stock-move.js";
import { relevantStateAmongMoves, reserveAtConfirm, reserveMoves, round } from "./stock-quant.js";
import { computeQuantity } from "./uom.js";

const float = (v: unknown) => (typeof v === "number" ? v : 0);

export const MO_STATES = [
  ["draft", "Draft"],
  ["confirmed", "Confirmed"],
  ["progress", "In Progress"],
  ["to_close", "To Close"],
  ["done", "Done"],
  ["cancel", "Cancelled"],
] as const;

export const mo = (env: Env, id: number) => env.row("mrp.production", id);
export const raws = (env: Env, id: number) => env.get("mrp.production", id, "move_raw_ids") as number[];
export const finished = (env: Env, id: number) =>
  env.get("mrp.production", id, "move_finished_ids") as number[];
export const workorders = (env: Env, id: number) =>
  env.get("mrp.production", id, "workorder_ids") as number[];
const moveState = (env: Env, m: number) => String(env.get("stock.move", m, "state"));

export function ensureOne(model: string, ids: number[]): number {
  if (ids.length !== 1)
    throw valueError(`Expected singleton: ${model}(${ids.join(", ")}${ids.length === 1 ? "," : ""})`);
  return ids[0] as number;
}

function productionLocation(env: Env): number | false {
  return env.search("stock.location", [["usage", "=", "production"]], { limit: 1 })[0] ?? false;
}

/** The produced lot(s): `lot_producing_id` (≤18) or `lot_producing_ids` (19). */
export function producingLots(env: Env, id: number): number[] {
  if (env.profile.lotProducingMany) return env.get("mrp.production", id, "lot_producing_ids") as number[];
  const lot = env.get("mrp.production", id, "lot_producing_id") as number | false;
  return lot ? [lot] : [];
}

export function productTracking(env: Env, id: number): string {
  return String(env.get("product.product", mo(env, id)["product_id"] as number, "tracking"));
}

/** `qty_produced`: non-cancelled finished moves of the product — 16 their done quantity, 17+ picked ones. */
export function qtyProduced(env: Env, id: number): number {
  const product = mo(env, id)["product_id"];
  let qty = 0;
  for (const m of finished(env, id)) {
    if (moveState(env, m) === "cancel" || env.get("stock.move", m, "product_id") !== product) continue;
    if (env.profile.picked && env.get("stock.move", m, "picked") !== true) continue;
    qty += moveDoneQty(env, m);
  }
  return round(qty);
}

/**
 * `stock.move._determine_is_manual_consumption`: 16/17 a tracked component (no auto-consumed lots) or
 * an untracked one whose BoM line says so; 18 the BoM line's flag or an operation; 19 an operation.
 */
function isManualConsumption(
  env: Env,
  productionId: number,
  product: number,
  bomLine: number | false,
): boolean {
  const line = bomLine ? env.row("mrp.bom.line", bomLine) : undefined;
  const v = env.profile.version;
  if (v >= 19) return Boolean(line?.["operation_id"]);
  if (v === 18) return Boolean(line && (line["manual_consumption"] === true || line["operation_id"]));
  const tracked = env.get("product.product", product, "tracking") !== "none";
  const typeId = mo(env, productionId)["picking_type_id"] as number;
  const autoLots = env.get("stock.picking.type", typeId, "use_auto_consume_components_lots") === true;
  return (tracked && !autoLots) || (!tracked && Boolean(line?.["manual_consumption"]));
}

/** Creates the component and finished moves (`_get_moves_raw_values`, `_get_moves_finished_values`). */
export function explode(env: Env, id: number): void {
  const row = mo(env, id);
  const bomId = row["bom_id"] as number | false;
  const prodLoc = productionLocation(env);
  const name = String(row["name"]);
  const moveBase = (vals: Vals): Vals => (env.profile.stockMoveName ? { name, ...vals } : vals);
  const p = env.profile;
  if (bomId && raws(env, id).length === 0) {
    const bomQty = float(env.get("mrp.bom", bomId, "product_qty")) || 1;
    // The order's quantity in the BoM's unit (an order in Dozens of a BoM per Unit needs 12× the
    // components): `product_uom_id._compute_quantity(product_qty, bom_id.product_uom_id)`.
    const orderQty = computeQuantity(
      env,
      float(row["product_qty"]),
      row["product_uom_id"],
      env.get("mrp.bom", bomId, "product_uom_id"),
    );
    for (const line of env.get("mrp.bom", bomId, "bom_line_ids") as number[]) {
      const l = env.row("mrp.bom.line", line);
      const product = l["product_id"] as number;
      env.create(
        "stock.move",
        moveBase({
          product_id: product,
          product_uom_qty: round((float(l["product_qty"]) * orderQty) / bomQty),
          product_uom: l["product_uom_id"] || env.get("product.product", product, "uom_id"),
          location_id: row["location_src_id"],
          location_dest_id: prodLoc,
          raw_material_production_id: id,
          bom_line_id: line,
          operation_id: l["operation_id"] || false,
          origin: name,
          picking_type_id: row["picking_type_id"],
          date: row[p.mrpPlannedStart],
          manual_consumption: isManualConsumption(env, id, product, line),
        }),
      );
    }
  }
  if (finished(env, id).length === 0) {
    env.create(
      "stock.move",
      moveBase({
        product_id: row["product_id"],
        product_uom_qty: row["product_qty"],
        product_uom: row["product_uom_id"],
        location_id: prodLoc,
        location_dest_id: row["location_dest_id"],
        production_id: id,
        origin: name,
        picking_type_id: row["picking_type_id"],
        date: row[p.mrpPlannedFinished] || row[p.mrpPlannedStart],
      }),
    );
  }
  if (bomId && workorders(env, id).length === 0) createWorkorders(env, id);
}

/**
 * `_compute_state` (stored; evaluated where Odoo's dependencies change): cancel when every finished
 * move is cancelled, done when all moves are done/cancelled, to_close when every work order is done
 * (or, without work orders, `qty_producing >= product_qty`), progress when a work order started or
 * something is produced/consumed (16 `quantity_done`, 17+ `picked`); otherwise unchanged.
 */
export function recomputeState(env: Env, id: number): void {
  const row = mo(env, id);
  const state = String(row["state"]);
  if (state === "draft" || state === "cancel" || state === "done") return;
  const fin = finished(env, id).map((m) => moveState(env, m));
  const raw = raws(env, id);
  const wos = workorders(env, id).map((w) => String(env.get("mrp.workorder", w, "state")));
  let next = state;
  if (fin.length && fin.every((s) => s === "cancel")) next = "cancel";
  else if (
    raw.length &&
    raw.every((m) => ["done", "cancel"].includes(moveState(env, m))) &&
    fin.every((s) => s === "done" || s === "cancel")
  )
    next = "done";
  else if (wos.length && wos.every((s) => s === "done" || s === "cancel")) next = "to_close";
  else if (
    !wos.length &&
    float(row["qty_producing"]) >= float(row["product_qty"]) - 1e-9 &&
    float(row["qty_producing"]) > 0
  )
    next = "to_close";
  else if (wos.some((s) => s === "progress" || s === "done")) next = "progress";
  else if (float(row["qty_producing"]) !== 0) next = "progress";
  else if (raw.some((m) => isPicked(env, m))) next = "progress";
  if (next !== state) env.setRaw("mrp.production", id, { state: next });
}

/**
 * `_compute_reservation_state` (mp, 16–19): false for draft/done/cancel orders; otherwise the relevant
 * state among the component moves (17+: those not picked — a consumed component no longer waits),
 * where 'partially_available' reads 'confirmed' ("Waiting"), 'draft' false. Not modelled: a BoM with
 * `ready_to_produce = 'asap'` (the simulator's BoMs have Odoo's default 'all_available'), and 17+'s
 * mrp override that reads 'assigned' when every partially reserved move's quantity covers its demand
 * (only reachable by writing quantities by hand).
 */
export function reservationState(env: Env, id: number): string | false {
  if (["draft", "done", "cancel"].includes(String(mo(env, id)["state"]))) return false;
  const moves = raws(env, id).filter(
    (m) => !(env.profile.picked && env.get("stock.move", m, "picked") === true),
  );
  const relevant = relevantStateAmongMoves(env, moves);
  if (relevant === "partially_available") return "confirmed";
  return relevant === "draft" ? false : relevant;
}

/** `action_confirm`: consumption from the BoM, moves confirmed and reserved, work orders waiting. */
export function confirm(env: Env, ids: number[]): void {
  for (const id of ids) {
    if (mo(env, id)["state"] !== "draft") continue;
    explode(env, id);
    const bom = mo(env, id)["bom_id"] as number | false;
    if (bom) env.setRaw("mrp.production", id, { consumption: env.get("mrp.bom", bom, "consumption") });
    for (const m of [...raws(env, id), ...finished(env, id)])
      if (moveState(env, m) === "draft") env.setRaw("stock.move", m, { state: "confirmed" });
    env.setRaw("mrp.production", id, { state: "confirmed" });
    reserveAtConfirm(env, raws(env, id));
    readyNextWorkorder(env, id);
  }
}

/** The first waiting work order becomes ready (simplified: components availability is not checked). */
export function readyNextWorkorder(env: Env, id: number): void {
  const waiting = env.profile.workorderBlockedState ? "blocked" : "pending";
  const wos = env.sortIds("mrp.workorder", workorders(env, id), "id");
  if (wos.some((w) => ["ready", "progress"].includes(String(env.get("mrp.workorder", w, "state"))))) return;
  const next = wos.find((w) => env.get("mrp.workorder", w, "state") === waiting);
  if (next) env.setRaw("mrp.workorder", next, { state: "ready" });
}

/**
 * `_set_qty_producing(pick_manual_consumption_moves=True)` per version:
 * - serial products: `qty_producing` forced to 1 (≤18) / to the number of serials unless it equals
 *   `product_qty` (19);
 * - each component (and by-product; 19 also a serial finished product) move gets
 *   `(qty_producing - qty_produced) × unit_factor`;
 * - 16 skips done/cancelled moves, moves without demand, tracked components (no auto-consumed lots)
 *   and manual-consumption moves, and fills `qty_done` only;
 * - 17 skips manual-consumption moves already picked and picks the others unless manual;
 * - 18 as 17, but manual-consumption moves are picked too when `pick_manual_consumption_moves`;
 * - 19 skips picked manual/by-product moves; picks when the move has a quantity and is a component
 *   or not serial-tracked, manual ones only with `pick_manual_consumption_moves`.
 */
export function setQtyProducing(env: Env, id: number, pickManual = true): void {
  const p = env.profile;
  let row = mo(env, id);
  if (productTracking(env, id) === "serial") {
    const producing = float(row["qty_producing"]);
    if (p.version <= 18) {
      if (producing !== 1) env.setRaw("mrp.production", id, { qty_producing: 1 });
    } else if (producing !== float(row["product_qty"]))
      env.setRaw("mrp.production", id, { qty_producing: producingLots(env, id).length });
    row = mo(env, id);
  }
  const product = row["product_id"];
  const left = float(row["qty_producing"]) - qtyProduced(env, id);
  const moves = [
    ...raws(env, id),
    ...finished(env, id).filter(
      (m) =>
        env.get("stock.move", m, "product_id") !== product ||
        (p.version >= 19 && env.get("product.product", product as number, "tracking") === "serial"),
    ),
  ];
  for (const m of moves) {
    const move = env.row("stock.move", m);
    const state = String(move["state"]);
    const manual = move["manual_consumption"] === true;
    const isRaw = Boolean(move["raw_material_production_id"]);
    const picked = move["picked"] === true;
    if (state === "done" || state === "cancel" || float(move["product_uom_qty"]) === 0) continue;
    if (p.version === 16) {
      const tracked = env.get("product.product", move["product_id"] as number, "tracking") !== "none";
      const typeId = row["picking_type_id"] as number;
      const autoLots = env.get("stock.picking.type", typeId, "use_auto_consume_components_lots") === true;
      if ((tracked && !autoLots) || manual) continue;
    } else if (p.version <= 18) {
      if (manual && picked) continue;
    } else if (picked && (manual || !isRaw)) continue;
    const unitFactor = float(env.get("stock.move", m, "unit_factor"));
    const qty = round(left * unitFactor);
    setQuantityDone(env, m, Math.max(qty, 0));
    if (p.version === 16) continue;
    const quantity = float(env.get("stock.move", m, "quantity"));
    const pick =
      p.version === 17
        ? !manual
        : p.version === 18
          ? !manual || pickManual
          : (!manual || pickManual) &&
            quantity > 0 &&
            (isRaw || env.get("product.product", move["product_id"] as number, "tracking") !== "serial");
    if (pick) env.write("stock.move", [m], { picked: true });
  }
  recomputeState(env, id);
}

/** `_prepare_stock_lot_values`: the next number of the lot sequence not used for the product. */
function newLot(env: Env, productId: number): number {
  for (;;) {
    const name = String(env.db.nextSequence("stock.lot.serial")).padStart(7, "0");
    if (
      !env.search("stock.lot", [
        ["product_id", "=", productId],
        ["name", "=", name],
      ]).length
    )
      return env.create("stock.lot", { name, product_id: productId });
  }
}

/**
 * `action_generate_serial`: ≤18 a new lot in `lot_producing_id` (serial products then
 * `_set_qty_producing`); 19 (`workorder=False`): a lot product gets one lot ("You cannot set more than 1
 * lot per product" when it has one), a serial product of quantity 1 one serial and `qty_producing` 1,
 * otherwise the `mrp.action_assign_serial_numbers` action.
 */
export function generateSerial(env: Env, id: number): unknown {
  const p = env.profile;
  const product = mo(env, id)["product_id"] as number;
  const tracking = productTracking(env, id);
  if (p.version <= 18) {
    env.write("mrp.production", [id], { lot_producing_id: newLot(env, product) });
    if (tracking === "serial") setQtyProducing(env, id, p.version <= 17);
    return null;
  }
  if (tracking === "lot") {
    if (producingLots(env, id).length) throw new UserError("You cannot set more than 1 lot per product");
    env.write("mrp.production", [id], { lot_producing_ids: [[4, newLot(env, product)]] });
    return null;
  }
  if (tracking === "serial") {
    if (float(mo(env, id)["product_qty"]) === 1 && producingLots(env, id).length === 0) {
      env.write("mrp.production", [id], { lot_producing_ids: [[4, newLot(env, product)]], qty_producing: 1 });
      setQtyProducing(env, id, false);
      return null;
    }
    return {
      type: "ir.actions.act_window",
      name: "Assign Serial Numbers",
      res_model: "mrp.production.serials",
      view_mode: "form",
      target: "new",
      xml_id: "mrp.action_assign_serial_numbers",
      context: { default_production_id: id },
    };
  }
  return null;
}

/**
 * `action_cancel`: 19 refuses a done order; work orders not done are cancelled, component and
 * finished moves not done are cancelled; the state follows the moves, and an order still neither done
 * nor cancelled with a flexible BoM is set done (mrp_production.py `_action_cancel`).
 */
export function cancelProductions(env: Env, ids: number[]): void {
  if (env.profile.version >= 19 && ids.some((id) => mo(env, id)["state"] === "done"))
    throw new UserError("You cannot cancel a manufacturing order that is already done.");
  for (const id of ids) {
    cancelWorkorders(
      env,
      workorders(env, id).filter(
        (w) => !["done", "cancel"].includes(String(env.get("mrp.workorder", w, "state"))),
      ),
    );
    const open = [...finished(env, id), ...raws(env, id)].filter(
      (m) => !["done", "cancel"].includes(moveState(env, m)),
    );
    cancelMoves(env, open);
    const state = String(mo(env, id)["state"]);
    if (state === "done" || state === "cancel") continue;
    const fin = finished(env, id).map((m) => moveState(env, m));
    if (state === "draft" || (fin.length && fin.every((s) => s === "cancel")))
      env.setRaw("mrp.production", id, { state: "cancel" });
    else recomputeState(env, id);
    const bom = mo(env, id)["bom_id"] as number | false;
    const after = String(mo(env, id)["state"]);
    if (
      after !== "done" &&
      after !== "cancel" &&
      bom &&
      env.get("mrp.bom", bom, "consumption") === "flexible"
    )
      env.setRaw("mrp.production", id, { state: "done" });
  }
}

/** Lines of the finished move carry the produced lot(s) (`_prepare_finished_extra_vals` / 19 `lot_ids`). */
export function assignFinishedLots(env: Env, id: number): void {
  const lots = producingLots(env, id);
  if (!lots.length) return;
  const product = mo(env, id)["product_id"];
  for (const m of finished(env, id)) {
    if (env.get("stock.move", m, "product_id") !== product || ["done", "cancel"].includes(moveState(env, m)))
      continue;
    const lines = lineIds(env, m);
    if (env.profile.version >= 19 && productTracking(env, id) === "serial") {
      // `stock.move._set_lot_ids`: one line of 1 per serial
      lines.forEach((l, i) => {
        if (i < lots.length) env.write("stock.move.line", [l], { lot_id: lots[i] });
      });
      continue;
    }
    for (const l of lines) env.write("stock.move.line", [l], { lot_id: lots[0] });
  }
}

export function productionModels(p: Profile): ModelSpec[] {
  const plannedDates: ModelSpec["fields"] =
    p.version === 16
      ? {
          date_planned_start: {
            type: "datetime",
            string: "Scheduled Date",
            required: true,
            copy: false,
            default: (env: Env) => env.now(),
          },
          date_planned_finished: { type: "datetime", string: "Scheduled End Date", copy: false },
          date_start: { type: "datetime", string: "Start Date", readonly: true, copy: false },
          date_finished: { type: "datetime", string: "End Date", readonly: true, copy: false },
        }
      : {
          date_start: {
            type: "datetime",
            string: "Start",
            required: true,
            copy: false,
            default: (env: Env) => env.now(),
          },
          date_finished: { type: "datetime", string: "End", copy: false },
        };
  const lotProducing: ModelSpec["fields"] = p.lotProducingMany
    ? {
        lot_producing_ids: {
          type: "many2many",
          string: "Lot/Serial Numbers",
          relation: "stock.lot",
          copy: false,
        },
      }
    : {
        lot_producing_id: {
          type: "many2one",
          string: "Lot/Serial Number",
          relation: "stock.lot",
          copy: false,
        },
      };
  const group: ModelSpec["fields"] =
    p.version >= 19
      ? {
          production_group_id: {
            type: "many2one",
            string: "Production Group",
            relation: "mrp.production.group",
            copy: false,
            index: true,
          },
        }
      : {
          procurement_group_id: {
            type: "many2one",
            string: "Procurement Group",
            relation: "procurement.group",
            copy: false,
          },
        };
  // scrap moves are not the order's components or products (16–18 `scrapped = False`, 19 destination usage)
  const noScrap = p.version >= 19 ? [["location_dest_usage", "!=", "inventory"]] : [["scrapped", "=", false]];
  const models: ModelSpec[] = [
    {
      name: "mrp.production",
      description: "Production Order",
      order:
        p.version === 16 ? "priority desc, date_planned_start asc,id" : "priority desc, date_start asc,id",
      fields: {
        name: { type: "char", string: "Reference", default: "New", copy: false },
        priority: {
          type: "selection",
          string: "Priority",
          selection: [
            ["0", "Normal"],
            ["1", "Urgent"],
          ],
          default: "0",
        },
        backorder_sequence: { type: "integer", string: "Backorder Sequence", copy: false },
        origin: { type: "char", string: "Source", copy: false },
        product_id: { type: "many2one", string: "Product", relation: "product.product", required: true },
        product_tmpl_id: {
          type: "many2one",
          string: "Product Template",
          relation: "product.template",
          related: "product_id.product_tmpl_id",
        },
        product_tracking: {
          type: "selection",
          string: "Product Tracking",
          selection: [
            ["serial", "By Unique Serial Number"],
            ["lot", "By Lots"],
            ["none", "No Tracking"],
          ],
          related: "product_id.tracking",
        },
        product_qty: { type: "float", string: "Quantity To Produce", default: 1, required: true },
        product_uom_id: {
          type: "many2one",
          string: "Product Unit of Measure",
          relation: "uom.uom",
          required: true,
          default: (env: Env, vals: Vals) =>
            vals["product_id"] ? env.get("product.product", vals["product_id"] as number, "uom_id") : false,
        },
        qty_producing: { type: "float", string: "Quantity Producing", copy: false },
        qty_produced: {
          type: "float",
          string: "Quantity Produced",
          compute: (env, row) => qtyProduced(env, row.id),
        },
        ...lotProducing,
        bom_id: {
          type: "many2one",
          string: "Bill of Material",
          relation: "mrp.bom",
          default: (env: Env, vals: Vals) => {
            if (!vals["product_id"]) return false;
            const tmpl = env.get("product.product", vals["product_id"] as number, "product_tmpl_id");
            return (
              env.search(
                "mrp.bom",
                [
                  "|",
                  ["product_id", "=", vals["product_id"]],
                  "&",
                  ["product_id", "=", false],
                  ["product_tmpl_id", "=", tmpl],
                ],
                { limit: 1 },
              )[0] ?? false
            );
          },
        },
        consumption: {
          type: "selection",
          string: "Consumption",
          selection: [
            ["flexible", "Allowed"],
            ["warning", "Allowed with warning"],
            ["strict", "Blocked"],
          ],
          default: "flexible",
          required: true,
          readonly: true,
        },
        state: {
          type: "selection",
          string: "State",
          selection: MO_STATES,
          default: "draft",
          readonly: true,
          copy: false,
        },
        reservation_state: {
          type: "selection",
          string: "MO Readiness",
          selection: [
            ["confirmed", "Waiting"],
            ["assigned", "Ready"],
            ["waiting", "Waiting Another Operation"],
          ],
          copy: false,
          compute: (env, row) => reservationState(env, row.id),
        },
        ...plannedDates,
        date_deadline: { type: "datetime", string: "Deadline", copy: false },
        is_locked: { type: "boolean", string: "Is Locked", copy: false },
        user_id: {
          type: "many2one",
          string: "Responsible",
          relation: "res.users",
          default: (env: Env) => env.uid,
        },
        picking_type_id: {
          type: "many2one",
          string: "Operation Type",
          relation: "stock.picking.type",
          required: true,
          default: (env: Env) =>
            env.search("stock.picking.type", [["code", "=", "mrp_operation"]], { limit: 1 })[0] ?? false,
        },
        location_src_id: {
          type: "many2one",
          string: "Components Location",
          relation: "stock.location",
          required: true,
          default: (env: Env, vals: Vals) =>
            vals["picking_type_id"]
              ? env.get("stock.picking.type", vals["picking_type_id"] as number, "default_location_src_id")
              : false,
        },
        location_dest_id: {
          type: "many2one",
          string: "Finished Products Location",
          relation: "stock.location",
          required: true,
          default: (env: Env, vals: Vals) =>
            vals["picking_type_id"]
              ? env.get("stock.picking.type", vals["picking_type_id"] as number, "default_location_dest_id")
              : false,
        },
        move_raw_ids: {
          type: "one2many",
          string: "Components",
          relation: "stock.move",
          inverse: "raw_material_production_id",
          domain: noScrap,
          copy: false,
        },
        move_finished_ids: {
          type: "one2many",
          string: "Finished Products",
          relation: "stock.move",
          inverse: "production_id",
          domain: noScrap,
          copy: false,
        },
        workorder_ids: {
          type: "one2many",
          string: "Work Orders",
          relation: "mrp.workorder",
          inverse: "production_id",
          copy: true,
        },
        scrap_ids: { type: "one2many", string: "Scraps", relation: "stock.scrap", inverse: "production_id" },
        ...group,
        mrp_production_backorder_count: {
          type: "integer",
          string: "Count of linked backorder",
          compute: (env, row) =>
            p.version >= 19
              ? row["production_group_id"]
                ? env.search("mrp.production", [["production_group_id", "=", row["production_group_id"]]])
                    .length
                : 0
              : row["procurement_group_id"]
                ? env.search("mrp.production", [["procurement_group_id", "=", row["procurement_group_id"]]])
                    .length
                : 0,
        },
        ...(p.version <= 17
          ? {
              use_auto_consume_components_lots: {
                type: "boolean" as const,
                string: "Auto Consume Components Lots",
                related: "picking_type_id.use_auto_consume_components_lots",
              },
            }
          : {}),
        ...(p.version >= 17
          ? {
              workcenter_id: {
                type: "many2one" as const,
                string: "Work Center",
                relation: "mrp.workcenter",
                compute: (env: Env, row: { id: number }) => {
                  const wos = env.get("mrp.production", row.id, "workorder_ids") as number[];
                  return wos.length ? env.get("mrp.workorder", wos[0] as number, "workcenter_id") : false;
                },
                search: (_env: Env, op: string, value: unknown) => [
                  ["workorder_ids.workcenter_id", op, value],
                ],
              },
            }
          : {}),
      },
      beforeCreate: (env, vals) => {
        if (!vals["name"] || vals["name"] === "New") {
          const type = vals["picking_type_id"] as number;
          const typeRow = env.row("stock.picking.type", type);
          const wh = typeRow["warehouse_id"]
            ? `${env.get("stock.warehouse", typeRow["warehouse_id"] as number, "code")}/`
            : "";
          vals["name"] =
            `${wh}${typeRow["sequence_code"]}/${String(env.db.nextSequence(`picking.${type}`)).padStart(5, "0")}`;
        }
        // create(): a procurement group per order (≤18), a production group (19), unless given
        if (p.version >= 19 && !vals["production_group_id"])
          vals["production_group_id"] = env.create("mrp.production.group", { name: vals["name"] });
        if (p.version <= 18 && !vals["procurement_group_id"])
          vals["procurement_group_id"] = env.create("procurement.group", { name: vals["name"] });
      },
      afterCreate: (env, ids) => {
        // `_split_productions` creates backorders with `skip_compute_move_raw_ids` and copies the moves
        if (env.context["skip_compute_move_raw_ids"]) return;
        for (const id of ids) explode(env, id);
      },
      afterWrite: (env, ids, vals) => {
        if ("qty_producing" in vals) for (const id of ids) recomputeState(env, id);
      },
      constrain: (env, ids) => {
        for (const id of ids) {
          const row = mo(env, id);
          if (float(row["product_qty"]) <= 0) throw sqlCheck("The quantity to produce must be positive!");
          // 19 `_check_lot_producing_ids`
          if (p.lotProducingMany && productTracking(env, id) === "lot" && producingLots(env, id).length > 1)
            throw new UserError("You cannot set more than 1 lot");
        }
      },
      methods: {
        action_confirm: {
          fn: ({ env, ids }) => {
            confirm(env, ids);
            return true;
          },
        },
        action_assign: {
          fn: ({ env, ids }) => {
            for (const id of ids) reserveMoves(env, raws(env, id));
            return true;
          },
        },
        action_cancel: {
          fn: ({ env, ids }) => {
            cancelProductions(env, ids);
            return true;
          },
        },
        action_generate_serial: {
          params: p.version >= 19 ? ["workorder"] : [],
          fn: ({ env, ids }) => generateSerial(env, ensureOne("mrp.production", ids)),
        },
      },
    },
  ];
  // mrp_production.py 17+: `set_qty_producing` (public; 16 has only the private `_set_qty_producing`)
  const spec = models[0] as ModelSpec;
  if (p.version >= 17)
    (spec.methods as NonNullable<ModelSpec["methods"]>)["set_qty_producing"] = {
      fn: ({ env, ids }) => {
        setQtyProducing(env, ensureOne("mrp.production", ids), p.version === 17);
        return null;
      },
    };
  if (p.version >= 19)
    models.push({
      name: "mrp.production.group",
      description: "Production Group",
      fields: {
        name: { type: "char", string: "Name", required: true },
        production_ids: {
          type: "one2many",
          string: "Productions",
          relation: "mrp.production",
          inverse: "production_group_id",
        },
      },
    });
  return models;
}
