/**
 * The service's control charts: one SpcChart (spc/) per characteristic of the plan, fed by machine
 * telemetry (a tag of a machine) or inspections (a characteristic of a product). An episode that starts
 * publishes SpcViolationDetected — the rule, its points, the limits, the lot being made — and one that
 * ends SpcViolationEnded; each open episode is kept in the state, so a restart does not announce it
 * again. Baseline limits are kept once frozen, so a restart charts against the same limits.
 *
 * Charts themselves live in memory: after a restart a run rule needs its points again before it can
 * fire (at most 15 points for Nelson rule 7).
 */
import type {
  EquipmentPath,
  InspectionRecorded,
  SpcRuleSet,
  TelemetrySampled,
} from "../../../contracts/src/index.js";
import { derivedEventId } from "../../../streams/src/index.js";
import type { QualityContext } from "./context.js";
import { SERVICE } from "./context.js";
import type { LotKey } from "./genealogy.js";
import { lotsMadeDuring } from "./machine-lots.js";
import {
  type Characteristic,
  characteristicKey,
  chartOptionsOf,
  inspectionKey,
  telemetryKey,
} from "./plan.js";
import { SpcChart, type SpcEpisodeEnd, type SpcViolation, violationEventFields } from "./spc/index.js";

interface Chart {
  readonly characteristic: Characteristic;
  readonly chart: SpcChart;
  /** Telemetry samples waiting to fill a subgroup. */
  pending: { time: Date; value: number }[];
  limitsSaved: boolean;
}

/** Where a chart's events go: the machine's subject tokens, keyed by the chart (its episodes stay in order). */
function chartTarget(equipment: EquipmentPath, chart: string) {
  return {
    site: equipment.site,
    ...(equipment.line ? { line: equipment.line } : {}),
    ...(equipment.line && equipment.machine ? { machine: equipment.machine } : {}),
    key: chart,
  };
}

/** The rule id of an event's rule set and number (the hold policy's names). */
export function ruleIdOf(ruleSet: SpcRuleSet, ruleNumber: number): string {
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

export class SpcMonitor {
  readonly #charts = new Map<string, Chart>();

  constructor(private readonly ctx: QualityContext) {
    for (const c of ctx.plan.characteristics) {
      const frozen = ctx.state.limits.get(c.id);
      const options = chartOptionsOf(c);
      const chart = new SpcChart(
        frozen && !options.limits
          ? { ...options, baseline: undefined, limits: { mean: frozen.mean, sigma: frozen.sigma } }
          : options,
      );
      this.#charts.set(characteristicKey(c), {
        characteristic: c,
        chart,
        pending: [],
        limitsSaved: Boolean(frozen) || Boolean(options.limits),
      });
    }
  }

  /** The characteristic charting a tag of a machine, or a product's inspection characteristic. */
  characteristicOf(key: string): Characteristic | undefined {
    return this.#charts.get(key)?.characteristic;
  }

  /** Whether any chart reads this machine (the telemetry handler skips the others without queueing). */
  charts(site: string, line: string | null, machine: string | null, tag: string): boolean {
    return line !== null && machine !== null && this.#charts.has(telemetryKey(site, line, machine, tag));
  }

  /** The chart of a characteristic id (the API's chart view). */
  chart(id: string): { characteristic: Characteristic; chart: SpcChart } | undefined {
    for (const c of this.#charts.values()) if (c.characteristic.id === id) return c;
    return undefined;
  }

  /** A batch of machine samples (call within `ctx.serial`). */
  async telemetry(e: TelemetrySampled): Promise<void> {
    const { site, line, machine } = e.equipment;
    if (!line || !machine) return;
    for (const s of e.samples) {
      const c = this.#charts.get(telemetryKey(site, line, machine, s.tag));
      if (!c) continue;
      if (s.quality !== "GOOD" || !Number.isFinite(s.value)) {
        this.ctx.ignored(
          s.quality !== "GOOD" ? "sample_not_good" : "sample_not_a_number",
          { tag: s.tag, quality: s.quality, sourceTime: s.sourceTime },
          c.characteristic.id,
        );
        continue;
      }
      c.pending.push({ time: s.sourceTime, value: s.value });
      const n = c.chart.options.subgroupSize;
      if (c.pending.length < n) continue;
      const group = c.pending.splice(0, n);
      const last = group.at(-1) as { time: Date };
      await this.#add(
        c,
        { time: last.time, value: n === 1 ? (group[0]?.value as number) : group.map((g) => g.value) },
        e.equipment,
        null,
      );
    }
  }

  /** An inspection's measurements on its characteristic's chart (call within `ctx.serial`). */
  async inspection(eventId: string, e: InspectionRecorded): Promise<void> {
    const c = this.#charts.get(inspectionKey(e.product.code, e.characteristic));
    if (!c || e.measuredValues.length === 0) return;
    const n = c.chart.options.subgroupSize;
    const equipment: EquipmentPath = { site: e.site, area: null, line: null, cell: null, machine: null };
    const lot = { product: e.product.code, lot: e.lot };
    if (n === 1) {
      for (const v of e.measuredValues)
        await this.#add(c, { time: e.inspectedAt, value: v, inspectionId: e.inspectionId }, equipment, lot);
    } else if (e.measuredValues.length === n) {
      await this.#add(
        c,
        { time: e.inspectedAt, value: e.measuredValues, inspectionId: e.inspectionId },
        equipment,
        lot,
      );
    } else {
      this.ctx.ignored(
        "subgroup_size",
        { eventId, inspectionId: e.inspectionId, measured: e.measuredValues.length, subgroupSize: n },
        c.characteristic.id,
      );
    }
  }

  async #add(
    c: Chart,
    sample: { time: Date; value: number | number[]; inspectionId?: string },
    equipment: EquipmentPath,
    lot: LotKey | null,
  ): Promise<void> {
    const update = c.chart.add(sample);
    if (!c.limitsSaved && c.chart.limits) {
      c.limitsSaved = true;
      const l = c.chart.limits;
      await this.ctx.state.putLimits({
        characteristic: c.characteristic.id,
        mean: l.center,
        sigma: l.processSigma,
        frozenAt: Date.now(),
        points: c.chart.options.baseline ?? 0,
      });
      this.ctx.logger.info(
        { characteristic: c.characteristic.id, center: l.center, lcl: l.lcl, ucl: l.ucl },
        "SPC limits frozen from the baseline",
      );
    }
    for (const v of update.started) await this.#started(c, v, equipment, lot);
    for (const end of update.ended) await this.#ended(c, end, equipment, lot);
  }

  async #started(c: Chart, v: SpcViolation, equipment: EquipmentPath, lot: LotKey | null): Promise<void> {
    const id = c.characteristic.id;
    if (this.ctx.state.episodes.has(`${id}.${v.rule.id}`)) return;
    const first = v.points[0]?.time.getTime() ?? v.time.getTime();
    const lots =
      lot?.lot !== undefined && lot.lot !== null
        ? [{ product: lot.product, lot: lot.lot }]
        : equipment.line
          ? lotsMadeDuring(
              this.ctx.state,
              equipment.site,
              equipment.line,
              equipment.machine,
              first,
              v.time.getTime(),
            )
          : [];
    const violationId = derivedEventId(SERVICE, "spc", id, v.rule.id, v.time.getTime());
    const detectedAt = new Date();
    const characteristic =
      c.characteristic.source === "telemetry" ? c.characteristic.tag : c.characteristic.characteristic;
    await this.ctx.publisher.publish(
      "mfg.quality.spc_violation_detected.v1",
      {
        violationId,
        equipment,
        characteristic,
        product:
          c.characteristic.source === "inspection"
            ? { code: c.characteristic.product, name: null, odooId: null }
            : null,
        lot: lots.at(-1)?.lot ?? null,
        ...violationEventFields(v),
        detectedAt,
      },
      {
        ...chartTarget(equipment, id),
        id: violationId,
        time: detectedAt,
      },
    );
    await this.ctx.state.putEpisode({
      characteristic: id,
      ruleId: v.rule.id,
      violationId,
      startedAt: first,
      startIndex: v.index,
      lots,
    });
    this.ctx.metrics.violation(id, v.rule.id);
    this.ctx.logger.warn(
      { characteristic: id, rule: v.rule.id, value: v.value, lots: lots.map((l) => l.lot) },
      "SPC violation",
    );
  }

  async #ended(c: Chart, end: SpcEpisodeEnd, equipment: EquipmentPath, lot: LotKey | null): Promise<void> {
    const id = c.characteristic.id;
    const episode = this.ctx.state.episodes.get(`${id}.${end.rule.id}`);
    if (!episode) return;
    const characteristic =
      c.characteristic.source === "telemetry" ? c.characteristic.tag : c.characteristic.characteristic;
    await this.ctx.publisher.publish(
      "mfg.quality.spc_violation_ended.v1",
      {
        violationId: episode.violationId,
        equipment,
        characteristic,
        product:
          c.characteristic.source === "inspection"
            ? { code: c.characteristic.product, name: null, odooId: null }
            : null,
        ruleSet: end.rule.ruleSet,
        ruleNumber: end.rule.ruleNumber,
        pointsInEpisode: Math.max(1, end.index - end.startIndex),
        startedAt: new Date(episode.startedAt),
        endedAt: end.time,
      },
      {
        ...chartTarget(equipment, id),
        id: derivedEventId(SERVICE, "spc-ended", episode.violationId),
      },
    );
    await this.ctx.state.deleteEpisode(id, end.rule.id);
    this.ctx.logger.info({ characteristic: id, rule: end.rule.id, lot: lot?.lot }, "SPC episode ended");
  }
}
