/**
 * Example service for service teams (see docs/subscribing.md): tracks each production order's
 * progress — planned quantity from ProductionOrderReleased, good and reject counts summed from
 * ProductionReported — in a KV bucket other services can read.
 *
 * What it shows: typed handlers, per-key ordering (by ce-subject), idempotency under at-least-once
 * delivery (every applied event id is remembered in the order's record, updated by
 * compare-and-set), transient vs permanent failures, and `runService` doing the rest.
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
                if (r.goodQuantity.uom !== r.rejectQuantity.uom) {
                  // Retrying cannot fix a malformed report: dead-letter it with a reason ops can read.
                  throw new PermanentError(
                    "UOM_MISMATCH",
                    `good in ${r.goodQuantity.uom}, reject in ${r.rejectQuantity.uom}`,
                  );
                }
                await update(kv, r.orderRef, event.id, (p) => {
                  p.good = addDecimal(p.good, r.goodQuantity.value);
                  p.reject = addDecimal(p.reject, r.rejectQuantity.value);
                  p.uom ??= r.goodQuantity.uom;
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
