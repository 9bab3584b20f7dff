/**
 * Events to rows: what each event of the catalog adds to the lot graph (migrations.ts says what each
 * table holds). Pure: `statementsOf` turns one event into SQL statements, `applyEvents` runs them for
 * a batch inside one transaction, each event at most once (its id in `applied_events`).
 *
 * Every statement is written so that the order of events does not matter: a fact keyed by the event
 * that made it is inserted once; a sum grows by addition; "the current version" of something (a lot's
 * registration, an order's release, a shipment's request) is the one with the greatest (time, event
 * id), whichever arrived first; a row a later event fills in (a lot known only as a component) exists
 * as a placeholder until then. So duplicates, replays and events out of order give the same graph.
 */
import type { EventPayloads, EventType, ProductRef } from "../../../../contracts/src/index.js";
import type { SqlQuery } from "../../../../streams/src/index.js";

/** One event as the projection needs it. */
export interface ProjectedEvent {
  readonly id: string;
  readonly stream: string;
  readonly seq: number;
  readonly type: string;
  readonly value: unknown;
}

/** A statement with its parameters. */
export interface Statement {
  readonly text: string;
  readonly params: readonly unknown[];
}

/** The event types the genealogy is built from; anything else in its streams is acknowledged unread. */
export const GENEALOGY_EVENT_TYPES = [
  "mfg.inventory.lot_registered.v1",
  "mfg.inventory.material_consumed.v1",
  "mfg.inventory.unbuild_posted.v1",
  "mfg.inventory.goods_movement_posted.v1",
  "mfg.production.production_order_released.v1",
  "mfg.production.production_order_completed.v1",
  "mfg.production.production_reported.v1",
  "mfg.production.production_posted.v1",
  "mfg.quality.quality_hold_placed.v1",
  "mfg.quality.quality_hold_released.v1",
  "mfg.shipping.shipment_requested.v1",
  "mfg.shipping.shipment_blocked.v1",
  "mfg.shipping.shipment_cleared.v1",
  "mfg.shipping.shipment_cancelled.v1",
  "mfg.masterdata.product.v1",
  "mfg.masterdata.location.v1",
  "mfg.masterdata.partner.v1",
] as const satisfies readonly EventType[];
export type GenealogyEventType = (typeof GENEALOGY_EVENT_TYPES)[number];

const KNOWN = new Set<string>(GENEALOGY_EVENT_TYPES);
export function isGenealogyEvent(type: string): type is GenealogyEventType {
  return KNOWN.has(type);
}

/** A product's key in the graph: its internal reference, else `#<odoo id>`. */
export function productKey(ref: Pick<ProductRef, "code" | "odooId">): string {
  if (ref.code) return ref.code;
  return ref.odooId !== null ? `#${ref.odooId}` : "#unknown";
}

/** A lot's key: the lot name, `''` for a product's untracked stock. */
const lotKey = (lot: string | null | undefined): string => lot ?? "";

/** A schema name as a quoted identifier (letters, digits and `_` only: checked where it is configured). */
export function quoteSchema(schema: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema))
    throw new Error(`not a schema name: ${JSON.stringify(schema)}`);
  return `"${schema}"`;
}

/**
 * Applies a batch of events in the caller's transaction: each event not applied before (by id) adds
 * its rows. @returns the ids applied now (the others were there already)
 */
export async function applyEvents(
  tx: SqlQuery,
  schema: string,
  events: readonly ProjectedEvent[],
): Promise<string[]> {
  const s = quoteSchema(schema);
  const applied: string[] = [];
  for (const e of events) {
    const { rows } = await tx.query(
      `INSERT INTO ${s}.applied_events (event_id, stream, seq, type) VALUES ($1, $2, $3, $4)
       ON CONFLICT (event_id) DO NOTHING RETURNING event_id`,
      [e.id, e.stream, e.seq, e.type],
    );
    if (rows.length === 0) continue;
    for (const st of statementsOf(s, e)) await tx.query(st.text, st.params);
    applied.push(e.id);
  }
  return applied;
}

/** The statements one event adds (none for a type the genealogy does not use). */
export function statementsOf(s: string, e: ProjectedEvent): Statement[] {
  if (!isGenealogyEvent(e.type)) return [];
  const build = BUILDERS[e.type] as (s: string, id: string, v: unknown) => Statement[];
  return build(s, e.id, e.value);
}

const st = (text: string, ...params: unknown[]): Statement => ({ text, params });

/** A lot row without its registration, so that edges and holds can name it before it is registered. */
const lotPlaceholder = (s: string, product: string, lot: string): Statement =>
  st(`INSERT INTO ${s}.lots (product, lot) VALUES ($1, $2) ON CONFLICT DO NOTHING`, product, lot);

/** One event's part in a component lot → produced lot edge, and the edge's sums. */
function edgePart(
  s: string,
  id: string,
  part: number,
  kind: "consumed" | "unbuilt",
  edge: {
    parent: string;
    parentLot: string;
    child: string;
    childLot: string;
    uom: string;
    quantity: string;
    orderRef: string | null;
    at: Date;
  },
): Statement[] {
  const column = kind === "consumed" ? "consumed" : "returned";
  const { parent, parentLot, child, childLot, uom, quantity, orderRef, at } = edge;
  return [
    lotPlaceholder(s, parent, parentLot),
    lotPlaceholder(s, child, childLot),
    st(
      `INSERT INTO ${s}.edge_events (event_id, part, kind, parent_product, parent_lot, child_product, child_lot,
         uom, quantity, order_ref, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
       ON CONFLICT DO NOTHING`,
      id,
      part,
      kind,
      parent,
      parentLot,
      child,
      childLot,
      uom,
      quantity,
      orderRef,
      at,
    ),
    st(
      `INSERT INTO ${s}.lot_edges AS e (parent_product, parent_lot, child_product, child_lot, uom, ${column},
         orders, first_at, last_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
       ON CONFLICT (parent_product, parent_lot, child_product, child_lot, uom) DO UPDATE SET
         ${column} = e.${column} + EXCLUDED.${column},
         orders = ARRAY(SELECT DISTINCT o FROM unnest(e.orders || EXCLUDED.orders) AS o ORDER BY o),
         first_at = LEAST(e.first_at, EXCLUDED.first_at), last_at = GREATEST(e.last_at, EXCLUDED.last_at)`,
      parent,
      parentLot,
      child,
      childLot,
      uom,
      quantity,
      orderRef ? [orderRef] : [],
      at,
    ),
  ];
}

type Builders = { [K in GenealogyEventType]: (s: string, id: string, v: EventPayloads[K]) => Statement[] };

/** "The current version wins": the row is replaced only by a version with a greater (time, event id). */
const newer = (table: string, time: string, by: string) =>
  `${table}.${by} IS NULL OR (EXCLUDED.${time}, EXCLUDED.${by}) > (${table}.${time}, ${table}.${by})`;

const BUILDERS: Builders = {
  "mfg.inventory.lot_registered.v1": (s, id, v) => [
    st(
      `INSERT INTO ${s}.lots AS l (product, lot, site, supplier_lot, expires_at, registered_at, origin_order,
         registered_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (product, lot) DO UPDATE SET site = EXCLUDED.site, supplier_lot = EXCLUDED.supplier_lot,
         expires_at = EXCLUDED.expires_at, registered_at = EXCLUDED.registered_at,
         origin_order = EXCLUDED.origin_order, registered_by = EXCLUDED.registered_by
       WHERE ${newer("l", "registered_at", "registered_by")}`,
      productKey(v.product),
      v.lot,
      v.site,
      v.supplierLot,
      v.expiresAt,
      v.registeredAt,
      v.orderRef,
      id,
    ),
  ],

  "mfg.inventory.material_consumed.v1": (s, id, v) =>
    edgePart(s, id, 0, "consumed", {
      parent: productKey(v.component),
      parentLot: lotKey(v.componentLot),
      child: productKey(v.producedProduct),
      childLot: lotKey(v.producedLot),
      uom: v.quantity.uom,
      quantity: v.quantity.value,
      orderRef: v.orderRef,
      at: v.consumedAt,
    }),

  // An unbuild gives components back: the edge's returned quantity grows, its consumed sum stays.
  "mfg.inventory.unbuild_posted.v1": (s, id, v) =>
    v.returnedComponents.flatMap((c, i) =>
      edgePart(s, id, i, "unbuilt", {
        parent: productKey(c.component),
        parentLot: lotKey(c.lot),
        child: productKey(v.product),
        childLot: lotKey(v.lot),
        uom: c.quantity.uom,
        quantity: c.quantity.value,
        orderRef: v.orderRef,
        at: v.unbuiltAt,
      }),
    ),

  "mfg.inventory.goods_movement_posted.v1": (s, id, v) => [
    ...(v.lot ? [lotPlaceholder(s, productKey(v.product), v.lot)] : []),
    st(
      `INSERT INTO ${s}.movements (event_id, site, type, product, lot, quantity, uom, from_location, to_location,
         picking_ref, order_ref, odoo_move_id, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
       ON CONFLICT DO NOTHING`,
      id,
      v.site,
      v.movementType,
      productKey(v.product),
      lotKey(v.lot),
      v.quantity.value,
      v.quantity.uom,
      v.fromLocation,
      v.toLocation,
      v.pickingRef,
      v.orderRef,
      v.odooMoveId,
      v.postedAt,
    ),
  ],

  "mfg.production.production_order_released.v1": (s, id, v) => [
    st(
      `INSERT INTO ${s}.orders AS o (order_ref, product, site, line, machine, work_center, quantity, uom,
         lot_to_produce, released_at, released_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
       ON CONFLICT (order_ref) DO UPDATE SET product = EXCLUDED.product, site = EXCLUDED.site,
         line = EXCLUDED.line, machine = EXCLUDED.machine, work_center = EXCLUDED.work_center,
         quantity = EXCLUDED.quantity, uom = EXCLUDED.uom, lot_to_produce = EXCLUDED.lot_to_produce,
         released_at = EXCLUDED.released_at, released_by = EXCLUDED.released_by
       WHERE ${newer("o", "released_at", "released_by")}`,
      v.orderRef,
      productKey(v.product),
      v.equipment.site,
      v.equipment.line,
      v.equipment.machine,
      v.workCenterCode,
      v.quantity.value,
      v.quantity.uom,
      v.lotToProduce,
      v.releasedAt,
      id,
    ),
    ...(v.lotToProduce ? [lotPlaceholder(s, productKey(v.product), v.lotToProduce)] : []),
  ],

  "mfg.production.production_order_completed.v1": (s, id, v) => {
    const lots = [...new Set([...(v.lot ? [v.lot] : []), ...v.lots])].sort();
    return [
      st(
        `INSERT INTO ${s}.orders AS o (order_ref, product, completed_at, produced_quantity, produced_uom,
           completed_lots, completed_by) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (order_ref) DO UPDATE SET completed_at = EXCLUDED.completed_at,
           produced_quantity = EXCLUDED.produced_quantity, produced_uom = EXCLUDED.produced_uom,
           completed_lots = EXCLUDED.completed_lots, completed_by = EXCLUDED.completed_by,
           product = COALESCE(o.product, EXCLUDED.product)
         WHERE ${newer("o", "completed_at", "completed_by")}`,
        v.orderRef,
        productKey(v.product),
        v.completedAt,
        v.producedQuantity.value,
        v.producedQuantity.uom,
        lots,
        id,
      ),
      ...lots.map((lot) => lotPlaceholder(s, productKey(v.product), lot)),
    ];
  },

  "mfg.production.production_reported.v1": (s, id, v) => [
    st(
      `INSERT INTO ${s}.production (event_id, kind, order_ref, lot, site, line, machine, good, reject, uom,
         counting_point, at) VALUES ($1, 'reported', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
       ON CONFLICT DO NOTHING`,
      id,
      v.orderRef,
      v.lot,
      v.equipment.site,
      v.equipment.line,
      v.equipment.machine,
      v.goodQuantity.value,
      v.rejectQuantity.value,
      v.goodQuantity.uom,
      v.countingPoint,
      v.reportedAt,
    ),
  ],

  "mfg.production.production_posted.v1": (s, id, v) => [
    st(
      `INSERT INTO ${s}.production (event_id, kind, order_ref, lot, good, reject, uom, counting_point, at)
       VALUES ($1, 'posted', $2, $3, $4, $5, $6, true, $7) ON CONFLICT DO NOTHING`,
      id,
      v.orderRef,
      v.lot,
      v.postedGoodQuantity.value,
      v.postedRejectQuantity.value,
      v.postedGoodQuantity.uom,
      v.postedAt,
    ),
  ],

  "mfg.quality.quality_hold_placed.v1": (s, id, v) => [
    lotPlaceholder(s, productKey(v.product), v.lot),
    st(
      `INSERT INTO ${s}.holds AS h (hold_id, site, product, lot, reason, placed_at, placed_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (hold_id) DO UPDATE SET site = EXCLUDED.site, reason = EXCLUDED.reason,
         placed_at = EXCLUDED.placed_at, placed_by = EXCLUDED.placed_by
       WHERE ${newer("h", "placed_at", "placed_by")}`,
      v.holdId,
      v.site,
      productKey(v.product),
      v.lot,
      v.reason,
      v.placedAt,
      `${v.placedBy}|${id}`,
    ),
  ],

  "mfg.quality.quality_hold_released.v1": (s, id, v) => [
    lotPlaceholder(s, productKey(v.product), v.lot),
    st(
      `INSERT INTO ${s}.holds AS h (hold_id, site, product, lot, released_at, released_by, release_status,
         release_reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (hold_id) DO UPDATE SET released_at = EXCLUDED.released_at,
         released_by = EXCLUDED.released_by, release_status = EXCLUDED.release_status,
         release_reason = EXCLUDED.release_reason
       WHERE ${newer("h", "released_at", "released_by")}`,
      v.holdId,
      v.site,
      productKey(v.product),
      v.lot,
      v.releasedAt,
      `${v.releasedBy}|${id}`,
      v.status,
      v.reason,
    ),
  ],

  "mfg.shipping.shipment_requested.v1": (s, id, v) => [
    st(
      `INSERT INTO ${s}.shipments AS sh (picking_ref, site, customer_ref, customer_name, sales_order,
         requested_at, requested_by, scheduled_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (picking_ref) DO UPDATE SET site = EXCLUDED.site, customer_ref = EXCLUDED.customer_ref,
         customer_name = EXCLUDED.customer_name, sales_order = EXCLUDED.sales_order,
         requested_at = EXCLUDED.requested_at, requested_by = EXCLUDED.requested_by,
         scheduled_at = EXCLUDED.scheduled_at
       WHERE ${newer("sh", "requested_at", "requested_by")}`,
      v.pickingRef,
      v.site,
      v.customerRef,
      v.customerName,
      v.salesOrderRef,
      v.requestedAt,
      id,
      v.scheduledAt,
    ),
    ...v.lines.flatMap((l, i) => [
      ...(l.lot ? [lotPlaceholder(s, productKey(l.product), l.lot)] : []),
      st(
        `INSERT INTO ${s}.shipment_lines (picking_ref, event_id, line_no, product, lot, quantity, uom)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
        v.pickingRef,
        id,
        i,
        productKey(l.product),
        lotKey(l.lot),
        l.quantity.value,
        l.quantity.uom,
      ),
    ]),
  ],

  "mfg.shipping.shipment_blocked.v1": (s, _id, v) => [
    shipmentMark(s, v.pickingRef, v.site, "blocked_at", v.blockedAt),
  ],
  "mfg.shipping.shipment_cleared.v1": (s, _id, v) => [
    shipmentMark(s, v.pickingRef, v.site, "cleared_at", v.clearedAt),
  ],
  "mfg.shipping.shipment_cancelled.v1": (s, _id, v) => [
    shipmentMark(s, v.pickingRef, v.site, "cancelled_at", v.cancelledAt),
  ],

  "mfg.masterdata.product.v1": (s, _id, v) => [
    st(
      `INSERT INTO ${s}.products AS p (product, odoo_id, name, barcode, unit, tracking, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (product) DO UPDATE SET odoo_id = EXCLUDED.odoo_id, name = EXCLUDED.name,
         barcode = EXCLUDED.barcode, unit = EXCLUDED.unit, tracking = EXCLUDED.tracking,
         updated_at = EXCLUDED.updated_at
       WHERE EXCLUDED.updated_at > p.updated_at`,
      productKey({ code: v.code ?? "", odooId: v.odooId }),
      v.odooId,
      v.name,
      v.barcode,
      v.unit,
      v.tracking,
      v.updatedAt,
    ),
  ],

  "mfg.masterdata.location.v1": (s, _id, v) => [
    st(
      `INSERT INTO ${s}.locations AS l (full_name, odoo_id, usage, barcode, updated_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (full_name) DO UPDATE SET odoo_id = EXCLUDED.odoo_id, usage = EXCLUDED.usage,
         barcode = EXCLUDED.barcode, updated_at = EXCLUDED.updated_at
       WHERE EXCLUDED.updated_at > l.updated_at`,
      v.fullName,
      v.odooId,
      v.usage,
      v.barcode,
      v.updatedAt,
    ),
  ],

  "mfg.masterdata.partner.v1": (s, _id, v) => [
    st(
      `INSERT INTO ${s}.partners AS p (partner_ref, odoo_id, name, country, updated_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (partner_ref) DO UPDATE SET odoo_id = EXCLUDED.odoo_id, name = EXCLUDED.name,
         country = EXCLUDED.country, updated_at = EXCLUDED.updated_at
       WHERE EXCLUDED.updated_at > p.updated_at`,
      // The key shipments name their customer by (the connector's shipment mapping: ref, else the id).
      v.ref ?? String(v.odooId),
      v.odooId,
      v.name,
      v.country,
      v.updatedAt,
    ),
  ],
};

/** A shipment's blocked/cleared/cancelled time: the latest of its kind (a row is made if none yet). */
function shipmentMark(s: string, picking: string, site: string, column: string, at: Date): Statement {
  return st(
    `INSERT INTO ${s}.shipments AS sh (picking_ref, site, ${column}) VALUES ($1, $2, $3)
     ON CONFLICT (picking_ref) DO UPDATE SET ${column} = GREATEST(sh.${column}, EXCLUDED.${column})`,
    picking,
    site,
    at,
  );
}
