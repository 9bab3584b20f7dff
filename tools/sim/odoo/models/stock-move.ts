/**
 * Stock move behaviour shared by pickings, manufacturing orders, scraps and unbuilds: the done
 * quantity (16: `qty_done` on lines, `quantity_done` on the move; 17+: `quantity` + `picked`),
 * setting it as `_set_quantity_done` does, `_action_done` (lot checks of `stock.move.line._action_done`,
 * quants, dates) and `_action_cancel`.
 *
 * Sources: stock/models/stock_move.py (`_set_quantity_done_prepare_vals`, `_quantity_done_set` (16),
 * `_set_quantity` (17+), `_action_done`, `_action_cancel`), stock/models/stock_move_line.py
 * (`_action_done`) of 16/17/18/19 (the trees of tools/sim/odoo/README.md, "Conformance").
 */
import { UserError } from "../errors.js";
import type { Env, Row, Vals } from "../orm.js";
import {
  checkSerialQuants,
  round,
  syncMoveFromLines,
  tracking,
  unreserveMoves,
  updateQuant,
} from "./stock-quant.js";
import { inProductUom } from "./uom.js";

const float = (v: unknown) => (typeof v === "number" ? v : 0);

export function lineIds(env: Env, moveId: number): number[] {
  return env.get("stock.move", moveId, "move_line_ids") as number[];
}

/** Done quantity of a move: `quantity_done` (16) or `quantity` (17+; counts only when picked at close). */
export function moveDoneQty(env: Env, moveId: number): number {
  if (env.profile.picked) return float(env.get("stock.move", moveId, "quantity"));
  return round(
    lineIds(env, moveId).reduce((s, l) => s + float(env.get("stock.move.line", l, "qty_done")), 0),
  );
}

/** Whether a move counts as consumed/produced: 16 any done quantity, 17+ `picked`. */
export function isPicked(env: Env, moveId: number): boolean {
  if (env.profile.picked) return env.get("stock.move", moveId, "picked") === true;
  return moveDoneQty(env, moveId) > 0;
}

function newLine(env: Env, move: Row, vals: Vals): number {
  return env.create("stock.move.line", {
    move_id: move.id,
    picking_id: move["picking_id"] || false,
    product_id: move["product_id"],
    product_uom_id: move["product_uom"],
    location_id: move["location_id"],
    location_dest_id: move["location_dest_id"],
    ...vals,
  });
}

/**
 * `_set_quantity_done(qty)`: 17+ takes from the lines in order (a line keeps min(left, its quantity),
 * lines past the quantity are deleted) and puts the rest on a new line without lot (one per unit for a
 * serial product); 16 adds `qty_done` to reserved lines first, then a new line, after clearing the
 * done quantities (mrp's `_set_qty_producing` zeroes them first).
 */
export function setQuantityDone(env: Env, moveId: number, qty: number): void {
  if (qty < 0) throw new UserError("You can not enter negative quantities.");
  const move = env.row("stock.move", moveId);
  const serial = tracking(env, move["product_id"] as number) === "serial";
  let left = round(qty);
  if (env.profile.picked) {
    for (const l of lineIds(env, moveId)) {
      const lineQty = float(env.get("stock.move.line", l, "quantity"));
      if (left <= 1e-9) {
        env.unlink("stock.move.line", [l]);
        continue;
      }
      if (lineQty <= 0) continue;
      const take = round(Math.min(left, lineQty));
      env.write("stock.move.line", [l], { quantity: take });
      left = round(left - take);
    }
    if (left > 1e-9) {
      if (serial) for (let i = 0; i < Math.floor(left + 1e-9); i++) newLine(env, move, { quantity: 1 });
      else newLine(env, move, { quantity: left });
    }
    syncMoveFromLines(env, moveId);
    return;
  }
  for (const l of lineIds(env, moveId)) env.write("stock.move.line", [l], { qty_done: 0 });
  for (const l of lineIds(env, moveId)) {
    if (left <= 1e-9) break;
    const reserved = float(env.get("stock.move.line", l, "reserved_uom_qty"));
    if (reserved <= 0) continue;
    const take = round(Math.min(left, reserved));
    env.write("stock.move.line", [l], { qty_done: take });
    left = round(left - take);
  }
  for (const l of lineIds(env, moveId)) {
    const line = env.row("stock.move.line", l);
    if (float(line["reserved_uom_qty"]) === 0 && float(line["qty_done"]) === 0)
      env.unlink("stock.move.line", [l]);
  }
  if (left > 1e-9) {
    if (serial) for (let i = 0; i < Math.floor(left + 1e-9); i++) newLine(env, move, { qty_done: 1 });
    else newLine(env, move, { qty_done: left });
  }
}

/**
 * The inverse of the move's quantity written over RPC: 16 `quantity_done` (`_quantity_done_set`:
 * increases fill reserved lines then a new one; decreases take from lines without reservation first),
 * 17+ `quantity` (`_set_quantity`: increases → `_set_quantity_done(quantity)`, decreases remove from
 * lines in order, deleting emptied ones).
 */
export function applyQuantityInverse(env: Env, moveId: number, qty: number): void {
  if (qty < 0) throw new UserError("You can not enter negative quantities.");
  const current = env.profile.picked
    ? round(lineIds(env, moveId).reduce((s, l) => s + float(env.get("stock.move.line", l, "quantity")), 0))
    : moveDoneQty(env, moveId);
  const delta = round(qty - current);
  if (Math.abs(delta) < 1e-9) {
    syncMoveFromLines(env, moveId);
    return;
  }
  const field = env.profile.moveLineQty;
  if (delta > 0) {
    if (env.profile.picked) {
      setQuantityDone(env, moveId, qty);
      return;
    }
    let left = delta;
    for (const l of lineIds(env, moveId)) {
      const line = env.row("stock.move.line", l);
      const room = round(float(line["reserved_uom_qty"]) - float(line["qty_done"]));
      if (room <= 0 || left <= 0) continue;
      const take = Math.min(room, left);
      env.write("stock.move.line", [l], { qty_done: round(float(line["qty_done"]) + take) });
      left = round(left - take);
    }
    if (left > 1e-9) {
      const move = env.row("stock.move", moveId);
      const lines = lineIds(env, moveId);
      const last = lines[lines.length - 1];
      if (last !== undefined && lines.length === 1)
        env.write("stock.move.line", [last], {
          qty_done: round(float(env.get("stock.move.line", last, "qty_done")) + left),
        });
      else newLine(env, move, { qty_done: left });
    }
    return;
  }
  let remove = -delta;
  const lines = lineIds(env, moveId).map((l) => env.row("stock.move.line", l));
  if (!env.profile.picked)
    lines.sort((a, b) => Number(float(a["reserved_uom_qty"]) > 0) - Number(float(b["reserved_uom_qty"]) > 0));
  for (const line of lines) {
    if (remove <= 1e-9) break;
    const have = float(line[field]);
    const take = round(Math.min(have, remove));
    if (take <= 0) continue;
    if (env.profile.picked && Math.abs(have - take) < 1e-9) env.unlink("stock.move.line", [line.id]);
    else env.write("stock.move.line", [line.id], { [field]: round(have - take) });
    remove = round(remove - take);
  }
  syncMoveFromLines(env, moveId);
}

/** The tracked-product message of `stock.move.line._action_done` (wording per version). */
export function missingLotError(env: Env, productNames: string[]): UserError {
  const names = [...new Set(productNames)];
  if (env.profile.version >= 18)
    return new UserError(
      `You need to supply a Lot/Serial Number for product:\n${names.map((n) => `- ${n}`).join("\n")}`,
    );
  return new UserError(`You need to supply a Lot/Serial Number for product: \n - ${names.join("\n - ")}`);
}

/**
 * The lot rules of `stock.move.line._action_done` for lines with a quantity: a tracked product without
 * lot on a move without operation type fails unless it is an inventory line or (19) a scrap's; with an
 * operation type, a `lot_name` becomes a lot when the type creates lots (`use_create_lots`), an
 * existing lot of that name is used; otherwise it fails unless the type uses no lots at all.
 */
function checkLinesLots(env: Env, moveIds: number[]): void {
  const field = env.profile.moveLineQty;
  const missing: string[] = [];
  for (const moveId of moveIds) {
    const move = env.row("stock.move", moveId);
    const product = move["product_id"] as number;
    if (tracking(env, product) === "none") continue;
    const typeId = move["picking_type_id"] as number | false;
    const type = typeId ? env.row("stock.picking.type", typeId) : undefined;
    for (const l of lineIds(env, moveId)) {
      const line = env.row("stock.move.line", l);
      if (float(line[field]) <= 0 || line["lot_id"]) continue;
      // 19 `_exclude_requiring_lot`: a scrap's line needs no lot when its move has no operation type
      const exempt =
        line["is_inventory"] === true || (env.profile.version >= 19 && Boolean(move["scrap_id"]));
      if (!type) {
        if (!exempt) missing.push(env.displayName("product.product", product));
        continue;
      }
      if (type["use_create_lots"] !== true && type["use_existing_lots"] !== true) continue;
      const lotName = line["lot_name"];
      if (type["use_create_lots"] === true && lotName) {
        const [existing] = env.search("stock.lot", [
          ["product_id", "=", product],
          ["name", "=", lotName],
        ]);
        const lot = existing ?? env.create("stock.lot", { name: lotName, product_id: product });
        env.setRaw("stock.move.line", l, { lot_id: lot });
        continue;
      }
      missing.push(env.displayName("product.product", product));
    }
  }
  if (missing.length) throw missingLotError(env, missing);
}

export interface DoneOptions {
  /** `cancel_backorder`: moves with nothing done are cancelled instead of waiting for a backorder. */
  cancelBackorder?: boolean;
}

/**
 * `stock.move._action_done`: 17+ drops unpicked lines of picked moves and cancels moves that are not
 * picked or have no quantity (when `cancel_backorder` or no demand); 16 cancels moves with nothing
 * done the same way. The rest: lot checks, lines without quantity deleted, quants moved (serial
 * numbers at most once per location), lines and moves done and dated now.
 */
export function actionDone(env: Env, moveIds: number[], opts: DoneOptions = {}): number[] {
  const p = env.profile;
  const field = p.moveLineQty;
  const todo: number[] = [];
  for (const id of moveIds) {
    const move = env.row("stock.move", id);
    if (move["state"] === "done" || move["state"] === "cancel") continue;
    if (move["state"] === "draft") env.setRaw("stock.move", id, { state: "confirmed" });
    if (p.picked && move["picked"] === true)
      for (const l of lineIds(env, id))
        if (env.get("stock.move.line", l, "picked") !== true) env.unlink("stock.move.line", [l]);
    syncMoveFromLines(env, id);
    const qty = moveDoneQty(env, id);
    const notDone = p.picked ? qty <= 0 || env.get("stock.move", id, "picked") !== true : qty <= 0;
    if (notDone && move["is_inventory"] !== true) {
      if (float(move["product_uom_qty"]) === 0 || opts.cancelBackorder) cancelMoves(env, [id]);
      continue;
    }
    todo.push(id);
  }
  checkLinesLots(env, todo);
  const touched: [number, number, number | false][] = [];
  for (const id of todo) {
    for (const l of lineIds(env, id)) {
      const line = env.row("stock.move.line", l);
      const qty = float(line[field]);
      if (qty <= 0 && line["is_inventory"] !== true) {
        env.unlink("stock.move.line", [l]);
        continue;
      }
      const product = line["product_id"] as number;
      const lot = (line["lot_id"] as number) || false;
      // Stock is kept in the product's unit (`quantity_product_uom`): 2 Dozens done are 24 Units on hand.
      const stock = inProductUom(
        env,
        qty,
        line["product_uom_id"] || env.get("stock.move", id, "product_uom"),
        product,
      );
      updateQuant(env, product, line["location_id"] as number, lot, -stock);
      updateQuant(env, product, line["location_dest_id"] as number, lot, stock);
      touched.push([product, line["location_dest_id"] as number, lot]);
      env.setRaw("stock.move.line", l, {
        state: "done",
        date: env.now(),
        ...(p.picked ? { picked: true } : {}),
      });
    }
    env.setRaw("stock.move", id, { state: "done", date: env.now(), ...(p.picked ? { picked: true } : {}) });
    syncMoveFromLines(env, id);
  }
  for (const [product, location, lot] of touched) checkSerialQuants(env, product, location, lot);
  return todo;
}

/**
 * `stock.move._action_cancel`: a done move cannot be cancelled unless it is a scrap (16–18 `scrapped`,
 * 19 destination usage inventory); the reservation is dropped, 17+ `picked` reset, state cancel.
 */
export function cancelMoves(env: Env, moveIds: number[]): void {
  for (const id of moveIds) {
    const move = env.row("stock.move", id);
    if (move["state"] === "done" && !isScrapMove(env, move))
      throw new UserError(
        "You cannot cancel a stock move that has been set to 'Done'. Create a return in order to reverse the moves which took place.",
      );
  }
  for (const id of moveIds) {
    const move = env.row("stock.move", id);
    if (move["state"] === "cancel" || move["state"] === "done") continue;
    if (env.profile.picked) env.setRaw("stock.move", id, { picked: false });
    unreserveMoves(env, [id]);
    for (const l of lineIds(env, id)) env.unlink("stock.move.line", [l]);
    env.setRaw("stock.move", id, { state: "cancel", ...(env.profile.picked ? { quantity: 0 } : {}) });
  }
}

/** A scrap move: 16–18 `scrapped` (destination `scrap_location`), 19 destination usage `inventory`. */
export function isScrapMove(env: Env, move: Row): boolean {
  const dest = env.row("stock.location", move["location_dest_id"] as number);
  if (env.profile.version >= 19) return dest["usage"] === "inventory";
  return dest["scrap_location"] === true;
}
