/**
 * What the HTTP API does (http.ts checks who asks and what they send; this acts): record an inspection,
 * list and place holds, decide one, show the gate's deliveries, the charts and the reconciliation.
 */
import { randomUUID } from "node:crypto";
import type { InspectionRecorded } from "../../../contracts/src/index.js";
import { newEventId } from "../../../streams/src/index.js";
import type { QualityContext } from "./context.js";
import { QualityError, QualityErrorCode } from "./errors.js";
import type { ShipmentGate } from "./gate.js";
import type { Holds } from "./holds.js";
import type { DecisionInput, HoldsQuery, InspectionInput, PlaceHoldInput, QualityApi } from "./http.js";
import { inspectionKey } from "./plan.js";
import { outOfSpec, specOf } from "./policy.js";
import type { SpcMonitor } from "./spc-monitor.js";
import type { HoldRecord } from "./state.js";

export function qualityApi(
  ctx: QualityContext,
  holds: Holds,
  gate: ShipmentGate,
  spc: SpcMonitor,
): QualityApi {
  const view = (h: HoldRecord) => ({
    ...h,
    placedAt: iso(h.placedAt),
    decision: h.decision ? { ...h.decision, at: iso(h.decision.at) } : null,
  });
  return {
    async recordInspection(input: InspectionInput, by: string) {
      const c = spc.characteristicOf(inspectionKey(input.product, input.characteristic));
      const given = {
        lowerSpecLimit: input.lowerSpecLimit ?? null,
        upperSpecLimit: input.upperSpecLimit ?? null,
      };
      const spec = specOf(given, c);
      if (!c && spec.lower === null && spec.upper === null && input.result === undefined)
        throw new QualityError(
          QualityErrorCode.UnknownCharacteristic,
          `characteristic ${input.characteristic} of product ${input.product} is not charted (QUALITY_CONFIG) and the inspection gives no specification limits or result: nothing could judge it`,
        );
      if (spec.lower !== null && spec.upper !== null && spec.lower >= spec.upper)
        throw new QualityError(
          QualityErrorCode.RequestInvalid,
          `lowerSpecLimit ${spec.lower} must be below upperSpecLimit ${spec.upper}`,
        );
      if (
        c &&
        c.subgroupSize !== undefined &&
        c.subgroupSize > 1 &&
        input.measuredValues.length > 0 &&
        input.measuredValues.length !== c.subgroupSize
      )
        throw new QualityError(
          QualityErrorCode.RequestInvalid,
          `measuredValues: ${input.measuredValues.length} value(s), but ${input.characteristic} is charted in subgroups of ${c.subgroupSize}`,
        );
      if (input.measuredValues.length === 0 && input.result === undefined)
        throw new QualityError(
          QualityErrorCode.RequestInvalid,
          "measuredValues is empty and no result is given: an attribute inspection needs result PASS or FAIL",
        );
      const outside = outOfSpec(input.measuredValues, spec);
      const result = input.result ?? (outside.length > 0 ? "FAIL" : "PASS");
      const payload: InspectionRecorded = {
        inspectionId: input.inspectionId ?? `INS-${randomUUID()}`,
        site: input.site,
        lot: input.lot,
        product: { code: input.product, name: input.productName ?? null, odooId: null },
        orderRef: input.orderRef ?? null,
        characteristic: input.characteristic,
        measuredValues: input.measuredValues,
        unit: input.unit ?? c?.spec?.unit ?? null,
        lowerSpecLimit: spec.lower,
        upperSpecLimit: spec.upper,
        result,
        inspectedBy: input.inspectedBy ?? by,
        inspectedAt: input.inspectedAt ? new Date(input.inspectedAt) : new Date(),
      };
      const eventId = newEventId();
      await ctx.publisher.publish("mfg.quality.inspection_recorded.v1", payload, {
        site: input.site,
        key: input.lot,
        id: eventId,
      });
      ctx.logger.info(
        { eventId, inspectionId: payload.inspectionId, lot: input.lot, result, by },
        "inspection recorded",
      );
      return {
        eventId,
        inspectionId: payload.inspectionId,
        result,
        outOfSpec: outside,
        nonconformance: result === "FAIL" ? "a nonconformance is raised for it (NonconformanceRaised)" : null,
      };
    },
    holds(q: HoldsQuery) {
      const wanted = q.status === "all" ? undefined : q.status.toUpperCase();
      return {
        holds: [...ctx.state.holds.values()]
          .filter(
            (h) =>
              (!wanted || h.status === wanted) &&
              (!q.lot || h.lot === q.lot) &&
              (!q.product || h.product.code === q.product),
          )
          .sort((a, b) => a.placedAt - b.placedAt)
          .map(view),
      };
    },
    hold(holdId: string) {
      const h = ctx.state.holds.get(holdId);
      if (!h) throw new QualityError(QualityErrorCode.HoldNotFound, `no hold ${holdId}`);
      return view(h);
    },
    async placeHold(input: PlaceHoldInput, by: string) {
      const scope = input.scope ?? ctx.plan.holdPolicy.nonconformance.scope;
      const cause = `manual:${newEventId()}`;
      return ctx.serial(async () => {
        const place = {
          site: input.site,
          lot: { product: input.product, lot: input.lot },
          reason: input.reason,
          triggeredBy: null,
          placedBy: by,
          cause,
        };
        try {
          const placed = await holds.placeWithScope(place, scope);
          return { holds: placed.map(view), scopeError: null };
        } catch (err) {
          if (!(err instanceof QualityError && err.code === QualityErrorCode.GenealogyUnavailable)) throw err;
          // The lot itself is on hold; its scope could not be followed.
          const root = (await holds.place(place)).hold;
          return { holds: [view(root)], scopeError: err.message };
        }
      });
    },
    async decide(holdId: string, input: DecisionInput, by: string) {
      const decided = await ctx.serial(() => holds.decide(holdId, input.disposition, input.comment, by));
      ctx.logger.info(
        { holdId, disposition: input.disposition, by, comment: input.comment },
        "hold decision (audit)",
      );
      return view(decided);
    },
    shipments(all: boolean) {
      return {
        shipments: gate.shipments(all).map((s) => ({
          ...s,
          decidedAt: s.decidedAt ? iso(s.decidedAt) : null,
          finishedAt: s.finishedAt ? iso(s.finishedAt) : null,
        })),
      };
    },
    characteristics() {
      return {
        characteristics: ctx.plan.characteristics.map((c) => {
          const chart = spc.chart(c.id)?.chart;
          return {
            ...c,
            limits: chart?.limits ?? null,
            openEpisodes: [...ctx.state.episodes.values()]
              .filter((e) => e.characteristic === c.id)
              .map((e) => ({ ...e, startedAt: iso(e.startedAt) })),
          };
        }),
      };
    },
    reconcile() {
      return {
        escapes: [...ctx.state.escapes.values()].map((e) => ({ ...e, postedAt: iso(e.postedAt) })),
        // Holds whose lot Odoo should show in quarantine (ACTIVE, REJECTED) or back (RELEASED).
        holds: [...ctx.state.holds.values()].map((h) => ({
          holdId: h.holdId,
          lot: h.lot,
          product: h.product.code,
          status: h.status,
          placedAt: iso(h.placedAt),
        })),
      };
    },
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
