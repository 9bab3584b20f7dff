/**
 * Quality as the console shows it: the holds with their evidence (why, what triggered them — the SPC
 * violation, the nonconformance or the inspection, found in MFG_QUALITY —, how far they reach, the other
 * lots held for the same cause, the deliveries they block), one hold, and its decision; the deliveries
 * the shipment gate watches; and a characteristic's control chart — its limits from the quality
 * service, its points read from the streams (the machine's telemetry, or the inspections), its
 * violations (SpcViolationDetected / SpcViolationEnded).
 *
 * The holds, the gate and the limits are the quality service's (GET /quality/…, with the console's
 * token); a decision is the quality service's too (POST /quality/holds/:holdId/decision): the console
 * puts the signed-in user's name at the front of the comment — the quality service records the
 * console's token user as the decider — and writes the decision to the ops audit trail.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { z } from "zod";
import type { EventCodec } from "../../../../contracts/src/index.js";
import { recordAudit, type StoredEvent, subjectFor } from "../../../../streams/src/index.js";
import { ConsoleError, ConsoleErrorCode } from "../errors.js";
import type { Identity } from "../roles.js";
import { auditWhoOf } from "./audit.js";
import { type EventRow, eventRow, mergeScans, type ScanResult, scanEvents } from "./scan.js";
import type { UpstreamClient } from "./upstream.js";

// ---------------------------------------------------------------------------------------------------
// What the console reads of the quality service's answers (services/quality-service/src/api.ts); other
// fields are passed through as they are.

const LotKey = z.looseObject({ product: z.string(), lot: z.string() });

const Hold = z.looseObject({
  holdId: z.string(),
  site: z.string(),
  lot: z.string(),
  product: z.looseObject({ code: z.string(), name: z.string().nullable().optional() }),
  reason: z.string(),
  triggeredBy: z.string().nullable(),
  placedBy: z.string(),
  placedAt: z.string(),
  status: z.string(),
  decision: z
    .looseObject({ status: z.string(), reason: z.string(), by: z.string(), at: z.string() })
    .nullable(),
});
export type Hold = z.infer<typeof Hold>;

const Shipment = z.looseObject({
  pickingRef: z.string(),
  site: z.string(),
  customerRef: z.string(),
  lots: z.array(LotKey),
  state: z.string(),
  holds: z.array(z.string()),
  failure: z.string().nullable(),
  wasBlocked: z.boolean(),
  decidedAt: z.string().nullable(),
  finished: z.string().nullable(),
});
export type Shipment = z.infer<typeof Shipment>;

const Limits = z.looseObject({
  source: z.string(),
  subgroupSize: z.number(),
  center: z.number(),
  lcl: z.number(),
  ucl: z.number(),
});

const Characteristic = z.looseObject({
  id: z.string(),
  source: z.enum(["telemetry", "inspection"]),
  equipment: z.looseObject({ site: z.string(), line: z.string(), machine: z.string() }).optional(),
  tag: z.string().optional(),
  product: z.string().optional(),
  characteristic: z.string().optional(),
  subgroupSize: z.number().int().min(1).optional(),
  spec: z
    .looseObject({ lower: z.number().optional(), upper: z.number().optional(), unit: z.string().optional() })
    .optional(),
  limits: Limits.nullable(),
  openEpisodes: z
    .array(z.looseObject({ ruleId: z.string(), violationId: z.string(), startedAt: z.string() }))
    .default([]),
});
export type Characteristic = z.infer<typeof Characteristic>;

const HoldsAnswer = z.looseObject({ holds: z.array(Hold) });
const ShipmentsAnswer = z.looseObject({ shipments: z.array(Shipment) });
const CharacteristicsAnswer = z.looseObject({ characteristics: z.array(Characteristic) });

export type HoldStatusFilter = "active" | "released" | "rejected" | "all";
export type Disposition = "release" | "scrap" | "rework" | "return";

// ---------------------------------------------------------------------------------------------------

/** The events that place holds (a hold's `triggeredBy` is one of their ids). */
const TRIGGER_TYPES = new Set([
  "mfg.quality.spc_violation_detected.v1",
  "mfg.quality.nonconformance_raised.v1",
  "mfg.quality.inspection_recorded.v1",
]);

/** How long before a hold its trigger is looked for in MFG_QUALITY. */
const TRIGGER_LOOKBACK_MS = 6 * 3_600_000;
/** How far back triggers are looked for at most (an older hold says its trigger is out of reach). */
const TRIGGER_WINDOW_MS = 30 * 86_400_000;
/** Messages of MFG_QUALITY read at most for the evidence. */
const EVIDENCE_SCAN_CAP = 50_000;

/** The chart's window by default, and the most points it draws by default. */
export const CHART_WINDOW_MS = 24 * 3_600_000;
export const CHART_POINTS = 1_000;
/** Messages read at most for one chart (telemetry batches, inspections, violations). */
const CHART_SCAN_CAP = 100_000;

/** What triggered a hold, as the page shows it: the event, and one line saying what it found. */
export interface TriggerView {
  readonly id: string;
  readonly type: string;
  readonly time: string;
  readonly key: string;
  readonly summary: string;
  /** The chart it was found on (an SPC violation's key). */
  readonly characteristic: string | null;
  readonly value: Record<string, unknown>;
}

export interface HoldEvidence {
  readonly reason: string;
  /** How far the hold reaches (`this lot and the lots made from it (depth 10)`), from its reason. */
  readonly scope: string | null;
  /** The hold it was placed for (a lot reached by another hold's scope). */
  readonly scopeOf: string | null;
  /**
   * The chain that placed it, the hold's own trigger first (a nonconformance, then the inspection that
   * raised it); empty when placed by hand.
   */
  readonly trigger: readonly TriggerView[];
  /** The trigger's id when it was not found in MFG_QUALITY's window. */
  readonly triggerMissing: string | null;
  /** The other holds of the same cause: the lots held together. */
  readonly lots: readonly { holdId: string; product: string; lot: string; status: string }[];
  /** The deliveries the gate holds back for it. */
  readonly shipments: readonly { pickingRef: string; customerRef: string; state: string }[];
}

const num = (v: unknown) => (typeof v === "number" ? v : Number(v));
const fmt = (v: unknown) => {
  const n = num(v);
  return Number.isFinite(n) ? String(Math.round(n * 1e6) / 1e6) : String(v);
};

/** One line on what an event that placed a hold found. */
function triggerSummary(row: EventRow): string {
  const v = row.value;
  const product = (v["product"] as { code?: string } | null)?.code;
  switch (row.type) {
    case "mfg.quality.spc_violation_detected.v1": {
      const points = (v["points"] as { value: unknown }[] | undefined) ?? [];
      return `SPC ${String(v["ruleSet"]).toLowerCase().replace("_", " ")} rule ${v["ruleNumber"]} on ${v["characteristic"]}: ${v["ruleDescription"]} — ${points.map((p) => fmt(p.value)).join(", ")} against ${fmt(v["lowerControlLimit"])} … ${fmt(v["upperControlLimit"])} (centre ${fmt(v["centerLine"])})${v["lot"] ? `, lot ${v["lot"]}` : ""}`;
    }
    case "mfg.quality.nonconformance_raised.v1":
      return `nonconformance ${v["nonconformanceId"]} (${v["severity"]}, ${v["defectCode"]}): ${v["description"]}${v["lot"] ? ` — lot ${v["lot"]}${product ? ` of ${product}` : ""}` : ""}`;
    case "mfg.quality.inspection_recorded.v1": {
      const values = ((v["measuredValues"] as unknown[] | undefined) ?? []).map(fmt);
      const spec = [v["lowerSpecLimit"], v["upperSpecLimit"]].map((l) => (l === null ? "–" : fmt(l)));
      return `inspection ${v["inspectionId"]} of ${v["characteristic"]} on lot ${v["lot"]}${product ? ` of ${product}` : ""}: ${v["result"]}${values.length ? ` — ${values.join(", ")}${v["unit"] ? ` ${v["unit"]}` : ""} against ${spec.join(" … ")}` : ""}`;
    }
    default:
      return row.type;
  }
}

function triggerView(row: EventRow): TriggerView {
  return {
    id: row.id,
    type: row.type,
    time: row.time,
    key: row.key,
    summary: triggerSummary(row),
    characteristic: row.type === "mfg.quality.spc_violation_detected.v1" ? row.key : null,
    value: row.value,
  };
}

/** The scope part of a hold's reason (holds.ts `placeWithScope`): `— scope: …`. */
function scopeOf(reason: string): { scope: string | null; scopeOf: string | null } {
  const at = reason.lastIndexOf(" — scope: ");
  if (at < 0) return { scope: null, scopeOf: null };
  const scope = reason.slice(at + " — scope: ".length);
  return { scope, scopeOf: /on hold (H-[0-9a-f]+)$/.exec(scope)?.[1] ?? null };
}

/** The rule id a violation event names (the quality service's hold policy names). */
function ruleIdOf(ruleSet: unknown, ruleNumber: unknown): string {
  if (ruleSet === "NELSON") return `nelson-${ruleNumber}`;
  if (ruleSet === "WESTERN_ELECTRIC") return `we-${ruleNumber}`;
  return ruleNumber === 1
    ? "cusum"
    : ruleNumber === 2
      ? "ewma"
      : ruleNumber === 3
        ? "range"
        : `custom-${ruleNumber}`;
}

export interface ChartPoint {
  readonly time: string;
  readonly value: number;
  /** The inspection (and its lot) the point comes from. */
  readonly inspectionId?: string;
  readonly lot?: string;
  /** The rules (episodes) the point is part of: violating points. */
  readonly violations: readonly string[];
}

export interface ChartViolation {
  readonly violationId: string;
  readonly ruleId: string;
  readonly description: string;
  readonly startedAt: string;
  readonly detectedAt: string;
  readonly endedAt: string | null;
  readonly lot: string | null;
  readonly points: readonly { value: number; measuredAt: string }[];
}

export class QualityView {
  constructor(
    private readonly nc: NatsConnection,
    private readonly codec: EventCodec,
    private readonly client: UpstreamClient,
  ) {}

  /** The holds of a status (active by default), oldest first, each with its evidence. */
  async holds(status: HoldStatusFilter = "active") {
    const [{ holds }, all, shipments] = await Promise.all([
      this.client.get(`/quality/holds?status=${status}`, HoldsAnswer),
      status === "all"
        ? Promise.resolve(undefined)
        : this.client.get("/quality/holds?status=all", HoldsAnswer),
      this.#shipments(),
    ]);
    const { byHold, scan } = await this.#evidence(holds, all?.holds ?? holds, shipments);
    return { holds: holds.map((h) => ({ ...h, evidence: byHold.get(h.holdId) })), scan };
  }

  /** One hold with its evidence; CONSOLE_NOT_FOUND when the quality service knows no such hold. */
  async hold(holdId: string) {
    const [hold, { holds: all }, shipments] = await Promise.all([
      this.client.get(`/quality/holds/${encodeURIComponent(holdId)}`, Hold),
      this.client.get("/quality/holds?status=all", HoldsAnswer),
      this.#shipments(),
    ]);
    const { byHold, scan } = await this.#evidence([hold], all, shipments);
    return { ...hold, evidence: byHold.get(hold.holdId), scan };
  }

  /**
   * Decides a hold in the quality service, the comment prefixed with who decided: `[alice via
   * ops-console] …`. The decision is written to the ops audit trail, done or failed.
   */
  async decide(holdId: string, input: { disposition: Disposition; comment: string }, identity: Identity) {
    const hold = await this.client.get(`/quality/holds/${encodeURIComponent(holdId)}`, Hold);
    const comment = `[${identity.name} via ops-console] ${input.comment}`;
    const selection = {
      holdId,
      lot: hold.lot,
      product: hold.product.code,
      site: hold.site,
      via: "ops-console",
    };
    let decided: Hold;
    try {
      decided = await this.client.post(
        `/quality/holds/${encodeURIComponent(holdId)}/decision`,
        { disposition: input.disposition, comment },
        Hold,
      );
    } catch (err) {
      await recordAudit(
        this.nc,
        {
          action: "hold-decision",
          selection,
          outcome: "failed",
          details: { disposition: input.disposition, comment, error: (err as Error).message },
        },
        { who: auditWhoOf(identity) },
      );
      throw err;
    }
    try {
      await recordAudit(
        this.nc,
        {
          action: "hold-decision",
          selection,
          outcome: "done",
          details: {
            disposition: input.disposition,
            comment,
            status: decided.status,
            // The quality service's user of the console's token: who it records as the decider.
            recordedBy: decided.decision?.by ?? null,
          },
        },
        { who: auditWhoOf(identity) },
      );
    } catch (err) {
      throw new ConsoleError(
        ConsoleErrorCode.UpstreamFailed,
        `hold ${holdId} was ${decided.status.toLowerCase()} in the quality service, but its audit record could not be written: ${(err as Error).message}`,
        { cause: err },
      );
    }
    return decided;
  }

  /** The deliveries the gate watches (all: also those that left or were cancelled), blocked first. */
  async shipments(all = false) {
    const shipments = await this.#shipments(all);
    const rank = (s: Shipment) => (s.state === "blocked" ? 0 : s.state === "failclosed" ? 1 : 2);
    shipments.sort((a, b) => rank(a) - rank(b) || (a.decidedAt ?? "").localeCompare(b.decidedAt ?? ""));
    return {
      shipments,
      blocked: shipments.filter((s) => s.state === "blocked").length,
      cleared: shipments.filter((s) => s.state === "cleared").length,
      failClosed: shipments.filter((s) => s.state === "failclosed").length,
    };
  }

  /** The charted characteristics of the quality plan, with their limits and open episodes. */
  async characteristics() {
    return this.client.get("/quality/characteristics", CharacteristicsAnswer);
  }

  /**
   * A characteristic's control chart over a window: its limits (and specification limits), the points
   * read from the streams — the newest `maxPoints` — each with the rules whose episodes it is part of,
   * and the violations detected on it.
   */
  async chart(id: string, o: { since?: Date; maxPoints?: number } = {}) {
    const { characteristics } = await this.characteristics();
    const c = characteristics.find((x) => x.id === id);
    if (!c)
      throw new ConsoleError(
        ConsoleErrorCode.NotFound,
        `no characteristic ${id} in the quality plan (charted: ${characteristics.map((x) => x.id).join(", ") || "none"})`,
      );
    const since = o.since ?? new Date(Date.now() - CHART_WINDOW_MS);
    const maxPoints = o.maxPoints ?? CHART_POINTS;
    const n = c.subgroupSize ?? c.limits?.subgroupSize ?? 1;
    const raw: { time: Date; value: number; inspectionId?: string; lot?: string }[] = [];
    let dropped = 0;
    const push = (p: (typeof raw)[number]) => {
      raw.push(p);
      // Keep the newest: drop the oldest half-window at once rather than shifting one by one.
      if (raw.length >= maxPoints * 2) {
        dropped += raw.length - maxPoints;
        raw.splice(0, raw.length - maxPoints);
      }
    };
    const scans: ScanResult[] = [];
    const detected = new Map<string, ChartViolation>();
    const ended = new Map<string, string>();
    const onQuality = (event: StoredEvent) => {
      if (event.envelope.subject === c.id && event.type === "mfg.quality.spc_violation_detected.v1") {
        const v = eventRow(event).value;
        const points = ((v["points"] as { value: number; measuredAt: string }[] | undefined) ?? []).map(
          (p) => ({ value: p.value, measuredAt: p.measuredAt }),
        );
        detected.set(String(v["violationId"]), {
          violationId: String(v["violationId"]),
          ruleId: ruleIdOf(v["ruleSet"], v["ruleNumber"]),
          description: String(v["ruleDescription"]),
          startedAt: points[0]?.measuredAt ?? String(v["detectedAt"]),
          detectedAt: String(v["detectedAt"]),
          endedAt: null,
          lot: (v["lot"] as string | null) ?? null,
          points,
        });
      } else if (event.envelope.subject === c.id && event.type === "mfg.quality.spc_violation_ended.v1") {
        const v = event.value as { violationId: string; endedAt: Date };
        ended.set(v.violationId, v.endedAt.toISOString());
      } else if (
        c.source === "inspection" &&
        event.type === "mfg.quality.inspection_recorded.v1" &&
        (event.value as { characteristic: string }).characteristic === c.characteristic &&
        (event.value as { product: { code: string } }).product.code === c.product
      ) {
        const v = event.value as {
          inspectionId: string;
          lot: string;
          measuredValues: number[];
          inspectedAt: Date;
        };
        const values = v.measuredValues.filter(Number.isFinite);
        const at = { time: v.inspectedAt, inspectionId: v.inspectionId, lot: v.lot };
        if (n === 1) for (const value of values) push({ ...at, value });
        else if (values.length === n) push({ ...at, value: values.reduce((s, x) => s + x, 0) / n });
      }
    };
    scans.push(
      await scanEvents(this.nc, this.codec, { stream: "MFG_QUALITY", since, cap: CHART_SCAN_CAP }, onQuality),
    );
    if (c.source === "telemetry" && c.equipment && c.tag) {
      const { site, line, machine } = c.equipment;
      let group: number[] = [];
      scans.push(
        await scanEvents(
          this.nc,
          this.codec,
          {
            stream: "MFG_MACHINE",
            filter: subjectFor("mfg.machine.telemetry_sampled.v1", site, line, machine),
            since,
            cap: CHART_SCAN_CAP,
          },
          (event) => {
            if (event.type !== "mfg.machine.telemetry_sampled.v1") return;
            const v = event.value as {
              samples: { tag: string; value: number; quality: string; sourceTime: Date }[];
            };
            for (const s of v.samples) {
              if (s.tag !== c.tag || s.quality !== "GOOD" || !Number.isFinite(s.value)) continue;
              if (n === 1) {
                push({ time: s.sourceTime, value: s.value });
                continue;
              }
              group.push(s.value);
              if (group.length === n) {
                push({ time: s.sourceTime, value: group.reduce((a, x) => a + x, 0) / n });
                group = [];
              }
            }
          },
        ),
      );
    }
    if (raw.length > maxPoints) {
      dropped += raw.length - maxPoints;
      raw.splice(0, raw.length - maxPoints);
    }
    raw.sort((a, b) => a.time.getTime() - b.time.getTime());
    const violations = [...detected.values()].map((v) => ({
      ...v,
      endedAt: ended.get(v.violationId) ?? null,
    }));
    // Episodes open since before the window are known from the quality service's state.
    const episodes = [
      ...violations.map((v) => ({
        ruleId: v.ruleId,
        from: Date.parse(v.startedAt),
        to: v.endedAt ? Date.parse(v.endedAt) : Number.POSITIVE_INFINITY,
      })),
      ...c.openEpisodes
        .filter((e) => !detected.has(e.violationId))
        .map((e) => ({ ruleId: e.ruleId, from: Date.parse(e.startedAt), to: Number.POSITIVE_INFINITY })),
    ];
    const points: ChartPoint[] = raw.map((p) => {
      const t = p.time.getTime();
      const rules = [...new Set(episodes.filter((e) => t >= e.from && t < e.to).map((e) => e.ruleId))];
      return {
        time: p.time.toISOString(),
        value: p.value,
        ...(p.inspectionId ? { inspectionId: p.inspectionId } : {}),
        ...(p.lot ? { lot: p.lot } : {}),
        violations: rules,
      };
    });
    const spec =
      c.spec && (c.spec.lower !== undefined || c.spec.upper !== undefined)
        ? { lower: c.spec.lower ?? null, upper: c.spec.upper ?? null, unit: c.spec.unit ?? null }
        : null;
    return {
      characteristic: {
        id: c.id,
        source: c.source,
        equipment: c.equipment ?? null,
        tag: c.tag ?? null,
        product: c.product ?? null,
        name: c.characteristic ?? c.tag ?? c.id,
        subgroupSize: n,
      },
      limits: c.limits
        ? { source: c.limits.source, center: c.limits.center, lcl: c.limits.lcl, ucl: c.limits.ucl }
        : null,
      spec,
      since: since.toISOString(),
      until: new Date().toISOString(),
      points,
      /** Older points of the window left out (the newest `maxPoints` are drawn). */
      pointsLeftOut: dropped,
      violations,
      openEpisodes: c.openEpisodes,
      scan: mergeScans(scans),
    };
  }

  async #shipments(all = false): Promise<Shipment[]> {
    return (await this.client.get(`/quality/shipments${all ? "?all=true" : ""}`, ShipmentsAnswer)).shipments;
  }

  /** The evidence of each hold, its triggers read from MFG_QUALITY in one scan. */
  async #evidence(
    holds: readonly Hold[],
    all: readonly Hold[],
    shipments: readonly Shipment[],
  ): Promise<{ byHold: Map<string, HoldEvidence>; scan: ScanResult | null }> {
    const wanted = new Set(holds.map((h) => h.triggeredBy).filter((t): t is string => t !== null));
    const found = new Map<string, EventRow>();
    let scan: ScanResult | null = null;
    if (wanted.size > 0) {
      const earliest = Math.min(
        ...holds.filter((h) => h.triggeredBy !== null).map((h) => Date.parse(h.placedAt)),
      );
      const since = new Date(Math.max(earliest - TRIGGER_LOOKBACK_MS, Date.now() - TRIGGER_WINDOW_MS));
      scan = await scanEvents(
        this.nc,
        this.codec,
        { stream: "MFG_QUALITY", since, cap: EVIDENCE_SCAN_CAP },
        (event) => {
          if (TRIGGER_TYPES.has(event.type)) found.set(event.id, eventRow(event));
        },
      );
    }
    const byHold = new Map<string, HoldEvidence>();
    for (const h of holds) {
      const chain: TriggerView[] = [];
      let next = h.triggeredBy;
      while (next && chain.length < 4) {
        const row = found.get(next);
        if (!row) break;
        chain.push(triggerView(row));
        next = typeof row.value["triggeredBy"] === "string" ? (row.value["triggeredBy"] as string) : null;
      }
      const { scope, scopeOf: root } = scopeOf(h.reason);
      const sameCause = all.filter(
        (o) =>
          o.holdId !== h.holdId &&
          ((h.triggeredBy !== null && o.triggeredBy === h.triggeredBy) ||
            o.holdId === root ||
            scopeOf(o.reason).scopeOf === h.holdId ||
            (root !== null && scopeOf(o.reason).scopeOf === root)),
      );
      byHold.set(h.holdId, {
        reason: h.reason,
        scope,
        scopeOf: root,
        trigger: chain,
        triggerMissing: h.triggeredBy !== null && chain.length === 0 ? h.triggeredBy : null,
        lots: sameCause.map((o) => ({
          holdId: o.holdId,
          product: o.product.code,
          lot: o.lot,
          status: o.status,
        })),
        shipments: shipments
          .filter((s) => s.holds.includes(h.holdId))
          .map((s) => ({ pickingRef: s.pickingRef, customerRef: s.customerRef, state: s.state })),
      });
    }
    return { byHold, scan };
  }
}
