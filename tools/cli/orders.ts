/**
 * `threadline orders status [--stuck] [--all] [--json]`: the production orders the orchestrator runs
 * (its bucket THREADLINE_ORDERS), each with its step, how long it has been there, what it waits for
 * and why. Exit 0; with --stuck, exit 1 when an order is stuck (waiting, or past its step's budget),
 * so a script or a probe can alert on it.
 */
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { Command } from "commander";
import { ORDERS_BUCKET } from "../../services/production-orchestrator/src/manifest.js";
import { FINAL_STEPS, waitingFor } from "../../services/production-orchestrator/src/process.js";
import { OrderStore } from "../../services/production-orchestrator/src/store.js";
import { action, EXIT, withNats } from "./run.js";

/** One order as the status lists it. */
export interface OrderStatus {
  readonly orderRef: string;
  readonly product: string;
  readonly line: string | null;
  readonly step: string;
  readonly waitingFor: string | null;
  /** Why it waits (or the step's last reason). */
  readonly reason: string | null;
  /** When it entered its step. */
  readonly since: string;
  readonly inStepSeconds: number;
  /** Past its step's budget (an OrderStepOverdue was published). */
  readonly overdue: boolean;
  readonly lot: string | null;
}

export interface OrdersStatusOptions {
  /** Only orders waiting for something or past their budget. @default false */
  readonly stuck?: boolean;
  /** Shipped and cancelled orders too. @default false */
  readonly all?: boolean;
  /** @default Date.now() */
  readonly now?: number;
}

/** The orders, the longest in their step first. */
export async function ordersStatus(
  nc: NatsConnection,
  options: OrdersStatusOptions = {},
): Promise<OrderStatus[]> {
  const now = options.now ?? Date.now();
  const store = new OrderStore(await new Kvm(nc).open(ORDERS_BUCKET));
  return (await store.orders())
    .filter((o) => options.all || !FINAL_STEPS.has(o.step))
    .map((o): OrderStatus => {
      const wait = waitingFor(o);
      return {
        orderRef: o.orderRef,
        product: o.product.code,
        line: o.line,
        step: o.step,
        waitingFor: wait,
        reason: wait !== null ? (o.waits[wait] ?? null) : (o.history.at(-1)?.reason ?? null),
        since: new Date(o.enteredAt).toISOString(),
        inStepSeconds: Math.max(0, Math.round((now - o.enteredAt) / 1000)),
        overdue: o.overdueVisit === o.visit,
        lot: o.lot,
      };
    })
    .filter((o) => !options.stuck || o.waitingFor !== null || o.overdue)
    .sort((a, b) => b.inStepSeconds - a.inStepSeconds);
}

function duration(seconds: number): string {
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86_400)}d`;
}

export function ordersCommand(): Command {
  const cmd = new Command("orders").description("production orders as the production orchestrator runs them");
  cmd
    .command("status")
    .description(
      "open orders with their step, how long they have been there and what they wait for; --stuck: only waiting or late ones (exit 1 when any)",
    )
    .option("-s, --server <url>", "NATS server URL (default: $NATS_URL, else nats://127.0.0.1:4222)")
    .option(
      "--stuck",
      "only orders waiting for something or past their step's budget; exit 1 when there is one",
    )
    .option("--all", "shipped and cancelled orders too")
    .option("--json", "print JSON")
    .action(
      action(async (opts: { server?: string; stuck?: boolean; all?: boolean; json?: boolean }) =>
        withNats(opts, async (nc) => {
          const rows = await ordersStatus(nc, { stuck: opts.stuck === true, all: opts.all === true });
          if (opts.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
          else if (rows.length === 0)
            process.stdout.write(opts.stuck ? "no order is stuck\n" : "no open order\n");
          else
            for (const r of rows)
              process.stdout.write(
                `${r.orderRef.padEnd(14)} ${r.product.padEnd(12)} ${(r.line ?? "-").padEnd(8)} ${r.step.padEnd(14)} ${duration(r.inStepSeconds).padStart(5)}${r.overdue ? " LATE" : ""}${r.waitingFor ? `  waiting for ${r.waitingFor}: ${r.reason}` : r.reason ? `  (${r.reason})` : ""}\n`,
              );
          return opts.stuck && rows.length > 0 ? EXIT.failed : EXIT.ok;
        }),
      ),
    );
  return cmd;
}
