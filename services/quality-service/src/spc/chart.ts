/**
 * A control chart of one characteristic, fed one point (or subgroup) at a time: `SpcChart.add` answers
 * the episodes the point started and ended. The batch function (`evaluateSeries`, the CLI's) feeds the
 * same class, so offline tuning and the service judge a series identically.
 *
 * Phase I: without configured limits, the first `baseline` points are held until there are enough,
 * then the limits are computed from them and frozen, and the held points are judged against those
 * limits in order (the baseline itself is charted, as a phase I study does); every later point is
 * judged as it comes.
 */
import { QualityError, QualityErrorCode } from "../errors.js";
import { CUSUM_DEFAULTS, type CusumOptions, type CusumState, cusumDetector } from "./cusum.js";
import { type Detector, rangeDetector, runRuleDetector } from "./detector.js";
import { EWMA_DEFAULTS, type EwmaOptions, type EwmaState, ewmaDetector } from "./ewma.js";
import {
  type ControlLimits,
  configuredLimits,
  constantsOf,
  individualsBaseline,
  mean,
  range,
  subgroupBaseline,
} from "./limits.js";
import { type ChartPoint, type RuleSelection, type RunRule, runRulesOf } from "./rules.js";
import { type SpcEpisodeEnd, type SpcUpdate, type SpcViolation, violationOf } from "./violation.js";

export interface SpcChartOptions {
  /** Measurements per plotted point: 1 is an individuals (I-MR) chart, 2..10 an X̄–R chart. @default 1 */
  readonly subgroupSize?: number;
  /** Configured limits: the process mean and the sigma of one measurement. Conflicts with `baseline`. */
  readonly limits?: { readonly mean: number; readonly sigma: number };
  /** Phase I: points (or subgroups) the limits are computed from, then frozen. @default 20 */
  readonly baseline?: number;
  /**
   * Run rules: Nelson rule numbers, or a whole family. @default [1] — Minitab's default too: each
   * added rule adds false alarms, so a characteristic opts into more.
   */
  readonly rules?: RuleSelection;
  /** Tabular CUSUM as an extra rule (true: the defaults). @default false */
  readonly cusum?: boolean | CusumOptions;
  /** EWMA as an extra rule (true: the defaults). @default false */
  readonly ewma?: boolean | EwmaOptions;
  /** The range chart's test (moving range or subgroup range beyond its limits) as an extra rule. @default false */
  readonly range?: boolean;
}

export const SPC_CHART_DEFAULTS = {
  subgroupSize: 1,
  baseline: 20,
  rules: [1] as readonly number[],
  cusum: false,
  ewma: false,
  range: false,
} as const;

/** The options with every default applied and every value checked. */
export interface ParsedSpcChartOptions {
  readonly subgroupSize: number;
  readonly limits: { readonly mean: number; readonly sigma: number } | null;
  /** Null when the limits are configured. */
  readonly baseline: number | null;
  readonly rules: readonly RunRule[];
  readonly cusum: Required<CusumOptions> | null;
  readonly ewma: Required<EwmaOptions> | null;
  readonly range: boolean;
}

/** Checks the options in one place, naming the option (or the two conflicting ones) that is wrong. */
export function parseSpcChartOptions(options: SpcChartOptions = {}): ParsedSpcChartOptions {
  const subgroupSize = options.subgroupSize ?? SPC_CHART_DEFAULTS.subgroupSize;
  if (subgroupSize !== 1) constantsOf(subgroupSize);
  if (options.limits !== undefined && options.baseline !== undefined)
    invalid(
      "limits and baseline conflict: give configured limits or a baseline to compute them from, not both",
    );
  const baseline = options.limits ? null : (options.baseline ?? SPC_CHART_DEFAULTS.baseline);
  if (baseline !== null && !(Number.isInteger(baseline) && baseline >= 2))
    invalid(`baseline must be a whole number of points of at least 2, got ${baseline}`);
  if (options.limits) configuredLimits(options.limits.mean, options.limits.sigma, subgroupSize);
  const rules = runRulesOf(options.rules ?? SPC_CHART_DEFAULTS.rules);
  const cusum = options.cusum
    ? { ...CUSUM_DEFAULTS, ...(options.cusum === true ? {} : options.cusum) }
    : null;
  if (cusum && !(cusum.k >= 0 && cusum.h > 0))
    invalid(`cusum needs k >= 0 and h > 0 (in sigmas), got k = ${cusum.k}, h = ${cusum.h}`);
  const ewma = options.ewma ? { ...EWMA_DEFAULTS, ...(options.ewma === true ? {} : options.ewma) } : null;
  if (ewma && !(ewma.lambda > 0 && ewma.lambda <= 1 && ewma.L > 0))
    invalid(`ewma needs 0 < lambda <= 1 and L > 0, got lambda = ${ewma.lambda}, L = ${ewma.L}`);
  const rangeTest = options.range ?? SPC_CHART_DEFAULTS.range;
  return { subgroupSize, limits: options.limits ?? null, baseline, rules, cusum, ewma, range: rangeTest };
}

/** One measurement, or one subgroup's measurements, as fed to a chart. */
export interface SpcSample {
  readonly time: Date;
  /** A number for an individuals chart, the subgroup's `subgroupSize` numbers for an X̄–R chart. */
  readonly value: number | readonly number[];
  readonly inspectionId?: string | null;
}

/** A point as judged, with the CUSUM and EWMA statistics after it (null when not charted). */
export interface JudgedPoint {
  readonly point: ChartPoint;
  readonly cusum: CusumState | null;
  readonly ewma: EwmaState | null;
}

/** What `add` changed: the points judged (none while the baseline fills, all of it when it freezes). */
export interface SpcChartUpdate extends SpcUpdate {
  readonly judged: readonly JudgedPoint[];
}

/** Points kept for the run rules: the longest window (Nelson 7, fifteen points). */
const HISTORY = 15;

export class SpcChart {
  readonly options: ParsedSpcChartOptions;
  #limits: ControlLimits | null = null;
  #detectors: Detector[] = [];
  #history: ChartPoint[] = [];
  /** Points held until the baseline is complete, with their raw measurements. */
  #pending: { point: ChartPoint; raw: readonly number[] }[] = [];
  #open = new Map<string, SpcViolation>();
  #count = 0;
  #last: number | null = null;
  #cusum: CusumState | null = null;
  #ewma: EwmaState | null = null;

  constructor(options: SpcChartOptions = {}) {
    this.options = parseSpcChartOptions(options);
    if (this.options.limits)
      this.#freeze(
        configuredLimits(this.options.limits.mean, this.options.limits.sigma, this.options.subgroupSize),
      );
  }

  /** The frozen limits; null while the baseline fills. */
  get limits(): ControlLimits | null {
    return this.#limits;
  }

  /** Episodes running now, by rule id. */
  get openEpisodes(): readonly SpcViolation[] {
    return [...this.#open.values()];
  }

  /** Adds one point (or subgroup); a bad sample throws QUALITY_SPC_POINT_INVALID and changes nothing. */
  add(sample: SpcSample): SpcChartUpdate {
    const raw = this.#measurements(sample);
    const value = raw.length === 1 ? (raw[0] as number) : mean(raw);
    const point: ChartPoint = {
      index: this.#count,
      time: sample.time,
      value,
      range: raw.length > 1 ? range(raw) : this.#last === null ? null : Math.abs(value - this.#last),
      inspectionId: sample.inspectionId ?? null,
    };
    this.#count += 1;
    this.#last = value;
    if (this.#limits) return this.#judgeAll([point]);
    this.#pending.push({ point, raw });
    if (this.#pending.length < (this.options.baseline as number))
      return { judged: [], started: [], ended: [] };
    const held = this.#pending;
    this.#pending = [];
    this.#freeze(
      this.options.subgroupSize === 1
        ? individualsBaseline(held.map((h) => h.point.value))
        : subgroupBaseline(
            held.map((h) => h.raw),
            this.options.subgroupSize,
          ),
    );
    return this.#judgeAll(held.map((h) => h.point));
  }

  #measurements(sample: SpcSample): readonly number[] {
    const n = this.options.subgroupSize;
    const raw = typeof sample.value === "number" ? [sample.value] : sample.value;
    if (!(sample.time instanceof Date) || Number.isNaN(sample.time.getTime()))
      badPoint(`point ${this.#count}: time is not a valid date`);
    if (raw.length !== n)
      badPoint(
        `point ${this.#count}: ${raw.length} measurement(s), the chart's subgroups have ${n}${n === 1 ? " (an individuals chart)" : ""}`,
      );
    const bad = raw.find((v) => typeof v !== "number" || !Number.isFinite(v));
    if (bad !== undefined) badPoint(`point ${this.#count}: ${String(bad)} is not a finite number`);
    return raw;
  }

  #freeze(limits: ControlLimits): void {
    this.#limits = limits;
    this.#detectors = this.options.rules.map((r) => runRuleDetector(r, limits));
    if (this.options.range) this.#detectors.push(rangeDetector(limits));
    if (this.options.cusum)
      this.#detectors.push(
        cusumDetector(limits, this.options.cusum, (s) => {
          this.#cusum = s;
        }),
      );
    if (this.options.ewma)
      this.#detectors.push(
        ewmaDetector(limits, this.options.ewma, (s) => {
          this.#ewma = s;
        }),
      );
  }

  #judgeAll(points: readonly ChartPoint[]): SpcChartUpdate {
    const judged: JudgedPoint[] = [];
    const started: SpcViolation[] = [];
    const ended: SpcEpisodeEnd[] = [];
    for (const point of points) {
      this.#history.push(point);
      if (this.#history.length > HISTORY) this.#history.shift();
      for (const detector of this.#detectors) {
        const firing = detector.next(this.#history);
        const open = this.#open.get(detector.rule.id);
        if (firing && !open) {
          const v = violationOf(detector.rule, point, firing);
          this.#open.set(detector.rule.id, v);
          started.push(v);
        } else if (!firing && open) {
          this.#open.delete(detector.rule.id);
          ended.push({ rule: open.rule, startIndex: open.index, index: point.index, time: point.time });
        }
      }
      judged.push({ point, cusum: this.#cusum, ewma: this.#ewma });
    }
    return { judged, started, ended };
  }
}

function invalid(message: string): never {
  throw new QualityError(QualityErrorCode.SpcOptionsInvalid, message);
}

function badPoint(message: string): never {
  throw new QualityError(QualityErrorCode.SpcPointInvalid, message);
}
