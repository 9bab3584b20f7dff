/** What the quality service's parts share: its state, plan, publisher, the genealogy, one queue. */
import type { EventPublisher, Logger } from "../../../streams/src/index.js";
import type { GenealogyReader } from "./genealogy.js";
import type { IgnoredReason, QualityMetrics } from "./metrics.js";
import type { QualityPlan } from "./plan.js";
import type { QualityState } from "./state.js";

export const SERVICE = "quality-service";

export interface QualityContext {
  readonly state: QualityState;
  readonly plan: QualityPlan;
  readonly publisher: EventPublisher;
  readonly genealogy: GenealogyReader;
  readonly logger: Logger;
  readonly metrics: QualityMetrics;
  /**
   * Runs `fn` after every change started before it: the handlers of every consumer and the API's
   * decisions change one state, so each change sees the previous one complete. Cheap: holds, deliveries
   * and SPC episodes are rare next to a queue's speed; telemetry that changes nothing does not queue.
   */
  serial<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * Sets something aside, counted (`threadline_quality_ignored_total`) and logged: the first of each
   * reason and characteristic, then every 1000th, so a stream of bad samples cannot flood the log.
   */
  ignored(reason: IgnoredReason, details: Record<string, unknown>, characteristic?: string): void;
}

/** The `ignored` of a context: counts every one, logs the first of each kind and then every 1000th. */
export function ignoredReporter(logger: Logger, metrics: QualityMetrics): QualityContext["ignored"] {
  const seen = new Map<string, number>();
  return (reason, details, characteristic = "") => {
    metrics.ignored(reason, characteristic);
    const key = `${reason}\u0000${characteristic}`;
    const n = (seen.get(key) ?? 0) + 1;
    seen.set(key, n);
    if (n === 1 || n % 1000 === 0)
      logger.warn(
        { reason, characteristic: characteristic || undefined, times: n, ...details },
        `quality service set aside: ${reason.replace(/_/g, " ")}`,
      );
  };
}

/** A queue of one: each call runs when the previous settled. */
export function serialQueue(): <T>(fn: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>) => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => undefined);
    return run;
  };
}
