/**
 * The hold policy at work (plan.ts `holdPolicy`): which SPC violations and nonconformances place holds,
 * on which lots. An inspection outside its specification (or failed) raises a nonconformance first;
 * the nonconformance, like any other in MFG_QUALITY, then meets the policy.
 *
 * - An SPC violation holds the lots made on the machine during its episode (for an inspection chart, the
 *   inspected lot), and a lot that starts on that line while the episode runs.
 * - A nonconformance of at least the policy's severity holds its lot.
 * - Each with the scope: the lots made from it (forward) and/or that went into it (backward).
 */
import { createHash } from "node:crypto";
import type {
  InspectionRecorded,
  NonconformanceRaised,
  SpcViolationDetected,
} from "../../../contracts/src/index.js";
import { derivedEventId } from "../../../streams/src/index.js";
import type { QualityContext } from "./context.js";
import { SERVICE } from "./context.js";
import { ESCAPE_DEFECT_CODE } from "./escapes.js";
import type { LotKey } from "./genealogy.js";
import type { Holds } from "./holds.js";
import { type LineLot, lotsMadeDuring } from "./machine-lots.js";
import { type Characteristic, inspectionKey, ruleHolds, severityHolds, telemetryKey } from "./plan.js";
import { ruleIdOf, type SpcMonitor } from "./spc-monitor.js";

export const OUT_OF_SPEC_DEFECT_CODE = "OUT-OF-SPEC";
export const FAILED_DEFECT_CODE = "INSPECTION-FAILED";

/** The specification limits an inspection is judged by: its own, else its characteristic's. */
export function specOf(
  e: Pick<InspectionRecorded, "lowerSpecLimit" | "upperSpecLimit">,
  c: Characteristic | undefined,
): { lower: number | null; upper: number | null } {
  return {
    lower: e.lowerSpecLimit ?? c?.spec?.lower ?? null,
    upper: e.upperSpecLimit ?? c?.spec?.upper ?? null,
  };
}

/** The measured values outside the limits. */
export function outOfSpec(
  values: readonly number[],
  spec: { lower: number | null; upper: number | null },
): number[] {
  return values.filter(
    (v) => (spec.lower !== null && v < spec.lower) || (spec.upper !== null && v > spec.upper),
  );
}

export class HoldPolicy {
  constructor(
    private readonly ctx: QualityContext,
    private readonly holds: Holds,
    private readonly spc: SpcMonitor,
  ) {}

  /** An SPC violation (ours or another charting service's). Call within `ctx.serial`. */
  async violation(eventId: string, e: SpcViolationDetected): Promise<void> {
    const { site, line, machine } = e.equipment;
    const c = this.spc.characteristicOf(
      e.product
        ? inspectionKey(e.product.code, e.characteristic)
        : telemetryKey(site, line ?? "", machine ?? "", e.characteristic),
    );
    const ruleId = ruleIdOf(e.ruleSet, e.ruleNumber);
    if (c?.holds === false || !ruleHolds(this.ctx.plan, ruleId)) return;
    const episode = c ? this.ctx.state.episodes.get(`${c.id}.${ruleId}`) : undefined;
    const first = e.points[0]?.measuredAt.getTime() ?? e.detectedAt.getTime();
    const lots: LotKey[] =
      episode?.violationId === e.violationId
        ? [...episode.lots]
        : e.product && e.lot
          ? [{ product: e.product.code, lot: e.lot }]
          : line
            ? lotsMadeDuring(this.ctx.state, site, line, machine, first, e.detectedAt.getTime())
            : [];
    if (lots.length === 0) {
      // No lot is known to have been made there during the episode: nothing to hold, said loudly.
      this.ctx.ignored(
        "violation_without_lot",
        { eventId, equipment: e.equipment },
        c?.id ?? e.characteristic,
      );
      return;
    }
    const where = [site, line, machine].filter(Boolean).join("/");
    for (const lot of lots)
      await this.holds.placeWithScope(
        {
          site,
          lot,
          reason: `SPC: ${e.ruleDescription} (${ruleId}) on ${e.characteristic} at ${where}, limits ${fmt(e.lowerControlLimit)}..${fmt(e.upperControlLimit)}`,
          triggeredBy: eventId,
          placedBy: SERVICE,
          cause: eventId,
        },
        this.ctx.plan.holdPolicy.spc.scope,
      );
  }

  /** A lot started on a line: an episode running on a machine of it holds the lot too. */
  async lotStarted(site: string, line: string, lot: LineLot): Promise<void> {
    if (!lot.product) {
      // Counted before its dispatch named the product: it cannot be held by product yet.
      this.ctx.ignored("lot_without_product", { site, line, lot: lot.lot, orderRef: lot.orderRef });
      return;
    }
    for (const episode of [...this.ctx.state.episodes.values()]) {
      const c = this.ctx.plan.characteristics.find((x) => x.id === episode.characteristic);
      if (
        c?.source !== "telemetry" ||
        c.equipment.site !== site ||
        c.equipment.line !== line ||
        c.holds === false
      )
        continue;
      if (!ruleHolds(this.ctx.plan, episode.ruleId)) continue;
      const key = { product: lot.product, lot: lot.lot };
      if (episode.lots.some((l) => l.lot === key.lot && l.product === key.product)) continue;
      await this.ctx.state.putEpisode({ ...episode, lots: [...episode.lots, key] });
      await this.holds.placeWithScope(
        {
          site,
          lot: key,
          reason: `SPC: ${episode.ruleId} episode still running on ${c.tag} at ${site}/${line}/${c.equipment.machine} when lot ${lot.lot} started`,
          triggeredBy: episode.violationId,
          placedBy: SERVICE,
          cause: episode.violationId,
        },
        this.ctx.plan.holdPolicy.spc.scope,
      );
    }
  }

  /** A nonconformance (raised here for an inspection, or by anyone). Call within `ctx.serial`. */
  async nonconformance(eventId: string, e: NonconformanceRaised): Promise<void> {
    if (e.defectCode === ESCAPE_DEFECT_CODE || !e.lot || !e.product) return;
    if (!severityHolds(this.ctx.plan, e.severity)) return;
    await this.holds.placeWithScope(
      {
        site: e.site,
        lot: { product: e.product.code, lot: e.lot },
        productName: e.product.name,
        productOdooId: e.product.odooId,
        reason: `nonconformance ${e.nonconformanceId} (${e.severity} ${e.defectCode}): ${e.description}`,
        triggeredBy: eventId,
        placedBy: SERVICE,
        cause: eventId,
      },
      this.ctx.plan.holdPolicy.nonconformance.scope,
    );
  }

  /** An inspection outside its specification, or failed, raises a nonconformance. */
  async inspection(eventId: string, e: InspectionRecorded): Promise<void> {
    const c = this.spc.characteristicOf(inspectionKey(e.product.code, e.characteristic));
    const spec = specOf(e, c);
    const outside = outOfSpec(e.measuredValues, spec);
    if (outside.length === 0 && e.result === "PASS") return;
    const limits = `${spec.lower ?? "-∞"}..${spec.upper ?? "+∞"}${e.unit ? ` ${e.unit}` : ""}`;
    const description =
      outside.length > 0
        ? `${e.characteristic} of lot ${e.lot}: ${outside.length} of ${e.measuredValues.length} value(s) outside ${limits} (${outside.slice(0, 5).join(", ")}${outside.length > 5 ? ", …" : ""}), inspection ${e.inspectionId}`
        : `${e.characteristic} of lot ${e.lot} failed inspection ${e.inspectionId}`;
    const ncr: NonconformanceRaised = {
      nonconformanceId: `NCR-${createHash("sha256").update(eventId).digest("hex").slice(0, 16)}`,
      site: e.site,
      source: "INSPECTION",
      severity: "MAJOR",
      defectCode: outside.length > 0 ? OUT_OF_SPEC_DEFECT_CODE : FAILED_DEFECT_CODE,
      description,
      product: e.product,
      lot: e.lot,
      orderRef: e.orderRef,
      quantity: null,
      triggeredBy: eventId,
      raisedBy: SERVICE,
      raisedAt: new Date(),
    };
    await this.ctx.publisher.publish("mfg.quality.nonconformance_raised.v1", ncr, {
      site: e.site,
      key: e.lot,
      id: derivedEventId(SERVICE, "ncr", eventId),
    });
  }
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toPrecision(6).replace(/0+$/, "");
}
