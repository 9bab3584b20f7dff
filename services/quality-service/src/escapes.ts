/**
 * A missed hold is loud. Every delivery to a customer Odoo posts (GoodsMovementPosted, DELIVERY) is
 * checked against the holds that were active when it was posted — on the lot itself and, when the gate
 * judged the delivery, on every lot it was made from. A held lot that left raises a nonconformance of
 * kind escape (defect code HOLD-ESCAPE, CRITICAL), counts `threadline_quality_hold_escapes_total`
 * (the alert QualityHoldEscaped fires on it) and is kept for `threadline quality reconcile`.
 *
 * The movement also ends the gate's watch of the delivery: it has left.
 */
import { createHash } from "node:crypto";
import type { GoodsMovementPosted, NonconformanceRaised } from "../../../contracts/src/index.js";
import { derivedEventId } from "../../../streams/src/index.js";
import type { QualityContext } from "./context.js";
import { SERVICE } from "./context.js";
import type { ShipmentGate } from "./gate.js";
import type { LotKey } from "./genealogy.js";
import { type EscapeRecord, type HoldRecord, lotId } from "./state.js";

export const ESCAPE_DEFECT_CODE = "HOLD-ESCAPE";

export class EscapeWatch {
  constructor(
    private readonly ctx: QualityContext,
    private readonly gate: ShipmentGate,
  ) {}

  /** One posted movement (call within `ctx.serial`). */
  async movement(eventId: string, e: GoodsMovementPosted): Promise<EscapeRecord | undefined> {
    if (e.movementType !== "DELIVERY") return undefined;
    const pickingId = e.odooPickingId?.toString();
    const shipment = pickingId ? this.ctx.state.shipments.get(pickingId) : undefined;
    let found: EscapeRecord | undefined;
    if (e.lot) {
      const lot: LotKey = { product: e.product.code, lot: e.lot };
      const at = e.postedAt.getTime();
      // The lot, and what it was made from when the gate traced it.
      const lots = shipment?.closure?.some((l) => lotId(l) === lotId(lot)) ? shipment.closure : [lot];
      // Odoo keeps a movement's time to the second (fields.Datetime.now() drops the microseconds,
      // odoo/orm/fields_temporal.py): a hold released within that second may have ended before the
      // lot left. It did when the gate cleared this delivery after the release: not an escape.
      const clearedAfter = (h: HoldRecord) =>
        h.decision !== null &&
        h.decision.status !== "REJECTED" &&
        h.decision.at < at + 1000 &&
        shipment?.state === "cleared" &&
        shipment.decidedAt >= h.decision.at;
      const holds = uniqueHolds(lots.flatMap((l) => this.ctx.state.holdsActiveAt(l, at))).filter(
        (h) => !clearedAfter(h),
      );
      if (holds.length > 0) found = await this.#raise(eventId, e, lot, holds);
    }
    if (pickingId && shipment) await this.gate.finished(pickingId, "shipped", e.postedAt);
    return found;
  }

  async #raise(
    eventId: string,
    e: GoodsMovementPosted,
    lot: LotKey,
    holds: HoldRecord[],
  ): Promise<EscapeRecord> {
    const escapeId = `ESC-${createHash("sha256").update(eventId).digest("hex").slice(0, 16)}`;
    const known = this.ctx.state.escapes.get(escapeId);
    if (known) return known;
    const nonconformanceId = `NCR-${escapeId}`;
    const ncr: NonconformanceRaised = {
      nonconformanceId,
      site: e.site,
      source: "OTHER",
      severity: "CRITICAL",
      defectCode: ESCAPE_DEFECT_CODE,
      description: `escape: lot ${lot.lot} (${lot.product}) was delivered to ${e.toLocation}${e.pickingRef ? ` by ${e.pickingRef}` : ""} while on quality hold ${holds.map((h) => `${h.holdId} (${h.reason})`).join(", ")}`,
      product: e.product,
      lot: lot.lot,
      orderRef: null,
      quantity: e.quantity,
      triggeredBy: eventId,
      raisedBy: SERVICE,
      raisedAt: new Date(),
    };
    await this.ctx.publisher.publish("mfg.quality.nonconformance_raised.v1", ncr, {
      site: e.site,
      key: lot.lot,
      id: derivedEventId(SERVICE, "escape", eventId),
    });
    const record: EscapeRecord = {
      escapeId,
      site: e.site,
      lot: lot.lot,
      product: lot.product,
      pickingRef: e.pickingRef,
      holdIds: holds.map((h) => h.holdId),
      postedAt: e.postedAt.getTime(),
      movementId: eventId,
      nonconformanceId,
    };
    await this.ctx.state.putEscape(record);
    this.ctx.metrics.escape();
    this.ctx.logger.error(
      {
        lot: lot.lot,
        product: lot.product,
        pickingRef: e.pickingRef,
        holds: record.holdIds,
        nonconformanceId,
      },
      "ESCAPE: a lot on quality hold was delivered to a customer",
    );
    return record;
  }
}

function uniqueHolds(holds: readonly HoldRecord[]): HoldRecord[] {
  return [...new Map(holds.map((h) => [h.holdId, h])).values()];
}
