/**
 * The genealogy's questions: backward and forward traces, the recall report, where-used, lot lookup.
 *
 * A trace walks the lot edges breadth-first, one indexed query per level over the whole frontier (at
 * most `depth` round trips, however wide the graph), never visiting a lot twice — so a rework loop
 * (a finished lot consumed back into its own line) ends instead of looping, and a lot reached by two
 * paths is listed once. Untracked stock (lot `''`) is listed but not walked through: it would join
 * every order that ever drew from the same bin. An edge whose quantity was wholly given back by
 * unbuilds (net ≤ 0) is not followed.
 *
 * Mass balance (forward): the traced lot's quantity in each lot reached is carried along the edges in
 * proportion — a produced lot that holds e of the traced lot and ships s of its q units carries e·s/q
 * of it — in topological order of the traced subgraph (cycle edges skipped), exact to the micro-unit.
 * Where a produced quantity is unknown or in another unit than the edge, the share is unknown (null).
 */
import {
  formatMicros,
  type Micros,
  microsOf,
  mulDivMicros,
  type SqlQuery,
} from "../../../../streams/src/index.js";
import { GenealogyError } from "../errors.js";
import { quoteSchema } from "../store/projection.js";
import type {
  CustomerSummary,
  HoldSummary,
  LotRef,
  MachineSummary,
  OrderSummary,
  Quantity,
  RecallReport,
  ShipmentSummary,
  StockSummary,
  TraceEdge,
  TraceLot,
  TraceOptions,
  TraceResult,
  WhereUsedRow,
} from "./types.js";

/** Limits of a trace. */
export const TRACE_LIMITS = {
  /** @default 10 */
  defaultDepth: 10,
  /** Deeper asks are refused (a plant's bill of materials is rarely 10 levels deep). */
  maxDepth: 50,
  /** Lots one trace may reach before it stops and says it was truncated. */
  maxLots: 100_000,
  /** Event ids listed per edge. */
  eventsPerEdge: 20,
} as const;

/** Locations that are not stock, by Odoo's standard names, when the master data does not say. */
const NOT_STOCK = /^(Partners|Virtual Locations|Inter-company transit)\//;

const key = (l: LotRef) => `${l.product}/${l.lot}`;
const iso = (v: unknown): string | null => (v == null ? null : new Date(v as string).toISOString());
const text = (v: unknown): string | null => (v == null ? null : String(v));
/** numeric as PostgreSQL prints it ("12.500000") → "12.5". */
const dec = (v: unknown): string => formatMicros(microsOf(String(v)));

export class GenealogyQueries {
  private readonly s: string;

  constructor(
    private readonly db: SqlQuery,
    schema: string,
  ) {
    this.s = quoteSchema(schema);
  }

  /**
   * The lot of that name (of that product, when given).
   * @throws GenealogyError GENEALOGY_LOT_UNKNOWN, or GENEALOGY_LOT_AMBIGUOUS (details.candidates)
   */
  async resolveLot(lot: string, product?: string): Promise<LotRef> {
    if (!lot) throw new GenealogyError("GENEALOGY_QUERY_INVALID", "lot: a lot name is required");
    const { rows } = await this.db.query<{ product: string }>(
      `SELECT product FROM ${this.s}.lots WHERE lot = $1 ${product !== undefined ? "AND product = $2" : ""} ORDER BY product LIMIT 20`,
      product !== undefined ? [lot, product] : [lot],
    );
    if (rows.length === 0)
      throw new GenealogyError(
        "GENEALOGY_LOT_UNKNOWN",
        `no lot ${JSON.stringify(lot)}${product !== undefined ? ` of product ${product}` : ""} in the genealogy`,
      );
    if (rows.length > 1) {
      const candidates = rows.map((r) => ({ product: r.product, lot }));
      throw new GenealogyError(
        "GENEALOGY_LOT_AMBIGUOUS",
        `lot ${JSON.stringify(lot)} exists for ${rows.length} products (${rows.map((r) => r.product).join(", ")}): say which product`,
        { details: { candidates } },
      );
    }
    return { product: rows[0]?.product ?? "", lot };
  }

  /** Lots whose name starts with `prefix`. */
  async findLots(prefix: string, limit = 50): Promise<(LotRef & { productName: string | null })[]> {
    const { rows } = await this.db.query(
      `SELECT l.product, l.lot, p.name FROM ${this.s}.lots l LEFT JOIN ${this.s}.products p ON p.product = l.product
       WHERE l.lot <> '' AND l.lot LIKE $1 ESCAPE '\\' ORDER BY l.lot, l.product LIMIT $2`,
      [`${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`, Math.min(Math.max(limit, 1), 1000)],
    );
    return rows.map((r) => ({ product: String(r.product), lot: String(r.lot), productName: text(r.name) }));
  }

  /** Where a component product (one lot of it, when given) went. */
  async whereUsed(product: string, lot?: string, limit = 200): Promise<WhereUsedRow[]> {
    const { rows } = await this.db.query(
      `SELECT * FROM ${this.s}.lot_edges WHERE parent_product = $1 ${lot !== undefined ? "AND parent_lot = $3" : ""}
         AND consumed > returned ORDER BY last_at DESC, child_product, child_lot LIMIT $2`,
      lot !== undefined
        ? [product, Math.min(Math.max(limit, 1), 5000), lot]
        : [product, Math.min(limit, 5000)],
    );
    return rows.map((r) => ({
      component: { product: String(r.parent_product), lot: String(r.parent_lot) },
      produced: { product: String(r.child_product), lot: String(r.child_lot) },
      orders: (r.orders as string[]) ?? [],
      net: {
        value: formatMicros(microsOf(String(r.consumed)) - microsOf(String(r.returned))),
        uom: String(r.uom),
      },
      lastAt: iso(r.last_at) ?? "",
    }));
  }

  /**
   * Everything that went into a lot (backward) or came of it (forward).
   * @throws GenealogyError GENEALOGY_QUERY_INVALID for a depth outside 1..50 or a window that ends before it starts
   */
  async trace(root: LotRef, options: TraceOptions): Promise<TraceResult> {
    const depth = options.depth ?? TRACE_LIMITS.defaultDepth;
    if (!Number.isInteger(depth) || depth < 1 || depth > TRACE_LIMITS.maxDepth)
      throw new GenealogyError(
        "GENEALOGY_QUERY_INVALID",
        `depth must be a whole number from 1 to ${TRACE_LIMITS.maxDepth} (got ${depth})`,
      );
    const { since, until } = options;
    if (since && until && since > until)
      throw new GenealogyError(
        "GENEALOGY_QUERY_INVALID",
        `since (${since.toISOString()}) is after until (${until.toISOString()}): the window is empty`,
      );
    const forward = options.direction === "forward";

    // The walk: level by level over the whole frontier.
    const depthOf = new Map<string, number>([[key(root), 0]]);
    const refs = new Map<string, LotRef>([[key(root), root]]);
    const edgeRows: Record<string, unknown>[] = [];
    let frontier: LotRef[] = [root];
    let truncated = false;
    for (let level = 1; frontier.length > 0; level++) {
      const rows = await this.edgesOf(frontier, forward, since, until);
      if (level > depth) {
        truncated = rows.length > 0;
        break;
      }
      const next: LotRef[] = [];
      for (const r of rows) {
        edgeRows.push(r);
        const to: LotRef = forward
          ? { product: String(r.child_product), lot: String(r.child_lot) }
          : { product: String(r.parent_product), lot: String(r.parent_lot) };
        const k = key(to);
        // Reached before (by another path, or round a rework loop): listed once, not walked again.
        if (depthOf.has(k)) continue;
        depthOf.set(k, level);
        refs.set(k, to);
        if (to.lot !== "") next.push(to);
      }
      if (refs.size > TRACE_LIMITS.maxLots) {
        truncated = true;
        break;
      }
      frontier = next;
    }

    const lots = [...refs.values()];
    const [details, edges] = await Promise.all([this.lotDetails(lots), this.edgeDetails(edgeRows)]);
    const traceLots = lots
      .map((l) => ({ ...(details.get(key(l)) ?? emptyLot(l)), depth: depthOf.get(key(l)) ?? 0 }))
      .sort((a, b) => a.depth - b.depth || key(a).localeCompare(key(b)));
    const rootLot = traceLots[0] as TraceLot;
    const orderRefs = new Set<string>();
    for (const l of traceLots) for (const o of l.orders) orderRefs.add(o);
    for (const e of edges) for (const o of e.orders) orderRefs.add(o);
    const orders = await this.orders([...orderRefs]);

    let shipments: ShipmentSummary[] = [];
    let customers: CustomerSummary[] = [];
    let massBalance: Record<string, Quantity | null> = {};
    const supplierLots = backwardSupplierLots(forward, traceLots);
    if (forward) {
      const balance = massBalanceOf(rootLot, traceLots, edges);
      massBalance = Object.fromEntries([...balance].map(([k, v]) => [k, v.share]));
      shipments = await this.shipments(lots, balance);
      customers = customersOf(shipments);
    }
    return {
      root: rootLot,
      direction: options.direction,
      depth,
      since: since?.toISOString() ?? null,
      until: until?.toISOString() ?? null,
      truncated,
      lots: traceLots,
      edges,
      orders,
      supplierLots,
      shipments,
      customers,
      massBalance,
      cyclesSkipped: loopEdges(root, edges, forward),
    };
  }

  /** Whom to call and what to block when `root` is bad: a forward trace, read as a recall. */
  async recall(root: LotRef, options: { depth?: number } = {}): Promise<RecallReport> {
    const t = await this.trace(root, { direction: "forward", depth: options.depth ?? TRACE_LIMITS.maxDepth });
    const toBlock: RecallReport["toBlock"][number][] = [];
    const onHold: RecallReport["onHold"][number][] = [];
    for (const l of t.lots) {
      const active = l.holds.filter((h) => h.status === "ACTIVE");
      if (active.length > 0) onHold.push({ product: l.product, lot: l.lot, holds: active });
      else if (l.stock.length > 0 && l.lot !== "")
        toBlock.push({
          product: l.product,
          lot: l.lot,
          stock: l.stock,
          tracedQuantity: t.massBalance[key(l)] ?? null,
        });
    }
    return {
      lot: t.root,
      generatedAt: new Date().toISOString(),
      lotsAffected: t.lots.filter((l) => l.lot !== "").length,
      truncated: t.truncated,
      shipments: t.shipments.filter((s) => s.status !== "CANCELLED"),
      customers: t.customers,
      toBlock,
      onHold,
    };
  }

  /** The edges of one level: out of the frontier (forward) or into it (backward). */
  private async edgesOf(
    frontier: readonly LotRef[],
    forward: boolean,
    since: Date | undefined,
    until: Date | undefined,
  ): Promise<Record<string, unknown>[]> {
    const [from] = forward ? ["parent"] : ["child"];
    const params: unknown[] = [frontier.map((l) => l.product), frontier.map((l) => l.lot)];
    let window = "";
    if (since) window += ` AND e.last_at >= $${params.push(since)}`;
    if (until) window += ` AND e.first_at <= $${params.push(until)}`;
    const { rows } = await this.db.query(
      `SELECT e.* FROM unnest($1::text[], $2::text[]) AS f(product, lot)
       JOIN ${this.s}.lot_edges e ON e.${from}_product = f.product AND e.${from}_lot = f.lot
       WHERE e.consumed > e.returned${window}`,
      params,
    );
    return rows;
  }

  /** Edges with the events they came from. */
  private async edgeDetails(rows: readonly Record<string, unknown>[]): Promise<TraceEdge[]> {
    if (rows.length === 0) return [];
    const { rows: events } = await this.db.query(
      `SELECT e.parent_product, e.parent_lot, e.child_product, e.child_lot, e.uom,
         (SELECT array_agg(x.event_id ORDER BY x.at, x.event_id) FROM (
            SELECT event_id, at FROM ${this.s}.edge_events v
            WHERE v.child_product = e.child_product AND v.child_lot = e.child_lot
              AND v.parent_product = e.parent_product AND v.parent_lot = e.parent_lot AND v.uom = e.uom
            ORDER BY at, event_id LIMIT ${TRACE_LIMITS.eventsPerEdge}) x) AS events
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
         AS e(parent_product, parent_lot, child_product, child_lot, uom)`,
      [
        rows.map((r) => r.parent_product),
        rows.map((r) => r.parent_lot),
        rows.map((r) => r.child_product),
        rows.map((r) => r.child_lot),
        rows.map((r) => r.uom),
      ],
    );
    const ids = new Map(
      events.map((e) => [
        `${e.parent_product}\u0000${e.parent_lot}\u0000${e.child_product}\u0000${e.child_lot}\u0000${e.uom}`,
        (e.events as string[] | null) ?? [],
      ]),
    );
    return rows
      .map((r) => {
        const consumed = microsOf(String(r.consumed));
        const returned = microsOf(String(r.returned));
        return {
          from: { product: String(r.parent_product), lot: String(r.parent_lot) },
          to: { product: String(r.child_product), lot: String(r.child_lot) },
          uom: String(r.uom),
          consumed: formatMicros(consumed),
          returned: formatMicros(returned),
          net: formatMicros(consumed - returned),
          orders: (r.orders as string[]) ?? [],
          firstAt: iso(r.first_at) ?? "",
          lastAt: iso(r.last_at) ?? "",
          events:
            ids.get(
              `${r.parent_product}\u0000${r.parent_lot}\u0000${r.child_product}\u0000${r.child_lot}\u0000${r.uom}`,
            ) ?? [],
        };
      })
      .sort((a, b) => `${key(a.from)}>${key(a.to)}`.localeCompare(`${key(b.from)}>${key(b.to)}`));
  }

  /** Each lot's registration, product, quantity, orders, machines, holds, stock and status. */
  private async lotDetails(lots: readonly LotRef[]): Promise<Map<string, Omit<TraceLot, "depth">>> {
    const s = this.s;
    const p = [lots.map((l) => l.product), lots.map((l) => l.lot)];
    const set = "unnest($1::text[], $2::text[]) AS f(product, lot)";
    const [base, made, holds, moves] = await Promise.all([
      this.db.query(
        `SELECT f.product, f.lot, l.supplier_lot, l.registered_at, l.expires_at, l.origin_order,
           pr.name, pr.barcode
         FROM ${set} LEFT JOIN ${s}.lots l ON l.product = f.product AND l.lot = f.lot
         LEFT JOIN ${s}.products pr ON pr.product = f.product`,
        p,
      ),
      // What made each lot: counts and postings of the orders of its product that name it.
      this.db.query(
        `SELECT f.product, f.lot, x.kind, x.order_ref, x.site, x.line, x.machine, x.uom, x.counting_point,
           sum(x.good) AS good, min(x.at) AS first_at, max(x.at) AS last_at
         FROM ${set} JOIN ${s}.production x ON x.lot = f.lot AND f.lot <> ''
         LEFT JOIN ${s}.orders o ON o.order_ref = x.order_ref
         WHERE o.product IS NULL OR o.product = f.product
         GROUP BY f.product, f.lot, x.kind, x.order_ref, x.site, x.line, x.machine, x.uom, x.counting_point`,
        p,
      ),
      this.db.query(
        `SELECT f.product, f.lot, h.* FROM ${set} JOIN ${s}.holds h ON h.product = f.product AND h.lot = f.lot
         ORDER BY h.placed_at NULLS LAST, h.hold_id`,
        p,
      ),
      this.db.query(
        `SELECT f.product, f.lot, m.type, m.location, m.uom, sum(m.q) AS quantity, max(m.at) AS last_at,
           loc.usage
         FROM ${set} JOIN (
           SELECT product, lot, type, to_location AS location, uom, quantity AS q, at FROM ${s}.movements
           UNION ALL SELECT product, lot, type, from_location, uom, -quantity, at FROM ${s}.movements
         ) m ON m.product = f.product AND m.lot = f.lot AND f.lot <> ''
         LEFT JOIN ${s}.locations loc ON loc.full_name = m.location
         GROUP BY f.product, f.lot, m.type, m.location, m.uom, loc.usage`,
        p,
      ),
    ]);
    const out = new Map<string, Omit<TraceLot, "depth">>();
    for (const r of base.rows) {
      const l = { product: String(r.product), lot: String(r.lot) };
      out.set(key(l), {
        ...emptyLot(l),
        productName: text(r.name),
        barcode: text(r.barcode),
        supplierLot: text(r.supplier_lot),
        registeredAt: iso(r.registered_at),
        expiresAt: iso(r.expires_at),
        orders: r.origin_order ? [String(r.origin_order)] : [],
      });
    }
    const lotOf = (r: Record<string, unknown>) => out.get(`${r.product}/${r.lot}`);
    type Made = {
      orders: Set<string>;
      posted: Micros;
      counted: Micros;
      uom: string | null;
      machines: MachineSummary[];
    };
    const madeOf = new Map<string, Made>();
    for (const r of made.rows) {
      const k = `${r.product}/${r.lot}`;
      const m = madeOf.get(k) ?? { orders: new Set(), posted: 0n, counted: 0n, uom: null, machines: [] };
      madeOf.set(k, m);
      if (r.order_ref) m.orders.add(String(r.order_ref));
      const good = microsOf(String(r.good));
      m.uom ??= String(r.uom);
      if (r.kind === "posted") m.posted += good;
      else {
        if (r.counting_point) m.counted += good;
        const at = { first: iso(r.first_at) ?? "", last: iso(r.last_at) ?? "" };
        const same = m.machines.find(
          (x) => x.site === r.site && x.line === r.line && x.machine === r.machine,
        );
        if (same) {
          const merged: MachineSummary = {
            ...same,
            orders: [...new Set([...same.orders, ...(r.order_ref ? [String(r.order_ref)] : [])])].sort(),
            good: r.counting_point
              ? { value: formatMicros(microsOf(same.good?.value ?? "0") + good), uom: String(r.uom) }
              : same.good,
            firstAt: [at.first, same.firstAt].sort()[0] ?? at.first,
            lastAt: [at.last, same.lastAt].sort()[1] ?? at.last,
          };
          m.machines[m.machines.indexOf(same)] = merged;
        } else
          m.machines.push({
            site: text(r.site),
            line: text(r.line),
            machine: text(r.machine),
            orders: r.order_ref ? [String(r.order_ref)] : [],
            good: r.counting_point ? { value: formatMicros(good), uom: String(r.uom) } : null,
            firstAt: at.first,
            lastAt: at.last,
          });
      }
    }
    for (const [k, m] of madeOf) {
      const l = out.get(k);
      if (!l) continue;
      const amount = m.posted > 0n ? m.posted : m.counted;
      out.set(k, {
        ...l,
        orders: [...new Set([...l.orders, ...m.orders])].sort(),
        machines: m.machines.sort((a, b) => `${a.line}/${a.machine}`.localeCompare(`${b.line}/${b.machine}`)),
        quantity: amount > 0n && m.uom ? { value: formatMicros(amount), uom: m.uom } : l.quantity,
      });
    }
    for (const r of holds.rows) {
      const l = lotOf(r);
      if (!l) continue;
      const hold: HoldSummary = {
        holdId: String(r.hold_id),
        reason: text(r.reason),
        placedAt: iso(r.placed_at),
        placedBy: r.placed_by ? String(r.placed_by).replace(/\|[^|]*$/, "") : null,
        status: r.released_at ? String(r.release_status ?? "RELEASED") : "ACTIVE",
        releasedAt: iso(r.released_at),
      };
      out.set(`${r.product}/${r.lot}`, { ...l, holds: [...l.holds, hold] });
    }
    // Stock per location; received quantity; where the lot went.
    const flows = new Map<
      string,
      { stock: Map<string, Micros>; uom: string; received: Micros; out: Set<string> }
    >();
    for (const r of moves.rows) {
      const k = `${r.product}/${r.lot}`;
      const f = flows.get(k) ?? { stock: new Map(), uom: String(r.uom), received: 0n, out: new Set() };
      flows.set(k, f);
      const q = microsOf(String(r.quantity));
      const location = String(r.location);
      const isStock = r.usage != null ? r.usage === "internal" : !NOT_STOCK.test(location);
      if (isStock) f.stock.set(location, (f.stock.get(location) ?? 0n) + q);
      if (r.type === "RECEIPT" && q > 0n && isStock) f.received += q;
      if (!isStock && q > 0n) f.out.add(r.type === "DELIVERY" ? "SHIPPED" : "CONSUMED");
    }
    for (const [k, f] of flows) {
      const l = out.get(k);
      if (!l) continue;
      const stock: StockSummary[] = [...f.stock]
        .filter(([, q]) => q > 0n)
        .map(([location, q]) => ({ location, quantity: { value: formatMicros(q), uom: f.uom } }))
        .sort((a, b) => a.location.localeCompare(b.location));
      out.set(k, {
        ...l,
        stock,
        quantity: l.quantity ?? (f.received > 0n ? { value: formatMicros(f.received), uom: f.uom } : null),
        status:
          stock.length > 0
            ? "IN_STOCK"
            : f.out.has("SHIPPED")
              ? "SHIPPED"
              : f.out.size > 0
                ? "CONSUMED"
                : "UNKNOWN",
      });
    }
    for (const [k, l] of out)
      if (l.holds.some((h) => h.status === "ACTIVE")) out.set(k, { ...l, status: "ON_HOLD" });
    return out;
  }

  private async orders(refs: readonly string[]): Promise<OrderSummary[]> {
    if (refs.length === 0) return [];
    const { rows } = await this.db.query(
      `SELECT * FROM ${this.s}.orders WHERE order_ref = ANY($1::text[]) ORDER BY order_ref`,
      [refs],
    );
    const known = new Set(rows.map((r) => String(r.order_ref)));
    return [
      ...rows.map((r) => ({
        orderRef: String(r.order_ref),
        product: text(r.product),
        site: text(r.site),
        line: text(r.line),
        quantity: r.quantity != null ? { value: dec(r.quantity), uom: String(r.uom) } : null,
        releasedAt: iso(r.released_at),
        completedAt: iso(r.completed_at),
        produced:
          r.produced_quantity != null
            ? { value: dec(r.produced_quantity), uom: String(r.produced_uom) }
            : null,
      })),
      // An order named by a consumption but never released through the streams: listed, with what is known.
      ...refs
        .filter((r) => !known.has(r))
        .sort()
        .map((orderRef) => ({
          orderRef,
          product: null,
          site: null,
          line: null,
          quantity: null,
          releasedAt: null,
          completedAt: null,
          produced: null,
        })),
    ];
  }

  /** The shipments that carry any of `lots`, with the traced lot's share in each. */
  private async shipments(
    lots: readonly LotRef[],
    balance: Map<string, Balance>,
  ): Promise<ShipmentSummary[]> {
    const p = [lots.map((l) => l.product), lots.map((l) => l.lot)];
    const set = "unnest($1::text[], $2::text[]) AS f(product, lot)";
    const s = this.s;
    const { rows } = await this.db.query(
      `SELECT sh.*, pa.name AS partner_name, x.product, x.lot, x.uom, x.shipped, x.requested, x.shipped_at
       FROM (
         SELECT coalesce(d.picking_ref, r.picking_ref) AS picking_ref, coalesce(d.product, r.product) AS product,
           coalesce(d.lot, r.lot) AS lot, coalesce(d.uom, r.uom) AS uom, d.shipped, r.requested, d.shipped_at
         FROM (SELECT m.picking_ref, m.product, m.lot, m.uom, sum(m.quantity) AS shipped, max(m.at) AS shipped_at
               FROM ${set} JOIN ${s}.movements m ON m.product = f.product AND m.lot = f.lot
               WHERE m.type = 'DELIVERY' AND m.picking_ref IS NOT NULL AND f.lot <> ''
               GROUP BY 1, 2, 3, 4) d
         FULL JOIN (SELECT l.picking_ref, l.product, l.lot, l.uom, sum(l.quantity) AS requested
               FROM ${set} JOIN ${s}.shipment_lines l ON l.product = f.product AND l.lot = f.lot
               JOIN ${s}.shipments q ON q.picking_ref = l.picking_ref AND q.requested_by = l.event_id
               WHERE f.lot <> ''
               GROUP BY 1, 2, 3, 4) r
           ON r.picking_ref = d.picking_ref AND r.product = d.product AND r.lot = d.lot AND r.uom = d.uom
       ) x
       LEFT JOIN ${s}.shipments sh ON sh.picking_ref = x.picking_ref
       LEFT JOIN ${s}.partners pa ON pa.partner_ref = sh.customer_ref
       ORDER BY x.picking_ref, x.product, x.lot`,
      p,
    );
    const byPicking = new Map<string, { row: Record<string, unknown>; lines: Record<string, unknown>[] }>();
    for (const r of rows) {
      const ref = String(r.picking_ref);
      const entry = byPicking.get(ref) ?? { row: r, lines: [] };
      byPicking.set(ref, entry);
      entry.lines.push(r);
    }
    return [...byPicking].map(([pickingRef, { row, lines }]) => {
      const shipped = lines.some((l) => l.shipped != null);
      const blocked =
        row.blocked_at != null &&
        (row.cleared_at == null || new Date(String(row.blocked_at)) > new Date(String(row.cleared_at)));
      let traced: Micros | null = 0n;
      let tracedUom: string | null = null;
      const summaryLines = lines.map((l) => {
        const q = microsOf(String((shipped ? l.shipped : l.requested) ?? "0"));
        const lot = { product: String(l.product), lot: String(l.lot) };
        const share = balance.get(key(lot));
        const part = share ? share.carried(q, String(l.uom)) : null;
        if (traced !== null && part && (tracedUom === null || tracedUom === part.uom)) {
          traced += part.amount;
          tracedUom = part.uom;
        } else traced = null;
        return { ...lot, quantity: { value: formatMicros(q), uom: String(l.uom) } };
      });
      const latestShip =
        lines
          .map((l) => iso(l.shipped_at))
          .filter((t): t is string => t !== null)
          .sort()
          .pop() ?? null;
      return {
        pickingRef,
        site: text(row.site),
        status:
          row.cancelled_at != null ? "CANCELLED" : shipped ? "SHIPPED" : blocked ? "BLOCKED" : "REQUESTED",
        customerRef: text(row.customer_ref),
        customerName: text(row.partner_name) ?? text(row.customer_name),
        salesOrder: text(row.sales_order),
        requestedAt: iso(row.requested_at),
        shippedAt: latestShip,
        lines: summaryLines,
        tracedQuantity: traced !== null && tracedUom ? { value: formatMicros(traced), uom: tracedUom } : null,
      } satisfies ShipmentSummary;
    });
  }
}

/** A lot no event described beyond its name. */
function emptyLot(l: LotRef): Omit<TraceLot, "depth"> {
  return {
    ...l,
    productName: null,
    barcode: null,
    supplierLot: null,
    registeredAt: null,
    expiresAt: null,
    quantity: null,
    orders: [],
    machines: [],
    holds: [],
    stock: [],
    status: "UNKNOWN",
  };
}

/**
 * The edges that sit on a loop (rework): those Kahn's topological walk from the root never frees — a
 * second path to a lot is not a loop.
 */
function loopEdges(root: LotRef, edges: readonly TraceEdge[], forward: boolean): number {
  const src = (e: TraceEdge) => key(forward ? e.from : e.to);
  const dst = (e: TraceEdge) => key(forward ? e.to : e.from);
  const pending = new Map<string, number>();
  const out = new Map<string, TraceEdge[]>();
  for (const e of edges) {
    // Back into the traced lot, or a lot reworked into itself: on a loop, never freed.
    if (dst(e) === key(root) || src(e) === dst(e)) continue;
    pending.set(dst(e), (pending.get(dst(e)) ?? 0) + 1);
    out.set(src(e), [...(out.get(src(e)) ?? []), e]);
  }
  const ready = [key(root)];
  let freed = 0;
  while (ready.length > 0) {
    for (const e of out.get(ready.pop() as string) ?? []) {
      freed++;
      const left = (pending.get(dst(e)) ?? 1) - 1;
      pending.set(dst(e), left);
      if (left === 0) ready.push(dst(e));
    }
  }
  return edges.length - freed;
}

function backwardSupplierLots(forward: boolean, lots: readonly TraceLot[]): TraceResult["supplierLots"] {
  if (forward) return [];
  return lots
    .filter((l) => l.supplierLot !== null)
    .map((l) => ({ lot: { product: l.product, lot: l.lot }, supplierLot: l.supplierLot as string }));
}

/** How much of the traced lot one lot holds, and how to carry it into what that lot gives. */
interface Balance {
  /** The traced lot's amount in this lot; null when unknown. */
  readonly share: Quantity | null;
  /** The traced lot's amount in `q` of this lot (q in `uom`); null when unknown. */
  carried(q: Micros, uom: string): { amount: Micros; uom: string } | null;
}

/**
 * The traced lot's amount in every lot of a forward trace, in topological order of its edges (edges
 * that close a loop are left out). The root holds all of itself: q of the root is q.
 */
function massBalanceOf(
  root: TraceLot,
  lots: readonly TraceLot[],
  edges: readonly TraceEdge[],
): Map<string, Balance> {
  const byKey = new Map(lots.map((l) => [key(l), l]));
  const unit = root.quantity?.uom ?? edges.find((e) => key(e.from) === key(root))?.uom ?? null;
  const amount = new Map<string, Micros | null>();
  const incoming = new Map<string, TraceEdge[]>();
  const outgoing = new Map<string, TraceEdge[]>();
  for (const e of edges) {
    if (key(e.to) === key(root) || key(e.to) === key(e.from)) continue; // a loop: carries nothing new
    incoming.set(key(e.to), [...(incoming.get(key(e.to)) ?? []), e]);
    outgoing.set(key(e.from), [...(outgoing.get(key(e.from)) ?? []), e]);
  }
  // Kahn's order; what is left when no lot is free any more sits on a loop and stays unknown.
  const pending = new Map([...incoming].map(([k, es]) => [k, es.length]));
  const ready = [key(root)];
  const done = new Set<string>();
  const carriedBy = (k: string, q: Micros, uom: string): { amount: Micros; uom: string } | null => {
    if (!unit) return null;
    if (k === key(root)) return uom === unit ? { amount: q, uom: unit } : null;
    const have = amount.get(k);
    const made = byKey.get(k)?.quantity;
    if (have == null || !made || made.uom !== uom) return null;
    const total = microsOf(made.value);
    return total > 0n ? { amount: mulDivMicros(have, q, total), uom: unit } : null;
  };
  while (ready.length > 0) {
    const k = ready.shift() as string;
    if (done.has(k)) continue;
    done.add(k);
    for (const e of outgoing.get(k) ?? []) {
      const to = key(e.to);
      const part = carriedBy(k, microsOf(e.net), e.uom);
      const sofar = amount.has(to) ? amount.get(to) : 0n;
      amount.set(to, sofar == null || part == null ? null : sofar + part.amount);
      const left = (pending.get(to) ?? 1) - 1;
      pending.set(to, left);
      if (left === 0) ready.push(to);
    }
  }
  const out = new Map<string, Balance>();
  for (const l of lots) {
    const k = key(l);
    const have = k === key(root) ? null : done.has(k) ? (amount.get(k) ?? null) : null;
    out.set(k, {
      share:
        k === key(root)
          ? root.quantity
          : have !== null && unit
            ? { value: formatMicros(have), uom: unit }
            : null,
      carried: (q, uom) => carriedBy(k, q, uom),
    });
  }
  return out;
}

function customersOf(shipments: readonly ShipmentSummary[]): CustomerSummary[] {
  const by = new Map<
    string,
    { name: string | null; shipments: string[]; traced: Quantity | null | undefined }
  >();
  for (const s of shipments) {
    if (s.status === "CANCELLED" || !s.customerRef) continue;
    const c = by.get(s.customerRef) ?? { name: s.customerName, shipments: [], traced: undefined };
    by.set(s.customerRef, c);
    c.shipments.push(s.pickingRef);
    if (c.traced === undefined) c.traced = s.tracedQuantity;
    else if (c.traced === null || s.tracedQuantity === null || c.traced.uom !== s.tracedQuantity.uom)
      c.traced = null;
    else
      c.traced = {
        value: formatMicros(microsOf(c.traced.value) + microsOf(s.tracedQuantity.value)),
        uom: c.traced.uom,
      };
  }
  return [...by]
    .map(([customerRef, c]) => ({
      customerRef,
      name: c.name,
      shipments: c.shipments.sort(),
      tracedQuantity: c.traced ?? null,
    }))
    .sort((a, b) => a.customerRef.localeCompare(b.customerRef));
}
