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
import {
  type EventPayloads,
  type EventType,
  formatDecimal,
  type ProductRef,
} from "../../../../contracts/src/index.js";
import { type Micros, microsOf, type SqlQuery } from "../../../../streams/src/index.js";

/** One event as the projection needs it. */
export interface ProjectedEvent {
  readonly id: string;
  readonly stream: string;
  readonly seq: number;
  readonly type: string;
  readonly value: unknown;
}

/**
 * What an event writes. `applyEvents` runs a batch's writes in as few statements as it can: the plain
 * rows of one table in one multi-row insert, the lot placeholders in one, the edges' sums added up per
 * edge first and upserted in one; the other statements one by one.
 */
export type Write =
  | { readonly kind: "sql"; readonly text: string; readonly params: readonly unknown[] }
  | { readonly kind: "lot"; readonly product: string; readonly lot: string }
  | { readonly kind: "row"; readonly table: RowTable; readonly values: readonly unknown[] }
  | {
      readonly kind: "edge";
      readonly key: readonly [
        parent: string,
        parentLot: string,
        child: string,
        childLot: string,
        uom: string,
      ];
      readonly consumed: Micros;
      readonly returned: Micros;
      /** A consumption (else an unbuild's return). */
      readonly consumedPart: boolean;
      readonly orderRef: string | null;
      readonly at: Date;
    };

/**
 * Tables written by plain inserts of facts keyed by the event that made them (`ON CONFLICT DO
 * NOTHING`): their columns and SQL types, in the order a `row` write gives its values (the synthetic
 * history's bulk loader writes the same columns).
 */
export const ROW_TABLES = {
  edge_events: [
    ["event_id", "text"],
    ["part", "int"],
    ["kind", "text"],
    ["parent_product", "text"],
    ["parent_lot", "text"],
    ["child_product", "text"],
    ["child_lot", "text"],
    ["uom", "text"],
    ["quantity", "numeric"],
    ["order_ref", "text"],
    ["at", "timestamptz"],
  ],
  movements: [
    ["event_id", "text"],
    ["site", "text"],
    ["type", "text"],
    ["product", "text"],
    ["lot", "text"],
    ["quantity", "numeric"],
    ["uom", "text"],
    ["from_location", "text"],
    ["to_location", "text"],
    ["picking_ref", "text"],
    ["order_ref", "text"],
    ["odoo_move_id", "bigint"],
    ["at", "timestamptz"],
  ],
  production: [
    ["event_id", "text"],
    ["kind", "text"],
    ["order_ref", "text"],
    ["lot", "text"],
    ["site", "text"],
    ["line", "text"],
    ["machine", "text"],
    ["good", "numeric"],
    ["reject", "numeric"],
    ["uom", "text"],
    ["counting_point", "boolean"],
    ["at", "timestamptz"],
  ],
  shipment_lines: [
    ["picking_ref", "text"],
    ["event_id", "text"],
    ["line_no", "int"],
    ["product", "text"],
    ["lot", "text"],
    ["quantity", "numeric"],
    ["uom", "text"],
  ],
} as const;
type RowTable = keyof typeof ROW_TABLES;

/** One statement with its parameters. */
export type Statement = Extract<Write, { kind: "sql" }>;

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
 * its rows. Round trips are what a batch costs (one per statement on a server), so the batch's ids are
 * claimed in one statement and its writes compiled into as few as `Write` allows.
 * @returns the ids applied now (the others were there already)
 */
export async function applyEvents(
  tx: SqlQuery,
  schema: string,
  events: readonly ProjectedEvent[],
): Promise<string[]> {
  if (events.length === 0) return [];
  const s = quoteSchema(schema);
  const { rows } = await tx.query<{ event_id: string }>(
    `INSERT INTO ${s}.applied_events (event_id, stream, seq, type)
     SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[])
     ON CONFLICT (event_id) DO NOTHING RETURNING event_id`,
    [
      events.map((e) => e.id),
      events.map((e) => e.stream),
      events.map((e) => e.seq),
      events.map((e) => e.type),
    ],
  );
  const fresh = new Set(rows.map((r) => r.event_id));
  const applied: string[] = [];
  const writes: Write[] = [];
  for (const e of events) {
    // An id twice in one batch (a redelivery beside its original) is applied once.
    if (!fresh.delete(e.id)) continue;
    writes.push(...writesOf(s, e));
    applied.push(e.id);
  }
  for (const st of compile(s, writes)) await tx.query(st.text, st.params);
  return applied;
}

/**
 * What one event writes (nothing for a type the genealogy does not use).
 * @throws Error with SQLSTATE 22023 (the database's "invalid parameter value": the event is unusable,
 *   as when the database refuses it) when a value cannot be read, e.g. a quantity past 6 decimals
 */
export function writesOf(s: string, e: ProjectedEvent): Write[] {
  if (!isGenealogyEvent(e.type)) return [];
  const build = BUILDERS[e.type] as (s: string, id: string, v: unknown) => Write[];
  try {
    return build(s, e.id, e.value);
  } catch (err) {
    throw Object.assign(new Error(`${e.type} ${e.id}: ${(err as Error).message}`), {
      code: "22023",
      cause: err,
    });
  }
}

/** A batch's writes as statements: rows, placeholders and edges grouped, the rest as they are. */
function compile(s: string, writes: readonly Write[]): Statement[] {
  const out: Statement[] = [];
  const lots = new Map<string, readonly [string, string]>();
  const rows = new Map<RowTable, (readonly unknown[])[]>();
  const edges = new Map<
    string,
    {
      key: readonly string[];
      consumed: Micros;
      returned: Micros;
      /** How many events added to each sum. */
      consumedBy: number;
      returnedBy: number;
      orders: Set<string>;
      first: Date;
      last: Date;
    }
  >();
  for (const w of writes) {
    if (w.kind === "sql") out.push(w);
    else if (w.kind === "lot") lots.set(`${w.product}\u0000${w.lot}`, [w.product, w.lot]);
    else if (w.kind === "row") {
      const list = rows.get(w.table) ?? [];
      rows.set(w.table, list);
      list.push(w.values);
    } else {
      const k = w.key.join("\u0000");
      const e = edges.get(k) ?? {
        key: w.key,
        consumed: 0n,
        returned: 0n,
        consumedBy: 0,
        returnedBy: 0,
        orders: new Set(),
        first: w.at,
        last: w.at,
      };
      edges.set(k, e);
      e.consumed += w.consumed;
      e.returned += w.returned;
      if (w.consumedPart) e.consumedBy++;
      else e.returnedBy++;
      if (w.orderRef) e.orders.add(w.orderRef);
      if (w.at < e.first) e.first = w.at;
      if (w.at > e.last) e.last = w.at;
    }
  }
  // Placeholders and edges in key order: two replicas' batches then lock the rows they share in the
  // same order, so they wait for each other instead of deadlocking (writer.ts retries what is left).
  const byKey = <V>(m: Map<string, V>) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (lots.size > 0) {
    const sorted = byKey(lots).map(([, l]) => l);
    out.push(
      sql(
        `INSERT INTO ${s}.lots (product, lot) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING`,
        sorted.map((l) => l[0]),
        sorted.map((l) => l[1]),
      ),
    );
  }
  for (const [table, values] of rows) {
    const columns = ROW_TABLES[table];
    out.push(
      sql(
        `INSERT INTO ${s}.${table} (${columns.map(([c]) => c).join(", ")})
         SELECT ${columns.map(([c, type]) => `${c}::${type}`).join(", ")}
         FROM unnest(${columns.map((_, i) => `$${i + 1}::text[]`).join(", ")}) AS x(${columns.map(([c]) => c).join(", ")})
         ON CONFLICT DO NOTHING`,
        ...columns.map((_, i) => values.map((v) => asText(v[i]))),
      ),
    );
  }
  if (edges.size > 0) {
    const all = byKey(edges).map(([, e]) => e);
    out.push(
      sql(
        `INSERT INTO ${s}.lot_edges AS e (parent_product, parent_lot, child_product, child_lot, uom, consumed,
           returned, orders, first_at, last_at)
         SELECT p, pl, c, cl, u, n::numeric, r::numeric, string_to_array(o, E'\\x1f'), f::timestamptz, l::timestamptz
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
           $9::text[], $10::text[]) AS x(p, pl, c, cl, u, n, r, o, f, l)
         ON CONFLICT (parent_product, parent_lot, child_product, child_lot, uom) DO UPDATE SET
           consumed = e.consumed + EXCLUDED.consumed, returned = e.returned + EXCLUDED.returned,
           orders = ARRAY(SELECT DISTINCT o FROM unnest(e.orders || EXCLUDED.orders) AS o ORDER BY o),
           first_at = LEAST(e.first_at, EXCLUDED.first_at), last_at = GREATEST(e.last_at, EXCLUDED.last_at)`,
        ...[0, 1, 2, 3, 4].map((i) => all.map((e) => e.key[i])),
        all.map((e) => exact(e.consumed, e.consumedBy)),
        all.map((e) => exact(e.returned, e.returnedBy)),
        all.map((e) => [...e.orders].sort().join("\x1f")),
        all.map((e) => e.first.toISOString()),
        all.map((e) => e.last.toISOString()),
      ),
    );
  }
  return out;
}

/**
 * A sum as the events' decimals are written (6 places), or "0" when no event added to it: the same
 * numeric, digit for digit, whichever batches the events came in (PostgreSQL keeps a sum's scale).
 */
function exact(v: Micros, contributions: number): string {
  return contributions === 0 ? "0" : formatDecimal(v, 6);
}

/** A value as the text PostgreSQL reads it (arrays of text cast per column: one encoding for every driver). */
function asText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return v.toISOString();
  return String(v);
}

const sql = (text: string, ...params: unknown[]): Statement => ({ kind: "sql", text, params });
const row = (table: RowTable, ...values: unknown[]): Write => ({ kind: "row", table, values });

/** A lot row without its registration, so that edges and holds can name it before it is registered. */
const lotPlaceholder = (product: string, lot: string): Write => ({ kind: "lot", product, lot });

/** One event's part in a component lot → produced lot edge, and the edge's sums. */
function edgePart(
  _s: string,
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
): Write[] {
  const { parent, parentLot, child, childLot, uom, quantity, orderRef, at } = edge;
  const micros = microsOf(quantity);
  return [
    lotPlaceholder(parent, parentLot),
    lotPlaceholder(child, childLot),
    row("edge_events", id, part, kind, parent, parentLot, child, childLot, uom, quantity, orderRef, at),
    {
      kind: "edge",
      key: [parent, parentLot, child, childLot, uom],
      consumed: kind === "consumed" ? micros : 0n,
      returned: kind === "unbuilt" ? micros : 0n,
      consumedPart: kind === "consumed",
      orderRef,
      at,
    },
  ];
}

type Builders = { [K in GenealogyEventType]: (s: string, id: string, v: EventPayloads[K]) => Write[] };

/** "The current version wins": the row is replaced only by a version with a greater (time, event id). */
const newer = (table: string, time: string, by: string) =>
  `${table}.${by} IS NULL OR (EXCLUDED.${time}, EXCLUDED.${by}) > (${table}.${time}, ${table}.${by})`;

const BUILDERS: Builders = {
  "mfg.inventory.lot_registered.v1": (s, id, v) => [
    sql(
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

  "mfg.inventory.goods_movement_posted.v1": (_s, id, v) => [
    ...(v.lot ? [lotPlaceholder(productKey(v.product), v.lot)] : []),
    row(
      "movements",
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
    sql(
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
    ...(v.lotToProduce ? [lotPlaceholder(productKey(v.product), v.lotToProduce)] : []),
  ],

  "mfg.production.production_order_completed.v1": (s, id, v) => {
    const lots = [...new Set([...(v.lot ? [v.lot] : []), ...v.lots])].sort();
    return [
      sql(
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
      ...lots.map((lot) => lotPlaceholder(productKey(v.product), lot)),
    ];
  },

  "mfg.production.production_reported.v1": (_s, id, v) => [
    row(
      "production",
      id,
      "reported",
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

  "mfg.production.production_posted.v1": (_s, id, v) => [
    row(
      "production",
      id,
      "posted",
      v.orderRef,
      v.lot,
      null,
      null,
      null,
      v.postedGoodQuantity.value,
      v.postedRejectQuantity.value,
      v.postedGoodQuantity.uom,
      true,
      v.postedAt,
    ),
  ],

  "mfg.quality.quality_hold_placed.v1": (s, id, v) => [
    lotPlaceholder(productKey(v.product), v.lot),
    sql(
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
    lotPlaceholder(productKey(v.product), v.lot),
    sql(
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
    sql(
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
      ...(l.lot ? [lotPlaceholder(productKey(l.product), l.lot)] : []),
      row(
        "shipment_lines",
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
    sql(
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
    sql(
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
    sql(
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
function shipmentMark(s: string, picking: string, site: string, column: string, at: Date): Write {
  return sql(
    `INSERT INTO ${s}.shipments AS sh (picking_ref, site, ${column}) VALUES ($1, $2, $3)
     ON CONFLICT (picking_ref) DO UPDATE SET ${column} = GREATEST(sh.${column}, EXCLUDED.${column})`,
    picking,
    site,
    at,
  );
}
