/** Figures the benches read from a prom-client registry (the one the measured code writes to). */

import type { Registry } from "prom-client";

async function metricValues(registry: Registry, name: string) {
  return (await registry.getSingleMetric(name)?.get())?.values ?? [];
}

/** Sum of a counter's values, or of a histogram's `_sum` / `_count`, optionally for one label value. */
export async function metricSum(
  registry: Registry,
  name: string,
  part?: "sum" | "count",
  label?: [string, string],
): Promise<number> {
  const values = await metricValues(registry, name);
  return values
    .filter((v) => {
      const metricName = (v as { metricName?: string }).metricName;
      if (part && metricName !== `${name}_${part}`) return false;
      return !label || v.labels[label[0]] === label[1];
    })
    .reduce((s, v) => s + v.value, 0);
}
