/**
 * The demo plant's work in Odoo (the simulator's seed): the order a planner releases per line, the
 * machine whose counts are its output, the machine whose rejects are a component's scrap, and each
 * machine's work centre. The demo and the fault run (tools/chaos) both run it.
 */
import type { BridgeConfigInput } from "../../services/machine-bridge/src/config.js";
import { LINE_WORKCENTERS } from "../sim/odoo/seed.js";

export interface LineRelease {
  readonly line: string;
  /** The finished product's default code. */
  readonly product: string;
  readonly quantity: number;
  /** The machine whose counts are the order's output. */
  readonly countingPoint: string;
  /** Per component code, the machine whose rejects are that component's scrap. */
  readonly componentScrap: Readonly<Record<string, string>>;
  /** The machine the bridge reports a rejected component at (its mapping's `rejects.component`). */
  readonly rejectsComponent?: { readonly machine: string; readonly component: string };
}

/** One order per line, big enough for any run. */
export const LINE_RELEASES: readonly LineRelease[] = [
  // Lot-tracked honey jars, strict BoM: the capper's rejects are caps scrapped.
  {
    line: "line-1",
    product: "FIN-HJ250",
    quantity: 5_000,
    countingPoint: "labeler-1",
    componentScrap: { "COMP-CAP": "capper-1" },
    rejectsComponent: { machine: "capper-1", component: "COMP-CAP" },
  },
  // Granola bars, a BoM that only warns.
  { line: "line-2", product: "FIN-GB40", quantity: 5_000, countingPoint: "packer-2", componentScrap: {} },
];

/** `line/machine` → work centre code: each machine of the demo plant on its own work centre. */
export const WORKCENTER_BY_MACHINE: Readonly<Record<string, string>> = Object.fromEntries(
  LINE_WORKCENTERS.map((w) => [`${w.code.startsWith("L1") ? "line-1" : "line-2"}/${w.machine}`, w.code]),
);

/** The lot the line produces into: lot-tracked products get one per order, created in Odoo with the first count. */
export function lotFor(release: LineRelease, orderRef: string): string | null {
  return release.product === "FIN-HJ250" ? `LOT-${orderRef.replaceAll("/", "-")}` : null;
}

/** The bridge mapping with each line's rejected component where the releases say (the capper's caps). */
export function withRejectedComponents(mapping: BridgeConfigInput): BridgeConfigInput {
  for (const e of mapping.endpoints ?? [])
    for (const m of e.machines ?? []) {
      const r = LINE_RELEASES.find((x) => x.rejectsComponent?.machine === m.machine)?.rejectsComponent;
      if (r) Object.assign(m, { rejects: { component: r.component } });
    }
  return mapping;
}
