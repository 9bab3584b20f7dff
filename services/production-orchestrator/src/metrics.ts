/** The orchestrator's metrics (docs/metrics.md): where orders are, which are late, what the machines said. */
import { Counter, Gauge, type Registry } from "prom-client";

export interface OrchestratorMetrics {
  readonly orders: Gauge<"step" | "waiting">;
  readonly overdue: Gauge<"step">;
  readonly transitions: Counter<"step">;
  readonly commands: Counter<"outcome">;
  /** Events set aside: `other_site` (a release of another site's), `unknown_order` (no order released here). */
  readonly ignored: Counter<"reason">;
}

export function orchestratorMetrics(registry: Registry): OrchestratorMetrics {
  const existing = registry.getSingleMetric("threadline_orders") as Gauge<"step" | "waiting"> | undefined;
  if (existing)
    return {
      orders: existing,
      overdue: registry.getSingleMetric("threadline_orders_overdue") as Gauge<"step">,
      transitions: registry.getSingleMetric("threadline_order_transitions_total") as Counter<"step">,
      commands: registry.getSingleMetric("threadline_order_dispatch_commands_total") as Counter<"outcome">,
      ignored: registry.getSingleMetric("threadline_order_events_ignored_total") as Counter<"reason">,
    };
  return {
    orders: new Gauge({
      name: "threadline_orders",
      help: "Open production orders by step and by what they wait for (none when not waiting)",
      labelNames: ["step", "waiting"],
      registers: [registry],
    }),
    overdue: new Gauge({
      name: "threadline_orders_overdue",
      help: "Production orders in a step past its time budget, by step",
      labelNames: ["step"],
      registers: [registry],
    }),
    transitions: new Counter({
      name: "threadline_order_transitions_total",
      help: "Production order transitions (OrderStepChanged published), by the step entered",
      labelNames: ["step"],
      registers: [registry],
    }),
    commands: new Counter({
      name: "threadline_order_dispatch_commands_total",
      help: "Order writes sent to machines through the bridge, by the machine's answer",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    ignored: new Counter({
      name: "threadline_order_events_ignored_total",
      help: "Order events set aside: another site's release, or an event of an order not released here",
      labelNames: ["reason"],
      registers: [registry],
    }),
  };
}
