/**
 * A detector judges each new plotted point: a run rule looking back over a window, or a CUSUM or EWMA
 * keeping its own statistic. All answer the same thing — does the rule fire for this point, on which
 * points and against which limits — so episodes and violations are built once for every kind.
 */
import type { ControlLimits } from "./limits.js";
import type { ChartPoint, RunRule, SpcRule } from "./rules.js";

/** A rule firing for a point. */
export interface Firing {
  /** The points that made it fire, oldest first. */
  readonly points: readonly ChartPoint[];
  /** Center line and limits of the statistic judged (the chart's own for run rules). */
  readonly center: number;
  readonly lcl: number;
  readonly ucl: number;
  /** The CUSUM or EWMA statistic at the point; null for run rules, which judge the plotted value. */
  readonly statistic: number | null;
}

export interface Detector {
  readonly rule: SpcRule;
  /** Judges `history`'s last point (`history` holds the latest points, oldest first). */
  next(history: readonly ChartPoint[]): Firing | null;
}

/** The detector of a run rule against frozen limits. */
export function runRuleDetector(rule: RunRule, limits: ControlLimits): Detector {
  return {
    rule,
    next(history) {
      if (history.length < rule.window) return null;
      const window = history.slice(-rule.window);
      const points = rule.match(
        window,
        window.map((p) => (p.value - limits.center) / limits.sigma),
      );
      return points && { points, center: limits.center, lcl: limits.lcl, ucl: limits.ucl, statistic: null };
    },
  };
}

export const RANGE_RULE: SpcRule = {
  id: "range",
  ruleSet: "CUSTOM",
  ruleNumber: 3,
  description: "moving range or subgroup range beyond the range chart's limits (the spread changed)",
};

/**
 * The range chart's test: the moving range (individuals) or subgroup range (X̄–R) beyond D4·R̄, or below
 * D3·R̄ where D3 > 0 (subgroups of 7 or more). Its statistic is the range; its limits the range chart's.
 */
export function rangeDetector(limits: ControlLimits): Detector {
  const { center, lcl, ucl } = limits.range;
  return {
    rule: RANGE_RULE,
    next(history) {
      const p = history.at(-1) as ChartPoint;
      if (p.range === null || (p.range <= ucl && (lcl === 0 || p.range >= lcl))) return null;
      return { points: [p], center, lcl, ucl, statistic: p.range };
    },
  };
}
