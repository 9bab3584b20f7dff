/**
 * Tabular CUSUM for small sustained shifts of the mean (Montgomery, Introduction to Statistical Quality
 * Control, ch. 9; NIST/SEMATECH e-Handbook 6.3.2.3, https://www.itl.nist.gov/div898/handbook/pmc/section3/pmc323.htm):
 *   C⁺ᵢ = max(0, xᵢ − (μ₀ + K) + C⁺ᵢ₋₁),  C⁻ᵢ = max(0, (μ₀ − K) − xᵢ + C⁻ᵢ₋₁),  C⁺₀ = C⁻₀ = 0,
 * with K = k·σ and H = h·σ (σ of a plotted point); it fires while C⁺ > H or C⁻ > H. k = 0.5, h = 5 is the
 * textbook design for a 1σ shift (in-control ARL ≈ 465). The sums are not reset after a signal: the
 * service cannot take corrective action, so the episode lasts until the sum falls back to H or below.
 * As the event carries one pair of limits, the lower sum is reported negated (−C⁻ against −H), as
 * Minitab plots it.
 */
import type { Detector } from "./detector.js";
import type { ControlLimits } from "./limits.js";
import type { ChartPoint, SpcRule } from "./rules.js";

export interface CusumOptions {
  /** Reference value (slack) in sigmas of a plotted point. @default 0.5 */
  readonly k?: number;
  /** Decision interval in sigmas of a plotted point. @default 5 */
  readonly h?: number;
}

export const CUSUM_DEFAULTS = { k: 0.5, h: 5 } as const satisfies Required<CusumOptions>;

export const CUSUM_RULE: SpcRule = {
  id: "cusum",
  ruleSet: "CUSTOM",
  ruleNumber: 1,
  description: "tabular CUSUM beyond its decision interval (a small sustained shift of the mean)",
};

/** The sums after each point, for charts and tests. */
export interface CusumState {
  readonly high: number;
  readonly low: number;
}

export function cusumDetector(
  limits: ControlLimits,
  options: Required<CusumOptions>,
  onState?: (state: CusumState) => void,
): Detector {
  const K = options.k * limits.sigma;
  const H = options.h * limits.sigma;
  const rule = {
    ...CUSUM_RULE,
    description: `${CUSUM_RULE.description}: k = ${options.k}, h = ${options.h} sigma`,
  };
  let high = 0;
  let low = 0;
  // Where each sum last left zero: the points it has accumulated since are the evidence.
  let highFrom = 0;
  let lowFrom = 0;
  let seen: ChartPoint[] = [];
  return {
    rule,
    next(history) {
      const p = history.at(-1) as ChartPoint;
      const wasHigh = high;
      const wasLow = low;
      high = Math.max(0, p.value - (limits.center + K) + high);
      low = Math.max(0, limits.center - K - p.value + low);
      if (wasHigh === 0 && high > 0) highFrom = p.index;
      if (wasLow === 0 && low > 0) lowFrom = p.index;
      seen.push(p);
      const from = Math.min(high > 0 ? highFrom : p.index, low > 0 ? lowFrom : p.index);
      seen = seen.filter((s) => s.index >= from);
      onState?.({ high, low });
      const side = high > H ? 1 : low > H ? -1 : 0;
      if (side === 0) return null;
      const start = side > 0 ? highFrom : lowFrom;
      return {
        points: seen.filter((s) => s.index >= start),
        center: 0,
        lcl: -H,
        ucl: H,
        statistic: side > 0 ? high : -low,
      };
    },
  };
}
