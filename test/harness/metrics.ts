/** Reading prom-client metrics in tests. */
import type { Registry } from "prom-client";

/** The sum of a metric's values whose labels include `labels` (0 when the metric is not registered). */
export async function metricSum(
  registry: Registry,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): Promise<number> {
  const metric = await registry.getSingleMetric(name)?.get();
  return (metric?.values ?? [])
    .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
    .reduce((t, v) => t + v.value, 0);
}
