/**
 * The genealogy's tables, as versioned migrations applied in order inside one schema (`genealogy` by
 * default; `threadline genealogy rebuild` builds a fresh one beside it). Each migration runs once, in
 * its own transaction with its row in `schema_migrations`; a database ahead of this code (a version
 * it does not know) is refused rather than written with the wrong shape.
 *
 * The model, in a few lines (every table is a set of facts keyed by what made them, so that events
 * applied in any order, twice, or replayed give the same rows; what depends on order — a lot's place,
 * a shipment's status — is computed when asked, from the facts):
 * - `applied_events`: every event applied (id, stream, sequence): the projection's idempotency.
 * - `lots` (product, lot): registration facts (supplier lot, expiry, the order that made it); a lot
 *   seen only as a component or a produced lot exists without them. Lot `''` is a product's untracked stock.
 * - `lot_edges` (component lot → produced lot, per unit): consumed and returned (unbuilt) quantities
 *   summed, the orders, first and last time; `edge_events`: each event's part in an edge.
 * - `orders`: release facts and completion facts, written by their own events; `production`: each
 *   count (ProductionReported: machine, line, lot, quantities) and each posting (ProductionPosted).
 * - `movements`: each posted stock movement (lot, from, to, quantity): a lot's stock per location.
 * - `shipments` and `shipment_lines`: deliveries requested (customer, lines), blocked, cleared, cancelled.
 * - `holds`: placed and released, each by its own event.
 * - `products`, `locations`, `partners`: the master data (names, barcodes/GTINs, location usage).
 */

/** One step of the schema. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  /** The statements, with `{{schema}}` where the schema's quoted name goes. */
  readonly sql: readonly string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "lot graph",
    sql: [
      `CREATE TABLE {{schema}}.applied_events (
        event_id text PRIMARY KEY, stream text NOT NULL, seq bigint NOT NULL, type text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now())`,
      `CREATE INDEX applied_events_stream_seq ON {{schema}}.applied_events (stream, seq)`,
      `CREATE TABLE {{schema}}.lots (
        product text NOT NULL, lot text NOT NULL, site text, supplier_lot text, expires_at timestamptz,
        registered_at timestamptz, origin_order text, registered_by text,
        PRIMARY KEY (product, lot))`,
      `CREATE INDEX lots_lot ON {{schema}}.lots (lot)`,
      `CREATE INDEX lots_supplier_lot ON {{schema}}.lots (supplier_lot) WHERE supplier_lot IS NOT NULL`,
      `CREATE TABLE {{schema}}.lot_edges (
        parent_product text NOT NULL, parent_lot text NOT NULL, child_product text NOT NULL,
        child_lot text NOT NULL, uom text NOT NULL,
        consumed numeric NOT NULL DEFAULT 0, returned numeric NOT NULL DEFAULT 0,
        orders text[] NOT NULL DEFAULT '{}', first_at timestamptz NOT NULL, last_at timestamptz NOT NULL,
        PRIMARY KEY (parent_product, parent_lot, child_product, child_lot, uom))`,
      `CREATE INDEX lot_edges_child ON {{schema}}.lot_edges (child_product, child_lot)`,
      `CREATE TABLE {{schema}}.edge_events (
        event_id text NOT NULL, part int NOT NULL, kind text NOT NULL,
        parent_product text NOT NULL, parent_lot text NOT NULL, child_product text NOT NULL,
        child_lot text NOT NULL, uom text NOT NULL, quantity numeric NOT NULL, order_ref text,
        at timestamptz NOT NULL, PRIMARY KEY (event_id, part))`,
      `CREATE INDEX edge_events_edge ON {{schema}}.edge_events (child_product, child_lot, parent_product, parent_lot)`,
      `CREATE TABLE {{schema}}.orders (
        order_ref text PRIMARY KEY, product text, site text, line text, machine text, work_center text,
        quantity numeric, uom text, lot_to_produce text, released_at timestamptz, released_by text,
        completed_at timestamptz, produced_quantity numeric, produced_uom text, completed_lots text[],
        completed_by text)`,
      `CREATE TABLE {{schema}}.production (
        event_id text PRIMARY KEY, kind text NOT NULL, order_ref text, lot text, site text, line text,
        machine text, good numeric NOT NULL, reject numeric NOT NULL, uom text NOT NULL,
        counting_point boolean NOT NULL, at timestamptz NOT NULL)`,
      `CREATE INDEX production_order_lot ON {{schema}}.production (order_ref, lot)`,
      `CREATE INDEX production_lot ON {{schema}}.production (lot)`,
      `CREATE TABLE {{schema}}.movements (
        event_id text PRIMARY KEY, site text NOT NULL, type text NOT NULL, product text NOT NULL,
        lot text NOT NULL, quantity numeric NOT NULL, uom text NOT NULL, from_location text NOT NULL,
        to_location text NOT NULL, picking_ref text, order_ref text, odoo_move_id bigint, at timestamptz NOT NULL)`,
      `CREATE INDEX movements_lot ON {{schema}}.movements (product, lot)`,
      `CREATE INDEX movements_picking ON {{schema}}.movements (picking_ref) WHERE picking_ref IS NOT NULL`,
      `CREATE TABLE {{schema}}.shipments (
        picking_ref text PRIMARY KEY, site text, customer_ref text, customer_name text, sales_order text,
        requested_at timestamptz, requested_by text, scheduled_at timestamptz,
        blocked_at timestamptz, cleared_at timestamptz, cancelled_at timestamptz)`,
      `CREATE TABLE {{schema}}.shipment_lines (
        picking_ref text NOT NULL, event_id text NOT NULL, line_no int NOT NULL, product text NOT NULL,
        lot text NOT NULL, quantity numeric NOT NULL, uom text NOT NULL,
        PRIMARY KEY (event_id, line_no))`,
      `CREATE INDEX shipment_lines_lot ON {{schema}}.shipment_lines (product, lot)`,
      `CREATE INDEX shipment_lines_picking ON {{schema}}.shipment_lines (picking_ref)`,
      `CREATE TABLE {{schema}}.holds (
        hold_id text PRIMARY KEY, site text, product text NOT NULL, lot text NOT NULL, reason text,
        placed_at timestamptz, placed_by text, released_at timestamptz, released_by text,
        release_status text, release_reason text)`,
      `CREATE INDEX holds_lot ON {{schema}}.holds (product, lot)`,
      `CREATE TABLE {{schema}}.products (
        product text PRIMARY KEY, odoo_id bigint, name text, barcode text, unit text, tracking text,
        updated_at timestamptz NOT NULL)`,
      `CREATE TABLE {{schema}}.locations (
        full_name text PRIMARY KEY, odoo_id bigint, usage text NOT NULL, barcode text, updated_at timestamptz NOT NULL)`,
      `CREATE TABLE {{schema}}.partners (
        partner_ref text PRIMARY KEY, odoo_id bigint, name text NOT NULL, country text, updated_at timestamptz NOT NULL)`,
    ],
  },
];

/** The newest version this code knows. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
