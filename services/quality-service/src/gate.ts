/**
 * The shipment gate. A delivery Odoo asks to ship (ShipmentRequested) is checked lot by lot, with every
 * lot its lots were made from (the genealogy's backward trace), against the holds that block a lot
 * (active, or rejected: scrap, rework and return keep a lot out of shipments for good): blocked
 * (ShipmentBlocked, naming the lots and holds) or cleared (ShipmentCleared). The delivery is watched
 * until it leaves or is cancelled: a hold placed on any lot of it blocks it again, the release of its
 * last hold clears it.
 *
 * When the genealogy cannot be asked the gate fails closed: the delivery is blocked, each of its lots
 * with the reason, and checked again every QUALITY_GATE_RECHECK_MS until the genealogy answers.
 *
 * A decision is published only when it changes (blocked by other holds, cleared, failed closed), with
 * an id derived from the delivery, the request and the decision's number: a redelivered or replayed
 * request finds the delivery judged and publishes nothing.
 */
import type { ShipmentBlocked, ShipmentCleared, ShipmentRequested } from "../../../contracts/src/index.js";
import { derivedEventId } from "../../../streams/src/index.js";
import type { QualityContext } from "./context.js";
import { SERVICE } from "./context.js";
import type { LotKey } from "./genealogy.js";
import type { HoldListener } from "./holds.js";
import { productRefOf } from "./holds.js";
import { type HoldRecord, lotId, type ShipmentRecord } from "./state.js";

/** How deep the gate looks into what a delivered lot was made from. */
export const GATE_DEPTH = 50;

export class ShipmentGate implements HoldListener {
  constructor(private readonly ctx: QualityContext) {}

  /** A delivery to judge (call within `ctx.serial`). */
  async requested(eventId: string, e: ShipmentRequested): Promise<void> {
    const pickingId = e.odooPickingId.toString();
    const known = this.ctx.state.shipments.get(pickingId);
    // Judged already (a redelivery, a replay), or gone: a delivery that left is not asked for again.
    if (known?.requestId === eventId || known?.finished === "shipped") return;
    const lots = unique(e.lines.flatMap((l) => (l.lot ? [{ product: l.product.code, lot: l.lot }] : [])));
    const base: ShipmentRecord = {
      pickingRef: e.pickingRef,
      odooPickingId: pickingId,
      site: e.site,
      customerRef: e.customerRef,
      requestId: eventId,
      lots,
      closure: null,
      state: known?.state ?? "cleared",
      holds: known?.holds ?? [],
      failure: null,
      wasBlocked: known?.wasBlocked ?? false,
      decisionId: "",
      decidedAt: 0,
      finished: null,
      finishedAt: null,
    };
    await this.#judge(base, true);
  }

  /** A delivery that left or was cancelled: no longer watched (remembered for replays). */
  async finished(odooPickingId: string, why: "shipped" | "cancelled", at: Date): Promise<void> {
    const known = this.ctx.state.shipments.get(odooPickingId);
    if (!known || known.finished !== null) return;
    await this.ctx.state.putShipment({ ...known, finished: why, finishedAt: at.getTime() });
  }

  /** The deliveries watched now. */
  #watched(): ShipmentRecord[] {
    return [...this.ctx.state.shipments.values()].filter((s) => s.finished === null);
  }

  async holdPlaced(hold: HoldRecord): Promise<void> {
    const id = lotId({ product: hold.product.code, lot: hold.lot });
    for (const s of this.#watched())
      if (s.closure?.some((l) => lotId(l) === id) && !s.holds.includes(hold.holdId)) {
        const wasCleared = s.state === "cleared";
        const judged = await this.#judge(s, false);
        if (wasCleared && judged.state === "blocked")
          this.ctx.metrics.holdToBlock((Date.now() - hold.placedAt) / 1000);
      }
  }

  /** A release may clear deliveries; a rejection changes nothing (the lot stays blocked). */
  async holdDecided(hold: HoldRecord): Promise<void> {
    for (const s of this.#watched()) if (s.holds.includes(hold.holdId)) await this.#judge(s, false);
  }

  /** Checks again the deliveries blocked because the genealogy could not be asked. */
  async recheck(): Promise<void> {
    for (const s of this.#watched()) if (s.state === "failclosed") await this.#judge(s, true);
  }

  /** The deliveries watched now and, with `all`, those that left or were cancelled (the API's list). */
  shipments(all = false): ShipmentRecord[] {
    return all ? [...this.ctx.state.shipments.values()] : this.#watched();
  }

  async #judge(s: ShipmentRecord, trace: boolean): Promise<ShipmentRecord> {
    let closure = s.closure;
    let failure: string | null = null;
    if (trace || closure === null) {
      try {
        closure = await this.#closure(s.lots);
      } catch (err) {
        closure = null;
        failure = (err as Error).message;
      }
    }
    const active = closure ? closure.flatMap((l) => this.ctx.state.blockingHolds(l)) : [];
    const next: ShipmentRecord =
      failure !== null
        ? { ...s, closure, state: "failclosed", holds: [], failure }
        : {
            ...s,
            closure,
            state: active.length > 0 ? "blocked" : "cleared",
            holds: active.map((h) => h.holdId).sort(),
            failure: null,
          };
    const changed =
      s.decisionId === "" || next.state !== s.state || next.holds.join(",") !== s.holds.join(",");
    if (!changed) {
      if (next.closure !== s.closure) await this.ctx.state.putShipment(next);
      return next;
    }
    const decidedAt = new Date();
    const decisionId = derivedEventId(
      SERVICE,
      "gate",
      s.odooPickingId,
      s.requestId,
      next.state,
      next.holds.join(","),
      String(s.decidedAt),
    );
    const recorded: ShipmentRecord = {
      ...next,
      decisionId,
      decidedAt: decidedAt.getTime(),
      wasBlocked: s.wasBlocked || next.state !== "cleared",
    };
    // The state first: a crash after it republishes nothing, but the decision is in the record to resend.
    if (next.state === "cleared") {
      const cleared: ShipmentCleared = {
        pickingRef: s.pickingRef,
        odooPickingId: BigInt(s.odooPickingId),
        site: s.site,
        lots: unique(closure ?? []).map((l) => l.lot),
        wasBlocked: s.wasBlocked,
        clearedAt: decidedAt,
      };
      await this.ctx.publisher.publish("mfg.shipping.shipment_cleared.v1", cleared, {
        site: s.site,
        key: s.pickingRef,
        id: decisionId,
        time: decidedAt,
      });
    } else {
      const blocked: ShipmentBlocked = {
        pickingRef: s.pickingRef,
        odooPickingId: BigInt(s.odooPickingId),
        site: s.site,
        blockedLots: next.state === "blocked" ? this.#blockedLots(active) : failedLots(s.lots, failure ?? ""),
        blockedAt: decidedAt,
      };
      await this.ctx.publisher.publish("mfg.shipping.shipment_blocked.v1", blocked, {
        site: s.site,
        key: s.pickingRef,
        id: decisionId,
        time: decidedAt,
      });
    }
    await this.ctx.state.putShipment(recorded);
    this.ctx.metrics.gate(next.state);
    this.ctx.logger.info(
      { pickingRef: s.pickingRef, decision: next.state, holds: next.holds, ...(failure ? { failure } : {}) },
      "shipment gate decision",
    );
    return recorded;
  }

  async #closure(lots: readonly LotKey[]): Promise<LotKey[]> {
    const all: LotKey[] = [];
    for (const lot of lots) all.push(...(await this.ctx.genealogy.lots(lot, "backward", GATE_DEPTH)));
    return unique(all);
  }

  #blockedLots(active: readonly HoldRecord[]): ShipmentBlocked["blockedLots"] {
    const byLot = new Map<string, HoldRecord[]>();
    for (const h of active) {
      const id = lotId({ product: h.product.code, lot: h.lot });
      byLot.set(id, [...(byLot.get(id) ?? []), h]);
    }
    return [...byLot.values()].map((holds) => {
      const [first] = holds.sort((a, b) => a.placedAt - b.placedAt) as [HoldRecord];
      return {
        lot: first.lot,
        product: productRefOf(first.product),
        holdIds: holds.map((h) => h.holdId),
        reason: first.reason,
      };
    });
  }
}

/** Fail closed: each lot of the delivery, no hold, the reason it could not be checked. */
function failedLots(lots: readonly LotKey[], failure: string): ShipmentBlocked["blockedLots"] {
  const reason = `not checked, blocked until it can be: ${failure}`;
  return (lots.length > 0 ? lots : [{ product: "", lot: "" }]).map((l) => ({
    lot: l.lot,
    product: { code: l.product, name: null, odooId: null },
    holdIds: [],
    reason,
  }));
}

function unique(lots: readonly LotKey[]): LotKey[] {
  const seen = new Map<string, LotKey>();
  for (const l of lots) seen.set(lotId(l), l);
  return [...seen.values()];
}
