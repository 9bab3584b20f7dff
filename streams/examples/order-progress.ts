/**
 * Example service for service teams (see docs/subscribing.md): tracks each production order's
 * progress — planned quantity from ProductionOrderReleased, good and reject counts summed from
 * ProductionReported — in a KV bucket other services can read.
 *
 * What it shows: typed handlers, per-key ordering (by ce-subject), idempotency under at-least-once
 * delivery (every applied event id is remembered in the order's record, updated by
 * compare-and-set), transient vs permanent failures, units converted exactly with the SDK's unit
 * table (a report counted in Units and Dozens adds up on an order in Units; kg is dead-lettered), and
 * `runService` doing the rest.
 *
 * Run it: `NATS_URL=nats://… HTTP_PORT=9464 node dist/streams/examples/order-progress.js`
 */
import { fileURLToPath } from "node:url";
import { type KV, Kvm } from "@nats-io/kv";
import { z } from "zod";
import { formatDecimal, parseDecimal } from "../../contracts/src/index.js";
import {
  BaseServiceConfig,
  PermanentError,
  RetryableError,
  type RunningService,
  runService,
  type UnitQuantity,
  type UnitRecord,
  type UnitTable,
  unitTable,
} from "../src/index.js";

export const ORDER_PROGRESS_BUCKET = "THREADLINE_EXAMPLE_ORDER_PROGRESS";

/** The record kept per order (JSON in the KV bucket, key = the order reference). */
export interface OrderProgress {
  order: string;
  product: string | null;
  /** Exact decimals as strings, like the events. */
  planned: string | null;
  good: string;
  reject: string;
  uom: string | null;
  /** Ids of the events already applied: a redelivery or a replay is recognised and skipped. */
  applied: string[];
}

/** The service's config: the base settings plus its own. */
export const OrderProgressConfig = BaseServiceConfig.extend({
  /** The durable it reads with (declare it with `threadline streams apply`). */
  ORDER_PROGRESS_DURABLE: z.string().min(1).default("order-progress"),
});

/**
 * The units the example knows: Odoo 16–18's standard units of the Unit and Weight categories, as
 * `uom.uom` rows give them (a service fed by Odoo, or by master-data events, builds its table from
 * those instead). Dozens' factor is the float Odoo stores for 1/12.
 */
export const EXAMPLE_UNITS: readonly UnitRecord[] = [
  { name: "Units", category: "Unit", factor: 1, type: "reference", rounding: 0.01 },
  { name: "Dozens", category: "Unit", factor: 1 / 12, type: "bigger", rounding: 0.01 },
  { name: "kg", category: "Weight", factor: 1, type: "reference", rounding: 0.01 },
  { name: "g", category: "Weight", factor: 1000, type: "smaller", rounding: 0.01 },
];

/**
 * `q` in the order's unit, HALF-UP to the unit's rounding as Odoo books a move's quantity. The SDK
 * refuses a unit of another category or an unknown one with a PermanentError naming both units
 * (UOM_CATEGORY_MISMATCH / UOM_UNKNOWN): the handler lets it through, so the report is dead-lettered.
 */
function inUnit(units: UnitTable, q: UnitQuantity, unit: string): string {
  return q.uom === unit ? q.value : units.convert(q, unit, { rounding: "HALF-UP" }).value;
}

/** Adds two decimal strings exactly, at the events' scale (6), with the contracts' decimal helpers. */
export function addDecimal(a: string, b: string, scale = 6): string {
  const units = (s: string) => {
    const u = parseDecimal(s, scale, 38);
    if (u === undefined) throw new PermanentError("BAD_DECIMAL", `${s} is not a decimal with scale ${scale}`);
    return u;
  };
  return formatDecimal(units(a) + units(b), scale);
}

/** The KV key of an order: its reference with characters KV keys do not allow replaced. */
export const orderKey = (order: string) => order.replace(/[^-/_=a-zA-Z0-9]/g, "_");

/** Applies `change` to an order's record by compare-and-set, once per event id. */
async function update(
  kv: KV,
  order: string,
  eventId: string,
  change: (p: OrderProgress) => void,
): Promise<void> {
  const key = orderKey(order);
  for (let attempt = 0; attempt < 10; attempt++) {
    const entry = await kv.get(key);
    const current: OrderProgress =
      entry?.operation === "PUT"
        ? entry.json<OrderProgress>()
        : { order, product: null, planned: null, good: "0", reject: "0", uom: null, applied: [] };
    if (current.applied.includes(eventId)) return; // already applied: at-least-once made idempotent
    change(current);
    current.applied = [...current.applied, eventId].slice(-1000);
    const data = JSON.stringify(current);
    try {
      if (entry) await kv.update(key, data, entry.revision);
      else await kv.create(key, data);
      return;
    } catch {
      // Another writer got there first: read again.
    }
  }
  throw new RetryableError("ORDER_PROGRESS_CONTENDED", `order ${order} kept changing under us; will retry`);
}

export function startOrderProgress(
  env: Record<string, string | undefined> = process.env,
): Promise<RunningService> {
  return runService({
    name: "order-progress",
    configSchema: OrderProgressConfig,
    env,
    setup: async ({ nc, config }) => {
      const units = unitTable(EXAMPLE_UNITS);
      const kv = await new Kvm(nc).create(ORDER_PROGRESS_BUCKET, { history: 5 });
      return {
        consumers: [
          {
            stream: "MFG_PRODUCTION",
            durable: config.ORDER_PROGRESS_DURABLE,
            // Events with the same ce-subject run one at a time, in stream order. That key is the order for
            // Odoo's order events but the machine for the bridge's reports, so reports of one order from two
            // machines, or a report and its order's release, may run at once: update() is a compare-and-set,
            // and the sums do not depend on the order they are added in.
            ordered: true,
            concurrency: 8,
            handlers: {
              "mfg.production.production_order_released.v1": async (event) => {
                const o = event.value;
                await update(kv, o.orderRef, event.id, (p) => {
                  p.product = o.product.code;
                  p.planned = o.quantity.value;
                  p.uom = o.quantity.uom;
                });
              },
              "mfg.production.production_reported.v1": async (event, ctx) => {
                const r = event.value;
                if (r.orderRef === null) {
                  ctx.logger.debug("report without an order: nothing to track");
                  return;
                }
                await update(kv, r.orderRef, event.id, (p) => {
                  // Counted in the order's unit; before its release is seen, in the good count's.
                  p.uom ??= r.goodQuantity.uom;
                  const good = inUnit(units, r.goodQuantity, p.uom);
                  const reject = inUnit(units, r.rejectQuantity, p.uom);
                  p.good = addDecimal(p.good, good);
                  p.reject = addDecimal(p.reject, reject);
                });
              },
            },
          },
        ],
      };
    },
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await startOrderProgress();
}
