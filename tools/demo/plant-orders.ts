/**
 * The demo plant's work in Odoo (the simulator's seed): the order a planner releases per line, the
 * machine whose counts are its output, the machine whose rejects are a component's scrap, and each
 * machine's work centre. The demo and the fault run (tools/chaos) both run it.
 *
 * What the products are — tracked by lot or not, counted in which unit, made of which components —
 * is not written here: it is read from the master data the Odoo connector publishes from the seeded
 * Odoo (`planFromMasterData`), as any service reads it.
 */
import type { BridgeConfigInput } from "../../services/machine-bridge/src/config.js";
import type { MasterData, MasterRecord } from "../../streams/src/index.js";
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

/** A release with its product as the master data has it. */
export interface PlannedRelease extends LineRelease {
  readonly productRecord: MasterRecord<"product">;
  /** The component codes of the BoM Odoo would use for the product. */
  readonly components: readonly string[];
}

/**
 * The releases with their products from the master data, once the connector has published them (it
 * does at its start). Refused, naming it: a product the master data does not have (or has archived),
 * a product without a BoM, a component scrapped at a machine that is not in the product's BoM.
 */
export async function planFromMasterData(md: MasterData, timeoutMs = 30_000): Promise<PlannedRelease[]> {
  await md.ready;
  const deadline = Date.now() + timeoutMs;
  // Products and BoMs are published by separate passes of the connector's sync: wait for both.
  const missing = () =>
    LINE_RELEASES.filter((r) => {
      const product = md.product(r.product);
      return product === undefined || md.bomOf(product.odooId) === undefined;
    }).map((r) => r.product);
  while (missing().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (missing().length > 0)
    throw new Error(
      `the master data has no product ${missing().join(", ")} with an active BoM after ${timeoutMs / 1000} s: is the Odoo connector syncing master data (MFG_MASTERDATA)?`,
    );
  return LINE_RELEASES.map((r) => {
    const product = md.product(r.product) as MasterRecord<"product">;
    if (!product.active)
      throw new Error(`product ${r.product} is archived in Odoo: a planner cannot release it`);
    const bom = md.bomOf(product.odooId) as MasterRecord<"bom">;
    const components = bom.lines.map((l) => l.product.code);
    for (const code of [...Object.keys(r.componentScrap), r.rejectsComponent?.component].filter(Boolean))
      if (!components.includes(code as string))
        throw new Error(
          `${r.line}: component ${code} is scrapped at a machine, but ${r.product}'s BoM (${bom.odooId}) has only ${components.join(", ")}`,
        );
    return { ...r, productRecord: product, components };
  });
}

/**
 * The lot the line produces into: a lot-tracked product (the master data's `tracking`) gets one per
 * order, created in Odoo with the first count; an untracked one none.
 */
export function lotFor(release: PlannedRelease, orderRef: string): string | null {
  return release.productRecord.tracking === "lot" ? `LOT-${orderRef.replaceAll("/", "-")}` : null;
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
