/**
 * The run rules (tests for special causes) of a Shewhart chart, each a window over the latest plotted
 * points, judged on z = (value − center) / sigma of a point. A rule "fires for a point" when the window
 * ending at that point matches; it answers the points that made it match, oldest first.
 *
 * Nelson rules 1–8, numbered as Nelson (1984, "The Shewhart Control Chart — Tests for Special Causes",
 * Journal of Quality Technology 16(4)) and as Minitab's eight tests for special causes, default K values
 * ("Using tests for special causes", https://support.minitab.com/en-us/minitab/help-and-how-to/quality-and-process-improvement/control-charts/supporting-topics/basics/using-tests-for-special-causes/):
 *   1 one point more than 3σ from the center line;
 *   2 nine points in a row on the same side of the center line;
 *   3 six points in a row, all increasing or all decreasing;
 *   4 fourteen points in a row, alternating up and down;
 *   5 two out of three points more than 2σ from the center line, same side;
 *   6 four out of five points more than 1σ from the center line, same side;
 *   7 fifteen points in a row within 1σ of the center line, either side;
 *   8 eight points in a row more than 1σ from the center line, either side.
 * Western Electric rules 1–4 (Western Electric, Statistical Quality Control Handbook, 1956):
 *   1 one point beyond 3σ; 2 two of three beyond 2σ, same side; 3 four of five beyond 1σ, same side;
 *   4 eight in a row on the same side of the center line.
 *
 * Where the sources leave a boundary open, we choose, and say so: "beyond" is strict (a point exactly on
 * a limit is not beyond it), a point exactly on the center line is on neither side (it breaks rule 2's
 * run), equal consecutive values break a trend (rule 3) and an alternation (rule 4). Rule 8 follows
 * Minitab (either side, in any mix); Nelson's paper adds "with points on both sides", which Minitab drops.
 */
import type { SpcRuleSet } from "../../../../contracts/src/index.js";
import { QualityError, QualityErrorCode } from "../errors.js";

/** A plotted point: an individual measurement or a subgroup mean. */
export interface ChartPoint {
  /** 0-based position on the chart. */
  readonly index: number;
  readonly time: Date;
  /** The plotted value: the measurement, or the subgroup's mean. */
  readonly value: number;
  /** The moving range to the previous point (individuals; null for the first) or the subgroup's range. */
  readonly range: number | null;
  /** Inspection the point comes from, when any. */
  readonly inspectionId: string | null;
}

/** A rule as the SpcViolationDetected event names it. */
export interface SpcRule {
  /** Short stable name, e.g. "nelson-2", "we-1", "cusum", "ewma". */
  readonly id: string;
  readonly ruleSet: SpcRuleSet;
  readonly ruleNumber: number;
  readonly description: string;
}

/** A run rule: a window of `window` points and what it looks for in them. */
export interface RunRule extends SpcRule {
  readonly window: number;
  /** The points that make the window match, or null. `z` are the points' z-scores, same order. */
  readonly match: (points: readonly ChartPoint[], z: readonly number[]) => readonly ChartPoint[] | null;
}

const beyond = (k: number) => (points: readonly ChartPoint[], z: readonly number[]) =>
  Math.abs(z[0] as number) > k ? points : null;

const sameSide = (points: readonly ChartPoint[], z: readonly number[]) =>
  z.every((v) => v > 0) || z.every((v) => v < 0) ? points : null;

const trend = (points: readonly ChartPoint[]) => {
  const d = steps(points);
  return d.every((s) => s > 0) || d.every((s) => s < 0) ? points : null;
};

const alternating = (points: readonly ChartPoint[]) => {
  const d = steps(points);
  return d.every((s, i) => s !== 0 && (i === 0 || Math.sign(s) !== Math.sign(d[i - 1] as number)))
    ? points
    : null;
};

/** `k` of the window's points more than `sigmas` from the center line on one side. */
const kBeyond = (k: number, sigmas: number) => (points: readonly ChartPoint[], z: readonly number[]) => {
  for (const side of [1, -1]) {
    const hits = points.filter((_, i) => side * (z[i] as number) > sigmas);
    if (hits.length >= k) return hits;
  }
  return null;
};

const within = (sigmas: number) => (points: readonly ChartPoint[], z: readonly number[]) =>
  z.every((v) => Math.abs(v) < sigmas) ? points : null;

const outside = (sigmas: number) => (points: readonly ChartPoint[], z: readonly number[]) =>
  z.every((v) => Math.abs(v) > sigmas) ? points : null;

function steps(points: readonly ChartPoint[]): number[] {
  return points.slice(1).map((p, i) => p.value - (points[i] as ChartPoint).value);
}

const nelson = (n: number, window: number, description: string, match: RunRule["match"]): RunRule => ({
  id: `nelson-${n}`,
  ruleSet: "NELSON",
  ruleNumber: n,
  description,
  window,
  match,
});

const westernElectric = (
  n: number,
  window: number,
  description: string,
  match: RunRule["match"],
): RunRule => ({
  id: `we-${n}`,
  ruleSet: "WESTERN_ELECTRIC",
  ruleNumber: n,
  description,
  window,
  match,
});

/** Nelson rules 1–8, by number (index 0 is rule 1). */
export const NELSON_RULES: readonly RunRule[] = [
  nelson(1, 1, "1 point more than 3 sigma from the center line", beyond(3)),
  nelson(2, 9, "9 points in a row on the same side of the center line", sameSide),
  nelson(3, 6, "6 points in a row, all increasing or all decreasing", trend),
  nelson(4, 14, "14 points in a row, alternating up and down", alternating),
  nelson(5, 3, "2 of 3 points in a row more than 2 sigma from the center line, same side", kBeyond(2, 2)),
  nelson(6, 5, "4 of 5 points in a row more than 1 sigma from the center line, same side", kBeyond(4, 1)),
  nelson(7, 15, "15 points in a row within 1 sigma of the center line, either side", within(1)),
  nelson(8, 8, "8 points in a row more than 1 sigma from the center line, either side", outside(1)),
];

/** Western Electric rules 1–4. */
export const WESTERN_ELECTRIC_RULES: readonly RunRule[] = [
  westernElectric(1, 1, "1 point beyond 3 sigma from the center line", beyond(3)),
  westernElectric(2, 3, "2 of 3 consecutive points beyond 2 sigma on the same side", kBeyond(2, 2)),
  westernElectric(3, 5, "4 of 5 consecutive points beyond 1 sigma on the same side", kBeyond(4, 1)),
  westernElectric(4, 8, "8 consecutive points on the same side of the center line", sameSide),
];

/** Which run rules a characteristic is charted with: Nelson numbers, or a whole family. */
export type RuleSelection = readonly number[] | "nelson" | "western-electric";

/** The run rules of a selection; QUALITY_SPC_OPTIONS_INVALID naming what is wrong. */
export function runRulesOf(selection: RuleSelection): readonly RunRule[] {
  if (selection === "nelson") return NELSON_RULES;
  if (selection === "western-electric") return WESTERN_ELECTRIC_RULES;
  if (!Array.isArray(selection))
    invalid(
      `rules must be Nelson rule numbers (1..8), "nelson" or "western-electric", got ${String(selection)}`,
    );
  const unknown = selection.filter((n) => !(Number.isInteger(n) && n >= 1 && n <= 8));
  if (unknown.length > 0) invalid(`rules: ${unknown.join(", ")} not a Nelson rule number (1..8)`);
  return [...new Set(selection)].sort((a, b) => a - b).map((n) => NELSON_RULES[n - 1] as RunRule);
}

function invalid(message: string): never {
  throw new QualityError(QualityErrorCode.SpcOptionsInvalid, message);
}
