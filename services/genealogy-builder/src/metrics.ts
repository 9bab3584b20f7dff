/** The genealogy builder's metrics (docs/metrics.md): how fast the graph follows the streams. */
import { Counter, Histogram, type Registry } from "prom-client";

export interface GenealogyMetrics {
  /** One committed batch: events applied now, events already in the graph, how long it took. */
  batch(applied: number, duplicates: number, ms: number): void;
}

export function genealogyMetrics(registry: Registry): GenealogyMetrics {
  const events =
    (registry.getSingleMetric("threadline_genealogy_events_total") as Counter<"outcome"> | undefined) ??
    new Counter({
      name: "threadline_genealogy_events_total",
      help: "Events put in the lot graph (applied) or found there already (duplicate: a redelivery or a replay)",
      labelNames: ["outcome"],
      registers: [registry],
    });
  const commits =
    (registry.getSingleMetric("threadline_genealogy_batch_seconds") as Histogram | undefined) ??
    new Histogram({
      name: "threadline_genealogy_batch_seconds",
      help: "Time to write one batch of events to the genealogy database (one transaction)",
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    });
  return {
    batch(applied, duplicates, ms) {
      if (applied > 0) events.inc({ outcome: "applied" }, applied);
      if (duplicates > 0) events.inc({ outcome: "duplicate" }, duplicates);
      if (ms > 0) commits.observe(ms / 1000);
    },
  };
}
