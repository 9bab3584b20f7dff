/**
 * What a chart reports: a violation when a rule starts firing, an end when it stops. A run that keeps
 * violating a rule is one episode — one violation, then one end at the first point the rule no longer
 * fires for — so the service publishes one SpcViolationDetected per episode, not one per point.
 * A violation maps 1:1 onto the event's fields ({@link violationEventFields}).
 */
import type { SpcPoint, SpcRuleSet } from "../../../../contracts/src/index.js";
import type { Firing } from "./detector.js";
import type { ChartPoint, SpcRule } from "./rules.js";

/** A rule that started firing: the first point of an episode. */
export interface SpcViolation {
  readonly rule: SpcRule;
  /** The point the rule started firing for. */
  readonly index: number;
  readonly time: Date;
  /** Its plotted value (the measurement or the subgroup mean). */
  readonly value: number;
  /** Center line and limits used (of the CUSUM or EWMA statistic for those rules). */
  readonly centerLine: number;
  readonly lowerControlLimit: number;
  readonly upperControlLimit: number;
  /** The points that made the rule fire, oldest first (their plotted values). */
  readonly points: readonly ChartPoint[];
  /** The CUSUM or EWMA statistic at the point; null for the run rules. */
  readonly statistic: number | null;
}

/** An episode's end: the first point the rule no longer fires for. */
export interface SpcEpisodeEnd {
  readonly rule: SpcRule;
  /** Where the episode started. */
  readonly startIndex: number;
  /** The first point the rule no longer fires for. */
  readonly index: number;
  readonly time: Date;
}

/** What one point (or subgroup) changed: the episodes it started and ended. */
export interface SpcUpdate {
  readonly started: readonly SpcViolation[];
  readonly ended: readonly SpcEpisodeEnd[];
}

export function violationOf(rule: SpcRule, point: ChartPoint, firing: Firing): SpcViolation {
  return {
    rule,
    index: point.index,
    time: point.time,
    value: point.value,
    centerLine: firing.center,
    lowerControlLimit: firing.lcl,
    upperControlLimit: firing.ucl,
    points: firing.points,
    statistic: firing.statistic,
  };
}

/** The fields of SpcViolationDetected a violation fills (the service adds ids, equipment, lot, time). */
export function violationEventFields(v: SpcViolation): {
  ruleSet: SpcRuleSet;
  ruleNumber: number;
  ruleDescription: string;
  centerLine: number;
  lowerControlLimit: number;
  upperControlLimit: number;
  points: SpcPoint[];
} {
  return {
    ruleSet: v.rule.ruleSet,
    ruleNumber: v.rule.ruleNumber,
    ruleDescription: v.rule.description,
    centerLine: v.centerLine,
    lowerControlLimit: v.lowerControlLimit,
    upperControlLimit: v.upperControlLimit,
    points: v.points.map((p) => ({ value: p.value, measuredAt: p.time, inspectionId: p.inspectionId })),
  };
}
