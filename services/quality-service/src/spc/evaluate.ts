/**
 * The batch evaluation of a whole series (what `threadline quality spc` prints): the series fed to one
 * SpcChart point by point, so the result is what the service would have published, episode by episode.
 */
import { type JudgedPoint, SpcChart, type SpcChartOptions, type SpcSample } from "./chart.js";
import type { ControlLimits } from "./limits.js";
import type { SpcViolation } from "./violation.js";

/** An episode of a series: its violation, and where it ended (null: still running at the series' end). */
export interface SpcEpisode extends SpcViolation {
  readonly endIndex: number | null;
}

export interface SpcEvaluation {
  /** The limits used; null when the series is shorter than the baseline (nothing was judged). */
  readonly limits: ControlLimits | null;
  /** Every point judged, in order. */
  readonly points: readonly JudgedPoint[];
  /** Every episode, by the index it started at (in rule order for one index). */
  readonly episodes: readonly SpcEpisode[];
}

export function evaluateSeries(samples: Iterable<SpcSample>, options: SpcChartOptions = {}): SpcEvaluation {
  const chart = new SpcChart(options);
  const points: JudgedPoint[] = [];
  const episodes: { violation: SpcViolation; endIndex: number | null }[] = [];
  const open = new Map<string, { violation: SpcViolation; endIndex: number | null }>();
  for (const sample of samples) {
    const update = chart.add(sample);
    points.push(...update.judged);
    // In point order (a frozen baseline judges many points at once), an end before a start on one point.
    const changes = [
      ...update.ended.map((end) => ({ index: end.index, order: 0, end, violation: null })),
      ...update.started.map((violation) => ({ index: violation.index, order: 1, end: null, violation })),
    ].sort((a, b) => a.index - b.index || a.order - b.order);
    for (const change of changes) {
      if (change.end) {
        const episode = open.get(change.end.rule.id);
        if (episode) episode.endIndex = change.end.index;
        open.delete(change.end.rule.id);
      } else if (change.violation) {
        const episode = { violation: change.violation, endIndex: null };
        episodes.push(episode);
        open.set(change.violation.rule.id, episode);
      }
    }
  }
  return {
    limits: chart.limits,
    points,
    episodes: episodes.map((e) => ({ ...e.violation, endIndex: e.endIndex })),
  };
}
