/**
 * mrp.production → ProductionOrderReleased / ProductionOrderChanged / ProductionOrderCompleted.
 *
 * The decision needs what the order looked like when the last event was published: a small snapshot
 * per order in KV (`odoo-connector.<db>.mo.<id>`), written once that event is acknowledged.
 *
 * | snapshot | Odoo state now                   | events                                            |
 * |----------|----------------------------------|---------------------------------------------------|
 * | none     | draft, cancel                    | none (not released; nothing stored)               |
 * | none     | confirmed, progress, to_close    | Released                                          |
 * | none     | done                             | Released, then Completed (a Completed is never orphaned) |
 * | some     | not done, tracked fields differ  | Changed with changedFields (cancel: STATE, not COMPONENTS) |
 * | some     | done                             | Completed (it supersedes what changed with it)    |
 * | done     | anything                         | none (the order's story is over)                  |
 *
 * Tracked fields: quantity (product_qty + uom), planned start/end (fields.ts names them), state, line
 * (the first work order's work center that `lineByWorkcenter` maps, else the first's), work center code, lot to produce, and the components
 * (product, demand, uom, reserved lot of the raw-material moves; COMPONENTS has no value field in the
 * contract, consumers re-read the order), and the materials: what Odoo has reserved per component
 * move against its demand (fields.ts `moveReserved`: 16 `reserved_availability`, 17+ `quantity`; a
 * done move counts as covered), AVAILABLE when every move is covered, PARTIAL when something is
 * reserved, else UNAVAILABLE. Odoo writes the order only when its stored `reservation_state` changes
 * (Waiting → Ready), not when a short component gets more of its demand, so a second source
 * (`productionMovesSource`) follows the component moves' write_date and re-reads their orders. A
 * snapshot stored before the materials were tracked has none: the order's next read publishes one
 * Changed with MATERIALS (the availability it never announced), never more. Ids: Released and Completed are derived from the order id
 * only (once per order, whatever was rewritten since); Changed from the order, its write_date and the
 * change itself.
 */
import { createHash } from "node:crypto";
import type {
  ComponentAvailability,
  ComponentRequirement,
  EquipmentPath,
  MaterialAvailability,
  OrderField,
  OrderState,
  ProductionOrderChanged,
  ProductionOrderReleased,
  ProductRef,
} from "../../../../../contracts/src/index.js";
import type { Emission, InboundSource, MappingContext, PageResult, StateWrite } from "../source.js";
import {
  decimal,
  m2oId,
  m2oName,
  num,
  type OdooRow,
  odooDate,
  productOf,
  quantity,
  text,
  x2mIds,
} from "../values.js";

const MODEL = "mrp.production";
const RELEASED_STATES = new Set(["confirmed", "progress", "to_close"]);

const ORDER_STATES: Readonly<Record<string, OrderState>> = {
  draft: "DRAFT",
  confirmed: "CONFIRMED",
  progress: "PROGRESS",
  to_close: "TO_CLOSE",
  done: "DONE",
  cancel: "CANCEL",
};

export function orderState(odooState: unknown): OrderState {
  return (typeof odooState === "string" && ORDER_STATES[odooState]) || "UNKNOWN";
}

/** What the connector remembers of an order between passes. */
export interface OrderSnapshot {
  readonly v: 1;
  readonly state: string;
  readonly qty: string;
  readonly uom: string;
  readonly start: string | null;
  readonly end: string | null;
  readonly workCenter: string | null;
  readonly line: string | null;
  readonly lot: string | null;
  /** Digest of the components (product, demand, uom, lot). */
  readonly components: string;
  /** Digest of the materials (state, per component product, demand, reserved); absent in older snapshots. */
  readonly materials?: string;
}

/** The order as it is now, with everything an event may carry. */
interface OrderView {
  readonly row: OdooRow;
  readonly ref: string;
  readonly product: ProductRef;
  readonly snapshot: OrderSnapshot;
  readonly plannedStart: Date;
  readonly plannedEnd: Date | null;
  readonly equipment: EquipmentPath;
  readonly components: ComponentRequirement[];
  readonly materials: MaterialAvailability;
  readonly writeDate: Date;
  /** Every finished lot (19: several serials). */
  readonly lots: string[];
  /** Finished product scrapped from the order (done scraps). */
  readonly scrapped: number;
}

export const productionSource: InboundSource = {
  model: MODEL,
  cursorField: "write_date",
  triggeredBy: [MODEL],
  domain: () => [],
  fields: ({ fields: f }) => [
    "name",
    "state",
    "product_id",
    "product_qty",
    "product_uom_id",
    "qty_produced",
    f.moPlannedStart,
    f.moPlannedEnd,
    "date_finished",
    f.moLotProducing.field,
    "move_raw_ids",
    "workorder_ids",
    "origin",
    "create_date",
    "write_date",
  ],
  map: mapOrders,
};

/**
 * The orders' component moves (`raw_material_production_id` set), by their write_date: a reservation
 * (`_action_assign` writes the move's state, 17+ its stored `quantity`) re-reads the order.
 */
export const productionMovesSource: InboundSource = {
  model: "stock.move",
  follows: MODEL,
  cursorField: "write_date",
  triggeredBy: ["stock.move"],
  domain: () => [["raw_material_production_id", "!=", false]],
  fields: () => ["raw_material_production_id", "state", "write_date"],
  map: async (rows, ctx) => {
    const ids = [...new Set(rows.map((r) => m2oId(r["raw_material_production_id"]) ?? 0))];
    const orders = await ctx.related.load(MODEL, ids, productionSource.fields(ctx));
    return mapOrders(
      [...orders.values()].sort((a, b) => a.id - b.id),
      ctx,
    );
  },
};

async function mapOrders(rows: readonly OdooRow[], ctx: MappingContext): Promise<PageResult> {
  const views = await viewsOf(rows, ctx);
  const events: Emission[] = [];
  const writes: StateWrite[] = [];
  const previous = await Promise.all(
    views.map((v) => ctx.state.get<OrderSnapshot>(ctx.stateKey("mo", v.row.id))),
  );
  views.forEach((view, i) => {
    const prev = previous[i];
    const next = decide(view, prev, ctx);
    events.push(...next);
    // Every difference in a tracked field is an event, so the snapshot changes exactly when one is emitted.
    if (next.length > 0) writes.push({ key: ctx.stateKey("mo", view.row.id), value: view.snapshot });
  });
  return { events, writes };
}

function decide(view: OrderView, prev: OrderSnapshot | undefined, ctx: MappingContext): Emission[] {
  const state = view.snapshot.state;
  if (!prev) {
    if (RELEASED_STATES.has(state)) return [released(view, ctx)];
    if (state === "done") return [released(view, ctx), completed(view, ctx)];
    return [];
  }
  if (prev.state === "done") return [];
  // Completion supersedes whatever else changed with it (Odoo 17+ also overwrites date_finished, the
  // planned end, with the completion time).
  if (state === "done") return [completed(view, ctx)];
  // A cancelled order's component moves are cancelled with it: that is not a change of its components
  // nor of their availability.
  const changedFields = diff(prev, view.snapshot).filter(
    (f) => !(state === "cancel" && (f === "COMPONENTS" || f === "MATERIALS")),
  );
  return changedFields.length > 0 ? [changed(view, prev, changedFields, ctx)] : [];
}

function diff(a: OrderSnapshot, b: OrderSnapshot): OrderField[] {
  const out: OrderField[] = [];
  if (a.qty !== b.qty || a.uom !== b.uom) out.push("QUANTITY");
  if (a.start !== b.start) out.push("PLANNED_START");
  if (a.end !== b.end) out.push("PLANNED_END");
  if (a.state !== b.state) out.push("STATE");
  if (a.line !== b.line) out.push("EQUIPMENT");
  if (a.workCenter !== b.workCenter) out.push("WORK_CENTER");
  if (a.lot !== b.lot) out.push("LOT_TO_PRODUCE");
  if (a.components !== b.components) out.push("COMPONENTS");
  if (a.materials !== b.materials) out.push("MATERIALS");
  return out;
}

function released(view: OrderView, ctx: MappingContext): Emission {
  const { row, snapshot } = view;
  // Odoo keeps no confirmation time: the write that confirmed it, when that is the order's last state;
  // otherwise (first seen already running or done) its creation, the latest time known to precede it.
  const releasedAt =
    snapshot.state === "confirmed" ? view.writeDate : (odooDate(row["create_date"]) ?? view.writeDate);
  const payload: ProductionOrderReleased = {
    orderRef: view.ref,
    odooOrderId: BigInt(row.id),
    product: view.product,
    quantity: { value: snapshot.qty, uom: snapshot.uom },
    plannedStartAt: view.plannedStart,
    plannedEndAt: view.plannedEnd,
    equipment: view.equipment,
    workCenterCode: snapshot.workCenter,
    lotToProduce: snapshot.lot,
    components: view.components,
    origin: text(row["origin"]),
    materials: view.materials,
    releasedAt,
  };
  return {
    type: "mfg.production.production_order_released.v1",
    payload,
    ...target(view),
    id: ctx.eventId(MODEL, row.id, "released"),
    time: releasedAt,
  };
}

function changed(
  view: OrderView,
  prev: OrderSnapshot,
  changedFields: OrderField[],
  ctx: MappingContext,
): Emission {
  const { row, snapshot } = view;
  const has = (f: OrderField) => changedFields.includes(f);
  const payload: ProductionOrderChanged = {
    orderRef: view.ref,
    odooOrderId: BigInt(row.id),
    changedFields,
    quantity: has("QUANTITY") ? { value: snapshot.qty, uom: snapshot.uom } : null,
    plannedStartAt: has("PLANNED_START") ? view.plannedStart : null,
    plannedEndAt: has("PLANNED_END") ? view.plannedEnd : null,
    state: has("STATE") ? orderState(snapshot.state) : null,
    previousState: has("STATE") ? orderState(prev.state) : null,
    equipment: has("EQUIPMENT") ? view.equipment : null,
    workCenterCode: has("WORK_CENTER") ? snapshot.workCenter : null,
    lotToProduce: has("LOT_TO_PRODUCE") ? snapshot.lot : null,
    materials: has("MATERIALS") ? view.materials : null,
    changedAt: view.writeDate,
  };
  const change = createHash("sha256")
    .update(JSON.stringify({ from: prev, to: snapshot }))
    .digest("base64url")
    .slice(0, 16);
  return {
    type: "mfg.production.production_order_changed.v1",
    payload,
    ...target(view),
    id: ctx.eventId(MODEL, row.id, "changed", String(row["write_date"]), change),
    time: view.writeDate,
  };
}

function completed(view: OrderView, ctx: MappingContext): Emission {
  const { row, snapshot } = view;
  const completedAt = odooDate(row["date_finished"]) ?? view.writeDate;
  const scrapped = view.scrapped;
  return {
    type: "mfg.production.production_order_completed.v1",
    payload: {
      orderRef: view.ref,
      odooOrderId: BigInt(row.id),
      product: view.product,
      producedQuantity: quantity(row["qty_produced"], row["product_uom_id"]),
      scrappedQuantity: scrapped > 0 ? quantity(scrapped, row["product_uom_id"]) : null,
      lot: snapshot.lot,
      lots: view.lots,
      equipment: view.equipment,
      completedAt,
    },
    ...target(view),
    id: ctx.eventId(MODEL, row.id, "completed"),
    time: completedAt,
  };
}

function target(view: OrderView): { key: string; line?: string } {
  return view.equipment.line ? { key: view.ref, line: view.equipment.line } : { key: view.ref };
}

/** Loads what the page's orders refer to (products, components, work centers, lots) in a few reads. */
async function viewsOf(rows: readonly OdooRow[], ctx: MappingContext): Promise<OrderView[]> {
  const f = ctx.fields;
  const lotField = f.moLotProducing.field;
  const moves = await ctx.related.load(
    "stock.move",
    rows.flatMap((r) => x2mIds(r["move_raw_ids"])),
    ["product_id", "product_uom_qty", "product_uom", "move_line_ids", "state", f.moveReserved],
  );
  const lines = await ctx.related.load(
    "stock.move.line",
    [...moves.values()].flatMap((m) => x2mIds(m["move_line_ids"])),
    ["lot_id", "lot_name"],
  );
  const products = await ctx.related.products([
    ...rows.map((r) => m2oId(r["product_id"]) ?? 0),
    ...[...moves.values()].map((m) => m2oId(m["product_id"]) ?? 0),
  ]);
  // The order's line: that of the first work order (in operation order) whose work centre the map
  // knows; else the first work order's work centre (a routing may pass work centres of no line).
  const workorders = await ctx.related.load(
    "mrp.workorder",
    rows.flatMap((r) => x2mIds(r["workorder_ids"])),
    ["workcenter_id"],
  );
  const workcenters = await ctx.related.load(
    "mrp.workcenter",
    [...workorders.values()].map((w) => m2oId(w["workcenter_id"]) ?? 0),
    ["code", "name"],
  );
  const lotIds = f.moLotProducing.many ? rows.flatMap((r) => x2mIds(r[lotField])) : [];
  const lots = await ctx.related.load("stock.lot", lotIds, ["name"]);
  // Scrapped finished product per done order (the order's own product, done scraps).
  const doneIds = rows.filter((r) => r["state"] === "done").map((r) => r.id);
  const scraps = doneIds.length
    ? await ctx.client.searchRead<OdooRow>(
        "stock.scrap",
        [
          ["production_id", "in", doneIds],
          ["state", "=", "done"],
        ],
        { fields: ["production_id", "product_id", "scrap_qty"] },
      )
    : [];

  return rows.map((row) => {
    const ref = text(row["name"]) ?? `${MODEL}:${row.id}`;
    const centres = x2mIds(row["workorder_ids"])
      .map((id) => workcenters.get(m2oId(workorders.get(id)?.["workcenter_id"]) ?? 0))
      .map((wc) => (wc ? (text(wc["code"]) ?? text(wc["name"])) : null))
      .filter((c): c is string => c !== null);
    const workCenter = centres.find((c) => ctx.lineByWorkcenter[c] !== undefined) ?? centres[0] ?? null;
    const line = workCenter ? (ctx.lineByWorkcenter[workCenter] ?? workCenter) : null;
    const allLots = f.moLotProducing.many
      ? x2mIds(row[lotField])
          .map((id) => text(lots.get(id)?.["name"]))
          .filter((n): n is string => n !== null)
      : [m2oName(row[lotField])].filter((n): n is string => n !== null);
    const lot = allLots[0] ?? null;
    const productId = m2oId(row["product_id"]);
    const scrapped = scraps
      .filter((s) => m2oId(s["production_id"]) === row.id && m2oId(s["product_id"]) === productId)
      .reduce((sum, s) => sum + num(s["scrap_qty"]), 0);
    const components: ComponentRequirement[] = x2mIds(row["move_raw_ids"]).flatMap((id) => {
      const move = moves.get(id);
      if (!move || move["state"] === "cancel") return [];
      const lotName =
        x2mIds(move["move_line_ids"])
          .map((l) => lines.get(l))
          .map((l) => m2oName(l?.["lot_id"]) ?? text(l?.["lot_name"]))
          .find((n) => n !== null) ?? null;
      return [
        {
          product: productOf(move["product_id"], products),
          quantity: quantity(move["product_uom_qty"], move["product_uom"]),
          lot: lotName,
        },
      ];
    });
    const materials = materialsOf(
      x2mIds(row["move_raw_ids"])
        .map((id) => moves.get(id))
        .filter((m): m is OdooRow => m !== undefined && m["state"] !== "cancel"),
      f.moveReserved,
      products,
    );
    const writeDate = odooDate(row["write_date"]) ?? new Date();
    const plannedStart = odooDate(row[f.moPlannedStart]) ?? odooDate(row["create_date"]) ?? writeDate;
    const plannedEnd = odooDate(row[f.moPlannedEnd]);
    const snapshot: OrderSnapshot = {
      v: 1,
      state: text(row["state"]) ?? "draft",
      qty: decimal(num(row["product_qty"])),
      uom: m2oName(row["product_uom_id"]) ?? "Units",
      start: plannedStart.toISOString(),
      end: plannedEnd?.toISOString() ?? null,
      workCenter,
      line,
      lot,
      components: createHash("sha256")
        .update(
          JSON.stringify(components.map((c) => [c.product.code, c.quantity.value, c.quantity.uom, c.lot])),
        )
        .digest("base64url")
        .slice(0, 16),
      materials: createHash("sha256")
        .update(
          JSON.stringify([
            materials.state,
            materials.components.map((c) => [
              c.product.code,
              c.required.value,
              c.reserved.value,
              c.reserved.uom,
            ]),
          ]),
        )
        .digest("base64url")
        .slice(0, 16),
    };
    return {
      row,
      ref,
      product: productOf(row["product_id"], products),
      snapshot,
      plannedStart,
      plannedEnd,
      equipment: { site: ctx.site, area: null, line, cell: null, machine: null },
      components,
      materials,
      writeDate,
      lots: allLots,
      scrapped,
    };
  });
}

/**
 * Per component move: its demand and what Odoo reserved for it (a done move: its demand, consumed);
 * AVAILABLE when every move is covered (or there is none), PARTIAL when something is reserved.
 */
function materialsOf(
  moves: readonly OdooRow[],
  reservedField: string,
  products: Parameters<typeof productOf>[1],
): MaterialAvailability {
  const components: ComponentAvailability[] = moves.map((move) => {
    const required = num(move["product_uom_qty"]);
    const reserved = move["state"] === "done" ? required : num(move[reservedField]);
    return {
      product: productOf(move["product_id"], products),
      required: quantity(required, move["product_uom"]),
      reserved: quantity(reserved, move["product_uom"]),
    };
  });
  const covered = (c: ComponentAvailability) => Number(c.reserved.value) >= Number(c.required.value);
  const state = components.every(covered)
    ? "AVAILABLE"
    : components.some((c) => Number(c.reserved.value) > 0)
      ? "PARTIAL"
      : "UNAVAILABLE";
  return { state, components };
}
