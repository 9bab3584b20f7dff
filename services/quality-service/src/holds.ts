/**
 * Quality holds: placing them (by the policy, for an SPC violation or a nonconformance, or by hand),
 * following their scope through the genealogy, and deciding them (release, or reject for scrap, rework
 * or return). The holds the service knows are the projection of QualityHoldPlaced/Released in
 * MFG_QUALITY, whoever published them; what this service publishes it applies at once too, so the gate
 * reacts without waiting for its own event to come back.
 *
 * A hold's id derives from what caused it and the lot (`H-` + 20 hex digits): the same violation or
 * nonconformance met again (a redelivery, a replay) finds its holds and places none.
 */
import { createHash } from "node:crypto";
import type { QualityHoldPlaced, QualityHoldReleased } from "../../../contracts/src/index.js";
import { derivedEventId } from "../../../streams/src/index.js";
import type { QualityContext } from "./context.js";
import { SERVICE } from "./context.js";
import { QualityError, QualityErrorCode } from "./errors.js";
import type { LotKey } from "./genealogy.js";
import type { HoldScope } from "./plan.js";
import type { HoldRecord, ProductRefJson } from "./state.js";

/** Notified when a hold starts or ends (the shipment gate). */
export interface HoldListener {
  holdPlaced(hold: HoldRecord): Promise<void>;
  holdDecided(hold: HoldRecord): Promise<void>;
}

export interface PlaceHold {
  readonly site: string;
  readonly lot: LotKey;
  readonly productName?: string | null;
  readonly productOdooId?: bigint | null;
  readonly reason: string;
  /** ce-id of the causing event; null by hand. */
  readonly triggeredBy: string | null;
  readonly placedBy: string;
  /** What makes the hold id unique with the lot: the causing event's id, or a request id by hand. */
  readonly cause: string;
}

export type Disposition = "release" | "scrap" | "rework" | "return";

export function holdIdOf(cause: string, lot: LotKey): string {
  return `H-${createHash("sha256").update(`${cause}|${lot.product}|${lot.lot}`).digest("hex").slice(0, 20)}`;
}

export class Holds {
  #listener: HoldListener | undefined;

  constructor(private readonly ctx: QualityContext) {}

  listen(listener: HoldListener): void {
    this.#listener = listener;
  }

  /** Places one hold unless it exists; the hold (new or known). Call within `ctx.serial`. */
  async place(p: PlaceHold): Promise<{ hold: HoldRecord; placed: boolean }> {
    const holdId = holdIdOf(p.cause, p.lot);
    const known = this.ctx.state.holds.get(holdId);
    if (known) return { hold: known, placed: false };
    const placedAt = new Date();
    const payload: QualityHoldPlaced = {
      holdId,
      site: p.site,
      lot: p.lot.lot,
      product: { code: p.lot.product, name: p.productName ?? null, odooId: p.productOdooId ?? null },
      quantity: null,
      reason: p.reason,
      status: "ACTIVE",
      triggeredBy: p.triggeredBy,
      placedBy: p.placedBy,
      placedAt,
    };
    const id = derivedEventId(SERVICE, "hold-placed", holdId);
    await this.ctx.publisher.publish("mfg.quality.quality_hold_placed.v1", payload, {
      site: p.site,
      key: p.lot.lot,
      id,
      time: placedAt,
    });
    const hold = await this.applyPlaced(id, payload);
    return { hold: hold ?? (this.ctx.state.holds.get(holdId) as HoldRecord), placed: true };
  }

  /**
   * Holds `root` and, by the scope, the lots made from it (forward) or that it was made from
   * (backward). The root is held first: when the genealogy cannot be asked, the root's hold stands and
   * QUALITY_GENEALOGY_UNAVAILABLE is thrown, so the event is delivered again and the scope followed then.
   */
  async placeWithScope(p: PlaceHold, scope: HoldScope): Promise<HoldRecord[]> {
    // The root's reason says how far the hold reaches; each lot reached says where it comes from.
    const reach = [
      scope.forward && "the lots made from it",
      scope.backward && "the lots it was made from",
    ].filter(Boolean);
    const root =
      reach.length > 0
        ? { ...p, reason: `${p.reason} — scope: this lot and ${reach.join(" and ")} (depth ${scope.depth})` }
        : p;
    const out = [(await this.place(root)).hold];
    for (const direction of ["forward", "backward"] as const) {
      if (!scope[direction]) continue;
      const lots = await this.ctx.genealogy.lots(p.lot, direction, scope.depth);
      for (const lot of lots.slice(1)) {
        const how = direction === "forward" ? "made from" : "went into";
        const { hold } = await this.place({
          ...p,
          lot,
          productName: null,
          productOdooId: null,
          reason: `${p.reason} — scope: ${how} lot ${p.lot.lot} (${p.lot.product}), on hold ${out[0]?.holdId}`,
        });
        out.push(hold);
      }
    }
    return out;
  }

  /** Decides an active hold; QUALITY_HOLD_NOT_FOUND / QUALITY_HOLD_ALREADY_DECIDED change nothing. */
  async decide(holdId: string, disposition: Disposition, comment: string, by: string): Promise<HoldRecord> {
    const hold = this.ctx.state.holds.get(holdId);
    if (!hold) throw new QualityError(QualityErrorCode.HoldNotFound, `no hold ${holdId}`);
    if (hold.status !== "ACTIVE")
      throw new QualityError(
        QualityErrorCode.HoldAlreadyDecided,
        `hold ${holdId} was already ${hold.status.toLowerCase()} by ${hold.decision?.by ?? "someone"}${hold.decision ? ` at ${new Date(hold.decision.at).toISOString()}` : ""}`,
      );
    const status = disposition === "release" ? "RELEASED" : "REJECTED";
    const releasedAt = new Date();
    const payload: QualityHoldReleased = {
      holdId,
      site: hold.site,
      lot: hold.lot,
      product: productRefOf(hold.product),
      reason: disposition === "release" ? comment : `${disposition}: ${comment}`,
      status,
      releasedBy: by,
      releasedAt,
    };
    const id = derivedEventId(SERVICE, "hold-decided", holdId);
    await this.ctx.publisher.publish("mfg.quality.quality_hold_released.v1", payload, {
      site: hold.site,
      key: hold.lot,
      id,
      time: releasedAt,
    });
    return (await this.applyDecided(id, payload)) ?? (this.ctx.state.holds.get(holdId) as HoldRecord);
  }

  /** The projection of a QualityHoldPlaced: the hold when it is new. Call within `ctx.serial`. */
  async applyPlaced(eventId: string, e: QualityHoldPlaced): Promise<HoldRecord | undefined> {
    if (this.ctx.state.holds.has(e.holdId)) return undefined;
    const hold: HoldRecord = {
      holdId: e.holdId,
      site: e.site,
      lot: e.lot,
      product: { code: e.product.code, name: e.product.name, odooId: e.product.odooId?.toString() ?? null },
      reason: e.reason,
      triggeredBy: e.triggeredBy,
      placedBy: e.placedBy,
      placedAt: e.placedAt.getTime(),
      eventId,
      // A hold published already decided (REJECTED at once) counts as what it says.
      status: e.status === "ACTIVE" ? "ACTIVE" : e.status,
      decision: null,
    };
    await this.ctx.state.putHold(hold);
    this.ctx.metrics.hold("placed");
    this.ctx.logger.info(
      { holdId: hold.holdId, lot: hold.lot, product: hold.product.code, reason: hold.reason },
      "quality hold placed",
    );
    if (hold.status === "ACTIVE") await this.#listener?.holdPlaced(hold);
    return hold;
  }

  /** The projection of a QualityHoldReleased (a decision is final: a second one is ignored). */
  async applyDecided(eventId: string, e: QualityHoldReleased): Promise<HoldRecord | undefined> {
    const hold = this.ctx.state.holds.get(e.holdId);
    if (!hold) {
      // Its placement is not known here (published elsewhere, its event lost): nothing to release.
      this.ctx.ignored("decision_of_unknown_hold", { eventId, holdId: e.holdId, lot: e.lot });
      return undefined;
    }
    if (hold.status !== "ACTIVE") return undefined;
    const status = e.status === "RELEASED" ? "RELEASED" : "REJECTED";
    const decided: HoldRecord = {
      ...hold,
      status,
      decision: { status, reason: e.reason, by: e.releasedBy, at: e.releasedAt.getTime(), eventId },
    };
    await this.ctx.state.putHold(decided);
    this.ctx.metrics.hold(status === "RELEASED" ? "released" : "rejected");
    this.ctx.logger.info(
      { holdId: hold.holdId, lot: hold.lot, status, by: e.releasedBy },
      "quality hold decided",
    );
    await this.#listener?.holdDecided(decided);
    return decided;
  }
}

export function productRefOf(p: ProductRefJson): {
  code: string;
  name: string | null;
  odooId: bigint | null;
} {
  return { code: p.code, name: p.name, odooId: p.odooId === null ? null : BigInt(p.odooId) };
}
