/**
 * Production orders as the console shows them, from the events alone (no service's private state):
 * the list with each order's step, what it waits for and why (the orchestrator's OrderStepChanged and
 * OrderStepOverdue), and one order's timeline across the streams — released, dispatched, reported per
 * machine, posted in Odoo or dead-lettered, quality events, movements and shipments of its lots — in
 * time order.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import type { EventCodec } from "../../../../contracts/src/index.js";
import {
  deadLetterSummary,
  decodeDeadLetter,
  parseDlqFilter,
  readDeadLetters,
} from "../../../../streams/src/index.js";
import { ConsoleError, ConsoleErrorCode } from "../errors.js";
import { type EventRow, eventRow, mergeScans, type ScanResult, scanEvents } from "./scan.js";

export interface OrderSummary {
  readonly orderRef: string;
  readonly product: string | null;
  readonly quantity: string | null;
  readonly line: string | null;
  readonly lot: string | null;
  readonly step: string;
  readonly waitingFor: string | null;
  readonly reason: string | null;
  readonly since: string;
  readonly overdue: boolean;
  readonly good: number;
  readonly reject: number;
  readonly posted: number;
  readonly deadLetters: number;
  readonly stuck: boolean;
  readonly lastEventAt: string;
}

/** How far back the pages read by default. */
export const DEFAULT_WINDOW_MS = 30 * 86_400_000;

const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : null);
const num = (v: unknown) => (typeof v === "string" || typeof v === "number" ? Number(v) || 0 : 0);

interface Building {
  orderRef: string;
  product: string | null;
  quantity: string | null;
  line: string | null;
  lot: string | null;
  step: string;
  waitingFor: string | null;
  reason: string | null;
  since: string;
  overdueSince: string | null;
  good: number;
  reject: number;
  posted: number;
  lastEventAt: string;
}

/** An order before its first event is applied. */
function unknownOrder(orderRef: string, at: string): Building {
  return {
    orderRef,
    product: null,
    quantity: null,
    line: null,
    lot: null,
    step: "UNKNOWN",
    waitingFor: null,
    reason: null,
    since: at,
    overdueSince: null,
    good: 0,
    reject: 0,
    posted: 0,
    lastEventAt: at,
  };
}

function apply(o: Building, e: EventRow): void {
  const v = e.value;
  o.lastEventAt = e.storedAt;
  const product = v["product"] as Record<string, unknown> | undefined;
  const quantity = v["quantity"] as Record<string, unknown> | undefined;
  const equipment = v["equipment"] as Record<string, unknown> | undefined;
  switch (e.type) {
    case "mfg.production.production_order_released.v1":
      o.product = str(product?.["code"]) ?? str(product?.["name"]) ?? o.product;
      o.quantity = quantity ? `${quantity["value"]} ${quantity["uom"] ?? ""}`.trim() : o.quantity;
      o.line = str(equipment?.["line"]) ?? o.line;
      o.lot = str(v["lotToProduce"]) ?? o.lot;
      if (o.step === "UNKNOWN") {
        o.step = "RELEASED";
        o.since = e.time;
      }
      break;
    case "mfg.production.order_step_changed.v1":
      o.step = str(v["step"]) ?? o.step;
      o.waitingFor = str(v["waitingFor"]);
      o.reason = str(v["reason"]);
      o.lot = str(v["lot"]) ?? o.lot;
      o.line = str(equipment?.["line"]) ?? o.line;
      o.since = str(v["changedAt"]) ?? e.storedAt;
      o.overdueSince = null;
      break;
    case "mfg.production.order_step_overdue.v1":
      if (str(v["step"]) === o.step) o.overdueSince = str(v["overdueAt"]) ?? e.storedAt;
      break;
    case "mfg.production.production_reported.v1":
      o.good += num((v["goodQuantity"] as Record<string, unknown> | undefined)?.["value"]);
      o.reject += num((v["rejectQuantity"] as Record<string, unknown> | undefined)?.["value"]);
      o.lot = str(v["lot"]) ?? o.lot;
      break;
    case "mfg.production.production_posted.v1":
      o.posted++;
      break;
  }
}

export class Orders {
  constructor(
    private readonly nc: NatsConnection,
    private readonly codec: EventCodec,
  ) {}

  /** Every order with an event in the window, newest first; `stuck` only those waiting, overdue or dead-lettered. */
  async list(o: { since?: Date; stuck?: boolean; final?: boolean } = {}) {
    const since = o.since ?? new Date(Date.now() - DEFAULT_WINDOW_MS);
    const orders = new Map<string, Building>();
    const scan = await scanEvents(this.nc, this.codec, { stream: "MFG_PRODUCTION", since }, (event) => {
      const row = eventRow(event);
      const ref = str(row.value["orderRef"]);
      if (!ref) return;
      let b = orders.get(ref);
      if (!b) {
        b = unknownOrder(ref, row.storedAt);
        orders.set(ref, b);
      }
      apply(b, row);
    });
    const letters = await this.#deadLettersByName(since);
    const items: OrderSummary[] = [...orders.values()]
      .map((b) => {
        const deadLetters = letters.get(b.orderRef)?.length ?? 0;
        const overdue = b.overdueSince !== null;
        return {
          orderRef: b.orderRef,
          product: b.product,
          quantity: b.quantity,
          line: b.line,
          lot: b.lot,
          step: b.step,
          waitingFor: b.waitingFor,
          reason: b.reason,
          since: b.since,
          overdue,
          good: b.good,
          reject: b.reject,
          posted: b.posted,
          deadLetters,
          stuck: b.waitingFor !== null || overdue || deadLetters > 0,
          lastEventAt: b.lastEventAt,
        };
      })
      .filter((s) => !o.stuck || s.stuck)
      .sort((a, b) => (a.lastEventAt < b.lastEventAt ? 1 : -1));
    return { scan, items };
  }

  /**
   * One order's timeline: its production events, then everything keyed by or naming it or one of its
   * lots in quality, inventory and shipping, and its dead letters, in time order. CONSOLE_NOT_FOUND
   * when the window holds no production event of it.
   */
  async timeline(orderRef: string, o: { since?: Date } = {}) {
    const since = o.since ?? new Date(Date.now() - DEFAULT_WINDOW_MS);
    const rows: EventRow[] = [];
    const lots = new Set<string>();
    const summary = unknownOrder(orderRef, "");
    const scans: ScanResult[] = [];
    scans.push(
      await scanEvents(this.nc, this.codec, { stream: "MFG_PRODUCTION", since }, (event) => {
        const row = eventRow(event);
        if (row.value["orderRef"] !== orderRef && row.key !== orderRef) return;
        rows.push(row);
        apply(summary, row);
        for (const k of ["lotToProduce", "lot"]) {
          const lot = str(row.value[k]);
          if (lot) lots.add(lot);
        }
      }),
    );
    if (rows.length === 0)
      throw new ConsoleError(
        ConsoleErrorCode.NotFound,
        `no production event of order ${orderRef} since ${since.toISOString()} (check the reference, or widen the window)`,
      );
    const names = new Set([orderRef, ...lots]);
    for (const stream of ["MFG_QUALITY", "MFG_INVENTORY", "MFG_SHIPPING"])
      scans.push(
        await scanEvents(this.nc, this.codec, { stream, since }, (event) => {
          const row = eventRow(event);
          if (names.has(row.key) || mentions(row.value, names)) rows.push(row);
        }),
      );
    const deadLetters = await this.#deadLettersOf(names, since);
    rows.sort((a, b) => (a.storedAt < b.storedAt ? -1 : a.storedAt > b.storedAt ? 1 : 0));
    const overdue = summary.overdueSince !== null;
    return {
      order: {
        orderRef,
        product: summary.product,
        quantity: summary.quantity,
        line: summary.line,
        lots: [...lots],
        step: summary.step,
        waitingFor: summary.waitingFor,
        reason: summary.reason,
        since: summary.since,
        overdue,
        good: summary.good,
        reject: summary.reject,
        posted: summary.posted,
        stuck: summary.waitingFor !== null || overdue || deadLetters.length > 0,
      },
      events: rows,
      deadLetters,
      scan: mergeScans(scans),
    };
  }

  /**
   * The dead letters of the window by the orders and lots they concern: their business key, and every
   * order reference or lot their payload names (a run end is keyed by its machine, but names its order).
   */
  async #deadLettersByName(since: Date) {
    const byName = new Map<string, ReturnType<typeof deadLetterSummary>[]>();
    // One at a time: only each letter's summary and the names it concerns are kept, not its payload.
    for await (const d of readDeadLetters(this.nc, parseDlqFilter({ since: since.toISOString() }), {
      cleanup: "expire",
    })) {
      const s = deadLetterSummary(d);
      const decoded = await decodeDeadLetter(this.codec, d);
      const names = new Set<string>(s.key ? [s.key] : []);
      if (decoded.ok)
        for (const k of ["orderRef", "lot", "lotToProduce"]) {
          const v = str((decoded.json as Record<string, unknown> | null)?.[k]);
          if (v) names.add(v);
        }
      for (const n of names) byName.set(n, [...(byName.get(n) ?? []), s]);
    }
    return byName;
  }

  async #deadLettersOf(names: ReadonlySet<string>, since: Date) {
    const byName = await this.#deadLettersByName(since);
    const seen = new Set<number>();
    return [...names]
      .flatMap((n) => byName.get(n) ?? [])
      .filter((d) => !seen.has(d.seq) && seen.add(d.seq) !== undefined)
      .sort((a, b) => a.seq - b.seq);
  }
}

/** Whether any string in the value (at any depth) is one of the names. */
function mentions(value: unknown, names: ReadonlySet<string>): boolean {
  if (typeof value === "string") return names.has(value);
  if (Array.isArray(value)) return value.some((v) => mentions(v, names));
  if (value !== null && typeof value === "object")
    return Object.values(value).some((v) => mentions(v, names));
  return false;
}
