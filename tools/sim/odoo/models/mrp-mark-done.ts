/**
 * Closing manufacturing orders: `button_mark_done` and what it runs, per version
 * (mrp/models/mrp_production.py of 16/17/18/19; sources: README "Conformance"):
 *
 *   button_mark_done → sanity checks (`_check_sn_uniqueness`) → pre checks → work orders'
 *   `button_finish` → `_split_productions` (orders in `mo_ids_to_backorder`) → `_post_inventory`
 *   (cancel_backorder=True) → leftover moves written done with no demand → order done, dated now.
 *
 * Pre checks: 16 `_pre_button_mark_done` (immediate wizard when nothing is produced or consumed unless
 * `skip_immediate`; "The quantity to produce must be positive!"; "You must indicate a non-zero amount
 * consumed for at least one of your components"); 17 `pre_button_mark_done` (`_set_quantities` when
 * `qty_producing` is 0); 18 (manual-consumption moves not picked are picked when something is
 * produced; with nothing produced `_set_quantities` if `_auto_production_checks`, else the mass
 * produce wizard); 19 (likewise, but lots are generated: one order without lot → its
 * `action_generate_serial`, several → UserError). Then the consumption check (`consumption` from the
 * BoM; 16 counts done quantities, 17+ picked ones; `skip_consumption`, 16 also `skip_immediate`) →
 * `mrp.consumption.warning`; then the quantity check (`skip_backorder`) → 16 always the
 * `mrp.production.backorder` wizard, 17+ per `stock.picking.type.create_backorder`: ask → the wizard
 * (with `always_backorder_mo_ids`), always → closed with a backorder, never → closed without.
 *
 * `_post_inventory`: 16 moves with nothing done are cancelled by `_action_done(cancel_backorder=True)`;
 * 17+ every raw move not picked is cancelled; the finished move gets `qty_producing - qty_produced`
 * and the lot(s); a work order with no time gets a log ending now (16: expected × qty_produced /
 * product_qty; 17: expected × qty_producing / product_qty; 18/19: expected). 16 also rewrites
 * `product_qty = qty_produced`.
 */
import { UserError } from "../errors.js";
import type { Env, Vals } from "../orm.js";
import {
  assignFinishedLots,
  confirm,
  explode,
  finished,
  generateSerial,
  mo,
  producingLots,
  productTracking,
  qtyProduced,
  raws,
  readyNextWorkorder,
  setQtyProducing,
  workorders,
} from "./mrp-production.js";
import { finishWorkorders, setDuration, workorderDuration } from "./mrp-workorder.js";
import {
  actionDone,
  applyQuantityInverse,
  cancelMoves,
  lineIds,
  moveDoneQty,
  setQuantityDone,
} from "./stock-move.js";
import { reserveMoves, round } from "./stock-quant.js";
import { computeQuantity } from "./uom.js";

const float = (v: unknown) => (typeof v === "number" ? v : 0);
const isZero = (v: number) => Math.abs(v) < 0.005; // product UoM rounding 0.01

/** An `ir.actions.act_window` read by `_for_xml_id`, with its context. */
export function xmlAction(xmlId: string, vals: Vals, context: Vals): Vals {
  return {
    type: "ir.actions.act_window",
    xml_id: xmlId,
    view_mode: "form",
    views: [[false, "form"]],
    target: "new",
    ...vals,
    context,
  };
}

// ---------------------------------------------------------------------- sanity and pre checks

/** `_is_finished_sn_already_produced`: produced (from a production location) and not unbuilt since. */
function serialAlreadyProduced(env: Env, lot: number): boolean {
  const field = env.profile.moveLineQty;
  let produced = 0;
  for (const line of env.db.table("stock.move.line").values()) {
    if (line["lot_id"] !== lot || line["state"] !== "done" || float(line[field]) !== 1) continue;
    const move = line["move_id"] ? env.row("stock.move", line["move_id"] as number) : undefined;
    const from = env.get("stock.location", line["location_id"] as number, "usage");
    const to = env.get("stock.location", line["location_dest_id"] as number, "usage");
    if (from === "production" && !move?.["unbuild_id"]) produced++;
    if (to === "production" && move?.["unbuild_id"]) produced--;
  }
  return produced > 0;
}

function checkSnUniqueness(env: Env, id: number): void {
  if (productTracking(env, id) !== "serial") return;
  const productName = String(env.get("product.product", mo(env, id)["product_id"] as number, "name"));
  for (const lot of producingLots(env, id))
    if (serialAlreadyProduced(env, lot))
      throw new UserError(
        env.profile.version >= 19
          ? `Serial number(s) for product ${productName} already produced`
          : `This serial number for product ${productName} has already been produced`,
      );
}

/** `_auto_production_checks` (18/19). */
function autoProductionChecks(env: Env, id: number): boolean {
  const products = [...raws(env, id), ...finished(env, id)].map(
    (m) => env.get("stock.move", m, "product_id") as number,
  );
  if (products.every((pr) => env.get("product.product", pr, "tracking") === "none")) return true;
  if (float(mo(env, id)["product_qty"]) === 1) return true;
  const reservation = env.get("mrp.production", id, "reservation_state");
  return (
    productTracking(env, id) !== "serial" &&
    ["assigned", "confirmed", "waiting"].includes(String(reservation))
  );
}

/** `_set_quantities` (17+): lot if needed, produce what is left, fill components; tracked manual ones must be picked with lots. */
export function setQuantities(env: Env, id: number): void {
  const p = env.profile;
  if (productTracking(env, id) !== "none" && producingLots(env, id).length === 0) generateSerial(env, id);
  const row = mo(env, id);
  if (p.version <= 18 && productTracking(env, id) === "serial" && float(row["qty_producing"]) > 1)
    env.setRaw("mrp.production", id, { qty_producing: 1 });
  else
    env.setRaw("mrp.production", id, {
      qty_producing: round(float(row["product_qty"]) - qtyProduced(env, id)),
    });
  setQtyProducing(env, id);
  const missing: string[] = [];
  for (const m of raws(env, id)) {
    const move = env.row("stock.move", m);
    if (["done", "cancel"].includes(String(move["state"])) || !float(move["product_uom_qty"])) continue;
    if (move["manual_consumption"] !== true) continue;
    if (env.get("product.product", move["product_id"] as number, "tracking") === "none") continue;
    const lineWithoutLot = lineIds(env, m).some((l) => {
      const line = env.row("stock.move.line", l);
      return float(line["quantity"]) > 0 && line["picked"] === true && !line["lot_id"];
    });
    if (move["picked"] !== true || lineWithoutLot)
      missing.push(`\n  - ${env.displayName("product.product", move["product_id"] as number)}`);
  }
  if (missing.length)
    throw new UserError(
      p.version === 17
        ? `You need to supply Lot/Serial Number for products and 'consume' them:${missing.join("")}`
        : `You need to supply Lot/Serial Number for products and 'consume' them: ${missing.join("")}`,
    );
}

/** 16 `_check_immediate`: nothing produced and no done quantity on automatically consumed components. */
function needsImmediate(env: Env, id: number): boolean {
  if (!isZero(float(mo(env, id)["qty_producing"]))) return false;
  return raws(env, id)
    .filter((m) => env.get("stock.move", m, "manual_consumption") !== true)
    .filter((m) => !["done", "cancel"].includes(String(env.get("stock.move", m, "state"))))
    .every((m) => isZero(moveDoneQty(env, m)));
}

interface ConsumptionIssue {
  production: number;
  product: number;
  consumed: number;
  expected: number;
}

/** `_get_consumption_issues`: per product, the BoM's quantity for `qty_producing` against what is consumed. */
export function consumptionIssues(env: Env, ids: number[]): ConsumptionIssue[] {
  const p = env.profile;
  if (env.context["skip_consumption"] || (p.version === 16 && env.context["skip_immediate"])) return [];
  const issues: ConsumptionIssue[] = [];
  for (const id of ids) {
    const row = mo(env, id);
    const bom = row["bom_id"] as number | false;
    if (row["consumption"] === "flexible" || !bom) continue;
    const lines = env.get("mrp.bom", bom, "bom_line_ids") as number[];
    if (!lines.length) continue;
    const bomQty = float(env.get("mrp.bom", bom, "product_qty")) || 1;
    // The order's quantity in the BoM's unit (`product_uom_id._compute_quantity(..., bom_id.product_uom_id)`).
    const orderQty = computeQuantity(
      env,
      float(row["product_qty"]),
      row["product_uom_id"],
      env.get("mrp.bom", bom, "product_uom_id"),
    );
    const expected = new Map<number, number>();
    for (const l of lines) {
      const product = env.get("mrp.bom.line", l, "product_id") as number;
      const perOrder = (float(env.get("mrp.bom.line", l, "product_qty")) * orderQty) / bomQty;
      expected.set(
        product,
        (expected.get(product) ?? 0) + (perOrder * float(row["qty_producing"])) / float(row["product_qty"]),
      );
    }
    const done = new Map<number, number>();
    for (const m of raws(env, id)) {
      const product = env.get("stock.move", m, "product_id") as number;
      const qty = p.picked
        ? env.get("stock.move", m, "picked") === true
          ? moveDoneQty(env, m)
          : 0
        : moveDoneQty(env, m);
      if (!expected.has(product) && !isZero(qty)) {
        issues.push({ production: id, product, consumed: qty, expected: 0 });
        continue;
      }
      done.set(product, (done.get(product) ?? 0) + qty);
    }
    for (const [product, qty] of expected) {
      const consumed = round(done.get(product) ?? 0);
      if (!isZero(round(qty) - consumed))
        issues.push({ production: id, product, consumed, expected: round(qty) });
    }
  }
  return issues;
}

function consumptionWizard(env: Env, ids: number[], issues: ConsumptionIssue[]): Vals {
  const lines = issues.map((i) => [
    0,
    0,
    {
      mrp_production_id: i.production,
      product_id: i.product,
      consumption: mo(env, i.production)["consumption"],
      product_uom_id: env.get("product.product", i.product, "uom_id"),
      product_consumed_qty_uom: i.consumed,
      product_expected_qty_uom: i.expected,
    },
  ]);
  return xmlAction(
    "mrp.action_mrp_consumption_warning",
    { name: "Consumption Warning", res_model: "mrp.consumption.warning" },
    {
      ...env.context,
      default_mrp_production_ids: ids,
      default_mrp_consumption_warning_line_ids: lines,
      form_view_ref: false,
    },
  );
}

function backorderWizard(env: Env, ids: number[], issues: number[], extra: Vals = {}): Vals {
  return xmlAction(
    "mrp.action_mrp_production_backorder",
    {
      name:
        env.profile.version >= 19
          ? "You produced less than the initial demand"
          : "You produced less than initial demand",
      res_model: "mrp.production.backorder",
    },
    {
      ...env.context,
      ...extra,
      default_mrp_production_ids: ids,
      default_mrp_production_backorder_line_ids: issues.map((id) => [
        0,
        0,
        { mrp_production_id: id, to_backorder: true },
      ]),
    },
  );
}

function immediateWizard(env: Env, ids: number[]): Vals {
  return {
    name: "Immediate Production?",
    type: "ir.actions.act_window",
    view_mode: "form",
    res_model: "mrp.immediate.production",
    views: [[false, "form"]],
    view_id: false,
    target: "new",
    context: { ...env.context, default_mo_ids: ids.map((id) => [4, id]) },
  };
}

const quantityToBackorder = (env: Env, id: number) =>
  Math.max(float(mo(env, id)["product_qty"]) - float(mo(env, id)["qty_producing"]), 0);

/** The pre checks of the version: `true` to go on, or the action dict to return. */
function preMarkDone(env: Env, ids: number[]): unknown {
  const p = env.profile;
  for (const id of ids) checkSnUniqueness(env, id);
  if (p.version === 16) {
    if (!env.context["skip_immediate"]) {
      const immediate = ids.filter((id) => needsImmediate(env, id));
      if (immediate.length) return immediateWizard(env, immediate);
    }
    for (const id of ids) {
      if (isZero(float(mo(env, id)["qty_producing"])))
        throw new UserError("The quantity to produce must be positive!");
      const components = raws(env, id);
      if (components.length && components.every((m) => isZero(moveDoneQty(env, m))))
        throw new UserError(
          "You must indicate a non-zero amount consumed for at least one of your components",
        );
    }
  } else if (p.version === 17) {
    for (const id of ids) if (isZero(float(mo(env, id)["qty_producing"]))) setQuantities(env, id);
    for (const id of ids)
      if (isZero(float(mo(env, id)["qty_producing"])))
        throw new UserError("The quantity to produce must be positive!");
  } else {
    const auto: number[] = [];
    const missingLots: number[] = [];
    for (const id of ids) {
      if (!isZero(float(mo(env, id)["qty_producing"]))) {
        const manual = raws(env, id).filter(
          (m) =>
            env.get("stock.move", m, "manual_consumption") === true &&
            env.get("stock.move", m, "picked") !== true,
        );
        if (manual.length) env.write("stock.move", manual, { picked: true });
        continue;
      }
      if (autoProductionChecks(env, id)) auto.push(id);
      else if (p.version === 18) return massProduceAction(id);
      else if (producingLots(env, id).length === 0) missingLots.push(id);
    }
    if (missingLots.length > 1)
      throw new UserError("You need to generate Lot/Serial Number(s) to mark as done some productions");
    if (missingLots.length === 1) return generateSerial(env, missingLots[0] as number);
    for (const id of auto) setQuantities(env, id);
  }
  const issues = consumptionIssues(env, ids);
  if (issues.length) return consumptionWizard(env, ids, issues);
  if (env.context["skip_backorder"]) return true;
  const short = ids.filter((id) => !isZero(quantityToBackorder(env, id)));
  if (!short.length) return true;
  // 16 ignores `create_backorder` (no read of it in mrp 16)
  if (p.version === 16) return backorderWizard(env, ids, short);
  const policy = (id: number) =>
    String(env.get("stock.picking.type", mo(env, id)["picking_type_id"] as number, "create_backorder"));
  const always = short.filter((id) => policy(id) === "always");
  const ask = short.filter((id) => policy(id) === "ask");
  if (ask.length) return backorderWizard(env, ids, ask, { always_backorder_mo_ids: always });
  if (always.length) {
    const res = markDone(env.withContext({ skip_backorder: true, mo_ids_to_backorder: always }), ids);
    // 19: the returned action says whether everything got done
    if (p.version >= 19 && res !== true && res && typeof res === "object") {
      const action = res as Vals;
      action["context"] = {
        ...((action["context"] as Vals | undefined) ?? {}),
        marked_as_done: ids.every((id) => mo(env, id)["state"] === "done"),
      };
    }
    return res;
  }
  return true;
}

/** 18 `action_mass_produce`: the `mrp.batch.produce` wizard. */
function massProduceAction(id: number): Vals {
  return xmlAction(
    "mrp.action_mrp_batch_produce",
    { name: "Batch Produce", res_model: "mrp.batch.produce" },
    { default_production_id: id },
  );
}

// ---------------------------------------------------------------------- closing

/** `_get_name_backorder`: `-001`-style suffix; a trailing `-digits` is replaced under the version's condition. */
export function backorderName(env: Env, name: string, sequence: number, groupMaxSequence: number): string {
  if (!sequence) return name;
  const suffix = `-${String(sequence).padStart(3, "0")}`;
  const trailing = /-\d+$/;
  const replace = env.profile.version >= 18 ? groupMaxSequence > 1 || sequence > 1 : sequence > 1;
  if (trailing.test(name) && replace) return name.replace(trailing, suffix);
  return name + suffix;
}

function groupSiblings(env: Env, id: number): number[] {
  const field = env.profile.version >= 19 ? "production_group_id" : "procurement_group_id";
  const group = mo(env, id)[field];
  return group ? env.search("mrp.production", [[field, "=", group]]) : [id];
}

/**
 * `_split_productions` with the default amounts (`qty_producing`, the rest): the original keeps what
 * was produced and is renamed `-001`, the backorder `-00n` (`copy_data` of the order with
 * `_get_backorder_mo_vals`: copy=False fields dropped, custom fields as their `copied` flag says; the
 * procurement/production group shared), its moves copies of the original's for the rest.
 */
function splitProduction(env: Env, id: number): number {
  const p = env.profile;
  const row = mo(env, id);
  const initialQty = float(row["product_qty"]);
  const producing = float(row["qty_producing"]);
  const remaining = round(quantityToBackorder(env, id));
  if (!float(row["backorder_sequence"])) env.setRaw("mrp.production", id, { backorder_sequence: 1 });
  const maxSeq = () =>
    Math.max(
      1,
      ...groupSiblings(env, id).map((s) => float(env.get("mrp.production", s, "backorder_sequence"))),
    );
  const renamed = backorderName(env, String(row["name"]), float(mo(env, id)["backorder_sequence"]), maxSeq());
  env.setRaw("mrp.production", id, { name: renamed });
  for (const m of [...raws(env, id), ...finished(env, id)]) {
    env.setRaw("stock.move", m, {
      origin: renamed,
      reference: renamed,
      ...(p.stockMoveName ? { name: renamed } : {}),
    });
  }
  const defaults: Vals = {
    lot_producing_id: undefined,
    origin: row["origin"],
    state: row["state"] === "draft" ? "draft" : "confirmed",
    date_deadline: row["date_deadline"],
  };
  if (p.lotProducingMany) defaults["lot_producing_ids"] = [[5]];
  else defaults["lot_producing_id"] = false;
  if (p.version >= 19) defaults["production_group_id"] = row["production_group_id"];
  else defaults["procurement_group_id"] = row["procurement_group_id"];
  const vals = env.copyData("mrp.production", id, defaults);
  env.setRaw("mrp.production", id, { product_qty: producing });
  const nextSeq = maxSeq() + 1;
  const backorder = env.withContext({ skip_compute_move_raw_ids: true }).create("mrp.production", {
    ...vals,
    product_qty: remaining,
    name: backorderName(env, renamed, nextSeq, maxSeq()),
    backorder_sequence: nextSeq,
  });
  // moves: the original's demand scaled to what it produced; copies for the backorder
  for (const m of [...raws(env, id), ...finished(env, id)]) {
    const move = env.row("stock.move", m);
    if (move["additional"] === true) continue;
    const unitFactor = float(move["product_uom_qty"]) / (initialQty || 1);
    const copy = env.copyData("stock.move", m, {
      state: move["state"] === "draft" ? "draft" : "confirmed",
      product_uom_qty: round(remaining * unitFactor),
      [move["raw_material_production_id"] ? "raw_material_production_id" : "production_id"]: backorder,
      origin: row["origin"] || false,
      reference: env.get("mrp.production", backorder, "name"),
      workorder_id: false,
      ...(p.stockMoveName ? { name: env.get("mrp.production", backorder, "name") } : {}),
    });
    env.setRaw("stock.move", m, { product_uom_qty: round(producing * unitFactor) });
    // the reservation beyond what was consumed goes back (Odoo moves it to the backorder's moves)
    if (!p.picked)
      for (const l of lineIds(env, m))
        env.setRaw("stock.move.line", l, { reserved_uom_qty: env.get("stock.move.line", l, "qty_done") });
    env.create("stock.move", copy);
  }
  explode(env, backorder); // work orders (Odoo copies them: same operations, durations recomputed)
  for (const w of workorders(env, id)) {
    const done = float(env.get("mrp.workorder", w, "qty_produced"));
    env.setRaw("mrp.workorder", w, { qty_produced: Math.min(done, producing) });
  }
  if (env.get("mrp.production", backorder, "state") !== "draft") {
    reserveMoves(env, raws(env, backorder));
    readyNextWorkorder(env, backorder);
  }
  return backorder;
}

/** `_post_inventory(cancel_backorder=True)` of one order. */
function postInventory(env: Env, id: number): void {
  const p = env.profile;
  const rawTodo: number[] = [];
  const rawCancel: number[] = [];
  for (const m of raws(env, id)) {
    const state = String(env.get("stock.move", m, "state"));
    if (state === "done" || state === "cancel") continue;
    if (p.picked && env.get("stock.move", m, "picked") !== true) rawCancel.push(m);
    else rawTodo.push(m);
  }
  actionDone(env, rawTodo, { cancelBackorder: true });
  cancelMoves(env, rawCancel);
  const row = mo(env, id);
  const product = row["product_id"];
  for (const m of finished(env, id)) {
    if (env.get("stock.move", m, "product_id") !== product) continue;
    if (["done", "cancel"].includes(String(env.get("stock.move", m, "state")))) continue;
    const qty = round(float(row["qty_producing"]) - qtyProduced(env, id));
    if (p.picked) applyQuantityInverse(env, m, qty);
    else if (isZero(moveDoneQty(env, m))) setQuantityDone(env, m, qty);
  }
  assignFinishedLots(env, id);
  // work orders with no time get a log ending now (`workorder.duration = …`, inverse `_set_duration`)
  for (const w of workorders(env, id)) {
    const state = String(env.get("mrp.workorder", w, "state"));
    if (p.version >= 19 && state === "cancel") continue;
    if (workorderDuration(env, w) !== 0) continue;
    const expected = float(env.get("mrp.workorder", w, "duration_expected"));
    const planned = float(row["product_qty"]) || 1;
    let minutes = expected;
    if (p.version === 16) minutes = (expected * finishedDoneQty(env, id)) / planned;
    else if (p.version === 17) minutes = (expected * float(row["qty_producing"])) / planned;
    if (minutes > 0) setDuration(env, w, round(minutes));
  }
  const toFinish = finished(env, id).filter(
    (m) => !["done", "cancel"].includes(String(env.get("stock.move", m, "state"))),
  );
  if (p.picked && toFinish.length) env.write("stock.move", toFinish, { picked: true });
  actionDone(env, toFinish, { cancelBackorder: true });
}

/** 16: `qty_produced` at that point counts the finished move's done quantity set just before. */
function finishedDoneQty(env: Env, id: number): number {
  const product = mo(env, id)["product_id"];
  return round(
    finished(env, id)
      .filter(
        (m) =>
          env.get("stock.move", m, "product_id") === product &&
          env.get("stock.move", m, "state") !== "cancel",
      )
      .reduce((s, m) => s + moveDoneQty(env, m), 0),
  );
}

/** `button_mark_done`: `true` when closed, or the action dict Odoo returns. */
export function markDone(env: Env, ids: number[]): unknown {
  const p = env.profile;
  if (ids.length === 0) return true;
  confirm(
    env,
    ids.filter((id) => mo(env, id)["state"] === "draft"),
  );
  let ctxEnv = env;
  if (p.version === 16 && !env.context["button_mark_done_production_ids"])
    ctxEnv = env.withContext({ button_mark_done_production_ids: ids });
  const res = preMarkDone(ctxEnv, ids);
  if (res !== true) return res;
  const toBackorder = new Set(
    ((ctxEnv.context["mo_ids_to_backorder"] as number[] | undefined) ?? []).filter((id) => ids.includes(id)),
  );
  finishWorkorders(
    ctxEnv,
    ids.flatMap((id) => workorders(env, id)),
  );
  const backorders: number[] = [];
  for (const id of ids)
    if (toBackorder.has(id) && !isZero(quantityToBackorder(env, id)))
      backorders.push(splitProduction(ctxEnv, id));
  for (const id of ids) postInventory(ctxEnv, id);
  for (const id of ids) {
    if (toBackorder.has(id)) continue;
    for (const m of [...raws(env, id), ...finished(env, id)])
      if (!["done", "cancel"].includes(String(env.get("stock.move", m, "state"))))
        env.setRaw("stock.move", m, { state: "done", product_uom_qty: 0 });
  }
  for (const id of ids) {
    const vals: Vals = { date_finished: env.now(), priority: "0", is_locked: true, state: "done" };
    if (p.version === 16) vals["product_qty"] = qtyProduced(env, id);
    env.setRaw("mrp.production", id, vals);
  }
  if (!backorders.length || (p.version >= 17 && ctxEnv.context["skip_redirection"])) return true;
  const context: Vals = {};
  for (const [k, v] of Object.entries(ctxEnv.context)) {
    if (k.startsWith("default_")) continue;
    context[k] = k.startsWith("skip_") ? false : v;
  }
  context["mo_ids_to_backorder"] = null;
  if (p.version === 16) context["button_mark_done_production_ids"] = null;
  const action: Vals = { res_model: "mrp.production", type: "ir.actions.act_window", context };
  if (backorders.length === 1) {
    if (p.version >= 17) action["views"] = [[false, "form"]];
    action["view_mode"] = "form";
    action["res_id"] = backorders[0];
  } else {
    action["name"] = "Backorder MO";
    action["domain"] = [["id", "in", backorders]];
    if (p.version >= 17)
      action["views"] = [
        [false, "list"],
        [false, "form"],
      ];
    action["view_mode"] = p.version >= 18 ? "list,form" : "tree,form";
  }
  return action;
}
