/**
 * The synthetic history written straight into the genealogy's tables: the rows `applyEvents` would
 * write for the same events (synthetic.test.ts compares the two), without an event at a time.
 *
 * Each chunk of events becomes column arrays per table, inserted with one
 * `INSERT … SELECT FROM unnest($1::text[], …)` per table (PostgreSQL and PGlite alike; no COPY: node-postgres
 * has none without another package). While a chunk is written, the next one is generated.
 *
 * What it relies on (the model guarantees it, and it is checked): the events of an edge, of a hold and
 * of a shipment are in one chunk, every lot an event names is registered, and each key (lot, order,
 * shipment, product…) is written once.
 */
import type { EventPayloads } from "../../contracts/src/index.js";
import {
  productKey,
  quoteSchema,
  ROW_TABLES,
} from "../../services/genealogy-builder/src/store/projection.js";
import type { Database } from "../../streams/src/index.js";
import {
  type HistorySummary,
  historyChunks,
  type SyntheticEvent,
  type SyntheticOptions,
} from "./synthetic.js";

/** A table's columns: name and PostgreSQL type; `expr` when the column is computed from the unnested one. */
type Columns = readonly (readonly [name: string, type: string, expr?: string])[];

const TABLES = {
  applied_events: [
    ["event_id", "text"],
    ["stream", "text"],
    ["seq", "bigint"],
    ["type", "text"],
  ],
  lots: [
    ["product", "text"],
    ["lot", "text"],
    ["site", "text"],
    ["supplier_lot", "text"],
    ["expires_at", "timestamptz"],
    ["registered_at", "timestamptz"],
    ["origin_order", "text"],
    ["registered_by", "text"],
  ],
  lot_edges: [
    ["parent_product", "text"],
    ["parent_lot", "text"],
    ["child_product", "text"],
    ["child_lot", "text"],
    ["uom", "text"],
    ["consumed", "numeric"],
    ["returned", "numeric"],
    ["orders", "text", "CASE WHEN orders IS NULL THEN '{}'::text[] ELSE ARRAY[orders] END"],
    ["first_at", "timestamptz"],
    ["last_at", "timestamptz"],
  ],
  edge_events: ROW_TABLES.edge_events,
  orders: [
    ["order_ref", "text"],
    ["product", "text"],
    ["site", "text"],
    ["line", "text"],
    ["machine", "text"],
    ["work_center", "text"],
    ["quantity", "numeric"],
    ["uom", "text"],
    ["lot_to_produce", "text"],
    ["released_at", "timestamptz"],
    ["released_by", "text"],
  ],
  production: ROW_TABLES.production,
  movements: ROW_TABLES.movements,
  shipments: [
    ["picking_ref", "text"],
    ["site", "text"],
    ["customer_ref", "text"],
    ["customer_name", "text"],
    ["sales_order", "text"],
    ["requested_at", "timestamptz"],
    ["requested_by", "text"],
    ["scheduled_at", "timestamptz"],
  ],
  shipment_lines: ROW_TABLES.shipment_lines,
  holds: [
    ["hold_id", "text"],
    ["site", "text"],
    ["product", "text"],
    ["lot", "text"],
    ["reason", "text"],
    ["placed_at", "timestamptz"],
    ["placed_by", "text"],
    ["released_at", "timestamptz"],
    ["released_by", "text"],
    ["release_status", "text"],
    ["release_reason", "text"],
  ],
  products: [
    ["product", "text"],
    ["odoo_id", "bigint"],
    ["name", "text"],
    ["barcode", "text"],
    ["unit", "text"],
    ["tracking", "text"],
    ["updated_at", "timestamptz"],
  ],
  locations: [
    ["full_name", "text"],
    ["odoo_id", "bigint"],
    ["usage", "text"],
    ["barcode", "text"],
    ["updated_at", "timestamptz"],
  ],
  partners: [
    ["partner_ref", "text"],
    ["odoo_id", "bigint"],
    ["name", "text"],
    ["country", "text"],
    ["updated_at", "timestamptz"],
  ],
} as const satisfies Record<string, Columns>;

export type GenealogyTable = keyof typeof TABLES;
/** The tables the loader writes, in the order it writes them. */
export const LOADED_TABLES = Object.keys(TABLES) as GenealogyTable[];

type Row = readonly unknown[];
type Rows = Record<GenealogyTable, Row[]>;

/** Exact decimals with at most 6 places, added (the rows' sums); `"0"` when nothing was added, as the column default. */
function addDecimal(a: string | undefined, b: string): string {
  if (a === undefined) return b;
  const micro = (v: string) => {
    const [int = "0", frac = ""] = v.split(".");
    return BigInt(int) * 1_000_000n + BigInt(frac.padEnd(6, "0").slice(0, 6));
  };
  const sum = micro(a) + micro(b);
  return `${sum / 1_000_000n}.${String(sum % 1_000_000n).padStart(6, "0")}`;
}

interface Edge {
  parent: string;
  parentLot: string;
  child: string;
  childLot: string;
  uom: string;
  consumed: string | undefined;
  returned: string | undefined;
  order: string | null;
  first: number;
  last: number;
}

const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);
const big = (v: bigint | null | undefined): string | null =>
  v === null || v === undefined ? null : String(v);

/** The rows one chunk of events projects to. */
export function rowsOf(events: readonly SyntheticEvent[]): Rows {
  const rows = Object.fromEntries(LOADED_TABLES.map((t) => [t, [] as Row[]])) as Rows;
  const edges = new Map<string, Edge>();
  const holds = new Map<string, unknown[]>();
  const edge = (
    kind: "consumed" | "unbuilt",
    id: string,
    part: number,
    e: Omit<Edge, "consumed" | "returned" | "first" | "last"> & { quantity: string; at: Date },
  ) => {
    const key = [e.parent, e.parentLot, e.child, e.childLot, e.uom].join("\u0000");
    const at = e.at.getTime();
    rows.edge_events.push([
      id,
      part,
      kind,
      e.parent,
      e.parentLot,
      e.child,
      e.childLot,
      e.uom,
      e.quantity,
      e.order,
      iso(e.at),
    ]);
    let row = edges.get(key);
    if (!row) {
      if (kind === "unbuilt")
        throw new Error(`bulk load: the unbuild ${id} returns to an edge of another chunk`);
      row = { ...e, consumed: undefined, returned: undefined, first: at, last: at };
      edges.set(key, row);
    }
    if (kind === "consumed") row.consumed = addDecimal(row.consumed, e.quantity);
    else row.returned = addDecimal(row.returned, e.quantity);
    if (e.order !== row.order) throw new Error(`bulk load: the edge ${key} has two orders`);
    row.first = Math.min(row.first, at);
    row.last = Math.max(row.last, at);
  };
  for (const { event } of events) {
    const { id, stream, seq, type } = event;
    rows.applied_events.push([id, stream, seq, type]);
    switch (type) {
      case "mfg.inventory.lot_registered.v1": {
        const v = event.value as EventPayloads[typeof type];
        rows.lots.push([
          productKey(v.product),
          v.lot,
          v.site,
          v.supplierLot,
          iso(v.expiresAt),
          iso(v.registeredAt),
          v.orderRef,
          id,
        ]);
        break;
      }
      case "mfg.inventory.material_consumed.v1": {
        const v = event.value as EventPayloads[typeof type];
        edge("consumed", id, 0, {
          parent: productKey(v.component),
          parentLot: v.componentLot ?? "",
          child: productKey(v.producedProduct),
          childLot: v.producedLot ?? "",
          uom: v.quantity.uom,
          quantity: v.quantity.value,
          order: v.orderRef,
          at: v.consumedAt,
        });
        break;
      }
      case "mfg.inventory.unbuild_posted.v1": {
        const v = event.value as EventPayloads[typeof type];
        for (const [i, c] of v.returnedComponents.entries())
          edge("unbuilt", id, i, {
            parent: productKey(c.component),
            parentLot: c.lot ?? "",
            child: productKey(v.product),
            childLot: v.lot ?? "",
            uom: c.quantity.uom,
            quantity: c.quantity.value,
            order: v.orderRef,
            at: v.unbuiltAt,
          });
        break;
      }
      case "mfg.inventory.goods_movement_posted.v1": {
        const v = event.value as EventPayloads[typeof type];
        rows.movements.push([
          id,
          v.site,
          v.movementType,
          productKey(v.product),
          v.lot ?? "",
          v.quantity.value,
          v.quantity.uom,
          v.fromLocation,
          v.toLocation,
          v.pickingRef,
          v.orderRef,
          big(v.odooMoveId),
          iso(v.postedAt),
        ]);
        break;
      }
      case "mfg.production.production_order_released.v1": {
        const v = event.value as EventPayloads[typeof type];
        rows.orders.push([
          v.orderRef,
          productKey(v.product),
          v.equipment.site,
          v.equipment.line,
          v.equipment.machine,
          v.workCenterCode,
          v.quantity.value,
          v.quantity.uom,
          v.lotToProduce,
          iso(v.releasedAt),
          id,
        ]);
        break;
      }
      case "mfg.production.production_reported.v1": {
        const v = event.value as EventPayloads[typeof type];
        rows.production.push([
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
          iso(v.reportedAt),
        ]);
        break;
      }
      case "mfg.production.production_posted.v1": {
        const v = event.value as EventPayloads[typeof type];
        rows.production.push([
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
          iso(v.postedAt),
        ]);
        break;
      }
      case "mfg.quality.quality_hold_placed.v1": {
        const v = event.value as EventPayloads[typeof type];
        const row = [
          v.holdId,
          v.site,
          productKey(v.product),
          v.lot,
          v.reason,
          iso(v.placedAt),
          `${v.placedBy}|${id}`,
          null,
          null,
          null,
          null,
        ];
        holds.set(v.holdId, row);
        rows.holds.push(row);
        break;
      }
      case "mfg.quality.quality_hold_released.v1": {
        const v = event.value as EventPayloads[typeof type];
        const row = holds.get(v.holdId);
        if (!row) throw new Error(`bulk load: the hold ${v.holdId} is released in another chunk`);
        row.splice(7, 4, iso(v.releasedAt), `${v.releasedBy}|${id}`, v.status, v.reason);
        break;
      }
      case "mfg.shipping.shipment_requested.v1": {
        const v = event.value as EventPayloads[typeof type];
        rows.shipments.push([
          v.pickingRef,
          v.site,
          v.customerRef,
          v.customerName,
          v.salesOrderRef,
          iso(v.requestedAt),
          id,
          iso(v.scheduledAt),
        ]);
        for (const [i, l] of v.lines.entries())
          rows.shipment_lines.push([
            v.pickingRef,
            id,
            i,
            productKey(l.product),
            l.lot ?? "",
            l.quantity.value,
            l.quantity.uom,
          ]);
        break;
      }
      case "mfg.masterdata.product.v1": {
        const v = event.value as EventPayloads[typeof type];
        rows.products.push([
          productKey({ code: v.code ?? "", odooId: v.odooId }),
          big(v.odooId),
          v.name,
          v.barcode,
          v.unit,
          v.tracking,
          iso(v.updatedAt),
        ]);
        break;
      }
      case "mfg.masterdata.location.v1": {
        const v = event.value as EventPayloads[typeof type];
        rows.locations.push([v.fullName, big(v.odooId), v.usage, v.barcode, iso(v.updatedAt)]);
        break;
      }
      case "mfg.masterdata.partner.v1": {
        const v = event.value as EventPayloads[typeof type];
        rows.partners.push([v.ref ?? String(v.odooId), big(v.odooId), v.name, v.country, iso(v.updatedAt)]);
        break;
      }
      default:
        throw new Error(`bulk load: the synthetic history has no ${type}`);
    }
  }
  for (const e of edges.values())
    rows.lot_edges.push([
      e.parent,
      e.parentLot,
      e.child,
      e.childLot,
      e.uom,
      e.consumed ?? "0",
      e.returned ?? "0",
      e.order,
      new Date(e.first).toISOString(),
      new Date(e.last).toISOString(),
    ]);
  return rows;
}

/** Inserts rows into one table: one statement, one array parameter per column. */
async function insert(db: Database, s: string, table: GenealogyTable, rows: readonly Row[]): Promise<void> {
  if (rows.length === 0) return;
  const columns: Columns = TABLES[table];
  const params = columns.map((_, c) => rows.map((r) => r[c] ?? null));
  const names = columns.map(([name]) => name);
  await db.query(
    `INSERT INTO ${s}.${table} (${names.join(", ")})
     SELECT ${columns.map(([name, , expr]) => expr ?? name).join(", ")}
     FROM unnest(${columns.map(([, type], i) => `$${i + 1}::${type}[]`).join(", ")}) AS u(${names.join(", ")})`,
    params,
  );
}

export interface BulkLoadOptions extends SyntheticOptions {
  /**
   * Drops the schema's indexes and primary keys before loading and builds them again after (a sort
   * per index instead of a B-tree insert per row: several times faster on a big history).
   * @default true
   */
  readonly deferIndexes?: boolean;
  /** Statements at once (tables of one chunk written side by side). @default 2 */
  readonly lanes?: number;
  /** Called after each chunk is written. */
  readonly progress?: (lots: number, rows: number) => void;
}

export interface BulkLoadResult {
  readonly summary: HistorySummary;
  /** Rows written per table. */
  readonly rows: Record<GenealogyTable, number>;
  readonly seconds: number;
  /** Of which building the indexes again (0 when they were not deferred). */
  readonly indexSeconds: number;
}

/** Runs the tasks, at most `lanes` at once. */
async function inLanes(lanes: number, tasks: readonly (() => Promise<void>)[]): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < tasks.length) await (tasks[next++] as () => Promise<void>)();
  };
  await Promise.all(Array.from({ length: Math.max(1, lanes) }, lane));
}

/** The schema's primary keys and indexes, as the statements that make them again. */
async function indexesOf(db: Database, schema: string): Promise<{ drop: string[]; create: string[] }> {
  const s = quoteSchema(schema);
  const { rows: keys } = await db.query<{ t: string; name: string; def: string }>(
    `SELECT c.relname AS t, k.conname AS name, pg_get_constraintdef(k.oid) AS def
     FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND k.contype = 'p' AND c.relname <> 'schema_migrations'`,
    [schema],
  );
  const { rows: indexes } = await db.query<{ name: string; def: string }>(
    `SELECT i.indexname AS name, i.indexdef AS def FROM pg_indexes i
     WHERE i.schemaname = $1 AND i.tablename <> 'schema_migrations'
       AND NOT EXISTS (SELECT 1 FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace
                       WHERE n.nspname = $1 AND k.conname = i.indexname)`,
    [schema],
  );
  return {
    drop: [
      ...indexes.map((i) => `DROP INDEX ${s}."${i.name}"`),
      ...keys.map((k) => `ALTER TABLE ${s}.${k.t} DROP CONSTRAINT "${k.name}"`),
    ],
    create: [
      ...keys.map((k) => `ALTER TABLE ${s}.${k.t} ADD CONSTRAINT "${k.name}" ${k.def}`),
      ...indexes.map((i) => i.def),
    ],
  };
}

/**
 * Generates the history and writes its rows into `schema` (migrated, empty). The tables of a chunk are
 * written side by side (`lanes`) while the next chunk is generated.
 */
export async function bulkLoad(
  db: Database,
  schema: string,
  options: BulkLoadOptions = {},
): Promise<BulkLoadResult> {
  const { deferIndexes = true, lanes = 2, progress, ...history } = options;
  const s = quoteSchema(schema);
  const t0 = process.hrtime.bigint();
  const indexes = deferIndexes ? await indexesOf(db, schema) : { drop: [], create: [] };
  for (const statement of indexes.drop) await db.query(statement);
  const counts = Object.fromEntries(LOADED_TABLES.map((t) => [t, 0])) as Record<GenealogyTable, number>;
  let pending: Promise<unknown> = Promise.resolve();
  const it = historyChunks({ chunkEvents: 50_000, ...history });
  let lots = 0;
  for (;;) {
    const next = it.next();
    if (next.done) {
      await pending;
      const t1 = process.hrtime.bigint();
      await inLanes(
        lanes,
        indexes.create.map((statement) => async () => {
          await db.query(statement);
        }),
      );
      await inLanes(
        lanes,
        LOADED_TABLES.map((t) => async () => {
          await db.query(`ANALYZE ${s}.${t}`);
        }),
      );
      const t2 = process.hrtime.bigint();
      return {
        summary: next.value,
        rows: counts,
        seconds: Number(t2 - t0) / 1e9,
        indexSeconds: Number(t2 - t1) / 1e9,
      };
    }
    const rows = rowsOf(next.value);
    lots += rows.lots.length;
    await pending;
    for (const t of LOADED_TABLES) counts[t] += rows[t].length;
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    pending = inLanes(
      lanes,
      LOADED_TABLES.map((t) => () => insert(db, s, t, rows[t])),
    ).then(() => progress?.(lots, total));
    pending.catch(() => undefined); // awaited (and thrown) at the next chunk; not "unhandled" meanwhile
  }
}
