/** What the quality service's parts share: its state, plan, publisher, the genealogy, one queue. */
import type { EventPublisher, Logger } from "../../../streams/src/index.js";
import type { GenealogyReader } from "./genealogy.js";
import type { QualityMetrics } from "./metrics.js";
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
