/**
 * Control limits of a chart, from configured values (a process mean and sigma) or computed from a
 * phase I baseline, and then frozen: the chart never moves them, so a drift cannot widen its own limits.
 *
 * Individuals (I-MR): sigma = MR̄ / d2 with d2 = 1.128 (moving ranges of two consecutive points),
 * limits X̄ ± 3·sigma (NIST/SEMATECH e-Handbook 6.3.2.2, https://www.itl.nist.gov/div898/handbook/pmc/section3/pmc322.htm).
 * Subgroups (X̄–R): limits X̿ ± A2·R̄, range chart D3·R̄ .. D4·R̄, process sigma = R̄ / d2(n)
 * (e-Handbook 6.3.2.1). The sigma the rules' zones use is that of a plotted point: the process sigma for
 * individuals, sigma / √n for subgroup means (so the zones are thirds of the distance to the limits).
 */
import { QualityError, QualityErrorCode } from "../errors.js";
import { D2_MOVING_RANGE, D4_MOVING_RANGE, type SubgroupConstants, subgroupConstants } from "./constants.js";

export interface ControlLimits {
  /** Where the limits come from. */
  readonly source: "configured" | "baseline";
  /** Measurements per plotted point: 1 for individuals. */
  readonly subgroupSize: number;
  /** Center line of the plotted points (the process mean). */
  readonly center: number;
  /** Sigma of one plotted point: the zones of the run rules are multiples of it. */
  readonly sigma: number;
  /** Sigma of one measurement (the process). */
  readonly processSigma: number;
  readonly lcl: number;
  readonly ucl: number;
  /** The moving-range (individuals) or range (subgroups) chart: its center and limits. */
  readonly range: { readonly center: number; readonly lcl: number; readonly ucl: number };
}

/** Limits from a configured process mean and sigma (of one measurement). */
export function configuredLimits(mean: number, sigma: number, subgroupSize: number): ControlLimits {
  if (!Number.isFinite(mean)) invalid(`limits.mean must be a finite number, got ${mean}`);
  if (!(Number.isFinite(sigma) && sigma > 0)) invalid(`limits.sigma must be a positive number, got ${sigma}`);
  if (subgroupSize === 1) {
    const mr = D2_MOVING_RANGE * sigma;
    return limitsOf("configured", 1, mean, sigma, sigma, { center: mr, lcl: 0, ucl: D4_MOVING_RANGE * mr });
  }
  const c = constantsOf(subgroupSize);
  const rBar = c.d2 * sigma;
  return limitsOf("configured", subgroupSize, mean, sigma / Math.sqrt(subgroupSize), sigma, {
    center: rBar,
    lcl: c.d3 * rBar,
    ucl: c.d4 * rBar,
  });
}

/** Phase I limits of an individuals chart from its first points (at least 2). */
export function individualsBaseline(values: readonly number[]): ControlLimits {
  if (values.length < 2) invalid(`a baseline of individuals needs at least 2 points, got ${values.length}`);
  const center = mean(values);
  const mrBar = mean(values.slice(1).map((v, i) => Math.abs(v - (values[i] as number))));
  if (mrBar === 0) invalid("the baseline's points are all equal: no moving range, so no sigma to chart with");
  const sigma = mrBar / D2_MOVING_RANGE;
  return limitsOf("baseline", 1, center, sigma, sigma, {
    center: mrBar,
    lcl: 0,
    ucl: D4_MOVING_RANGE * mrBar,
  });
}

/** Phase I limits of an X̄–R chart from its first subgroups (at least 2). */
export function subgroupBaseline(
  subgroups: readonly (readonly number[])[],
  subgroupSize: number,
): ControlLimits {
  if (subgroups.length < 2)
    invalid(`a baseline of subgroups needs at least 2 subgroups, got ${subgroups.length}`);
  const c = constantsOf(subgroupSize);
  const center = mean(subgroups.map(mean));
  const rBar = mean(subgroups.map(range));
  if (rBar === 0) invalid("the baseline's subgroups have no range: no sigma to chart with");
  // The published A2 gives the limits (as every textbook example does); its third gives the zones.
  const half = c.a2 * rBar;
  return {
    source: "baseline",
    subgroupSize,
    center,
    sigma: half / 3,
    processSigma: rBar / c.d2,
    lcl: center - half,
    ucl: center + half,
    range: { center: rBar, lcl: c.d3 * rBar, ucl: c.d4 * rBar },
  };
}

export function mean(values: readonly number[]): number {
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

export function range(values: readonly number[]): number {
  return Math.max(...values) - Math.min(...values);
}

/** The constants for a subgroup size, or the options error naming the sizes that have them. */
export function constantsOf(subgroupSize: number): SubgroupConstants {
  const c = subgroupConstants(subgroupSize);
  if (!c) invalid(`subgroupSize must be 1 (individuals) or 2..10 (X̄–R), got ${subgroupSize}`);
  return c;
}

function limitsOf(
  source: ControlLimits["source"],
  subgroupSize: number,
  center: number,
  sigma: number,
  processSigma: number,
  rangeChart: ControlLimits["range"],
): ControlLimits {
  return {
    source,
    subgroupSize,
    center,
    sigma,
    processSigma,
    lcl: center - 3 * sigma,
    ucl: center + 3 * sigma,
    range: rangeChart,
  };
}

function invalid(message: string): never {
  throw new QualityError(QualityErrorCode.SpcOptionsInvalid, message);
}
