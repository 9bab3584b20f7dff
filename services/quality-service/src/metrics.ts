/** The quality service's metrics (docs/metrics.md): SPC, holds, the shipment gate and escapes. */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { perRegistry } from "../../../streams/src/index.js";

/** Why the service set something aside: each is counted and logged, never dropped in silence. */
export type IgnoredReason =
  | "sample_not_good"
  | "sample_not_a_number"
  | "subgroup_size"
  | "violation_without_lot"
  | "lot_without_product"
  | "decision_of_unknown_hold";

export interface QualityMetrics {
  violation(characteristic: string, rule: string): void;
  hold(outcome: "placed" | "released" | "rejected"): void;
  gate(decision: "blocked" | "cleared" | "failclosed"): void;
  /** Seconds from a hold's placement to the delivery it blocked. */
  holdToBlock(seconds: number): void;
  escape(): void;
  /** Something the service read and could not use (context.ts `ignored` says what and why). */
  ignored(reason: IgnoredReason, characteristic: string): void;
  /** The gauges, read from the state when scraped. */
  watch(read: () => { activeHolds: number; failClosed: number; blocked: number }): void;
}

/**
 * Made once per registry (streams' `perRegistry`): a service started again in the same process (a test,
 * the demo) gets the same metrics, and `watch` points the gauges at the new state.
 */
export const qualityMetrics = perRegistry((registry: Registry): QualityMetrics => {
  const registers = [registry];
  const violations = new Counter({
    name: "threadline_quality_spc_violations_total",
    help: "SPC episodes started (one SpcViolationDetected each), by characteristic and rule",
    labelNames: ["characteristic", "rule"],
    registers,
  });
  const holds = new Counter({
    name: "threadline_quality_holds_total",
    help: "Quality holds placed, released and rejected (as the service saw them in MFG_QUALITY)",
    labelNames: ["outcome"],
    registers,
  });
  const gate = new Counter({
    name: "threadline_quality_gate_decisions_total",
    help: "Shipment gate decisions published: blocked (a lot on hold), cleared, failclosed (blocked because the genealogy could not be asked)",
    labelNames: ["decision"],
    registers,
  });
  const holdToBlock = new Histogram({
    name: "threadline_quality_hold_to_block_seconds",
    help: "From a hold's placement to the ShipmentBlocked of a delivery that was already cleared",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const escapes = new Counter({
    name: "threadline_quality_hold_escapes_total",
    help: "Lots delivered to a customer while on quality hold (each raised a nonconformance of kind escape)",
    registers,
  });
  const ignored = new Counter({
    name: "threadline_quality_ignored_total",
    help: "What the quality service read and could not use, by reason (a sample of bad quality or not a number, an inspection not of the chart's subgroup size, a violation or lot it could not tie to a lot or product, a decision on a hold it never saw placed) and characteristic",
    labelNames: ["reason", "characteristic"],
    registers,
  });
  let read: () => { activeHolds: number; failClosed: number; blocked: number } = () => ({
    activeHolds: 0,
    failClosed: 0,
    blocked: 0,
  });
  new Gauge({
    name: "threadline_quality_holds_active",
    help: "Quality holds active now",
    registers,
    collect() {
      this.set(read().activeHolds);
    },
  });
  new Gauge({
    name: "threadline_quality_shipments_blocked",
    help: "Deliveries the gate holds back now, by why: hold (a lot on hold) or failclosed (the genealogy could not be asked)",
    labelNames: ["reason"],
    registers,
    collect() {
      const r = read();
      this.set({ reason: "hold" }, r.blocked);
      this.set({ reason: "failclosed" }, r.failClosed);
    },
  });
  return {
    violation: (characteristic, rule) => violations.inc({ characteristic, rule }),
    hold: (outcome) => holds.inc({ outcome }),
    gate: (decision) => gate.inc({ decision }),
    holdToBlock: (s) => holdToBlock.observe(s),
    escape: () => escapes.inc(),
    ignored: (reason, characteristic) => ignored.inc({ reason, characteristic }),
    watch(r) {
      read = r;
    },
  };
});
