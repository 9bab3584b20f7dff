/**
 * The load of the Odoo benches: confirmed manufacturing orders in the simulator, ProductionReported
 * events spread over them, and the ProductionPosted events the connector stored for them.
 */

import type { NatsConnection } from "@nats-io/nats-core";
import type { ProductionReported } from "../../contracts/src/index.js";
import type { OdooClient } from "../../services/odoo-connector/src/odoo/index.js";
import { postingsOf } from "../../services/odoo-connector/src/outbound/production/index.js";
import { readMessages } from "../../streams/src/index.js";
import { sleep } from "./bridge-measure.js";

const STREAM = "MFG_PRODUCTION";
const POSTED_FILTER = "mfg.production.production_posted.>";
/** Lot-tracked (a lot per order, created by the first posting) and untracked, alternately. */
const PRODUCTS = [
  { code: "FIN-CC100", tracked: true },
  { code: "FIN-SB20", tracked: false },
] as const;

export interface BenchOrder {
  readonly name: string;
  readonly line: string;
  readonly machine: string;
  readonly lot: string | null;
}

/** Confirmed manufacturing orders of 100 000 units (every report leaves a backorder). */
export async function createOrders(client: OdooClient, count: number, tag: string): Promise<BenchOrder[]> {
  const productIds = await Promise.all(
    PRODUCTS.map(async (p) => {
      const [id] = await client.search("product.product", [["default_code", "=", p.code]], { limit: 1 });
      if (id === undefined) throw new Error(`the simulator has no product ${p.code}`);
      return id;
    }),
  );
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const product = PRODUCTS[i % PRODUCTS.length] as (typeof PRODUCTS)[number];
      const id = await client.create("mrp.production", {
        product_id: productIds[i % PRODUCTS.length],
        product_qty: 100_000,
      });
      await client.call("mrp.production", "action_confirm", { ids: [id] });
      const [row] = await client.read("mrp.production", [id], ["name"]);
      return {
        name: String(row?.["name"]),
        line: `line-${(i % 5) + 1}`,
        machine: `m${String(i + 1).padStart(3, "0")}`,
        lot: product.tracked ? `BENCH-${tag}-${i + 1}` : null,
      };
    }),
  );
}

/** The k-th report of every order, then the (k+1)-th: reports of one order are `orders` apart. */
export function reportsFor(
  orders: readonly BenchOrder[],
  events: number,
): { order: BenchOrder; good: number }[] {
  const out: { order: BenchOrder; good: number }[] = [];
  for (let k = 0; out.length < events; k++)
    for (const [i, order] of orders.entries()) {
      if (out.length >= events) break;
      out.push({ order, good: 1 + ((i + k) % 5) });
    }
  return out;
}

export function reportValue(order: BenchOrder, good: number, at: Date, site: string): ProductionReported {
  return {
    equipment: { site, area: null, line: order.line, cell: null, machine: order.machine },
    orderRef: order.name,
    lot: order.lot,
    goodQuantity: { value: String(good), uom: "Units" },
    rejectQuantity: { value: "0", uom: "Units" },
    goodCounterFrom: 0n,
    goodCounterTo: BigInt(good),
    rejectCounterFrom: 0n,
    rejectCounterTo: 0n,
    periodStartAt: at,
    reportedAt: at,
    countingPoint: true,
    rejectedComponent: null,
    running: [],
  };
}

/**
 * ProductionPosted stored after `fromSeq`: stored time by ce-id. The last ones may land just after
 * the postings are counted (the event follows Odoo's answer): read again from where the last read
 * ended until `expected` are in, or nothing new came for two seconds.
 */
export async function postedSince(
  nc: NatsConnection,
  fromSeq: number,
  expected: number,
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let next = fromSeq + 1;
  for (let idleMs = 0; out.size < expected && idleMs < 2_000; ) {
    let got = 0;
    const read = {
      stream: STREAM,
      filter: POSTED_FILTER,
      fromSequence: next,
      headersOnly: true,
      batch: 1_000,
    };
    for await (const m of readMessages(nc, read)) {
      got++;
      next = m.seq + 1;
      out.set(m.headers?.get("Nats-Msg-Id") ?? "", m.info.timestampNanos / 1e6);
    }
    if (got > 0) idleMs = 0;
    else {
      idleMs += 200;
      await sleep(200);
    }
  }
  return out;
}

/** What Odoo holds for the reports: its posting records (x_threadline_posting) and the orders' counts. */
export interface OdooPostings {
  /** Posting records carrying one of the reports' event ids. */
  readonly postings: number;
  readonly distinctIds: number;
  /** Posting records still `pending` (later steps not done). */
  readonly pending: number;
  /** Posting records whose good quantity is not the report's. */
  readonly quantityMismatches: number;
  /** Orders whose quantity in production is not the sum of their reports'. */
  readonly orderMismatches: number;
}

/**
 * Each report should be exactly one complete posting record carrying its event id and quantity, and
 * each order should count the sum of its reports: nothing lost, nothing doubled.
 */
export async function odooPostings(
  admin: OdooClient,
  reports: readonly { readonly id: string; readonly good: number; readonly order: string }[],
): Promise<OdooPostings> {
  const good = new Map(reports.map((p) => [p.id, p.good]));
  const records = await postingsOf({ odoo: admin }, [...good.keys()]);
  const perOrder = new Map<string, number>();
  for (const r of reports) perOrder.set(r.order, (perOrder.get(r.order) ?? 0) + r.good);
  const orders = await admin.searchRead("mrp.production", [["name", "in", [...perOrder.keys()]]], {
    fields: ["name", "qty_producing"],
  });
  return {
    postings: records.length,
    distinctIds: new Set(records.map((r) => r.eventId)).size,
    pending: records.filter((r) => r.pending).length,
    quantityMismatches: records.filter((r) => good.get(r.eventId) !== r.good).length,
    orderMismatches:
      perOrder.size -
      orders.filter((o) => perOrder.get(String(o["name"])) === Number(o["qty_producing"])).length,
  };
}
