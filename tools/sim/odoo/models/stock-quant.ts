/**
 * On-hand stock: `stock.quant` rows per product, internal location and lot, changed only when move
 * lines are done (stock_move_line.py `_action_done` → `stock.quant._update_available_quantity`), and
 * reservation from them (stock_move.py `_action_assign` → `_update_reserved_quantity`: FIFO over the
 * quants of the source location and its children, a tracked product's lot on each line).
 *
 * What the simulator keeps simpler than Odoo: `reserved_quantity` is computed from the open move lines
 * (16: `reserved_uom_qty`; 17+: `quantity` of lines of moves not done) instead of being stored; no
 * packages, owners, removal strategies other than FIFO by `in_date`, or putaway rules.
 */
import { UserError, ValidationError } from "../errors.js";
import type { Env, ModelSpec, Row, Vals } from "../orm.js";

const float = (v: unknown) => (typeof v === "number" ? v : 0);
/** Quantities are kept to 1e-6 (`round`). */
const ROUND_SCALE = 1e6;
export const round = (v: number) => Math.round(v * ROUND_SCALE) / ROUND_SCALE;

/** Storable product: `type == 'product'` (≤17) / `is_storable` (18+). */
export function isStorable(env: Env, productId: number): boolean {
  if (env.profile.isStorable) return env.get("product.product", productId, "is_storable") === true;
  return env.get("product.product", productId, "type") === "product";
}

export function tracking(env: Env, productId: number): string {
  return String(env.get("product.product", productId, "tracking"));
}

/** `stock.location.should_bypass_reservation`: no quants are kept there. */
export function bypassesQuants(env: Env, locationId: number): boolean {
  const loc = env.row("stock.location", locationId);
  const usage = loc["usage"];
  return (
    ["supplier", "customer", "inventory", "production", "view"].includes(String(usage)) ||
    loc["scrap_location"] === true
  );
}

/** Child locations (parent_path) of a location, itself included. */
function locationAndChildren(env: Env, locationId: number): Set<number> {
  const path = String(env.row("stock.location", locationId)["parent_path"] ?? `${locationId}/`);
  const out = new Set<number>();
  for (const r of env.db.table("stock.location").values())
    if (String(r["parent_path"] ?? "").startsWith(path)) out.add(r.id);
  return out;
}

/** Reserved quantity held by open move lines on a quant's product/location/lot. */
export function reservedOn(env: Env, productId: number, locationId: number, lotId: number | false): number {
  const p = env.profile;
  let qty = 0;
  const lines = env.db.table("stock.move.line");
  for (const id of env.db.index("stock.move.line", "product_id").get(productId) ?? []) {
    const line = lines.get(id) as Row;
    if (line["location_id"] !== locationId) continue;
    if ((line["lot_id"] || false) !== (lotId || false)) continue;
    if (line["state"] === "done" || line["state"] === "cancel") continue;
    const move = line["move_id"] ? env.db.table("stock.move").get(line["move_id"] as number) : undefined;
    if (move && (move["state"] === "done" || move["state"] === "cancel")) continue;
    qty += float(p.picked ? line["quantity"] : line["reserved_uom_qty"]);
  }
  return round(qty);
}

export function stockQuantModel(): ModelSpec {
  return {
    name: "stock.quant",
    description: "Quants",
    order: "in_date, id",
    fields: {
      product_id: {
        type: "many2one",
        string: "Product",
        relation: "product.product",
        required: true,
        readonly: true,
      },
      location_id: {
        type: "many2one",
        string: "Location",
        relation: "stock.location",
        required: true,
        readonly: true,
      },
      lot_id: { type: "many2one", string: "Lot/Serial Number", relation: "stock.lot", readonly: true },
      quantity: { type: "float", string: "Quantity", readonly: true },
      reserved_quantity: {
        type: "float",
        string: "Reserved Quantity",
        compute: (env, r) =>
          reservedOn(
            env,
            r["product_id"] as number,
            r["location_id"] as number,
            (r["lot_id"] as number) || false,
          ),
      },
      available_quantity: {
        type: "float",
        string: "Available Quantity",
        compute: (env, r) =>
          round(float(r["quantity"]) - float(env.get("stock.quant", r.id, "reserved_quantity"))),
      },
      in_date: { type: "datetime", string: "Incoming Date", readonly: true },
      product_uom_id: {
        type: "many2one",
        string: "Unit",
        relation: "uom.uom",
        related: "product_id.uom_id",
      },
    },
    methods: {
      // stock_quant.py `create` / `write` outside inventory mode (inventory adjustments are not simulated)
      create: {
        model: true,
        params: ["vals_list"],
        required: 1,
        access: "create",
        fn: () => {
          throw new UserError("Quant's creation is restricted, you can't do this operation.");
        },
      },
      write: {
        params: ["vals"],
        required: 1,
        access: "write",
        fn: () => {
          throw new UserError("Quant's editing is restricted, you can't do this operation.");
        },
      },
    },
  };
}

function findQuant(env: Env, productId: number, locationId: number, lotId: number | false): Row | undefined {
  for (const q of env.db.table("stock.quant").values())
    if (
      q["product_id"] === productId &&
      q["location_id"] === locationId &&
      (q["lot_id"] || false) === (lotId || false)
    )
      return q;
  return undefined;
}

/** `_update_available_quantity`: adds `delta` on hand (negative quants allowed, as in Odoo). */
export function updateQuant(
  env: Env,
  productId: number,
  locationId: number,
  lotId: number | false,
  delta: number,
): void {
  if (!isStorable(env, productId) || bypassesQuants(env, locationId)) return;
  const q = findQuant(env, productId, locationId, lotId);
  if (q) env.setRaw("stock.quant", q.id, { quantity: round(float(q["quantity"]) + delta) });
  else
    env.insertRaw("stock.quant", {
      product_id: productId,
      location_id: locationId,
      lot_id: lotId,
      quantity: round(delta),
      in_date: env.now(),
    });
}

/**
 * stock.quant `check_quantity` (16/17 a constraint, 18/19 from `stock.move._check_quantity` after done):
 * a serial number counts at most once per location.
 */
export function checkSerialQuants(
  env: Env,
  productId: number,
  locationId: number,
  lotId: number | false,
): void {
  if (!lotId || tracking(env, productId) !== "serial") return;
  if (env.get("stock.location", locationId, "usage") === "inventory") return;
  const q = findQuant(env, productId, locationId, lotId);
  if (q && Math.abs(float(q["quantity"])) > 1 + 1e-9)
    throw new ValidationError(
      `The serial number has already been assigned: \n Product: ${env.displayName("product.product", productId)}, Serial Number: ${env.get("stock.lot", lotId, "name")}`,
    );
}

export interface OnHandOptions {
  /** Count child locations too (17 scrap check, reservation). @default true */
  children?: boolean;
  /** Only this lot (false: only quants without lot); undefined: any lot. */
  lot?: number | false;
}

/** Quantity on hand of a product in a location (quant `quantity`, not minus reservations). */
export function onHand(env: Env, productId: number, locationId: number, opts: OnHandOptions = {}): number {
  const locs = opts.children === false ? new Set([locationId]) : locationAndChildren(env, locationId);
  let qty = 0;
  for (const q of env.db.table("stock.quant").values()) {
    if (q["product_id"] !== productId || !locs.has(q["location_id"] as number)) continue;
    if (opts.lot !== undefined && (q["lot_id"] || false) !== (opts.lot || false)) continue;
    qty += float(q["quantity"]);
  }
  return round(qty);
}

interface Candidate {
  locationId: number;
  lotId: number | false;
  available: number;
}

/** Quants a move may reserve from, FIFO (`in_date`, id), with what is left unreserved on each. */
function candidates(env: Env, productId: number, locationId: number, lotId?: number | false): Candidate[] {
  const locs = locationAndChildren(env, locationId);
  const out: Candidate[] = [];
  const quants = [...env.db.table("stock.quant").values()]
    .filter((q) => q["product_id"] === productId && locs.has(q["location_id"] as number))
    .filter((q) => lotId === undefined || (q["lot_id"] || false) === (lotId || false))
    .sort((a, b) => String(a["in_date"]).localeCompare(String(b["in_date"])) || a.id - b.id);
  for (const q of quants) {
    const lot = (q["lot_id"] as number) || false;
    const available = round(
      float(q["quantity"]) - reservedOn(env, productId, q["location_id"] as number, lot),
    );
    if (available > 1e-9) out.push({ locationId: q["location_id"] as number, lotId: lot, available });
  }
  return out;
}

/** What a move already has reserved on its lines. */
export function reservedOnMove(env: Env, moveId: number): number {
  const field = env.profile.picked ? "quantity" : "reserved_uom_qty";
  return round(
    (env.get("stock.move", moveId, "move_line_ids") as number[]).reduce(
      (s, l) => s + float(env.get("stock.move.line", l, field)),
      0,
    ),
  );
}

function lineVals(move: Row, extra: Vals): Vals {
  return {
    move_id: move.id,
    picking_id: move["picking_id"] || false,
    product_id: move["product_id"],
    product_uom_id: move["product_uom"],
    location_id: move["location_id"],
    location_dest_id: move["location_dest_id"],
    ...extra,
  };
}

/**
 * `stock.move._action_assign`: reserves what is on hand (FIFO, lots of tracked products on their
 * lines); a move whose product is not storable or whose source keeps no quants (vendors, production…)
 * is reserved in full without quants. State: assigned, partially_available or confirmed. 17+: a
 * picked move is left alone (`moves_to_assign.filtered(lambda m: not m.picked and …)`): its quantity
 * is what was consumed, not a reservation to top up.
 */
export function reserveMoves(env: Env, moveIds: number[]): void {
  const p = env.profile;
  const qtyField = p.picked ? "quantity" : "reserved_uom_qty";
  for (const id of moveIds) {
    const move = env.row("stock.move", id);
    const state = String(move["state"]);
    if (["done", "cancel", "assigned", "draft"].includes(state)) continue;
    if (p.picked && move["picked"] === true) continue;
    const product = move["product_id"] as number;
    const demand = float(move["product_uom_qty"]);
    let need = round(demand - reservedOnMove(env, id));
    if (need <= 1e-9) {
      env.setRaw("stock.move", id, { state: "assigned" });
      continue;
    }
    if (!isStorable(env, product) || bypassesQuants(env, move["location_id"] as number)) {
      env.create("stock.move.line", lineVals(move, { [qtyField]: need, lot_id: false }));
      env.setRaw("stock.move", id, { state: "assigned" });
      syncMoveFromLines(env, id);
      continue;
    }
    for (const c of candidates(env, product, move["location_id"] as number)) {
      if (need <= 1e-9) break;
      const take = round(Math.min(need, c.available));
      if (tracking(env, product) === "serial" && c.lotId) {
        for (let i = 0; i < Math.floor(take + 1e-9); i++)
          env.create(
            "stock.move.line",
            lineVals(move, { [qtyField]: 1, lot_id: c.lotId, location_id: c.locationId }),
          );
        need = round(need - Math.floor(take + 1e-9));
        continue;
      }
      env.create(
        "stock.move.line",
        lineVals(move, { [qtyField]: take, lot_id: c.lotId, location_id: c.locationId }),
      );
      need = round(need - take);
    }
    const reserved = reservedOnMove(env, id);
    env.setRaw("stock.move", id, {
      state: reserved >= demand - 1e-9 ? "assigned" : reserved > 1e-9 ? "partially_available" : "confirmed",
    });
    syncMoveFromLines(env, id);
  }
}

/** `stock.move._should_bypass_reservation`: a product without quants or a source that keeps none. */
export function bypassesReservation(env: Env, moveId: number): boolean {
  const move = env.row("stock.move", moveId);
  return !isStorable(env, move["product_id"] as number) || bypassesQuants(env, move["location_id"] as number);
}

/**
 * The end of `stock.move._action_confirm` (16–19): confirmed / partially available moves are reserved
 * (`_action_assign`) when they bypass reservation or their operation type's `reservation_method` is
 * 'at_confirm' (the default). 'manual' waits for "Check availability" (`action_assign`) or the
 * scheduler; 'by_date' (reserve N days before the scheduled date, `reservation_date`) is not modelled:
 * such moves wait as with 'manual'.
 */
export function reserveAtConfirm(env: Env, moveIds: number[]): void {
  reserveMoves(
    env,
    moveIds.filter((id) => {
      const state = env.get("stock.move", id, "state");
      if (state !== "confirmed" && state !== "partially_available") return false;
      // a move's operation type is its picking's (stock_move.py `_compute_picking_type_id`), else its own
      const picking = env.get("stock.move", id, "picking_id") as number | false;
      const type = ((picking ? env.get("stock.picking", picking, "picking_type_id") : false) ||
        env.get("stock.move", id, "picking_type_id")) as number | false;
      const method = type ? env.get("stock.picking.type", type, "reservation_method") : "at_confirm";
      return bypassesReservation(env, id) || method === "at_confirm";
    }),
  );
}

/**
 * `stock.move._get_relevant_state_among_moves` (stock_move.py 16–19), for moves without a picking (an
 * order's components): live moves (not done/cancel, not assigned with no demand) sorted by state
 * (confirmed < partially_available < waiting < assigned) then demand; none → 'assigned'; the least
 * available one not assigned while another is (partially) reserved → 'partially_available'; otherwise
 * the state of the most available one ('confirmed' with no demand counts as 'assigned'). The picking
 * `move_type == 'one'` branch does not apply to an order's moves.
 */
export function relevantStateAmongMoves(env: Env, moveIds: number[]): string {
  const rank: Record<string, number> = { assigned: 4, waiting: 3, partially_available: 2, confirmed: 1 };
  const todo = moveIds
    .map((id) => env.row("stock.move", id))
    .filter((m) => !["cancel", "done"].includes(String(m["state"])))
    .filter((m) => !(m["state"] === "assigned" && !float(m["product_uom_qty"])))
    .sort(
      (a, b) =>
        (rank[String(a["state"])] ?? 0) - (rank[String(b["state"])] ?? 0) ||
        float(a["product_uom_qty"]) - float(b["product_uom_qty"]),
    );
  const first = todo[0];
  const last = todo[todo.length - 1];
  if (!first || !last) return "assigned";
  if (
    first["state"] !== "assigned" &&
    todo.some((m) => ["assigned", "partially_available"].includes(String(m["state"])))
  )
    return "partially_available";
  if (last["state"] === "confirmed" && float(last["product_uom_qty"]) === 0) return "assigned";
  return String(last["state"] || "draft");
}

/** `_do_unreserve`: drops the reservation of moves not done (lines with done quantities stay in 16). */
export function unreserveMoves(env: Env, moveIds: number[]): void {
  const p = env.profile;
  for (const id of moveIds) {
    const move = env.row("stock.move", id);
    if (move["state"] === "done" || move["state"] === "cancel") continue;
    for (const l of env.get("stock.move", id, "move_line_ids") as number[]) {
      const line = env.row("stock.move.line", l);
      if (p.picked || float(line["qty_done"]) === 0) env.unlink("stock.move.line", [l]);
      else env.setRaw("stock.move.line", l, { reserved_uom_qty: 0 });
    }
    syncMoveFromLines(env, id);
  }
}

/** 17+: the move's stored `quantity` and `picked` follow its lines (`_compute_quantity`, `_compute_picked`). */
export function syncMoveFromLines(env: Env, moveId: number): void {
  if (!env.profile.picked || !env.exists("stock.move", moveId)) return;
  // This runs after every line written, and a component move of a long order holds thousands of
  // lines: the totals of the lines per move are kept line by line (orm.ts `Database.totals`). The
  // quantity is, to the bit, `round(Σ quantity)` over the move's lines in id order (totals.ts); the
  // lines' quantities are summed as they are, without unit conversion.
  const lines = env.db.totals("stock.move.line", "move_id", "quantity", "picked");
  const quantity = lines.roundedSum(moveId, ROUND_SCALE);
  const move = env.row("stock.move", moveId);
  const vals: Vals = {};
  if (move["quantity"] !== quantity) vals["quantity"] = quantity;
  // `_compute_picked`: done, or any line picked (18+: a move whose lines are all unpicked is unpicked)
  let picked = move["picked"] === true;
  if (move["state"] === "done" || lines.flagged(moveId) > 0) picked = true;
  else if (env.profile.version >= 18 && lines.count(moveId) > 0) picked = false;
  if (move["picked"] !== picked) vals["picked"] = picked;
  if (Object.keys(vals).length) env.setRaw("stock.move", moveId, vals);
}
